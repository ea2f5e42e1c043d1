package invoke_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/smithy-go"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/stats"
	"google.golang.org/grpc/status"

	"github.com/protoc-gen-go-lambda/protoc-gen-go-lambda/internal/testing/testpb"
	"github.com/protoc-gen-go-lambda/protoc-gen-go-lambda/internal/testing/testserver"
	"github.com/protoc-gen-go-lambda/protoc-gen-go-lambda/runtime/invoke"
	"github.com/protoc-gen-go-lambda/protoc-gen-go-lambda/runtime/lambdatest"
)

// These tests cover what parity/stats_test.go, which holds the client's
// stats events to grpc-go's, does not: calls that fail before or during the
// invocation, per-RPC credentials, the synthetic connection and several
// handlers.

// clientLog is a stats.Handler that logs each event as a line.
type clientLog struct {
	name string
	mu   sync.Mutex
	log  []string
	into *clientLog // when set, gets the lines too, prefixed with name
}

type clientRPCKey struct{}

func (l *clientLog) add(format string, args ...any) {
	line := fmt.Sprintf(format, args...)
	if l.into != nil {
		l.into.add("%s", l.name+": "+line)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.log = append(l.log, line)
}

func (l *clientLog) lines() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.log)
}

func (l *clientLog) TagRPC(ctx context.Context, info *stats.RPCTagInfo) context.Context {
	l.add("TagRPC %s failfast=%v", info.FullMethodName, info.FailFast)
	// A handler may add outgoing metadata here, as otelgrpc adds traceparent.
	ctx = metadata.AppendToOutgoingContext(ctx, "x-tagged-by", l.name)
	return context.WithValue(ctx, clientRPCKey{}, true)
}

