package parity

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"os"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/propagation"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/stats"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/test/bufconn"
	"google.golang.org/protobuf/proto"

	"github.com/protoc-gen-go-lambda/protoc-gen-go-lambda/internal/bridge"
	"github.com/protoc-gen-go-lambda/protoc-gen-go-lambda/internal/testing/testpb"
	"github.com/protoc-gen-go-lambda/protoc-gen-go-lambda/runtime"
	"github.com/protoc-gen-go-lambda/protoc-gen-go-lambda/runtime/invoke"
	"github.com/protoc-gen-go-lambda/protoc-gen-go-lambda/runtime/lambdatest"
)

// This file holds the stats handlers of both sides to grpc-go's: the same
// calls through grpc-go (a grpc.Server with grpc.StatsHandler, a client with
// grpc.WithStatsHandler, over bufconn) and through the Lambda path
// (runtime.StatsHandler, invoke.WithStatsHandler, lambdatest.Invoker) must
// give the same events in the same order with the same fields, apart from
// those listed in statsExceptions, each of which is asserted exactly on both
// paths. TestOpenTelemetryParity then does the same with OpenTelemetry's
// otelgrpc handlers: the spans and metrics must be equal in name, kind,
// parent/child relation, status, attributes and events, apart from the
// attributes listed in otelExceptions.

// statsExceptions are the fields of grpc-go's stats events that the Lambda
// path cannot give as grpc-go gives them, with what each side gives instead
// and why. They are asserted, not ignored: statsEvents checks each side's
// value, then leaves the field out of the comparison.
var statsExceptions = []struct{ Field, GRPC, Lambda, Reason string }{
	{"InHeader.WireLength (both sides), InTrailer.WireLength (client)", "the HPACK-compressed HTTP/2 header frame's length, > 0", "0",
		"there are no HTTP/2 headers: metadata travels inside the invocation's JSON payload"},
	{"InPayload.WireLength, OutPayload.WireLength", "the message plus gRPC's 5-byte frame prefix", "the message's length in the invocation payload: its base64 text in an Invoke envelope (its protojson in JSON mode); the message itself, unframed, on the HTTP front end",
		"the message travels base64-encoded inside a JSON envelope, not in a gRPC frame"},
	{"InHeader.RemoteAddr, InHeader.LocalAddr (server)", "the connection's addresses (bufconn here)", "nil (LocalAddr is the function's name when AWS_LAMBDA_FUNCTION_NAME is set, as in Lambda)",
		"a function has no connection: the caller's address does not reach it"},
	{"OutHeader.RemoteAddr, OutHeader.LocalAddr (client)", "the connection's addresses (bufconn here)", "RemoteAddr is the function (network \"lambda\", its name and qualifier); LocalAddr is nil",
		"an invocation goes to a function through the AWS SDK, not over a connection of the ClientConn's own"},
	{"Header, Trailer: " + strings.Join(statsTransportKeyNames(), ", "), "the values grpc-go's HTTP/2 transport adds", "absent",
		"the keys belong to HTTP/2 (parity's transport keys): the Lambda payload is a JSON envelope"},
	{"BeginTime, EndTime, RecvTime, SentTime", "when each happened", "when each happened",
		"times are never equal; both sides are checked to set them in order (Begin ≤ payloads ≤ End)"},
	{"DelayedPickComplete (client)", "reported after Begin when the call waited for a connection (the first call on a new channel)", "never reported",
		"a call does not wait for a connection: there is none to pick"},
	{"ConnEnd", "reported when the connection closes", "never reported",
		"the connection is synthetic: a ClientConn holds nothing to close and a function instance is discarded without notice"},
}

const (
	statsDocPath  = "../docs/observability.md"
	statsDocBegin = "<!-- BEGIN GENERATED STATS EXCEPTIONS (go test ./parity -run TestStatsExceptionsDocumented -update) -->\n"
	statsDocEnd   = "<!-- END GENERATED STATS EXCEPTIONS -->\n"
)

// TestStatsExceptionsDocumented checks (or with -update rewrites) the table
// of docs/observability.md that lists statsExceptions and otelExceptions.
func TestStatsExceptionsDocumented(t *testing.T) {
	var b strings.Builder
	b.WriteString("\n| What | grpc-go | Lambda path | Why |\n|---|---|---|---|\n")
	for _, e := range statsExceptions {
		fmt.Fprintf(&b, "| %s | %s | %s | %s |\n", cell(e.Field), cell(e.GRPC), cell(e.Lambda), cell(e.Reason))
	}
	for _, e := range otelExceptions {
		fmt.Fprintf(&b, "| otelgrpc, %s | %s | %s | %s |\n", cell(e.Where), cell(e.GRPC), cell(e.Lambda), cell(e.Reason))
	}
	b.WriteString("\n")
	doc, err := os.ReadFile(statsDocPath)
	if err != nil {
		t.Fatal(err)
	}
	got, err := replaceBetween(doc, statsDocBegin, statsDocEnd, b.String())
	if err != nil {
		t.Fatalf("%s: %v", statsDocPath, err)
	}
	switch {
	case bytes.Equal(got, doc):
	case *update:
		if err := os.WriteFile(statsDocPath, got, 0o644); err != nil {
			t.Fatal(err)
		}
	default:
		t.Errorf("%s's table of exceptions is out of date; run go test ./parity -run TestStatsExceptionsDocumented -update", statsDocPath)
	}
}

// statsTransportKeys are the metadata keys grpc-go's transport adds to the
// events' Header and Trailer fields, by event, with their value.
var statsTransportKeys = []struct{ Event, Key, Value string }{
	{"server InHeader", ":authority", functionName},
	{"server InHeader", "content-type", "application/grpc"},
	{"server InHeader", "user-agent", "grpc-go/" + grpc.Version},
	{"client OutHeader", "user-agent", "grpc-go/" + grpc.Version},
	{"client InHeader", "content-type", "application/grpc"},
	{"client InTrailer", "content-type", "application/grpc"}, // trailers-only answers
	{"client End", "content-type", "application/grpc"},       // End.Trailer of those
}

