//go:build race

package parity

import "github.com/protoc-gen-go-lambda/protoc-gen-go-lambda/runtime/lambdatest"

// Under the race detector, which makes the suite several times slower, the
// HTTP cases run behind three front ends, one of each event shape: payload
// 2.0 (function URL; an HTTP API sends the same event), payload 1.0 (REST
// API) and the load balancer's (multi-value headers off). The document is
// checked by the run without it, which has all five.
var raceFrontEnds = []lambdatest.FrontEnd{lambdatest.FunctionURL, lambdatest.RESTAPI, lambdatest.ALB}
