package bench

import (
	"context"
	"testing"

	benchv1 "github.com/protoc-gen-go-lambda/protoc-gen-go-lambda/bench/gen/bench/v1"
)

// A call makes one complete Echo call through a path: the client's encoding,
// the transport, the server's decoding, the service, and back. It returns
// the response and the payload bytes the call put on the wire, counted as
// each path's comment says.
type call func(ctx context.Context, req *benchv1.EchoRequest) (resp *benchv1.EchoResponse, wire int, err error)

// A path is one way for a client to reach the service.
type path struct {
	name string
	// setup builds the path around srv once, registers any teardown with
	// tb.Cleanup, and returns its call.
	setup func(tb testing.TB, srv benchv1.BenchServiceServer) call
}

// paths lists every path in benchmark order. To add one, write its setup
// function in a path_<name>_test.go file and add a line here.
var paths = []path{
	{name: "floor", setup: setupFloor},
	{name: "lambda", setup: setupLambda},
	{name: "lambda-json", setup: setupLambdaJSON},
	{name: "lambda-sdk", setup: setupLambdaSDK},
	{name: "http-connect", setup: setupHTTPConnect},
	{name: "http-grpcweb", setup: setupHTTPGRPCWeb},
	{name: "gateway", setup: setupGateway},
	{name: "connect", setup: setupConnect},
	{name: "grpc", setup: setupGRPC},
}