func statsTransportKeyNames() []string {
	var names []string
	for _, k := range statsTransportKeys {
		if !slices.Contains(names, k.Key) {
			names = append(names, k.Key)
		}
	}
	return names
}

// statsCase is one call made on both paths.
type statsCase struct {
	Name string
	// Call makes the call; nil means Echo(Req).
	Call func(ctx context.Context, c Conn, opts ...grpc.CallOption) (proto.Message, error)
	Req  *testpb.EchoRequest
	// Ctx derives the call's context (metadata, deadline).
	Ctx         func(context.Context) (context.Context, context.CancelFunc)
	CallOptions []grpc.CallOption
	MaxRecv     int
	// ServerLast is the server's last event: End, or OutTrailer for a
	// method the server does not have.
	ServerLast string
	// ServerOutTrailerMayLack: the call's deadline passes while the handler
	// runs. grpc-go's client then resets the stream, and its server reports
	// OutTrailer only if it wrote the status before the reset arrived,
	// which is a race; the Lambda path always answers, so always reports it.
	ServerOutTrailerMayLack bool
	// MessageVaries: grpc-go's client reports either its own deadline
	// ("context deadline exceeded") or the server's reset ("stream
	// terminated by RST_STREAM with error code: CANCEL"), whichever timer
	// fires first (the parity suite's MessageVaries); the client's status
	// messages are not compared, their codes are.
	MessageVaries bool
	// Stream: a server-streaming call. Its messages are frames (WireLength
	// is the message's length plus the 5-byte prefix on both paths), and
	// its InTrailer comes after the messages it follows.
	Stream bool
}

func statsCases() []statsCase {
	return []statsCase{
		{Name: "OK", Req: &testpb.EchoRequest{Message: "hello", Payload: []byte{1, 2, 3, 0xff}}},
		{
			Name: "error with details",
			Req: fail(codes.NotFound, "no such book",
				&errdetails.ResourceInfo{ResourceType: "book", ResourceName: "shelves/1/books/2"},
				&errdetails.ErrorInfo{Reason: "MISSING", Domain: "example.com"}),
		},
		{
			Name: "metadata both ways",
			Ctx:  appended("x-request-id", "r-1", "x-tenant", "a", "x-tenant", "b", "x-blob-bin", "\x00\x01\xfe"),
			Req: &testpb.EchoRequest{
				Message: "metadata",
				Header:  pairs("x-header", "h1", "x-header-bin", "\x00\xff"),
				Trailer: pairs("x-trailer", "t1", "x-trailer", "t2"),
			},
			CallOptions: []grpc.CallOption{grpc.WaitForReady(true)},
		},
		{
			Name: "error with header and trailer metadata",
			Req: func() *testpb.EchoRequest {
				r := fail(codes.PermissionDenied, "denied", &errdetails.ErrorInfo{Reason: "POLICY"})
				r.Header, r.Trailer = pairs("x-header", "h"), pairs("x-trailer", "t")
				return r
			}(),
		},
		{
			Name: "header sent, then an error",
			Req: func() *testpb.EchoRequest {
				r := fail(codes.Aborted, "aborted after the header")
				r.SendHeader = pairs("x-sent", "early")
				return r
			}(),
		},
		{
			Name: "deadline",
			Ctx:  timeout(300 * time.Millisecond),
			Call: func(ctx context.Context, c Conn, opts ...grpc.CallOption) (proto.Message, error) {
				return c.Client.Sleep(ctx, &testpb.SleepRequest{Millis: 60_000}, opts...)
			},
			ServerOutTrailerMayLack: true,
			MessageVaries:           true,
		},
		{Name: "request larger than the server's limit", Req: &testpb.EchoRequest{Payload: payload(2048)}, MaxRecv: 1024},
		{Name: "server stream, messages then OK", Stream: true, Call: streamAll(&testpb.EchoRequest{Message: "s", Count: 2, Header: pairs("x-header", "h"), Trailer: pairs("x-trailer", "t")})},
		{Name: "server stream, error after a message", Stream: true, Call: streamAll(func() *testpb.EchoRequest {
			r := fail(codes.Aborted, "after one", &errdetails.ErrorInfo{Reason: "STOP"})
			r.Count, r.Message = 1, "s"
			return r
		}())},
		{Name: "unknown method", Call: rawCall("/lambdatest.v1.TestService/NoSuchMethod"), ServerLast: "OutTrailer"},
		{Name: "unknown service", Call: rawCall("/no.such.Service/Echo"), ServerLast: "OutTrailer"},
	}
}

// streamAll makes a server-streaming call of req and receives it to the end;
// the response is the last message.
func streamAll(req *testpb.EchoRequest) func(ctx context.Context, c Conn, opts ...grpc.CallOption) (proto.Message, error) {
	return func(ctx context.Context, c Conn, opts ...grpc.CallOption) (proto.Message, error) {
		stream, err := c.Client.Stream(ctx, req, opts...)
		if err != nil {
			return nil, err
		}
		var last proto.Message
		for {
			m, err := stream.Recv()
			if err == io.EOF {
				return last, nil
			}
			if err != nil {
				return last, err
			}
			last = m
		}
	}
}

// statsService answers Echo as DefaultEcho without the incoming metadata
// (which differs by transport keys, and would make the responses' lengths
// differ), and Sleep by waiting for its context, then for release, then
// failing as a deadline does.
func statsService(release <-chan struct{}) *Service {
	return &Service{
		EchoFunc: func(ctx context.Context, req *testpb.EchoRequest) (*testpb.EchoResponse, error) {
			resp, err := DefaultEcho(ctx, req)
			if resp != nil {
				resp.Incoming = nil
			}
			return resp, err
		},
		SleepFunc: func(ctx context.Context, _ *testpb.SleepRequest) (*testpb.EchoResponse, error) {
			<-ctx.Done()
			<-release
			return nil, status.FromContextError(context.DeadlineExceeded).Err()
		},
	}
}

// statsRun is what one path's call gave.
type statsRun struct {
	server, client *statsRecorder
	resp           proto.Message
	err            error
}

