package bench

import (
	"context"

	benchv1 "github.com/protoc-gen-go-lambda/protoc-gen-go-lambda/bench/gen/bench/v1"
)

// echoServer is the trivial service implementation that every path serves:
// it returns the request's id and order unchanged. It satisfies both the
// grpc-go server interface and connect-go's simple handler interface.
type echoServer struct {
	benchv1.UnimplementedBenchServiceServer
}

// Echo implements benchv1.BenchServiceServer.
func (echoServer) Echo(_ context.Context, req *benchv1.EchoRequest) (*benchv1.EchoResponse, error) {
	return &benchv1.EchoResponse{RequestId: req.GetRequestId(), Order: req.GetOrder()}, nil
}
