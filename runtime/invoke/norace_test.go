//go:build !race

package invoke_test

const raceEnabled = false