// runStats makes c's call on one path with the recorders, after extra
// handlers (each side's, when set).
func runStats(t *testing.T, c statsCase, lambda bool, serverExtra, clientExtra stats.Handler) statsRun {
	t.Helper()
	run := statsRun{server: newStatsRecorder(), client: newStatsRecorder()}
	release := make(chan struct{})
	svc := statsService(release)
	serverHandlers := []stats.Handler{run.server}
	clientHandlers := []stats.Handler{run.client}
	if serverExtra != nil {
		serverHandlers = append([]stats.Handler{serverExtra}, serverHandlers...)
	}
	if clientExtra != nil {
		clientHandlers = append([]stats.Handler{clientExtra}, clientHandlers...)
	}

	var conn Conn
	if lambda {
		var opts []runtime.ServerOption
		for _, h := range serverHandlers {
			opts = append(opts, runtime.StatsHandler(h))
		}
		if c.MaxRecv > 0 {
			opts = append(opts, runtime.MaxRecvMsgSize(c.MaxRecv))
		}
		srv := runtime.NewServer(opts...)
		testpb.RegisterTestServiceLambdaServer(srv, svc)
		inv := lambdatest.NewInvoker(srv)
		defer inv.Close()
		var copts []invoke.Option
		for _, h := range clientHandlers {
			copts = append(copts, invoke.WithStatsHandler(h))
		}
		cc := invoke.NewClientConn(inv, functionName, copts...)
		conn = Conn{CC: cc, Client: testpb.NewTestServiceLambdaClient(cc), Lambda: true}
	} else {
		lis := bufconn.Listen(1 << 20)
		var opts []grpc.ServerOption
		for _, h := range serverHandlers {
			opts = append(opts, grpc.StatsHandler(h))
		}
		if c.MaxRecv > 0 {
			opts = append(opts, grpc.MaxRecvMsgSize(c.MaxRecv))
		}
		gs := grpc.NewServer(opts...)
		testpb.RegisterTestServiceServer(gs, svc)
		served := make(chan struct{})
		go func() {
			defer close(served)
			_ = gs.Serve(lis)
		}()
		defer func() {
			gs.Stop()
			<-served
		}()
		dopts := []grpc.DialOption{
			grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) }),
			grpc.WithTransportCredentials(insecure.NewCredentials()),
		}
		for _, h := range clientHandlers {
			dopts = append(dopts, grpc.WithStatsHandler(h))
		}
		gc, err := grpc.NewClient("passthrough:///"+functionName, dopts...)
		if err != nil {
			t.Fatalf("grpc.NewClient: %v", err)
		}
		defer gc.Close()
		conn = Conn{CC: gc, Client: testpb.NewTestServiceClient(gc)}
	}

	ctx, cancel := context.Background(), context.CancelFunc(func() {})
	if c.Ctx != nil {
		ctx, cancel = c.Ctx(ctx)
	}
	run.resp, run.err = c.call(ctx, conn)
	cancel()
	close(release)
	last := c.ServerLast
	if last == "" {
		last = "End"
	}
	run.client.wait(t, "End")
	run.server.wait(t, last)
	return run
}

// untilUnraced runs f until grpc-go's client did not lose a race that
// makes it report a failed call as a success: when the server answers a
// call trailers-only before the client has finished sending the request
// (an unknown method, whose server reads no message), grpc-go's client
// can report End without an error (and no OutPayload), while the caller
// gets the server's status. It happens about once in 300 calls; the
// comparison is with what grpc-go reports otherwise. The Lambda path is
// never rerun: it must not lose any race.
func untilUnraced(t *testing.T, lambda bool, f func() statsRun) statsRun {
	t.Helper()
	for attempt := 1; ; attempt++ {
		run := f()
		if lambda || run.err == nil || attempt == 10 {
			return run
		}
		evs, _ := run.client.snapshot()
		raced := slices.ContainsFunc(evs, func(e recorded) bool {
			end, ok := e.s.(*stats.End)
			return ok && end.Error == nil
		})
		if !raced {
			return run
		}
		t.Logf("grpc-go's client reported End without the call's error %v; running the call again", run.err)
	}
}

// call makes the case's call, failing the process if it hangs.
func (c statsCase) call(ctx context.Context, conn Conn) (proto.Message, error) {
	call := c.Call
	if call == nil {
		call = func(ctx context.Context, cn Conn, opts ...grpc.CallOption) (proto.Message, error) {
			return cn.Client.Echo(ctx, c.Req, opts...)
		}
	}
	var resp proto.Message
	var err error
	done := make(chan struct{})
	go func() {
		defer close(done)
		resp, err = call(ctx, conn, c.CallOptions...)
	}()
	select {
	case <-done:
	case <-time.After(hangLimit):
		panic(fmt.Sprintf("lambda=%v: the call did not return within %v", conn.Lambda, hangLimit))
	}
	return resp, err
}

// statsRecorder is a stats.Handler that records every event with copies of
// its metadata and messages, and whether its context carries what TagRPC
// and TagConn put there.
type statsRecorder struct {
	mu      sync.Mutex
	changed chan struct{} // closed and replaced on every event
	events  []recorded
	conns   []string
}

type recorded struct {
	kind       string
	tag        stats.RPCTagInfo // TagRPC's
	s          stats.RPCStats   // a copy
	rpcTagged  bool             // ctx carries TagRPC's value
	connTagged bool             // ctx carries TagConn's value
}

type (
	rpcTagKey  struct{}
	connTagKey struct{}
)

func newStatsRecorder() *statsRecorder { return &statsRecorder{changed: make(chan struct{})} }

func (r *statsRecorder) add(e recorded) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, e)
	close(r.changed)
	r.changed = make(chan struct{})
}

func (r *statsRecorder) TagRPC(ctx context.Context, info *stats.RPCTagInfo) context.Context {
	r.add(recorded{kind: "TagRPC", tag: *info, connTagged: ctx.Value(connTagKey{}) != nil})
	return context.WithValue(ctx, rpcTagKey{}, info.FullMethodName)
}

