//go:build !race

package parity

import "github.com/protoc-gen-go-lambda/protoc-gen-go-lambda/runtime/lambdatest"

// raceFrontEnds is nil without the race detector: every front end runs
// (see http_race_test.go).
var raceFrontEnds []lambdatest.FrontEnd
