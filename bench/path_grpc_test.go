package bench

import (
	"context"
	"net"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/proto"

	benchv1 "github.com/protoc-gen-go-lambda/protoc-gen-go-lambda/bench/gen/bench/v1"
)

// grpcFrameHeader is the length of the prefix of every gRPC message: one
// compression flag byte and a four-byte length.
const grpcFrameHeader = 5

// setupGRPC returns the grpc path, the "gRPC server on ECS" reference: a
// grpc-go server for srv on loopback TCP and a grpc-go client connected to
// it with insecure credentials. Wire bytes are the protobuf sizes of request
// and response plus a frame header each; HTTP/2 headers and frames are not
// counted.
func setupGRPC(tb testing.TB, srv benchv1.BenchServiceServer) call {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	server := grpc.NewServer()
	benchv1.RegisterBenchServiceServer(server, srv)
	go func() { _ = server.Serve(lis) }() // returns nil once Stop is called
	tb.Cleanup(server.Stop)

	conn, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = conn.Close() })
	client := benchv1.NewBenchServiceClient(conn)
	return func(ctx context.Context, req *benchv1.EchoRequest) (*benchv1.EchoResponse, int, error) {
		resp, err := client.Echo(ctx, req)
		if err != nil {
			return nil, 0, err
		}
		return resp, proto.Size(req) + proto.Size(resp) + 2*grpcFrameHeader, nil
	}
}