func (r *statsRecorder) HandleRPC(ctx context.Context, s stats.RPCStats) {
	e := recorded{rpcTagged: ctx.Value(rpcTagKey{}) != nil, connTagged: ctx.Value(connTagKey{}) != nil}
	switch s := s.(type) {
	case *stats.Begin:
		c := *s
		e.kind, e.s = "Begin", &c
	case *stats.InHeader:
		c := *s
		c.Header = c.Header.Copy()
		e.kind, e.s = "InHeader", &c
	case *stats.InPayload:
		c := *s
		c.Payload = cloneMessage(c.Payload)
		e.kind, e.s = "InPayload", &c
	case *stats.InTrailer:
		c := *s
		c.Trailer = c.Trailer.Copy()
		e.kind, e.s = "InTrailer", &c
	case *stats.OutHeader:
		c := *s
		c.Header = c.Header.Copy()
		e.kind, e.s = "OutHeader", &c
	case *stats.OutPayload:
		c := *s
		c.Payload = cloneMessage(c.Payload)
		e.kind, e.s = "OutPayload", &c
	case *stats.OutTrailer:
		c := *s
		c.Trailer = c.Trailer.Copy()
		e.kind, e.s = "OutTrailer", &c
	case *stats.End:
		c := *s
		c.Trailer = c.Trailer.Copy()
		e.kind, e.s = "End", &c
	case *stats.DelayedPickComplete:
		e.kind, e.s = "DelayedPickComplete", s
	default:
		e.kind, e.s = fmt.Sprintf("%T", s), s
	}
	r.add(e)
}

func (r *statsRecorder) TagConn(ctx context.Context, _ *stats.ConnTagInfo) context.Context {
	r.mu.Lock()
	r.conns = append(r.conns, "TagConn")
	r.mu.Unlock()
	return context.WithValue(ctx, connTagKey{}, true)
}

func (r *statsRecorder) HandleConn(ctx context.Context, s stats.ConnStats) {
	r.mu.Lock()
	defer r.mu.Unlock()
	switch s.(type) {
	case *stats.ConnBegin:
		r.conns = append(r.conns, fmt.Sprintf("ConnBegin(client=%v, tagged=%v)", s.IsClient(), ctx.Value(connTagKey{}) != nil))
	case *stats.ConnEnd:
		r.conns = append(r.conns, "ConnEnd")
	}
}

// wait waits until an event of kind was recorded.
func (r *statsRecorder) wait(t *testing.T, kind string) {
	t.Helper()
	deadline := time.After(hangLimit)
	for {
		r.mu.Lock()
		changed := r.changed
		found := slices.ContainsFunc(r.events, func(e recorded) bool { return e.kind == kind })
		r.mu.Unlock()
		if found {
			return
		}
		select {
		case <-changed:
		case <-deadline:
			t.Fatalf("no %s event within %v", kind, hangLimit)
		}
	}
}

func (r *statsRecorder) snapshot() ([]recorded, []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.events), slices.Clone(r.conns)
}

func cloneMessage(m any) any {
	if pm, ok := m.(proto.Message); ok {
		return proto.Clone(pm)
	}
	return m
}

// statsEvent is an event reduced to the fields both paths must agree on.
type statsEvent struct {
	Kind                                                  string
	Client                                                bool
	Method                                                string // RPCTagInfo.FullMethodName, InHeader/OutHeader.FullMethod
	FailFast, IsClientStream, IsServerStream, Transparent bool
	Compression, Authority                                string
	Header, Trailer                                       metadata.MD
	Length, CompressedLength                              int
	Payload                                               proto.Message
	Status                                                *spb.Status // End.Error
	RPCTagged, ConnTagged                                 bool
}

func (e statsEvent) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s client=%v", e.Kind, e.Client)
	if e.Method != "" {
		fmt.Fprintf(&b, " method=%s", e.Method)
	}
	if e.Kind == "TagRPC" || e.Kind == "Begin" {
		fmt.Fprintf(&b, " failfast=%v streams=%v/%v transparent=%v", e.FailFast, e.IsClientStream, e.IsServerStream, e.Transparent)
	}
	if e.Compression != "" || e.Authority != "" {
		fmt.Fprintf(&b, " compression=%q authority=%q", e.Compression, e.Authority)
	}
	if e.Header != nil {
		fmt.Fprintf(&b, " header=%s", shortMD(e.Header))
	}
	if e.Trailer != nil {
		fmt.Fprintf(&b, " trailer=%s", shortMD(e.Trailer))
	}
	if e.Kind == "InPayload" || e.Kind == "OutPayload" {
		fmt.Fprintf(&b, " length=%d compressed=%d payload=%s", e.Length, e.CompressedLength, short(e.Payload))
	}
	if e.Kind == "End" {
		fmt.Fprintf(&b, " status=%s", short(e.Status))
	}
	fmt.Fprintf(&b, " ctx(rpc=%v conn=%v)", e.RPCTagged, e.ConnTagged)
	return b.String()
}

func (e statsEvent) equal(o statsEvent) bool {
	return e.Kind == o.Kind && e.Client == o.Client && e.Method == o.Method &&
		e.FailFast == o.FailFast && e.IsClientStream == o.IsClientStream && e.IsServerStream == o.IsServerStream && e.Transparent == o.Transparent &&
		e.Compression == o.Compression && e.Authority == o.Authority &&
		mdEqual(e.Header, o.Header) && mdEqual(e.Trailer, o.Trailer) &&
		e.Length == o.Length && e.CompressedLength == o.CompressedLength &&
		proto.Equal(e.Payload, o.Payload) && proto.Equal(e.Status, o.Status) &&
		e.RPCTagged == o.RPCTagged && e.ConnTagged == o.ConnTagged
}

