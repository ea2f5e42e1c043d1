package parity

import (
	"context"
	"errors"
	"strings"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/protoc-gen-go-lambda/protoc-gen-go-lambda/internal/testing/testpb"
)

// exhausted asserts grpc-go succeeds and the Lambda path fails with
// RESOURCE_EXHAUSTED, naming the Lambda payload limit.
func exhausted(t *testing.T, g, l Outcome) {
	t.Helper()
	if g.Code() != codes.OK || l.Code() != codes.ResourceExhausted || !strings.Contains(l.Status.GetMessage(), "Lambda limit of 6291456 bytes") {
		t.Errorf("want OK on grpc-go and RESOURCE_EXHAUSTED for the Lambda limit, got %s and %s", summary(g), summary(l))
	}
}

// quiet is a Service whose Echo does not echo the incoming metadata, which
// on grpc-go includes the transport keys and so would make the response
// sizes in the limit messages differ.
func quiet() *Service {
	return &Service{EchoFunc: func(ctx context.Context, req *testpb.EchoRequest) (*testpb.EchoResponse, error) {
		resp, err := DefaultEcho(ctx, req)
		if resp != nil {
			resp.Incoming = nil
		}
		return resp, err
	}}
}

// limitCases: message size limits on both sides, and the Lambda payload
// limit, which grpc-go does not have.
func limitCases() []Case {
	const kib = 1 << 10
	cs := []Case{
		{Name: "server receive limit exceeded", MaxRecv: kib, Req: &testpb.EchoRequest{Payload: payload(2 * kib)}},
		{Name: "server receive limit met exactly", MaxRecv: kib, Req: &testpb.EchoRequest{Payload: payload(kib - 3)}},
		{Name: "server send limit exceeded", MaxSend: kib, Req: &testpb.EchoRequest{ResponseSize: 2 * kib}},
		{Name: "server send limit exceeded, with header and trailer", MaxSend: kib, Req: &testpb.EchoRequest{ResponseSize: 2 * kib, Header: pairs("x-h", "1"), Trailer: pairs("x-t", "2")}},
		{Name: "server send limit met exactly", MaxSend: kib, Req: &testpb.EchoRequest{ResponseSize: kib - 3}},
		{
			Name: "client receive limit exceeded", CallOptions: []grpc.CallOption{grpc.MaxCallRecvMsgSize(kib)},
			Req:           &testpb.EchoRequest{ResponseSize: 2 * kib, Header: pairs("x-h", "1"), Trailer: pairs("x-t", "2")},
			TrailerVaries: true,
		},
		{Name: "client receive limit met exactly", CallOptions: []grpc.CallOption{grpc.MaxCallRecvMsgSize(kib)}, Req: &testpb.EchoRequest{ResponseSize: kib - 3}},
		{Name: "client send limit exceeded", CallOptions: []grpc.CallOption{grpc.MaxCallSendMsgSize(kib)}, Req: &testpb.EchoRequest{Payload: payload(2 * kib)}},
		{Name: "client send limit met exactly", CallOptions: []grpc.CallOption{grpc.MaxCallSendMsgSize(kib)}, Req: &testpb.EchoRequest{Payload: payload(kib - 3), ResponseSize: 1}},
		{Name: "default server receive limit (4 MiB) exceeded", Req: &testpb.EchoRequest{Payload: payload(4 << 20), ResponseSize: 1}},
		{Name: "default client receive limit (4 MiB) exceeded", Req: &testpb.EchoRequest{ResponseSize: 4<<20 + 1}},
		{
			Name:        "request over the Lambda payload limit, within raised grpc limits",
			MaxRecv:     16 << 20,
			CallOptions: []grpc.CallOption{grpc.MaxCallRecvMsgSize(16 << 20)},
			Req:         &testpb.EchoRequest{Payload: payload(5 << 20), ResponseSize: 1},
			Difference:  "a synchronous invocation's request payload is at most 6 MB (6,291,456 bytes) including the envelope and base64, about 4.7 MB of protobuf; grpc-go has no transport limit",
			Diff:        exhausted,
		},
		{
			Name:        "response over the Lambda payload limit, within raised grpc limits",
			CallOptions: []grpc.CallOption{grpc.MaxCallRecvMsgSize(16 << 20)},
			Req:         &testpb.EchoRequest{ResponseSize: 5 << 20},
			Difference:  "a synchronous invocation's response payload is at most 6 MB; runtime.Server answers RESOURCE_EXHAUSTED itself instead of letting Lambda fail the invocation",
			Diff:        exhausted,
		},
		{
			Name:       "caller metadata over the Lambda payload limit",
			Ctx:        outgoing(metadata.Pairs("x-huge", strings.Repeat("m", 7<<20))),
			Req:        &testpb.EchoRequest{},
			Difference: "metadata travels in the 6 MB payload; grpc-go accepts header lists up to 16 MiB by default",
			Diff:       exhausted,
		},
		{
			Name: "handler metadata over the Lambda payload limit",
			Service: setting(func(ctx context.Context) error {
				return grpc.SetHeader(ctx, metadata.Pairs("x-huge", strings.Repeat("m", 7<<20)))
			}),
			Req:        &testpb.EchoRequest{},
			Difference: "metadata travels in the 6 MB payload; grpc-go accepts header lists up to 16 MiB by default",
			Diff:       exhausted,
		},
	}
	for i := range cs {
		if cs[i].Service == nil {
			cs[i].Service = quiet()
		}
	}
	return cs
}

