// Package streambench compares server streaming through this repository's
// in-process Lambda path with grpc-go's over bufconn (docs/performance-streaming.md).
// It lives in the main module, not in bench/, because it uses
// internal/testing/testpb's TestService.Stream.
package streambench

import (
	"context"
	"fmt"
	"io"
	"net"
	"runtime"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/test/bufconn"

	"github.com/protoc-gen-go-lambda/protoc-gen-go-lambda/internal/testing/testpb"
	lambdaruntime "github.com/protoc-gen-go-lambda/protoc-gen-go-lambda/runtime"
	"github.com/protoc-gen-go-lambda/protoc-gen-go-lambda/runtime/invoke"
	"github.com/protoc-gen-go-lambda/protoc-gen-go-lambda/runtime/lambdatest"
)

const (
	// The throughput stream: 1024 messages of 64 KiB, 64 MiB in all.
	bulkCount = 1024
	bulkSize  = 64 << 10
	// The first-message stream: a few small messages.
	smallCount = 8
	smallSize  = 100
)

// streamServer is TestService.Stream (count messages of response_size
// bytes), kept lean so that the handler costs next to nothing beside the
// transport: the payload is built once per size and one response message is
// reused (both grpc-go and runtime marshal it before Send returns).
// internal/testing/testserver's Stream would build and fill a fresh
// payload per message, a cost common to both paths that would only dilute
// the comparison.
type streamServer struct {
	testpb.UnimplementedTestServiceServer
	payloads map[int32][]byte
}

func newStreamServer() *streamServer {
	s := &streamServer{payloads: map[int32][]byte{}}
	for _, n := range []int32{bulkSize, smallSize} {
		p := make([]byte, n)
		for i := range p {
			p[i] = byte(i)
		}
		s.payloads[n] = p
	}
	return s
}

func (s *streamServer) Stream(req *testpb.EchoRequest, stream grpc.ServerStreamingServer[testpb.EchoResponse]) error {
	p, ok := s.payloads[req.GetResponseSize()]
	if !ok {
		p = make([]byte, req.GetResponseSize())
	}
	resp := &testpb.EchoResponse{Payload: p}
	for range int(req.GetCount()) {
		if err := stream.Send(resp); err != nil {
			return err
		}
	}
	return nil
}

// A path is one way for the client to reach the service.
type path struct {
	name  string
	setup func(tb testing.TB) testpb.TestServiceClient
}

// paths, in the order each round runs them.
var paths = []path{
	{"lambda", setupLambda},
	{"grpc", setupGRPC},
}

// setupLambda is the in-process streaming path: the generated client over
// invoke.ClientConn, lambdatest's Invoker.InvokeWithResponseStream (the AWS
// SDK's client and event stream decoder reading the PayloadChunk events it
// encodes), runtime.Server.InvokeStream and the handler.
func setupLambda(tb testing.TB) testpb.TestServiceClient {
	srv := lambdaruntime.NewServer()
	testpb.RegisterTestServiceLambdaServer(srv, newStreamServer())
	inv := lambdatest.NewInvoker(srv)
	tb.Cleanup(inv.Close)
	return testpb.NewTestServiceLambdaClient(invoke.NewClientConn(inv, "streambench"))
}

// setupGRPC is grpc-go server streaming: a grpc.Server and a grpc-go client
// over bufconn (in-memory, no kernel sockets).
func setupGRPC(tb testing.TB) testpb.TestServiceClient {
	lis := bufconn.Listen(1 << 20)
	server := grpc.NewServer()
	testpb.RegisterTestServiceServer(server, newStreamServer())
	go func() { _ = server.Serve(lis) }()
	tb.Cleanup(server.Stop)
	conn, err := grpc.NewClient("passthrough:///bufnet",
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) }),
		grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = conn.Close() })
	return testpb.NewTestServiceClient(conn)
}