// statsEvents reduces one side's recorded events, asserting the listed
// exceptions on the way (statsExceptions) and that times are set in order.
func statsEvents(t *testing.T, side string, lambda, stream bool, recs []recorded) []statsEvent {
	t.Helper()
	errorf := func(format string, args ...any) {
		t.Helper()
		t.Errorf("%s (lambda=%v): %s", side, lambda, fmt.Sprintf(format, args...))
	}
	strip := func(event string, md metadata.MD) metadata.MD {
		md = md.Copy()
		for _, k := range statsTransportKeys {
			if k.Event != event {
				continue
			}
			vs, ok := md[k.Key]
			switch {
			case !ok:
			case lambda:
				errorf("%s has grpc-go's transport key %s=%q", event, k.Key, vs)
			case len(vs) != 1 || vs[0] != k.Value:
				errorf("%s has %s=%q, want %q", event, k.Key, vs, k.Value)
			default:
				delete(md, k.Key)
			}
		}
		if len(md) == 0 {
			return nil
		}
		return md
	}
	headerWireLength := func(event string, n int) {
		if lambda && n != 0 || !lambda && n <= 0 {
			errorf("%s WireLength = %d, want %s", event, n, map[bool]string{true: "0", false: "> 0"}[lambda])
		}
	}
	payloadWireLength := func(event string, n, compressed int) {
		// On the Lambda path a request travels base64 in the envelope, and
		// so does a unary response; a stream's messages are frames.
		request := event == "server InPayload" || event == "client OutPayload"
		want := compressed + 5
		if lambda && (request || !stream) {
			want = base64.StdEncoding.EncodedLen(compressed)
		}
		if n != want {
			errorf("%s WireLength = %d, want %d", event, n, want)
		}
	}
	addr := func(event, which string, a net.Addr, lambdaWant string) {
		got := "<nil>"
		if a != nil {
			got = a.Network() + ":" + a.String()
		}
		want := "bufconn:bufconn"
		if lambda {
			want = lambdaWant
		}
		if got != want {
			errorf("%s %s = %s, want %s", event, which, got, want)
		}
	}

	var out []statsEvent
	var begin, end time.Time
	var times []time.Time
	for _, r := range recs {
		e := statsEvent{Kind: r.kind, RPCTagged: r.rpcTagged, ConnTagged: r.connTagged}
		event := side + " " + r.kind
		switch s := r.s.(type) {
		case nil: // TagRPC
			e.Method, e.FailFast = r.tag.FullMethodName, r.tag.FailFast
			e.Client = side == "client"
			if r.tag.NameResolutionDelay {
				errorf("TagRPC has NameResolutionDelay")
			}
		case *stats.Begin:
			e.Client, e.FailFast, e.IsClientStream, e.IsServerStream, e.Transparent = s.Client, s.FailFast, s.IsClientStream, s.IsServerStream, s.IsTransparentRetryAttempt
			begin = s.BeginTime
		case *stats.InHeader:
			e.Client, e.Method, e.Compression = s.Client, s.FullMethod, s.Compression
			e.Header = strip(event, s.Header)
			headerWireLength(event, s.WireLength)
			if !s.Client {
				addr(event, "RemoteAddr", s.RemoteAddr, "<nil>")
				addr(event, "LocalAddr", s.LocalAddr, "<nil>")
			}
		case *stats.InPayload:
			e.Client, e.Length, e.CompressedLength = s.Client, s.Length, s.CompressedLength
			e.Payload, _ = s.Payload.(proto.Message)
			payloadWireLength(event, s.WireLength, s.CompressedLength)
			times = append(times, s.RecvTime)
		case *stats.InTrailer:
			e.Client = s.Client
			e.Trailer = strip(event, s.Trailer)
			headerWireLength(event, s.WireLength)
		case *stats.OutHeader:
			e.Client, e.Method, e.Compression, e.Authority = s.Client, s.FullMethod, s.Compression, s.Authority
			e.Header = strip(event, s.Header)
			if s.Client {
				addr(event, "RemoteAddr", s.RemoteAddr, "lambda:"+functionName)
				addr(event, "LocalAddr", s.LocalAddr, "<nil>")
			}
		case *stats.OutPayload:
			e.Client, e.Length, e.CompressedLength = s.Client, s.Length, s.CompressedLength
			e.Payload, _ = s.Payload.(proto.Message)
			payloadWireLength(event, s.WireLength, s.CompressedLength)
			times = append(times, s.SentTime)
		case *stats.OutTrailer:
			e.Client = s.Client
			e.Trailer = strip(event, s.Trailer)
		case *stats.End:
			e.Client = s.Client
			e.Trailer = strip(event, s.Trailer)
			if s.Error != nil {
				st, ok := status.FromError(s.Error)
				if !ok {
					errorf("End.Error %v is not a status error", s.Error)
				}
				e.Status = st.Proto()
			}
			if !s.BeginTime.Equal(begin) {
				errorf("End.BeginTime %v is not Begin's %v", s.BeginTime, begin)
			}
			end = s.EndTime
		case *stats.DelayedPickComplete:
			if lambda || len(out) != 2 || out[1].Kind != "Begin" {
				errorf("DelayedPickComplete after %d events", len(out))
			}
			continue // statsExceptions
		default:
			errorf("unexpected event %T", s)
		}
		out = append(out, e)
	}
	if !end.IsZero() {
		if begin.IsZero() || end.Before(begin) {
			errorf("EndTime %v is before BeginTime %v", end, begin)
		}
		for _, tm := range times {
			if tm.Before(begin) || tm.After(end) {
				errorf("a payload's time %v is outside [%v, %v]", tm, begin, end)
			}
		}
	}
	return out
}