// recoveredPrefix starts the message of recoveryInterceptor's status.
const recoveredPrefix = "recovered by an interceptor: "

// panicRecovered is the documented difference of the panic cases in which
// grpc-go runs recoveryInterceptor.
const panicRecovered = "runtime.Server recovers a panic by itself, as INTERNAL \"panic in handler: <value>\"; grpc-go needs a recovery interceptor (here one answering INTERNAL \"" + recoveredPrefix + "<value>\"), whose own words the caller then sees. The code, the panic value and the header and trailer metadata set before the panic are the same"

// diffRecovered checks that the two sides differ only in the words around
// the panic value.
func diffRecovered(t *testing.T, g, l Outcome) {
	t.Helper()
	gv, gok := strings.CutPrefix(g.Status.GetMessage(), recoveredPrefix)
	lv, lok := strings.CutPrefix(l.Status.GetMessage(), "panic in handler: ")
	if !gok || !lok || gv != lv || g.Code() != codes.Internal || l.Code() != codes.Internal ||
		!mdEqual(g.Header, l.Header) || !mdEqual(g.Trailer, l.Trailer) || g.Resp != nil || l.Resp != nil {
		t.Errorf("want INTERNAL with the same panic value and metadata:\n  grpc-go %s\n  lambda  %s", summary(g), summary(l))
	}
}

// panicCases: handlers and interceptors that panic. runtime.Server recovers
// them as INTERNAL "panic in handler: <value>"; the grpc-go side runs
// recoveryInterceptor outermost.
func panicCases() []Case {
	panicking := func(v any) *Service {
		return &Service{PanicFunc: func(context.Context, *testpb.EchoRequest) (*testpb.EchoResponse, error) { panic(v) }}
	}
	callPanic := func(ctx context.Context, c Conn, opts ...grpc.CallOption) (proto.Message, error) {
		return c.Client.Panic(ctx, &testpb.EchoRequest{Message: "boom"}, opts...)
	}
	cs := []Case{
		{Name: "handler panics with a string", GRPCRecovery: true, Call: callPanic},
		{Name: "handler panics with an error", GRPCRecovery: true, Service: panicking(errors.New("an error value")), Call: callPanic},
		{Name: "handler panics with a status error", GRPCRecovery: true, Service: panicking(status.Error(codes.NotFound, "as a panic")), Call: callPanic},
		{Name: "handler panics with nil", GRPCRecovery: true, Service: panicking(nil), Call: callPanic},
		{Name: "handler panics after setting header and trailer", GRPCRecovery: true, Service: &Service{PanicFunc: func(ctx context.Context, _ *testpb.EchoRequest) (*testpb.EchoResponse, error) {
			_ = grpc.SetHeader(ctx, metadata.Pairs("x-h", "1"))
			_ = grpc.SetTrailer(ctx, metadata.Pairs("x-t", "2"))
			panic("after metadata")
		}}, Call: callPanic},
		{Name: "handler panics after SendHeader", GRPCRecovery: true, Service: &Service{PanicFunc: func(ctx context.Context, _ *testpb.EchoRequest) (*testpb.EchoResponse, error) {
			_ = grpc.SendHeader(ctx, metadata.Pairs("x-h", "sent"))
			panic("after SendHeader")
		}}, Call: callPanic},
		{Name: "server interceptor panics", GRPCRecovery: true, ServerInterceptors: []grpc.UnaryServerInterceptor{tracing("outer"), func(context.Context, any, *grpc.UnaryServerInfo, grpc.UnaryHandler) (any, error) {
			panic("in the interceptor")
		}}, Req: &testpb.EchoRequest{}},
		{
			Name: "handler panics, grpc-go without a recovery interceptor",
			Outcomes: func(t *testing.T) (Outcome, Outcome) {
				c := &Case{Call: callPanic}
				return Outcome{Note: subprocess(t, subPanic, "panic: ")}, runLambda(t, c)
			},
			Difference: "grpc-go without a recovery interceptor does not recover handler panics: the process crashes and every call in flight fails; runtime.Server recovers and answers INTERNAL \"panic in handler: <value>\" so one bad request cannot take the function down (compare the cases above, where grpc-go runs a recovery interceptor)",
			Diff: func(t *testing.T, g, l Outcome) {
				if g.Note != "process exits with status 2: panic: boom" || l.Code() != codes.Internal || l.Status.GetMessage() != "panic in handler: boom" {
					t.Errorf("want a crash on grpc-go and INTERNAL on Lambda, got %q and %s", g.Note, summary(l))
				}
			},
		},
	}
	for i := range cs {
		if cs[i].GRPCRecovery {
			cs[i].Difference, cs[i].Diff = panicRecovered, diffRecovered
		}
	}
	return cs
}
