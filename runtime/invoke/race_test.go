//go:build race

package invoke_test

// raceEnabled: the race detector slows the SDK path about tenfold.
const raceEnabled = true