// TestStatsHandlerParity makes each call on both paths with a recording
// stats handler on each side and compares what the handlers saw.
func TestStatsHandlerParity(t *testing.T) {
	for _, c := range statsCases() {
		t.Run(c.Name, func(t *testing.T) {
			t.Parallel()
			g := untilUnraced(t, false, func() statsRun { return runStats(t, c, false, nil, nil) })
			l := runStats(t, c, true, nil, nil)
			// The caller sees the same outcome (the parity suite's business;
			// checked here so that a difference in the events is not one in
			// the call).
			gs, ls := status.Convert(g.err).Proto(), status.Convert(l.err).Proto()
			if c.MessageVaries {
				gs.Message, ls.Message = "", ""
			}
			if !proto.Equal(gs, ls) {
				t.Errorf("the calls' statuses differ:\n  grpc-go %v\n  lambda  %v", gs, ls)
			}
			for _, side := range []string{"server", "client"} {
				gr, gconns := g.server.snapshot()
				lr, lconns := l.server.snapshot()
				if side == "client" {
					gr, gconns = g.client.snapshot()
					lr, lconns = l.client.snapshot()
				}
				ge := statsEvents(t, side, false, c.Stream, gr)
				le := statsEvents(t, side, true, c.Stream, lr)
				if side == "client" {
					ge = clientOrder(ge, c.Stream)
					if c.MessageVaries {
						ge, le = withoutMessages(ge), withoutMessages(le)
					}
				}
				if c.ServerOutTrailerMayLack && side == "server" {
					ge = dropOutTrailer(t, ge, false)
					le = dropOutTrailer(t, le, true)
				}
				compareStatsEvents(t, side, ge, le)
				// One synthetic connection, begun before the call; grpc-go's
				// ConnEnd (listed in statsExceptions) comes when it closes.
				gconns = slices.DeleteFunc(gconns, func(s string) bool { return s == "ConnEnd" })
				if !slices.Equal(gconns, lconns) {
					t.Errorf("%s connection events differ:\n  grpc-go %q\n  lambda  %q", side, gconns, lconns)
				}
			}
		})
	}
}

// withoutMessages clears the status messages of End events.
func withoutMessages(es []statsEvent) []statsEvent {
	es = slices.Clone(es)
	for i := range es {
		if es[i].Status != nil {
			es[i].Status = proto.Clone(es[i].Status).(*spb.Status)
			es[i].Status.Message = ""
		}
	}
	return es
}

// clientOrder puts grpc-go's client events in the order of a call whose
// every step ends before the next begins. grpc-go reports OutPayload from
// the caller's goroutine once its transport took the request, and the
// answer's InHeader and InTrailer from the transport's reader goroutine, and
// InPayload from the caller's goroutine once it decoded the message: when
// the answer is quick, the reader's events can come before OutPayload, and
// InTrailer before or after InPayload. A Lambda invocation is synchronous:
// the request is sent, then the whole answer arrives, and the Lambda path's
// events must come in this order as they are, unsorted. A stream's answer
// is read message by message, its trailer after them: its InTrailer comes
// after the InPayloads.
func clientOrder(es []statsEvent, stream bool) []statsEvent {
	rank := map[string]int{"TagRPC": 0, "Begin": 1, "OutHeader": 2, "OutPayload": 3, "InHeader": 4, "InTrailer": 5, "InPayload": 6, "End": 7}
	if stream {
		rank["InTrailer"], rank["InPayload"] = 6, 5
	}
	es = slices.Clone(es)
	slices.SortStableFunc(es, func(a, b statsEvent) int { return rank[a.Kind] - rank[b.Kind] })
	return es
}

// dropOutTrailer removes the server's OutTrailer of a call whose deadline
// passed (statsCase.ServerOutTrailerMayLack), after checking that the
// Lambda path reported it, with an empty trailer, right before End.
func dropOutTrailer(t *testing.T, es []statsEvent, lambda bool) []statsEvent {
	t.Helper()
	i := slices.IndexFunc(es, func(e statsEvent) bool { return e.Kind == "OutTrailer" })
	switch {
	case i < 0 && lambda:
		t.Errorf("lambda: the server reported no OutTrailer for a call it answered")
		return es
	case i < 0:
		return es
	case i != len(es)-2 || es[i+1].Kind != "End" || es[i].Trailer != nil:
		t.Errorf("lambda=%v: server OutTrailer %v is not an empty trailer right before End", lambda, es[i])
	}
	return slices.Delete(slices.Clone(es), i, i+1)
}

func compareStatsEvents(t *testing.T, side string, g, l []statsEvent) {
	t.Helper()
	same := len(g) == len(l)
	for i := 0; same && i < len(g); i++ {
		same = g[i].equal(l[i])
	}
	if same {
		return
	}
	var b strings.Builder
	for i := 0; i < max(len(g), len(l)); i++ {
		var ge, le string
		if i < len(g) {
			ge = g[i].String()
		}
		if i < len(l) {
			le = l[i].String()
		}
		mark := "  "
		if ge != le {
			mark = "≠ "
		}
		fmt.Fprintf(&b, "%s%d grpc-go: %s\n     lambda:  %s\n", mark, i, ge, le)
	}
	t.Errorf("%s stats events differ:\n%s", side, b.String())
}

// otelExceptions are the span and metric attributes that name the peer,
// which otelgrpc takes from the stats events' addresses (statsExceptions).
var otelExceptions = []struct{ Where, GRPC, Lambda, Reason string }{
	{"client span and client metrics: server.address", "bufconn (the connection's remote address)", "the function's name (and qualifier), here " + functionName,
		"otelgrpc reads OutHeader.RemoteAddr; an invocation's peer is a function, not an address"},
	{"server span: server.address", "bufconn (the connection's local address)", "absent outside Lambda; the function's name in Lambda",
		"otelgrpc reads InHeader.LocalAddr, which names the function only where AWS_LAMBDA_FUNCTION_NAME is set"},
}

// otelSide is what otelgrpc produced on one path.
type otelSide struct {
	root    trace.SpanContext
	spans   tracetest.SpanStubs
	metrics metricdata.ResourceMetrics
}

func runOTel(t *testing.T, c statsCase, lambda bool) otelSide {
	t.Helper()
	var side otelSide
	untilUnraced(t, lambda, func() statsRun {
		side = otelSide{}
		return runOTelOnce(t, c, lambda, &side)
	})
	return side
}

func runOTelOnce(t *testing.T, c statsCase, lambda bool, side *otelSide) statsRun {
	t.Helper()
	spans := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans))
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	prop := propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{})
	opts := []otelgrpc.Option{otelgrpc.WithTracerProvider(tp), otelgrpc.WithMeterProvider(mp), otelgrpc.WithPropagators(prop)}

	c2 := c
	inner := c.Ctx
	c2.Ctx = func(ctx context.Context) (context.Context, context.CancelFunc) {
		cancel := context.CancelFunc(func() {})
		if inner != nil {
			ctx, cancel = inner(ctx)
		}
		ctx, root := tp.Tracer("parity").Start(ctx, "caller")
		side.root = root.SpanContext()
		return ctx, func() { root.End(); cancel() }
	}
	run := runStats(t, c2, lambda, otelgrpc.NewServerHandler(opts...), otelgrpc.NewClientHandler(opts...))
	side.spans = tracetest.SpanStubsFromReadOnlySpans(spans.Ended())
	if err := reader.Collect(context.Background(), &side.metrics); err != nil {
		t.Fatal(err)
	}
	return run
}

