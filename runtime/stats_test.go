package runtime_test

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/lambdacontext"
	"go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/stats"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/protoc-gen-go-lambda/protoc-gen-go-lambda/internal/testing/testpb"
	"github.com/protoc-gen-go-lambda/protoc-gen-go-lambda/internal/testing/testserver"
	"github.com/protoc-gen-go-lambda/protoc-gen-go-lambda/runtime"
	"github.com/protoc-gen-go-lambda/protoc-gen-go-lambda/runtime/invoke"
	"github.com/protoc-gen-go-lambda/protoc-gen-go-lambda/runtime/lambdatest"
)

// These tests cover what parity/stats_test.go, which holds the stats
// handlers to grpc-go's, cannot: the HTTP front end, the synthetic
// connection, several handlers, JSON mode, and a handler left running past
// its deadline.

// eventLog is a stats.Handler that logs each event as a line: its name,
// then "name=value" for what a test checks.
type eventLog struct {
	name string
	mu   sync.Mutex
	log  []string
	// into, when set, gets the lines too (several handlers, one order).
	into *eventLog
}

type (
	logRPCKey  struct{ name string }
	logConnKey struct{ name string }
)

func (l *eventLog) add(format string, args ...any) {
	line := fmt.Sprintf(format, args...)
	if l.into != nil {
		l.into.add("%s", l.name+": "+line)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.log = append(l.log, line)
}

func (l *eventLog) lines() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.log)
}

func (l *eventLog) TagRPC(ctx context.Context, info *stats.RPCTagInfo) context.Context {
	l.add("TagRPC %s conn=%v", info.FullMethodName, ctx.Value(logConnKey{l.name}) != nil)
	return context.WithValue(ctx, logRPCKey{l.name}, true)
}

func (l *eventLog) HandleRPC(ctx context.Context, s stats.RPCStats) {
	tags := fmt.Sprintf("rpc=%v conn=%v", ctx.Value(logRPCKey{l.name}) != nil, ctx.Value(logConnKey{l.name}) != nil)
	switch s := s.(type) {
	case *stats.InHeader:
		l.add("InHeader traceparent=%q local=%v %s", strings.Join(s.Header.Get("traceparent"), ","), s.LocalAddr, tags)
	case *stats.InPayload:
		l.add("InPayload length=%d wire=%d %s", s.Length, s.WireLength, tags)
	case *stats.OutPayload:
		l.add("OutPayload length=%d wire=%d %s", s.Length, s.WireLength, tags)
	case *stats.End:
		l.add("End %v %s", status.Code(s.Error), tags)
	default:
		l.add("%s %s", strings.TrimPrefix(fmt.Sprintf("%T", s), "*stats."), tags)
	}
}

func (l *eventLog) TagConn(ctx context.Context, info *stats.ConnTagInfo) context.Context {
	l.add("TagConn remote=%v local=%v", info.RemoteAddr, info.LocalAddr)
	return context.WithValue(ctx, logConnKey{l.name}, true)
}

func (l *eventLog) HandleConn(ctx context.Context, s stats.ConnStats) {
	l.add("%s conn=%v", strings.TrimPrefix(fmt.Sprintf("%T", s), "*stats."), ctx.Value(logConnKey{l.name}) != nil)
}