// receive makes one Stream call and reads it to its end, checking every
// message's size. It returns the messages received and the time from the
// call to the first Recv's return.
func receive(ctx context.Context, c testpb.TestServiceClient, count, size int32) (int, time.Duration, error) {
	start := time.Now()
	stream, err := c.Stream(ctx, &testpb.EchoRequest{Count: count, ResponseSize: size})
	if err != nil {
		return 0, 0, err
	}
	var first time.Duration
	n := 0
	for {
		m, err := stream.Recv()
		if err == io.EOF {
			break
		}
		if err != nil {
			return n, first, err
		}
		if n == 0 {
			first = time.Since(start)
		}
		n++
		if len(m.GetPayload()) != int(size) {
			return n, first, fmt.Errorf("message %d: %d bytes of payload, want %d", n, len(m.GetPayload()), size)
		}
	}
	if n != int(count) {
		return n, first, fmt.Errorf("%d messages, want %d", n, count)
	}
	return n, first, nil
}

// BenchmarkServerStream reads one 64 MiB stream of 1024 64 KiB messages
// per iteration, as BenchmarkServerStream/path=<lambda|grpc>. MB/s is the
// payload bytes; allocs/msg and B/msg count every allocation in the process
// during the loop (client, transport and server goroutines alike) per
// message received.
func BenchmarkServerStream(b *testing.B) {
	for _, p := range paths {
		b.Run("path="+p.name, func(b *testing.B) {
			benchBulk(b, p.setup(b))
		})
	}
}

// BenchmarkFirstMessage makes one Stream call of 8 small (100-byte
// payload) messages per iteration and reports ns/first-msg, the mean time
// from the call to the first Recv's return; ns/op is the whole call.
func BenchmarkFirstMessage(b *testing.B) {
	for _, p := range paths {
		b.Run("path="+p.name, func(b *testing.B) {
			benchFirst(b, p.setup(b))
		})
	}
}

// benchBulk is BenchmarkServerStream's loop on c.
func benchBulk(b *testing.B, c testpb.TestServiceClient) {
	ctx := context.Background()
	if _, _, err := receive(ctx, c, bulkCount, bulkSize); err != nil { // warm up
		b.Fatal(err)
	}
	b.SetBytes(bulkCount * bulkSize)
	b.ReportAllocs()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	msgs := 0
	for b.Loop() {
		n, _, err := receive(ctx, c, bulkCount, bulkSize)
		if err != nil {
			b.Fatal(err)
		}
		msgs += n
	}
	runtime.ReadMemStats(&after)
	b.ReportMetric(float64(after.Mallocs-before.Mallocs)/float64(msgs), "allocs/msg")
	b.ReportMetric(float64(after.TotalAlloc-before.TotalAlloc)/float64(msgs), "B/msg")
}

// benchFirst is BenchmarkFirstMessage's loop on c.
func benchFirst(b *testing.B, c testpb.TestServiceClient) {
	ctx := context.Background()
	if _, _, err := receive(ctx, c, smallCount, smallSize); err != nil { // warm up
		b.Fatal(err)
	}
	b.ReportAllocs()
	var first time.Duration
	calls := 0
	for b.Loop() {
		_, d, err := receive(ctx, c, smallCount, smallSize)
		if err != nil {
			b.Fatal(err)
		}
		first += d
		calls++
	}
	b.ReportMetric(float64(first.Nanoseconds())/float64(calls), "ns/first-msg")
}

// TestPaths checks that both paths deliver every message of both streams
// (no timing).
func TestPaths(t *testing.T) {
	for _, p := range paths {
		t.Run("path="+p.name, func(t *testing.T) {
			c := p.setup(t)
			for _, s := range []struct{ count, size int32 }{{smallCount, smallSize}, {64, bulkSize}} {
				if _, _, err := receive(context.Background(), c, s.count, s.size); err != nil {
					t.Errorf("%d × %d bytes: %v", s.count, s.size, err)
				}
			}
		})
	}
}