// TestOpenTelemetryParity makes each call on both paths with otelgrpc's
// client and server handlers, under the caller's own span, and compares
// the spans and metrics, in otelgrpc's default semantic conventions and in
// the old ones (OTEL_SEMCONV_STABILITY_OPT_IN=rpc/old: rpc.system,
// rpc.service, rpc.method, rpc.grpc.status_code).
func TestOpenTelemetryParity(t *testing.T) {
	for _, mode := range []string{"", "rpc/old", "rpc/dup"} {
		t.Run("semconv="+mode, func(t *testing.T) {
			t.Setenv("OTEL_SEMCONV_STABILITY_OPT_IN", mode)
			for _, c := range statsCases() {
				t.Run(c.Name, func(t *testing.T) {
					g := runOTel(t, c, false)
					l := runOTel(t, c, true)
					gs, ls := otelSpans(t, c, g, false), otelSpans(t, c, l, true)
					if !slices.Equal(gs, ls) {
						t.Errorf("spans differ:\n  grpc-go:\n    %s\n  lambda:\n    %s", strings.Join(gs, "\n    "), strings.Join(ls, "\n    "))
					}
					gm, lm := otelMetrics(t, g, false), otelMetrics(t, l, true)
					if !slices.Equal(gm, lm) {
						t.Errorf("metrics differ:\n  grpc-go:\n    %s\n  lambda:\n    %s", strings.Join(gm, "\n    "), strings.Join(lm, "\n    "))
					}
					if len(gs) < 2 || len(gm) == 0 {
						t.Errorf("too little to compare: %d spans, %d metric points", len(gs), len(gm))
					}
				})
			}
		})
	}
}

// otelSpans describes each ended span without ids and times, with its
// parent as a relation ("parent=caller", "parent=client span, remote"),
// after checking that every span is in the caller's trace and asserting
// otelExceptions.
func otelSpans(t *testing.T, c statsCase, s otelSide, lambda bool) []string {
	t.Helper()
	var client trace.SpanContext
	for _, sp := range s.spans {
		if sp.SpanKind == trace.SpanKindClient {
			client = sp.SpanContext
		}
	}
	var out []string
	for _, sp := range s.spans {
		if sp.SpanContext.TraceID() != s.root.TraceID() {
			t.Errorf("lambda=%v: span %q is in trace %s, not the caller's %s", lambda, sp.Name, sp.SpanContext.TraceID(), s.root.TraceID())
		}
		parent := "none"
		switch {
		case sp.Parent.SpanID() == s.root.SpanID():
			parent = "caller"
		case client.IsValid() && sp.Parent.SpanID() == client.SpanID():
			parent = "client span"
		case sp.Parent.IsValid():
			parent = "another span"
		}
		if sp.Parent.IsRemote() {
			parent += ", remote"
		}
		var attrs []attribute.KeyValue
		for _, kv := range sp.Attributes {
			if kv.Key == "server.address" || kv.Key == "server.port" {
				checkServerAddress(t, lambda, "span "+sp.Name+" ("+sp.SpanKind.String()+")", sp.SpanKind == trace.SpanKindClient, kv)
				continue
			}
			attrs = append(attrs, kv)
		}
		if sp.SpanKind == trace.SpanKindClient && !lambda && !slices.ContainsFunc(sp.Attributes, func(kv attribute.KeyValue) bool { return kv.Key == "server.address" }) {
			t.Errorf("grpc-go's client span has no server.address: otelExceptions is out of date")
		}
		desc := sp.Status.Description
		if c.MessageVaries && sp.SpanKind == trace.SpanKindClient {
			desc = "(not compared)"
		}
		var events []string
		for _, ev := range sp.Events {
			events = append(events, ev.Name+attrString(ev.Attributes))
		}
		out = append(out, fmt.Sprintf("%s kind=%s parent=%s status=%s %q attrs=%s events=%q links=%d scope=%s@%s",
			sp.Name, sp.SpanKind, parent, sp.Status.Code, desc, attrString(attrs), events, len(sp.Links),
			sp.InstrumentationScope.Name, sp.InstrumentationScope.Version))
	}
	sort.Strings(out)
	return out
}

// checkServerAddress asserts otelExceptions: server.address is grpc-go's
// bufconn address, and on the Lambda path the function's name on the
// client side and absent on the server side (no AWS_LAMBDA_FUNCTION_NAME in
// tests); server.port only on grpc-go with a port, which bufconn lacks.
func checkServerAddress(t *testing.T, lambda bool, where string, client bool, kv attribute.KeyValue) {
	t.Helper()
	want := "bufconn"
	if lambda {
		want = functionName
		if !client {
			t.Errorf("lambda: %s has %s=%s; outside Lambda the server side has no address", where, kv.Key, kv.Value.Emit())
			return
		}
	}
	if kv.Key != "server.address" || kv.Value.AsString() != want {
		t.Errorf("lambda=%v: %s has %s=%s, want server.address=%s", lambda, where, kv.Key, kv.Value.Emit(), want)
	}
}

