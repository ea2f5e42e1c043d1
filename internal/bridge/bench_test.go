package bridge_test

import (
	"context"
	"io"
	"log/slog"
	"net"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/protoc-gen-go-lambda/protoc-gen-go-lambda/internal/bridge"
	"github.com/protoc-gen-go-lambda/protoc-gen-go-lambda/internal/testing/testpb"
	"github.com/protoc-gen-go-lambda/protoc-gen-go-lambda/internal/testing/testserver"
	"github.com/protoc-gen-go-lambda/protoc-gen-go-lambda/runtime/invoke"
	"github.com/protoc-gen-go-lambda/protoc-gen-go-lambda/runtime/lambdatest"
)

// BenchmarkUnary measures what the bridge adds to a unary call, in one run:
//
//   - lambda-client: the generated Lambda client → invoke.ClientConn →
//     lambdatest.Invoker → runtime.Server (the function in-process);
//   - bridge: grpc-go's client → the bridge over loopback TCP → the same;
//   - grpc-hop: grpc-go's client → a grpc-go server over loopback TCP, the
//     cost of one gRPC hop, which is the target: bridge − lambda-client
//     should be no more than grpc-hop.
//
// Each reports ns/op (latency of sequential calls), cpu-ns/op (user and
// system CPU of the whole process, client, bridge and function together)
// and allocations. The bridge logs its line per call, formatted and then
// discarded.
func BenchmarkUnary(b *testing.B) {
	for _, size := range []struct {
		name    string
		payload int
	}{{"small", 16}, {"16KiB", 16 << 10}} {
		req := &testpb.EchoRequest{Message: "bench", Payload: make([]byte, size.payload)}
		b.Run(size.name+"/lambda-client", func(b *testing.B) {
			inv := lambdatest.NewInvoker(testFunction())
			defer inv.Close()
			benchEcho(b, testpb.NewTestServiceLambdaClient(invoke.NewClientConn(inv, "bench-fn")), req)
		})
		b.Run(size.name+"/bridge", func(b *testing.B) {
			inv := lambdatest.NewInvoker(testFunction())
			defer inv.Close()
			br, err := bridge.New(bridge.Config{Invoker: inv, Function: "bench-fn", Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
			if err != nil {
				b.Fatal(err)
			}
			conn := serveLoopback(b, br.Server())
			benchEcho(b, testpb.NewTestServiceClient(conn), req)
		})
		b.Run(size.name+"/grpc-hop", func(b *testing.B) {
			gs := grpc.NewServer()
			testpb.RegisterTestServiceServer(gs, &testserver.Server{})
			conn := serveLoopback(b, gs)
			benchEcho(b, testpb.NewTestServiceClient(conn), req)
		})
	}
}

// BenchmarkBridgeCost is BenchmarkUnary's comparison in one loop: each
// round makes a batch of calls on each path in turn, so that whatever else
// the machine does weighs on all three alike. It reports each path's
// latency (ns/call) and CPU (cpu-ns/call), and the bridge's cost against
// the target: added/hop is (bridge − lambda-client) / grpc-hop, for latency
// and CPU; at most 1 meets it.
func BenchmarkBridgeCost(b *testing.B) {
	benchCost(b, "bridge", func(b *testing.B, inv *lambdatest.Invoker) *grpc.Server {
		br, err := bridge.New(bridge.Config{Invoker: inv, Function: "bench-fn", Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
		if err != nil {
			b.Fatal(err)
		}
		return br.Server()
	})
}

// BenchmarkProxyCost is BenchmarkBridgeCost for the smallest proxy grpc-go
// allows, for reference: grpc-go's client → a grpc-go server whose Echo
// calls the generated Lambda client (one service, no metadata passed on, no
// log line); added/hop is (grpc-proxy − lambda-client) / grpc-hop.
func BenchmarkProxyCost(b *testing.B) {
	benchCost(b, "grpc-proxy", func(b *testing.B, inv *lambdatest.Invoker) *grpc.Server {
		proxy := grpc.NewServer()
		testpb.RegisterTestServiceServer(proxy, lambdaProxy{fn: testpb.NewTestServiceLambdaClient(invoke.NewClientConn(inv, "bench-fn"))})
		return proxy
	})
}

// benchCost takes turns between the Lambda client, a server made by
// newServer in front of the same function, and a gRPC hop.
func benchCost(b *testing.B, name string, newServer func(*testing.B, *lambdatest.Invoker) *grpc.Server) {
	for _, size := range []struct {
		name    string
		payload int
	}{{"small", 16}, {"16KiB", 16 << 10}} {
		b.Run(size.name, func(b *testing.B) {
			req := &testpb.EchoRequest{Message: "bench", Payload: make([]byte, size.payload)}
			inv := lambdatest.NewInvoker(testFunction())
			defer inv.Close()
			gs := grpc.NewServer()
			testpb.RegisterTestServiceServer(gs, &testserver.Server{})
			paths := []struct {
				name   string
				client testpb.TestServiceClient
			}{
				{"lambda-client", testpb.NewTestServiceLambdaClient(invoke.NewClientConn(inv, "bench-fn"))},
				{name, testpb.NewTestServiceClient(serveLoopback(b, newServer(b, inv)))},
				{"grpc-hop", testpb.NewTestServiceClient(serveLoopback(b, gs))},
			}
			ctx := context.Background()
			const batch = 20
			var wall, cpu [3]time.Duration
			for _, p := range paths { // connect, warm up
				for range batch {
					if _, err := p.client.Echo(ctx, req); err != nil {
						b.Fatal(err)
					}
				}
			}
			b.ResetTimer()
			for b.Loop() {
				for i, p := range paths {
					start, c0 := time.Now(), cpuTime()
					for range batch {
						if _, err := p.client.Echo(ctx, req); err != nil {
							b.Fatal(err)
						}
					}
					wall[i] += time.Since(start)
					cpu[i] += cpuTime() - c0
				}
			}
			calls := float64(b.N * batch)
			for i, p := range paths {
				b.ReportMetric(float64(wall[i])/calls, p.name+"-ns/call")
				b.ReportMetric(float64(cpu[i])/calls, p.name+"-cpu-ns/call")
			}
			b.ReportMetric(float64(wall[1]-wall[0])/float64(wall[2]), "added/hop")
			b.ReportMetric(float64(cpu[1]-cpu[0])/float64(cpu[2]), "cpu-added/hop")
		})
	}
}

// lambdaProxy is a grpc-go service that calls the function through the
// generated Lambda client: a proxy written by hand for one service.
type lambdaProxy struct {
	testpb.UnimplementedTestServiceServer
	fn testpb.TestServiceLambdaClient
}

func (p lambdaProxy) Echo(ctx context.Context, req *testpb.EchoRequest) (*testpb.EchoResponse, error) {
	return p.fn.Echo(ctx, req)
}

// serveLoopback serves s on a loopback port until the benchmark ends and
// returns a grpc-go client connection to it.
func serveLoopback(b *testing.B, s *grpc.Server) *grpc.ClientConn {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	go func() { _ = s.Serve(lis) }()
	conn, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		conn.Close()
		s.Stop()
	})
	return conn
}

// benchEcho makes b.N sequential Echo calls and reports their CPU time.
func benchEcho(b *testing.B, c testpb.TestServiceClient, req *testpb.EchoRequest) {
	ctx := context.Background()
	if _, err := c.Echo(ctx, req); err != nil { // connect, warm up
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	cpu := cpuTime()
	for b.Loop() {
		if _, err := c.Echo(ctx, req); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(cpuTime()-cpu)/float64(b.N), "cpu-ns/op")
}

// cpuTime is the process's user and system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