func (l *clientLog) HandleRPC(ctx context.Context, s stats.RPCStats) {
	if ctx.Value(clientRPCKey{}) == nil {
		l.add("%T without TagRPC's context", s)
	}
	switch s := s.(type) {
	case *stats.Begin:
		l.add("Begin failfast=%v", s.FailFast)
	case *stats.OutHeader:
		keys := make([]string, 0, len(s.Header))
		for k := range s.Header {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		l.add("OutHeader %s keys=%v remote=%s:%s authority=%s", s.FullMethod, keys, s.RemoteAddr.Network(), s.RemoteAddr, s.Authority)
	case *stats.OutPayload:
		l.add("OutPayload length=%d", s.Length)
	case *stats.End:
		l.add("End %v", status.Code(s.Error))
	default:
		l.add("%s", strings.TrimPrefix(fmt.Sprintf("%T", s), "*stats."))
	}
}

func (l *clientLog) TagConn(ctx context.Context, info *stats.ConnTagInfo) context.Context {
	l.add("TagConn remote=%s:%s local=%v", info.RemoteAddr.Network(), info.RemoteAddr, info.LocalAddr)
	return ctx
}

func (l *clientLog) HandleConn(_ context.Context, s stats.ConnStats) {
	l.add("%s client=%v", strings.TrimPrefix(fmt.Sprintf("%T", s), "*stats."), s.IsClient())
}

// throttled is an Invoker that Lambda throttles.
type throttled struct{}

func (throttled) Invoke(context.Context, *lambda.InvokeInput, ...func(*lambda.Options)) (*lambda.InvokeOutput, error) {
	return nil, &smithy.OperationError{ServiceID: "Lambda", OperationName: "Invoke", Err: &smithy.GenericAPIError{Code: "TooManyRequestsException", Message: "Rate Exceeded."}}
}

// TestStatsHandlerClientCalls: the events of calls that succeed and that
// fail at each step, from one ClientConn whose synthetic connection was
// begun by NewClientConn.
func TestStatsHandlerClientCalls(t *testing.T) {
	var echoed metadata.MD
	inv := lambdatest.NewInvoker(testpb.NewTestServiceLambdaHandler(&testserver.Server{}))
	t.Cleanup(inv.Close)
	log := &clientLog{name: "log"}
	cc := invoke.NewClientConn(inv, "orders", invoke.WithQualifier("live"), invoke.WithStatsHandler(nil), invoke.WithStatsHandler(log))
	client := testpb.NewTestServiceLambdaClient(cc)
	if got, want := log.lines(), []string{"TagConn remote=lambda:orders:live local=<nil>", "ConnBegin client=true"}; !slices.Equal(got, want) {
		t.Fatalf("after NewClientConn: %q, want %q", got, want)
	}
	const echo = "/lambdatest.v1.TestService/Echo"

	check := func(name string, want ...string) {
		t.Helper()
		got := log.lines()
		log.mu.Lock()
		log.log = nil
		log.mu.Unlock()
		if !slices.Equal(got, want) {
			t.Errorf("%s: events\n  %s\nwant\n  %s", name, strings.Join(got, "\n  "), strings.Join(want, "\n  "))
		}
	}
	log.mu.Lock()
	log.log = nil
	log.mu.Unlock()

	// Success, with per-RPC credentials: their metadata is sent (the handler
	// echoes it) but, as on grpc-go, not reported in OutHeader; TagRPC's
	// outgoing metadata is both. WaitForReady(true) is FailFast false.
	creds := &tokenCreds{}
	resp, err := client.Echo(context.Background(), &testpb.EchoRequest{Message: "ok"}, grpc.PerRPCCredentials(creds), grpc.WaitForReady(true))
	if err != nil {
		t.Fatal(err)
	}
	echoed = testserver.MD(resp.GetIncoming())
	if echoed.Get("authorization") == nil || echoed.Get("x-tagged-by") == nil {
		t.Errorf("the function got %v, want authorization and x-tagged-by", echoed)
	}
	check("success",
		"TagRPC "+echo+" failfast=false", "Begin failfast=false",
		"OutHeader "+echo+" keys=[x-tagged-by] remote=lambda:orders:live authority=orders",
		"OutPayload length=4", "InHeader", "InTrailer", "InPayload", "End OK")

	// An error without header metadata: no InHeader ("trailers-only").
	_, err = client.Echo(context.Background(), &testpb.EchoRequest{Fail: &testpb.Status{Code: int32(codes.NotFound)}})
	if status.Code(err) != codes.NotFound {
		t.Fatalf("got %v, want NOT_FOUND", err)
	}
	check("failure",
		"TagRPC "+echo+" failfast=true", "Begin failfast=true",
		"OutHeader "+echo+" keys=[x-tagged-by] remote=lambda:orders:live authority=orders",
		"OutPayload length=4", "InTrailer", "End NotFound")

	// A context already done: nothing, as grpc-go reports nothing before
	// its attempt begins.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := client.Echo(ctx, &testpb.EchoRequest{}); status.Code(err) != codes.Canceled {
		t.Fatalf("got %v, want CANCELED", err)
	}
	check("canceled")

	// Larger than the client's send limit: no OutPayload.
	_, err = client.Echo(context.Background(), &testpb.EchoRequest{Payload: make([]byte, 100)}, grpc.MaxCallSendMsgSize(10))
	if status.Code(err) != codes.ResourceExhausted {
		t.Fatalf("got %v, want RESOURCE_EXHAUSTED", err)
	}
	check("too large",
		"TagRPC "+echo+" failfast=true", "Begin failfast=true",
		"OutHeader "+echo+" keys=[x-tagged-by] remote=lambda:orders:live authority=orders",
		"End ResourceExhausted")

	// The Invoke API refuses the invocation: no answer, so no In* events.
	tc := testpb.NewTestServiceLambdaClient(invoke.NewClientConn(throttled{}, "orders", invoke.WithStatsHandler(log)))
	log.mu.Lock()
	log.log = nil
	log.mu.Unlock()
	if _, err := tc.Echo(context.Background(), &testpb.EchoRequest{}); status.Code(err) != codes.Unavailable {
		t.Fatalf("got %v, want UNAVAILABLE", err)
	}
	check("throttled",
		"TagRPC "+echo+" failfast=true", "Begin failfast=true",
		"OutHeader "+echo+" keys=[x-tagged-by] remote=lambda:orders authority=orders",
		"OutPayload length=0", "End Unavailable")
}

// TestStatsHandlerClientSeveral: several handlers each see every event, in
// the order given, and each TagRPC gets the context the previous returned.
func TestStatsHandlerClientSeveral(t *testing.T) {
	inv := lambdatest.NewInvoker(testpb.NewTestServiceLambdaHandler(&testserver.Server{}))
	t.Cleanup(inv.Close)
	all := &clientLog{name: "all"}
	first, second := &clientLog{name: "first", into: all}, &clientLog{name: "second", into: all}
	client := testpb.NewTestServiceLambdaClient(invoke.NewClientConn(inv, "fn", invoke.WithStatsHandler(first), invoke.WithStatsHandler(second)))
	resp, err := client.Echo(context.Background(), &testpb.EchoRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if got := testserver.MD(resp.GetIncoming()).Get("x-tagged-by"); !slices.Equal(got, []string{"first", "second"}) {
		t.Errorf("x-tagged-by = %q, want both handlers' in order", got)
	}
	lines := all.lines()
	if len(lines) != 2*10 {
		t.Fatalf("%d events, want 10 for each handler:\n  %s", len(lines), strings.Join(lines, "\n  "))
	}
	for i := 0; i < len(lines); i += 2 {
		a, b := strings.TrimPrefix(lines[i], "first: "), strings.TrimPrefix(lines[i+1], "second: ")
		if a == lines[i] || b == lines[i+1] || strings.Fields(a)[0] != strings.Fields(b)[0] {
			t.Errorf("events %d and %d: %q, %q; want the same event for first, then second", i, i+1, lines[i], lines[i+1])
		}
	}
}