// otelMetrics describes each data point: the metric's scope, name,
// description, unit and kind, the point's attributes, count and bucket
// bounds (durations themselves differ).
func otelMetrics(t *testing.T, s otelSide, lambda bool) []string {
	t.Helper()
	var out []string
	for _, sm := range s.metrics.ScopeMetrics {
		for _, m := range sm.Metrics {
			head := fmt.Sprintf("%s@%s %s %q %s", sm.Scope.Name, sm.Scope.Version, m.Name, m.Description, m.Unit)
			attrsOf := func(set attribute.Set) string {
				var kept []attribute.KeyValue
				for _, kv := range set.ToSlice() {
					if kv.Key == "server.address" || kv.Key == "server.port" {
						checkServerAddress(t, lambda, "metric "+m.Name, strings.Contains(m.Name, "client"), kv)
						continue
					}
					kept = append(kept, kv)
				}
				return attrString(kept)
			}
			switch d := m.Data.(type) {
			case metricdata.Histogram[float64]:
				for _, p := range d.DataPoints {
					out = append(out, fmt.Sprintf("%s histogram attrs=%s count=%d bounds=%v", head, attrsOf(p.Attributes), p.Count, p.Bounds))
				}
			case metricdata.Histogram[int64]:
				for _, p := range d.DataPoints {
					out = append(out, fmt.Sprintf("%s histogram attrs=%s count=%d bounds=%v sum=%d", head, attrsOf(p.Attributes), p.Count, p.Bounds, p.Sum))
				}
			case metricdata.Sum[int64]:
				for _, p := range d.DataPoints {
					out = append(out, fmt.Sprintf("%s sum attrs=%s value=%d", head, attrsOf(p.Attributes), p.Value))
				}
			default:
				out = append(out, fmt.Sprintf("%s %T", head, d))
			}
		}
	}
	sort.Strings(out)
	return out
}

func attrString(kvs []attribute.KeyValue) string {
	parts := make([]string, 0, len(kvs))
	for _, kv := range kvs {
		parts = append(parts, string(kv.Key)+"="+kv.Value.Emit())
	}
	sort.Strings(parts)
	return "{" + strings.Join(parts, ", ") + "}"
}

// TestOpenTelemetryThroughBridge: a grpc-go client with otelgrpc's client
// handler calls a function through the gRPC bridge (internal/bridge), whose
// otelgrpc server handler makes the function's span. The bridge passes the
// caller's metadata on, traceparent included: without handlers of its own
// the function's span is the caller's span's child; with otelgrpc on the
// bridge's server (grpc.StatsHandler) and its Invoke client
// (invoke.WithStatsHandler), the trace runs caller → bridge (server span,
// then client span) → function.
func TestOpenTelemetryThroughBridge(t *testing.T) {
	for _, instrumented := range []bool{false, true} {
		t.Run(fmt.Sprintf("bridge instrumented=%v", instrumented), func(t *testing.T) {
			spans := tracetest.NewSpanRecorder()
			tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans))
			prop := propagation.TraceContext{}
			opts := []otelgrpc.Option{otelgrpc.WithTracerProvider(tp), otelgrpc.WithPropagators(prop)}

			srv := runtime.NewServer(runtime.StatsHandler(otelgrpc.NewServerHandler(opts...)))
			testpb.RegisterTestServiceLambdaServer(srv, statsService(nil))
			inv := lambdatest.NewInvoker(srv)
			defer inv.Close()
			cfg := bridge.Config{Invoker: inv, Function: functionName, MaxRecvMsgSize: bridge.DefaultMaxRecvMsgSize}
			if instrumented {
				cfg.ServerOptions = []grpc.ServerOption{grpc.StatsHandler(otelgrpc.NewServerHandler(opts...))}
				cfg.InvokeOptions = []invoke.Option{invoke.WithStatsHandler(otelgrpc.NewClientHandler(opts...))}
			}
			b, err := bridge.New(cfg)
			if err != nil {
				t.Fatalf("bridge.New: %v", err)
			}
			lis := bufconn.Listen(1 << 20)
			served := make(chan struct{})
			go func() {
				defer close(served)
				_ = b.Serve(lis)
			}()
			defer func() {
				b.Shutdown(context.Background())
				<-served
			}()
			conn, err := grpc.NewClient("passthrough:///"+functionName,
				grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) }),
				grpc.WithTransportCredentials(insecure.NewCredentials()),
				grpc.WithStatsHandler(otelgrpc.NewClientHandler(opts...)))
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			// The bridge asks the function for its descriptors first (as the
			// command does at startup): those spans are not the call's.
			if err := b.Refresh(context.Background()); err != nil {
				t.Fatal(err)
			}
			base := len(spans.Ended())
			if _, err := testpb.NewTestServiceClient(conn).Echo(context.Background(), &testpb.EchoRequest{Message: "bridged"}); err != nil {
				t.Fatal(err)
			}
			want := 2 // the caller's client span, the function's server span
			if instrumented {
				want = 4
			}
			want += base
			// The caller's client span ends last, when its answer is in;
			// the others end before the answer leaves.
			var ended []sdktrace.ReadOnlySpan
			for deadline := time.Now().Add(hangLimit); ; time.Sleep(time.Millisecond) {
				if ended = spans.Ended(); len(ended) >= want || time.Now().After(deadline) {
					break
				}
			}
			if len(ended) != want {
				t.Fatalf("%d spans ended, want %d", len(ended), want)
			}
			ended = ended[base:]
			// From the caller's span (the root) down, each span has one child,
			// client and server spans alternating, in one trace: the caller's
			// client span, [the bridge's server span, its client span,] the
			// function's server span.
			var chain []sdktrace.ReadOnlySpan
			for _, sp := range ended {
				if !sp.Parent().IsValid() {
					chain = append(chain, sp)
				}
			}
			for len(chain) > 0 && len(chain) < len(ended) {
				last := chain[len(chain)-1]
				var children []sdktrace.ReadOnlySpan
				for _, sp := range ended {
					if sp.Parent().SpanID() == last.SpanContext().SpanID() && sp.SpanContext().TraceID() == last.SpanContext().TraceID() {
						children = append(children, sp)
					}
				}
				if len(children) != 1 {
					break
				}
				chain = append(chain, children[0])
			}
			var kinds []string
			for _, sp := range chain {
				kinds = append(kinds, sp.SpanKind().String())
			}
			wantKinds := []string{"client", "server"}
			if instrumented {
				wantKinds = []string{"client", "server", "client", "server"}
			}
			if !slices.Equal(kinds, wantKinds) {
				t.Errorf("the spans' parent chain from the root is %v, want %v", kinds, wantKinds)
			}
		})
	}
}
