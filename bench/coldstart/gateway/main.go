// Command gateway is BenchService as a Lambda function the usual REST way:
// grpc-gateway's ServeMux with the service registered in-process
// (RegisterBenchServiceHandlerServer), behind aws-lambda-go-api-proxy for
// API Gateway HTTP API events (payload format 2.0). It is what the bench's
// gateway path runs (bench/path_gateway_test.go), as a real main package
// for the cold start and binary size comparison: build it exactly as
// example/function is built (see scripts/coldstart).
package main

import (
	"context"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/awslabs/aws-lambda-go-api-proxy/handlerfunc"
	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"

	benchv1 "github.com/protoc-gen-go-lambda/protoc-gen-go-lambda/bench/gen/bench/v1"
)

// echoServer returns the request's id and order unchanged, as the bench's.
type echoServer struct {
	benchv1.UnimplementedBenchServiceServer
}

func (echoServer) Echo(_ context.Context, req *benchv1.EchoRequest) (*benchv1.EchoResponse, error) {
	return &benchv1.EchoResponse{RequestId: req.GetRequestId(), Order: req.GetOrder()}, nil
}

func main() {
	mux := runtime.NewServeMux()
	if err := benchv1.RegisterBenchServiceHandlerServer(context.Background(), mux, echoServer{}); err != nil {
		panic(err)
	}
	lambda.Start(handlerfunc.NewV2(mux.ServeHTTP).ProxyWithContext)
}
