// Command connect is BenchService as a connect-go handler behind
// aws-lambda-go-api-proxy for API Gateway HTTP API events (payload format
// 2.0). It is what the bench's connect path runs
// (bench/path_connect_test.go), as a real main package for the cold start
// and binary size comparison: build it exactly as example/function is built
// (see scripts/coldstart).
//
// benchv1connect imports bench/gen/bench/v1, which holds the grpc-go,
// grpc-gateway and Lambda stubs too (bench/generate.sh generates them into
// one package), so this function links grpc-go and grpc-gateway's runtime
// as well, which a connect-only project would not (see docs/performance.md).
package main

import (
	"context"
	"net/http"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/awslabs/aws-lambda-go-api-proxy/handlerfunc"

	benchv1 "github.com/protoc-gen-go-lambda/protoc-gen-go-lambda/bench/gen/bench/v1"
	"github.com/protoc-gen-go-lambda/protoc-gen-go-lambda/bench/gen/bench/v1/benchv1connect"
)

// echoServer returns the request's id and order unchanged, as the bench's.
type echoServer struct {
	benchv1.UnimplementedBenchServiceServer
}

func (echoServer) Echo(_ context.Context, req *benchv1.EchoRequest) (*benchv1.EchoResponse, error) {
	return &benchv1.EchoResponse{RequestId: req.GetRequestId(), Order: req.GetOrder()}, nil
}

func main() {
	procedure, handler := benchv1connect.NewBenchServiceHandler(echoServer{})
	mux := http.NewServeMux()
	mux.Handle(procedure, handler)
	lambda.Start(handlerfunc.NewV2(mux.ServeHTTP).ProxyWithContext)
}
