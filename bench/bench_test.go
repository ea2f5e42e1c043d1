package bench

import (
	"context"
	"testing"

	"google.golang.org/protobuf/proto"

	benchv1 "github.com/protoc-gen-go-lambda/protoc-gen-go-lambda/bench/gen/bench/v1"
)

// BenchmarkUnary measures one complete unary Echo call per iteration for
// every size and path, as BenchmarkUnary/size=<size>/path=<path>. Setup is
// outside the timed loop (b.Loop starts the timer on its first call).
// Besides time and allocations it reports wire-B/op, the payload bytes a
// call puts on the wire, counted as each path's setup function says.
func BenchmarkUnary(b *testing.B) {
	for _, s := range sizes {
		req := newRequest(s)
		b.Run("size="+s.name, func(b *testing.B) {
			for _, p := range paths {
				b.Run("path="+p.name, func(b *testing.B) {
					benchmarkPath(b, p, req)
				})
			}
		})
	}
}

// benchmarkPath runs path p's call of req in b's timed loop, with a cheap
// check of every response so a broken path cannot look fast.
func benchmarkPath(b *testing.B, p path, req *benchv1.EchoRequest) {
	call := p.setup(b, echoServer{})
	ctx := context.Background()
	items := len(req.GetOrder().GetItems())
	var wire int
	b.ReportAllocs()
	for b.Loop() {
		resp, n, err := call(ctx, req)
		if err != nil {
			b.Fatal(err)
		}
		if resp.GetRequestId() != req.GetRequestId() || len(resp.GetOrder().GetItems()) != items {
			b.Fatalf("wrong response: request id %q, %d items", resp.GetRequestId(), len(resp.GetOrder().GetItems()))
		}
		wire = n
	}
	b.ReportMetric(float64(wire), "wire-B/op")
}

// TestSizes checks that each size's request is near its target serialized
// size and logs the sizes.
func TestSizes(t *testing.T) {
	for _, s := range sizes {
		n := proto.Size(newRequest(s))
		t.Logf("size=%s: request is %d bytes of protobuf (target %d)", s.name, n, s.target)
		if n < s.target*3/4 || n > s.target*5/4 {
			t.Errorf("size=%s: request is %d bytes, want within 25%% of %d", s.name, n, s.target)
		}
	}
}

// TestPaths makes one call of every path for every size and checks the
// whole response.
func TestPaths(t *testing.T) {
	for _, s := range sizes {
		req := newRequest(s)
		want := wantResponse(req)
		for _, p := range paths {
			t.Run("size="+s.name+"/path="+p.name, func(t *testing.T) {
				call := p.setup(t, echoServer{})
				resp, wire, err := call(context.Background(), req)
				if err != nil {
					t.Fatal(err)
				}
				if !proto.Equal(resp, want) {
					t.Fatal("response differs from the request's echo")
				}
				if wire <= 0 {
					t.Fatalf("wire bytes = %d, want > 0", wire)
				}
				t.Logf("wire bytes: %d", wire)
			})
		}
	}
}