// TestStatsHandlerHTTPFrontEnd: a Connect call through a function URL whose
// request carries a W3C traceparent header gets a server span, from
// otelgrpc's handler, in the caller's trace with the caller's span as its
// remote parent, as a grpc-go server's would; a gRPC-Web call's failure
// reaches the span's status.
func TestStatsHandlerHTTPFrontEnd(t *testing.T) {
	spans := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans))
	log := &eventLog{name: "log"}
	srv := newHTTPServer(
		runtime.StatsHandler(otelgrpc.NewServerHandler(otelgrpc.WithTracerProvider(tp), otelgrpc.WithPropagators(propagation.TraceContext{}))),
		runtime.StatsHandler(log),
	)
	const (
		traceID  = "4bf92f3577b34da6a3ce929d0e0e4736"
		parentID = "00f067aa0ba902b7"
	)
	req := &testpb.EchoRequest{Message: "traced"}
	r := connectRequest(t, echoPath, req, connectOpts{header: http.Header{"Traceparent": {"00-" + traceID + "-" + parentID + "-01"}}})
	if a := roundTrip(t, srv, functionURL, r); a.status != http.StatusOK {
		t.Fatalf("HTTP %d: %s", a.status, a.body)
	}
	n := proto.Size(req)
	want := []string{
		"TagConn remote=<nil> local=<nil>", "ConnBegin conn=true",
		"TagRPC " + echoPath + " conn=true",
		fmt.Sprintf("InHeader traceparent=%q local=<nil> rpc=true conn=true", "00-"+traceID+"-"+parentID+"-01"),
		"Begin rpc=true conn=true",
		fmt.Sprintf("InPayload length=%d wire=%d rpc=true conn=true", n, n),
		"OutHeader rpc=true conn=true",
	}
	got := log.lines()
	if len(got) < len(want) || !slices.Equal(got[:len(want)], want) {
		t.Errorf("events:\n  %s\nwant them to begin with:\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
	ended := spans.Ended()
	if len(ended) != 1 {
		t.Fatalf("%d spans ended, want 1", len(ended))
	}
	sp := ended[0]
	if sp.SpanKind() != trace.SpanKindServer || sp.Name() != strings.TrimPrefix(echoPath, "/") {
		t.Errorf("span %q kind %v, want the server span of %s", sp.Name(), sp.SpanKind(), echoPath)
	}
	if p := sp.Parent(); p.TraceID().String() != traceID || p.SpanID().String() != parentID || !p.IsRemote() {
		t.Errorf("span's parent is %s/%s remote=%v, want the traceparent's %s/%s, remote", p.TraceID(), p.SpanID(), p.IsRemote(), traceID, parentID)
	}

	// gRPC-Web, failing: the span's status and code attribute say so.
	fail := &testpb.EchoRequest{Fail: &testpb.Status{Code: int32(codes.Unavailable), Message: "down"}}
	body := append([]byte{0, 0, 0, 0, byte(proto.Size(fail))}, marshal(t, fail, false)...)
	a := roundTrip(t, srv, functionURL, &httpReq{path: echoPath, header: http.Header{"Content-Type": {"application/grpc-web+proto"}}, body: body})
	if a.status != http.StatusOK {
		t.Fatalf("HTTP %d: %s", a.status, a.body)
	}
	ended = spans.Ended()
	if len(ended) != 2 {
		t.Fatalf("%d spans ended, want 2", len(ended))
	}
	sp = ended[1]
	if sp.Status().Code.String() != "Error" || sp.Status().Description != "down" || sp.Parent().IsValid() {
		t.Errorf("gRPC-Web span: status %v %q, parent valid %v; want Error \"down\", a root span", sp.Status().Code, sp.Status().Description, sp.Parent().IsValid())
	}
	if !slices.ContainsFunc(sp.Attributes(), func(kv attribute.KeyValue) bool { return kv.Value.Emit() == "UNAVAILABLE" }) {
		t.Errorf("gRPC-Web span attributes %v lack UNAVAILABLE", sp.Attributes())
	}
}

// TestStatsHandlerConnection: one synthetic connection per Server, begun by
// its first call before any of the call's events, whose context's values
// every call's context carries; several handlers each see every event, in
// the order given; LocalAddr names the function in Lambda; a nil handler is
// ignored.
func TestStatsHandlerConnection(t *testing.T) {
	saved := lambdacontext.FunctionName
	lambdacontext.FunctionName = "orders"
	t.Cleanup(func() { lambdacontext.FunctionName = saved })

	all := &eventLog{name: "all"}
	first, second := &eventLog{name: "first", into: all}, &eventLog{name: "second", into: all}
	srv := testpb.NewTestServiceLambdaHandler(&testserver.Server{},
		runtime.StatsHandler(nil), runtime.StatsHandler(first), runtime.StatsHandler(second))
	inv := lambdatest.NewInvoker(srv)
	t.Cleanup(inv.Close)
	client := testpb.NewTestServiceLambdaClient(invoke.NewClientConn(inv, "orders"))

	for range 4 {
		if _, err := client.Echo(context.Background(), &testpb.EchoRequest{Message: "x"}); err != nil {
			t.Fatal(err)
		}
	}
	lines := all.lines()
	if got := slices.Index(lines, "first: TagConn remote=<nil> local=orders"); got != 0 {
		t.Errorf("first handler's TagConn at %d, want 0:\n  %s", got, strings.Join(lines, "\n  "))
	}
	for _, h := range []*eventLog{first, second} {
		ls := h.lines()
		count := func(prefix string) (n int) {
			for _, l := range ls {
				if strings.HasPrefix(l, prefix) {
					n++
				}
			}
			return n
		}
		if count("TagConn") != 1 || count("ConnBegin conn=true") != 1 || ls[1] != "ConnBegin conn=true" {
			t.Errorf("%s: want one TagConn, then one ConnBegin with its context:\n  %s", h.name, strings.Join(ls, "\n  "))
		}
		if count("TagRPC") != 4 || count("End OK rpc=true conn=true") != 4 || count("InHeader traceparent=\"\" local=orders rpc=true conn=true") != 4 {
			t.Errorf("%s: want 4 calls with the connection's and the call's values, LocalAddr orders:\n  %s", h.name, strings.Join(ls, "\n  "))
		}
	}
	// Each event reaches the first handler, then the second.
	for i, l := range lines[2:] {
		name := map[int]string{0: "first: ", 1: "second: "}[i%2]
		if !strings.HasPrefix(l, name) {
			t.Fatalf("event %d %q: want %q's turn:\n  %s", i+2, l, name, strings.Join(lines, "\n  "))
		}
	}
}

// TestStatsHandlerJSONMode: in JSON mode the lengths are those of the
// protojson text the payload carries, the same on both sides.
func TestStatsHandlerJSONMode(t *testing.T) {
	server, client := &eventLog{name: "server"}, &eventLog{name: "client"}
	srv := testpb.NewTestServiceLambdaHandler(&testserver.Server{}, runtime.StatsHandler(server))
	inv := lambdatest.NewInvoker(srv)
	t.Cleanup(inv.Close)
	c := testpb.NewTestServiceLambdaClient(invoke.NewClientConn(inv, "fn", invoke.WithJSON(), invoke.WithStatsHandler(client)))
	req := &testpb.EchoRequest{Message: "json", Payload: []byte{1, 2, 3}}
	if _, err := c.Echo(context.Background(), req); err != nil {
		t.Fatal(err)
	}
	length := func(l *eventLog, event string) int {
		for _, line := range l.lines() {
			var n, wire int
			if _, err := fmt.Sscanf(line, event+" length=%d wire=%d", &n, &wire); err == nil {
				if n != wire {
					t.Errorf("%s: %q: WireLength differs from Length in JSON mode", l.name, line)
				}
				return n
			}
		}
		t.Fatalf("%s: no %s in\n  %s", l.name, event, strings.Join(l.lines(), "\n  "))
		return 0
	}
	sent, received := length(client, "OutPayload"), length(server, "InPayload")
	if sent != received || sent == proto.Size(req) {
		t.Errorf("request: client sent %d bytes, server received %d; want the same protojson length (protobuf: %d)", sent, received, proto.Size(req))
	}
	if sent, received := length(server, "OutPayload"), length(client, "InPayload"); sent != received {
		t.Errorf("response: server sent %d bytes, client received %d", sent, received)
	}
}

// TestStatsHandlerAbandonedHandler: a handler that ignores its deadline and
// reads its request only afterwards is answered DEADLINE_EXCEEDED without
// it; End comes then, and nothing after it: its late read fails and reports
// no InPayload.
func TestStatsHandlerAbandonedHandler(t *testing.T) {
	log := &eventLog{name: "log"}
	ended := make(chan struct{})
	srv := runtime.NewServer(runtime.StatsHandler(log), runtime.StatsHandler(onEnd(func() { close(ended) })))
	readLate := make(chan error, 1)
	srv.RegisterService(&grpc.ServiceDesc{
		ServiceName: "late.v1.Late",
		HandlerType: (*any)(nil),
		Methods: []grpc.MethodDesc{{MethodName: "Read", Handler: func(_ any, ctx context.Context, dec func(any) error, _ grpc.UnaryServerInterceptor) (any, error) {
			<-ctx.Done()
			<-ended // the call was answered without this handler
			err := dec(new(testpb.EchoRequest))
			readLate <- err
			return &testpb.EchoResponse{}, err
		}}},
	}, struct{}{})
	inv := lambdatest.NewInvoker(srv)
	t.Cleanup(inv.Close)
	cc := invoke.NewClientConn(inv, "fn")
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	err := cc.Invoke(ctx, "/late.v1.Late/Read", &testpb.EchoRequest{}, new(testpb.EchoResponse))
	if status.Code(err) != codes.DeadlineExceeded {
		t.Fatalf("call: %v, want DEADLINE_EXCEEDED", err)
	}
	if err := <-readLate; err == nil {
		t.Fatal("the abandoned handler read its request")
	}
	lines := log.lines()
	want := []string{"OutTrailer rpc=true conn=true", "End DeadlineExceeded rpc=true conn=true"}
	if len(lines) < 2 || !slices.Equal(lines[len(lines)-2:], want) || slices.ContainsFunc(lines, func(l string) bool { return strings.HasPrefix(l, "InPayload") }) {
		t.Errorf("events:\n  %s\nwant no InPayload, ending with %q", strings.Join(lines, "\n  "), want)
	}
}

// onEnd is a stats.Handler that calls f on End.
type onEnd func()

func (f onEnd) TagRPC(ctx context.Context, _ *stats.RPCTagInfo) context.Context { return ctx }
func (f onEnd) TagConn(ctx context.Context, _ *stats.ConnTagInfo) context.Context {
	return ctx
}
func (f onEnd) HandleConn(context.Context, stats.ConnStats) {}
func (f onEnd) HandleRPC(_ context.Context, s stats.RPCStats) {
	if _, ok := s.(*stats.End); ok {
		f()
	}
}

// TestStatsHandlerRefusedCalls: as on grpc-go, a malformed method name gets
// no events and a client-streaming method (which no invocation can carry)
// gets those of an unknown method: TagRPC, InHeader and OutTrailer.
func TestStatsHandlerRefusedCalls(t *testing.T) {
	for _, tc := range []struct {
		method string
		want   []string
	}{
		{"no-slash", nil},
		{"/lambdatest.v1.TestService/Collect", []string{"TagRPC /lambdatest.v1.TestService/Collect conn=true", "InHeader traceparent=\"\" local=<nil> rpc=true conn=true", "OutTrailer rpc=true conn=true"}},
	} {
		log := &eventLog{name: "log"}
		srv := testpb.NewTestServiceLambdaHandler(&testserver.Server{}, runtime.StatsHandler(log))
		cc := invoke.NewClientConn(lambdatest.NewInvoker(srv), "fn")
		if err := cc.Invoke(context.Background(), tc.method, &testpb.EchoRequest{}, new(testpb.EchoResponse)); status.Code(err) != codes.Unimplemented {
			t.Errorf("%s: %v, want UNIMPLEMENTED", tc.method, err)
		}
		got := slices.DeleteFunc(log.lines(), func(l string) bool { return strings.HasPrefix(l, "TagConn") || strings.HasPrefix(l, "ConnBegin") })
		if !slices.Equal(got, tc.want) {
			t.Errorf("%s: events\n  %s\nwant\n  %s", tc.method, strings.Join(got, "\n  "), strings.Join(tc.want, "\n  "))
		}
	}
}

// endStatuses is a stats.Handler that keeps the status of each End.
type endStatuses struct {
	mu  sync.Mutex
	got []*status.Status
}

func (e *endStatuses) TagRPC(ctx context.Context, _ *stats.RPCTagInfo) context.Context { return ctx }
func (e *endStatuses) TagConn(ctx context.Context, _ *stats.ConnTagInfo) context.Context {
	return ctx
}
func (e *endStatuses) HandleConn(context.Context, stats.ConnStats) {}
func (e *endStatuses) HandleRPC(_ context.Context, s stats.RPCStats) {
	if end, ok := s.(*stats.End); ok {
		e.mu.Lock()
		defer e.mu.Unlock()
		e.got = append(e.got, status.Convert(end.Error))
	}
}

func (e *endStatuses) all() []*status.Status {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.Clone(e.got)
}

// TestStatsHandlerReplacedAnswer: an answer over its front end's size limit
// is replaced with RESOURCE_EXHAUSTED, and End reports that status, the one
// the caller gets, as grpc-go's server reports a response it could not
// send; an answer within the limit ends OK.
func TestStatsHandlerReplacedAnswer(t *testing.T) {
	t.Run("envelope", func(t *testing.T) {
		ends := &endStatuses{}
		srv := testpb.NewTestServiceLambdaHandler(&testserver.Server{}, runtime.StatsHandler(ends))
		inv := lambdatest.NewInvoker(srv)
		defer inv.Close()
		client := testpb.NewTestServiceLambdaClient(invoke.NewClientConn(inv, "fn"))
		_, err := client.Echo(context.Background(), &testpb.EchoRequest{ResponseSize: 5 << 20})
		caller := status.Convert(err)
		if caller.Code() != codes.ResourceExhausted || !strings.Contains(caller.Message(), "exceeds the Lambda limit") {
			t.Fatalf("caller got %v, want the function's RESOURCE_EXHAUSTED", caller)
		}
		if _, err := client.Echo(context.Background(), &testpb.EchoRequest{ResponseSize: 1 << 20}); err != nil {
			t.Fatalf("1 MiB answer: %v", err)
		}
		got := ends.all()
		if len(got) != 2 || got[0].Code() != caller.Code() || got[0].Message() != caller.Message() || got[1].Code() != codes.OK {
			t.Errorf("End statuses %v, want [%v OK]", got, caller)
		}
	})
	for _, tc := range []struct {
		fe    frontEnd
		size  int32
		limit string
	}{
		{functionURL, 5 << 20, "the Lambda limit"},
		{alb(false), 2 << 20, "the load balancer's limit"},
	} {
		t.Run(tc.fe.name, func(t *testing.T) {
			ends := &endStatuses{}
			srv := newHTTPServer(runtime.StatsHandler(ends))
			r := readConnect(t, roundTrip(t, srv, tc.fe, connectRequest(t, echoPath, &testpb.EchoRequest{ResponseSize: tc.size}, connectOpts{})), false)
			if r.st.Code() != codes.ResourceExhausted || !strings.Contains(r.st.Message(), tc.limit) {
				t.Fatalf("caller got %v, want RESOURCE_EXHAUSTED naming %s", r.st, tc.limit)
			}
			ok := readConnect(t, roundTrip(t, srv, tc.fe, connectRequest(t, echoPath, &testpb.EchoRequest{ResponseSize: 1000}, connectOpts{})), false)
			if ok.st.Code() != codes.OK {
				t.Fatalf("small answer: %v", ok.st)
			}
			got := ends.all()
			if len(got) != 2 || got[0].Code() != r.st.Code() || got[0].Message() != r.st.Message() || got[1].Code() != codes.OK {
				t.Errorf("End statuses %v, want [%v OK]", got, r.st)
			}
		})
	}
}
