package bench

import (
	"context"
	"net"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/encoding"
	grpcproto "google.golang.org/grpc/encoding/proto"
	"google.golang.org/grpc/mem"

	benchv1 "github.com/protoc-gen-go-lambda/protoc-gen-go-lambda/bench/gen/bench/v1"
)

// grpcFrameHeader is the length of the prefix of every gRPC message: one
// compression flag byte and a four-byte length.
const grpcFrameHeader = 5

// setupGRPC returns the grpc path, the "gRPC server on ECS" reference: a
// grpc-go server for srv on loopback TCP and a grpc-go client connected to
// it with insecure credentials. Wire bytes are the encoded request and
// response, as the client's codec saw them, plus a frame header each; HTTP/2
// headers and frames are not counted.
func setupGRPC(tb testing.TB, srv benchv1.BenchServiceServer) call {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	server := grpc.NewServer()
	benchv1.RegisterBenchServiceServer(server, srv)
	go func() { _ = server.Serve(lis) }() // returns nil once Stop is called
	tb.Cleanup(server.Stop)

	codec := &countingCodec{CodecV2: encoding.GetCodecV2(grpcproto.Name)}
	conn, err := grpc.NewClient(lis.Addr().String(),
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.ForceCodecV2(codec)))
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
		return resp, codec.sent + codec.received + 2*grpcFrameHeader, nil
	}
}

// countingCodec is grpc-go's protobuf codec that remembers the sizes of the
// last message it encoded and decoded, so that the grpc path can report its
// wire bytes without encoding anything twice. grpc-go runs both in the
// goroutine of the unary call, and the benchmark makes one call at a time.
type countingCodec struct {
	encoding.CodecV2
	sent, received int
}

// Marshal encodes v and remembers its size.
func (c *countingCodec) Marshal(v any) (mem.BufferSlice, error) {
	data, err := c.CodecV2.Marshal(v)
	c.sent = data.Len()
	return data, err
}

// Unmarshal remembers the size of data and decodes it into v.
func (c *countingCodec) Unmarshal(data mem.BufferSlice, v any) error {
	c.received = data.Len()
	return c.CodecV2.Unmarshal(data, v)
}
