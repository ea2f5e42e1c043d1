package bench

import (
	"context"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/encoding"
	grpcproto "google.golang.org/grpc/encoding/proto"
	"google.golang.org/grpc/stats"
	"google.golang.org/protobuf/proto"

	benchv1 "github.com/protoc-gen-go-lambda/protoc-gen-go-lambda/bench/gen/bench/v1"
	"github.com/protoc-gen-go-lambda/protoc-gen-go-lambda/runtime"
	"github.com/protoc-gen-go-lambda/protoc-gen-go-lambda/runtime/invoke"
)

// BenchmarkStats measures what a stats handler costs: the small Echo call
// of BenchmarkUnary through the lambda path and the grpc path, each without
// a handler and with the same no-op handler on the client and the server,
// as BenchmarkStats/path=<lambda|grpc>/handler=<none|noop>. The lambda
// path with a handler must allocate no more per call than grpc-go adds
// with the same handler; without one it is BenchmarkUnary's lambda path.
func BenchmarkStats(b *testing.B) {
	req := newRequest(sizes[0])
	for _, p := range statsPaths {
		for _, h := range []struct {
			name string
			h    stats.Handler
		}{{"none", nil}, {"noop", noopHandler{}}} {
			b.Run("path="+p.name+"/handler="+h.name, func(b *testing.B) {
				benchmarkPath(b, path{name: p.name, setup: func(tb testing.TB, srv benchv1.BenchServiceServer) call {
					return p.setup(tb, srv, h.h)
				}}, req)
			})
		}
	}
}

// statsPaths are the paths BenchmarkStats compares.
var statsPaths = []struct {
	name  string
	setup func(tb testing.TB, srv benchv1.BenchServiceServer, h stats.Handler) call
}{
	{"lambda", setupLambdaStats},
	{"grpc", setupGRPCStats},
}

// TestStatsPaths checks that BenchmarkStats's paths call the handler on
// both sides with the events of a unary call, and answer correctly.
func TestStatsPaths(t *testing.T) {
	req := newRequest(sizes[0])
	want := wantResponse(req)
	for _, p := range statsPaths {
		t.Run(p.name, func(t *testing.T) {
			h := &kindsHandler{}
			call := p.setup(t, echoServer{}, h)
			resp, _, err := call(context.Background(), req)
			if err != nil {
				t.Fatal(err)
			}
			if !proto.Equal(resp, want) {
				t.Fatal("response differs from the request's echo")
			}
			h.mu.Lock()
			defer h.mu.Unlock()
			// The server's OutTrailer and End may come after the client has
			// its answer.
			for side, kinds := range map[string][]string{
				"client": {"Begin", "OutHeader", "OutPayload", "InHeader", "InTrailer", "InPayload", "End"},
				"server": {"InHeader", "Begin", "InPayload", "OutHeader", "OutPayload"},
			} {
				seen := h.client
				if side == "server" {
					seen = h.server
				}
				for _, k := range kinds {
					if !seen[k] {
						t.Errorf("%s reported no %s (saw %v)", side, k, seen)
					}
				}
			}
		})
	}
}

// setupLambdaStats is the lambda path (setupLambda) with h on both sides.
func setupLambdaStats(_ testing.TB, srv benchv1.BenchServiceServer, h stats.Handler) call {
	var sopts []runtime.ServerOption
	var copts []invoke.Option
	if h != nil {
		sopts = append(sopts, runtime.StatsHandler(h))
		copts = append(copts, invoke.WithStatsHandler(h))
	}
	inv := &countingInvoker{srv: benchv1.NewBenchServiceLambdaHandler(srv, sopts...)}
	return lambdaCall(invoke.NewClientConn(inv, "bench", copts...), func() int { return inv.wire })
}

// setupGRPCStats is the grpc path (setupGRPC) with h on both sides.
func setupGRPCStats(tb testing.TB, srv benchv1.BenchServiceServer, h stats.Handler) call {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	var sopts []grpc.ServerOption
	codec := &countingCodec{CodecV2: encoding.GetCodecV2(grpcproto.Name)}
	dopts := []grpc.DialOption{
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.ForceCodecV2(codec)),
	}
	if h != nil {
		sopts = append(sopts, grpc.StatsHandler(h))
		dopts = append(dopts, grpc.WithStatsHandler(h))
	}
	server := grpc.NewServer(sopts...)
	benchv1.RegisterBenchServiceServer(server, srv)
	go func() { _ = server.Serve(lis) }() // returns nil once Stop is called
	tb.Cleanup(server.Stop)
	conn, err := grpc.NewClient(lis.Addr().String(), dopts...)
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

// noopHandler is a stats.Handler that does nothing.
type noopHandler struct{}

func (noopHandler) TagRPC(ctx context.Context, _ *stats.RPCTagInfo) context.Context   { return ctx }
func (noopHandler) HandleRPC(context.Context, stats.RPCStats)                         {}
func (noopHandler) TagConn(ctx context.Context, _ *stats.ConnTagInfo) context.Context { return ctx }
func (noopHandler) HandleConn(context.Context, stats.ConnStats)                       {}

// kindsHandler records the kinds of event each side reported.
type kindsHandler struct {
	mu     sync.Mutex
	client map[string]bool
	server map[string]bool
}

func (h *kindsHandler) TagRPC(ctx context.Context, _ *stats.RPCTagInfo) context.Context { return ctx }

func (h *kindsHandler) HandleRPC(_ context.Context, s stats.RPCStats) {
	h.mu.Lock()
	defer h.mu.Unlock()
	m := &h.server
	if s.IsClient() {
		m = &h.client
	}
	if *m == nil {
		*m = map[string]bool{}
	}
	(*m)[strings.TrimPrefix(fmt.Sprintf("%T", s), "*stats.")] = true
}

func (h *kindsHandler) TagConn(ctx context.Context, _ *stats.ConnTagInfo) context.Context {
	return ctx
}

func (h *kindsHandler) HandleConn(context.Context, stats.ConnStats) {}
