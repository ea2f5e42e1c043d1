package bridge_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/aws"
	awslambda "github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/smithy-go"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/test/bufconn"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"

	"github.com/protoc-gen-go-lambda/protoc-gen-go-lambda/internal/bridge"
	"github.com/protoc-gen-go-lambda/protoc-gen-go-lambda/internal/testing/testpb"
	"github.com/protoc-gen-go-lambda/protoc-gen-go-lambda/internal/testing/testserver"
	"github.com/protoc-gen-go-lambda/protoc-gen-go-lambda/runtime"
	"github.com/protoc-gen-go-lambda/protoc-gen-go-lambda/runtime/invoke"
	"github.com/protoc-gen-go-lambda/protoc-gen-go-lambda/runtime/lambdatest"
)

// These tests run a real grpc-go client against the bridge, over bufconn,
// and the bridge against functions run in-process by lambdatest.Invoker
// (runtime.Server, the generated handlers, testserver): everything but the
// network and the AWS SDK is the real thing. e2e/bridge_test.go runs the
// command against the example function's real bootstrap under the emulator.

// functions is an Invoker for several functions, by name; a name it does
// not have fails as Lambda fails it (ResourceNotFoundException).
type functions struct {
	mu    sync.Mutex
	byFn  map[string]*lambdatest.Invoker
	calls []string // FunctionName:Qualifier of each invocation

	descriptorCalls []string // the same, of the descriptor requests
}

func newFunctions(t *testing.T, handlers map[string]lambda.Handler) *functions {
	f := &functions{byFn: map[string]*lambdatest.Invoker{}}
	for name, h := range handlers {
		inv := lambdatest.NewInvoker(h)
		t.Cleanup(inv.Close)
		f.byFn[name] = inv
	}
	return f
}

func (f *functions) Invoke(ctx context.Context, in *awslambda.InvokeInput, opts ...func(*awslambda.Options)) (*awslambda.InvokeOutput, error) {
	name := aws.ToString(in.FunctionName)
	f.mu.Lock()
	if isDescriptorsCall(in.Payload) {
		// The bridge's own descriptor requests are counted apart.
		f.descriptorCalls = append(f.descriptorCalls, name+":"+aws.ToString(in.Qualifier))
	} else {
		f.calls = append(f.calls, name+":"+aws.ToString(in.Qualifier))
	}
	inv, ok := f.byFn[name]
	f.mu.Unlock()
	if !ok {
		return nil, &smithy.OperationError{ServiceID: "Lambda", OperationName: "Invoke", Err: &smithy.GenericAPIError{
			Code:    "ResourceNotFoundException",
			Message: "Function not found: arn:aws:lambda:us-east-1:123456789012:function:" + name,
		}}
	}
	return inv.Invoke(ctx, in, opts...)
}

func (f *functions) InvokeWithResponseStream(ctx context.Context, in *awslambda.InvokeWithResponseStreamInput, opts ...func(*awslambda.Options)) (*awslambda.InvokeWithResponseStreamOutput, error) {
	name := aws.ToString(in.FunctionName)
	f.mu.Lock()
	f.calls = append(f.calls, name+":"+aws.ToString(in.Qualifier))
	inv, ok := f.byFn[name]
	f.mu.Unlock()
	if !ok {
		return nil, &smithy.OperationError{ServiceID: "Lambda", OperationName: "InvokeWithResponseStream", Err: &smithy.GenericAPIError{
			Code:    "ResourceNotFoundException",
			Message: "Function not found: arn:aws:lambda:us-east-1:123456789012:function:" + name,
		}}
	}
	return inv.InvokeWithResponseStream(ctx, in, opts...)
}

// isDescriptorsCall reports whether an invocation is the bridge asking for
// the function's descriptors (runtime.FileDescriptorsMethod).
func isDescriptorsCall(payload []byte) bool {
	return bytes.Contains(payload, []byte(runtime.FileDescriptorsMethod))
}

func (f *functions) invocations() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.calls...)
}

func (f *functions) descriptorInvocations() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.descriptorCalls...)
}

// testFunction is a function serving TestService with testserver.
func testFunction(opts ...runtime.ServerOption) *runtime.Server {
	srv := runtime.NewServer(opts...)
	testpb.RegisterTestServiceLambdaServer(srv, &testserver.Server{})
	return srv
}

// started is a running bridge and a grpc-go client connection to it.
type started struct {
	b    *bridge.Bridge
	conn *grpc.ClientConn
	log  *syncBuffer
}

// startBridge starts a bridge for cfg on bufconn and connects a grpc-go
// client to it; both stop when the test ends.
func startBridge(t *testing.T, cfg bridge.Config) *started {
	t.Helper()
	logs := &syncBuffer{}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(logs, nil))
	}
	b, err := bridge.New(cfg)
	if err != nil {
		t.Fatalf("bridge.New: %v", err)
	}
	lis := bufconn.Listen(1 << 20)
	served := make(chan error, 1)
	go func() { served <- b.Serve(lis) }()
	conn, err := grpc.NewClient("passthrough:///bridge",
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) }),
		grpc.WithTransportCredentials(insecure.NewCredentials()),
	)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		conn.Close()
		b.Shutdown(context.Background())
		if err := <-served; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return &started{b: b, conn: conn, log: logs}
}

// syncBuffer is a bytes.Buffer for a logger and a test reading it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// lines returns the log lines that contain all of words.
func (b *syncBuffer) lines(words ...string) []string {
	var out []string
	for _, l := range strings.Split(b.String(), "\n") {
		ok := l != ""
		for _, w := range words {
			ok = ok && strings.Contains(l, w)
		}
		if ok {
			out = append(out, l)
		}
	}
	return out
}

func pairs(kv ...string) []*testpb.Pair {
	var out []*testpb.Pair
	for i := 0; i < len(kv); i += 2 {
		out = append(out, &testpb.Pair{Key: kv[i], Value: []byte(kv[i+1])})
	}
	return out
}

// TestForwardsEverything: a grpc-go client's call crosses the bridge with
// its message, metadata (binary values too) and deadline, and comes back
// with the function's response, header and trailer, exactly as the
// generated Lambda client gets them from the same function.
func TestForwardsEverything(t *testing.T) {
	rec := &recordingHandler{h: testFunction()}
	fns := newFunctions(t, map[string]lambda.Handler{"test-fn": rec})
	s := startBridge(t, bridge.Config{Invoker: fns, Function: "test-fn", Qualifier: "live"})
	client := testpb.NewTestServiceClient(s.conn)

	req := &testpb.EchoRequest{
		Message:    "héllo",
		Payload:    []byte{0, 1, 2, 0xff},
		Header:     pairs("x-h", "1", "x-h-bin", "\x00\xff"),
		SendHeader: nil,
		Trailer:    pairs("x-t", "a", "x-t", "b", "x-t-bin", "\x01\x02"),
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	ctx = metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer t", "x-caller-bin", "\x00\x01\x02", "x-multi", "1", "x-multi", "2")
	var header, trailer metadata.MD
	resp, err := client.Echo(ctx, req, grpc.Header(&header), grpc.Trailer(&trailer))
	if err != nil {
		t.Fatalf("Echo through the bridge: %v", err)
	}

	// The same call from the generated Lambda client, straight to the function.
	direct := testpb.NewTestServiceLambdaClient(invoke.NewClientConn(fns, "test-fn"))
	var dHeader, dTrailer metadata.MD
	dResp, err := direct.Echo(ctx, req, grpc.Header(&dHeader), grpc.Trailer(&dTrailer))
	if err != nil {
		t.Fatalf("Echo straight to the function: %v", err)
	}

	// What the bridge sent: the caller's metadata, none of the bridge hop's
	// transport keys.
	var env struct {
		Metadata map[string][]string `json:"metadata"`
	}
	if err := json.Unmarshal(rec.first(), &env); err != nil {
		t.Fatal(err)
	}
	if keys := slices.Sorted(maps.Keys(env.Metadata)); !equal(keys, []string{"authorization", "x-caller-bin", "x-multi"}) {
		t.Errorf("the request envelope's metadata has %q", keys)
	}

	if resp.GetDeadlineMs() <= 0 || resp.GetDeadlineMs() > 20000 {
		t.Errorf("the handler's deadline is %d ms away; want the caller's (at most 20 s), not the function's 15 min", resp.GetDeadlineMs())
	}
	resp.DeadlineMs, dResp.DeadlineMs = 0, 0
	if !proto.Equal(resp, dResp) {
		t.Errorf("through the bridge %v\nstraight        %v", resp, dResp)
	}
	incoming := testserver.MD(resp.GetIncoming())
	for k, want := range map[string][]string{"authorization": {"Bearer t"}, "x-caller-bin": {"\x00\x01\x02"}, "x-multi": {"1", "2"}} {
		if got := incoming[k]; !equal(got, want) {
			t.Errorf("the handler got %s=%q, want %q", k, got, want)
		}
	}
	for _, k := range []string{":authority", "content-type", "user-agent", "grpc-accept-encoding", "te"} {
		if v, ok := incoming[k]; ok {
			t.Errorf("the handler got the bridge hop's transport key %s=%q", k, v)
		}
	}
	if resp.GetMethod() != testpb.TestService_Echo_FullMethodName || resp.GetMessage() != "héllo" {
		t.Errorf("method %q message %q", resp.GetMethod(), resp.GetMessage())
	}
	// The caller's header and trailer: the function's, plus grpc-go's own
	// content-type in the header (an HTTP/2 response's).
	if header.Get("content-type")[0] != "application/grpc" {
		t.Errorf("header content-type %q", header.Get("content-type"))
	}
	delete(header, "content-type")
	if !mdEqual(header, dHeader) || !mdEqual(trailer, dTrailer) {
		t.Errorf("header %q trailer %q; straight: %q %q", header, trailer, dHeader, dTrailer)
	}
	if !equal(trailer.Get("x-t"), []string{"a", "b"}) || !equal(header.Get("x-h-bin"), []string{"\x00\xff"}) {
		t.Errorf("header %q trailer %q", header, trailer)
	}
	if got := fns.invocations(); len(got) != 2 || got[0] != "test-fn:live" {
		t.Errorf("invocations %q, want test-fn with the qualifier live first", got)
	}
}

// recordingHandler keeps the payloads a function is invoked with.
type recordingHandler struct {
	h        lambda.Handler
	mu       sync.Mutex
	payloads [][]byte
}

func (r *recordingHandler) Invoke(ctx context.Context, payload []byte) ([]byte, error) {
	if !isDescriptorsCall(payload) {
		r.mu.Lock()
		r.payloads = append(r.payloads, bytes.Clone(payload))
		r.mu.Unlock()
	}
	return r.h.Invoke(ctx, payload)
}

func (r *recordingHandler) first() []byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.payloads[0]
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func mdEqual(a, b metadata.MD) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if !equal(v, b[k]) {
			return false
		}
	}
	return true
}

// TestStatusWithDetails: a failed call's code, message, details and
// trailer reach the caller unchanged, and the header set before the failure.
func TestStatusWithDetails(t *testing.T) {
	fns := newFunctions(t, map[string]lambda.Handler{"test-fn": testFunction()})
	s := startBridge(t, bridge.Config{Invoker: fns, Function: "test-fn"})
	client := testpb.NewTestServiceClient(s.conn)

	info, err := anypb.New(&errdetails.ResourceInfo{ResourceType: "order", ResourceName: "o-404", Description: "ünïcode"})
	if err != nil {
		t.Fatal(err)
	}
	br, err := anypb.New(&errdetails.BadRequest{FieldViolations: []*errdetails.BadRequest_FieldViolation{{Field: "id", Description: "bad"}}})
	if err != nil {
		t.Fatal(err)
	}
	req := &testpb.EchoRequest{
		Header:  pairs("x-h", "before"),
		Trailer: pairs("x-t", "after"),
		Fail:    &testpb.Status{Code: int32(codes.NotFound), Message: "order \"o-404\" not found\n100%", Details: []*anypb.Any{info, br}},
	}
	var header, trailer metadata.MD
	_, err = client.Echo(context.Background(), req, grpc.Header(&header), grpc.Trailer(&trailer))
	st := status.Convert(err)
	if st.Code() != codes.NotFound || st.Message() != "order \"o-404\" not found\n100%" {
		t.Errorf("got %v %q", st.Code(), st.Message())
	}
	if d := st.Proto().GetDetails(); len(d) != 2 || !proto.Equal(d[0], info) || !proto.Equal(d[1], br) {
		t.Errorf("details %v", d)
	}
	if header.Get("x-h")[0] != "before" || trailer.Get("x-t")[0] != "after" || len(trailer.Get("grpc-status-details-bin")) != 1 {
		t.Errorf("header %q trailer %q; want x-h, x-t and one grpc-status-details-bin", header, trailer)
	}
}

// TestUnknownAndUnserved: calls that no function can serve get grpc-go's
// statuses, from the bridge (no route) or from the function, and the
// bridge keeps serving.
func TestUnknownAndUnserved(t *testing.T) {
	fns := newFunctions(t, map[string]lambda.Handler{"test-fn": testFunction()})
	routed := startBridge(t, bridge.Config{Invoker: fns, Routes: map[string]string{"lambdatest.v1.TestService": "test-fn"}})
	fallback := startBridge(t, bridge.Config{Invoker: fns, Function: "test-fn"})
	for _, tc := range []struct {
		name   string
		conn   *grpc.ClientConn
		method string
		code   codes.Code
		msg    string
	}{
		{"no route", routed.conn, "/nope.v1.Nope/Do", codes.Unimplemented, "unknown service nope.v1.Nope"},
		{"function has no such service", fallback.conn, "/nope.v1.Nope/Do", codes.Unimplemented, "unknown service nope.v1.Nope"},
		{"function has no such method", routed.conn, "/lambdatest.v1.TestService/Nope", codes.Unimplemented, "unknown method Nope for service lambdatest.v1.TestService"},
		{"client-streaming method", routed.conn, testpb.TestService_Collect_FullMethodName, codes.Unimplemented, "lambda: /lambdatest.v1.TestService/Collect is a client-streaming method; a Lambda invocation takes its whole request before the function starts, so only unary and server-streaming methods are carried"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.conn.Invoke(context.Background(), tc.method, &testpb.EchoRequest{}, &testpb.EchoResponse{})
			if st := status.Convert(err); st.Code() != tc.code || st.Message() != tc.msg {
				t.Errorf("got %v %q, want %v %q", st.Code(), st.Message(), tc.code, tc.msg)
			}
			echoOK(t, tc.conn)
		})
	}
	// The function was asked only for what it could answer; the bridge
	// answered the unrouted service itself.
	for _, c := range fns.invocations() {
		if c != "test-fn:" {
			t.Errorf("invocation of %q", c)
		}
	}
}

// echoOK checks that the bridge still serves.
func echoOK(t *testing.T, conn *grpc.ClientConn) {
	t.Helper()
	resp, err := testpb.NewTestServiceClient(conn).Echo(context.Background(), &testpb.EchoRequest{Message: "still here"})
	if err != nil || resp.GetMessage() != "still here" {
		t.Errorf("the bridge no longer serves: %v, %v", resp, err)
	}
}

// TestRoutes: calls go to the function their service is routed to, others
// to the default function.
func TestRoutes(t *testing.T) {
	echoFn := testFunction()
	otherFn := runtime.NewServer()
	testpb.RegisterTestServiceLambdaServer(otherFn, &prefixServer{prefix: "other: "})
	fns := newFunctions(t, map[string]lambda.Handler{"default-fn": echoFn, "other-fn": otherFn})
	s := startBridge(t, bridge.Config{Invoker: fns, Function: "default-fn", Routes: map[string]string{"lambdatest.v1.TestService": "other-fn"}})
	resp, err := testpb.NewTestServiceClient(s.conn).Echo(context.Background(), &testpb.EchoRequest{Message: "hi"})
	if err != nil || resp.GetMessage() != "other: hi" {
		t.Errorf("routed call: %v, %v; want other-fn's answer", resp, err)
	}
	err = s.conn.Invoke(context.Background(), "/other.v1.Thing/Do", &testpb.EchoRequest{}, &testpb.EchoResponse{})
	if st := status.Convert(err); st.Code() != codes.Unimplemented || st.Message() != "unknown service other.v1.Thing" {
		t.Errorf("unrouted call: %v", st)
	}
	if got := fns.invocations(); !equal(got, []string{"other-fn:", "default-fn:"}) {
		t.Errorf("invocations %q", got)
	}
}

// prefixServer answers Echo with a prefix, to tell functions apart.
type prefixServer struct {
	testserver.Server
	prefix string
}

func (p *prefixServer) Echo(ctx context.Context, req *testpb.EchoRequest) (*testpb.EchoResponse, error) {
	return &testpb.EchoResponse{Message: p.prefix + req.GetMessage()}, nil
}

// TestBadInput: a function that does not exist, messages over each limit
// and a bridge without AWS credentials each get a clear status, and the
// bridge serves the next call.
func TestBadInput(t *testing.T) {
	fns := newFunctions(t, map[string]lambda.Handler{"test-fn": testFunction()})
	s := startBridge(t, bridge.Config{Invoker: fns, Function: "test-fn", Routes: map[string]string{"gone.v1.Gone": "no-such-function"}})
	client := testpb.NewTestServiceClient(s.conn)
	big := func(n int) *testpb.EchoRequest { return &testpb.EchoRequest{Payload: make([]byte, n)} }
	for _, tc := range []struct {
		name   string
		call   func() error
		code   codes.Code
		prefix string
	}{
		{"function does not exist", func() error {
			return s.conn.Invoke(context.Background(), "/gone.v1.Gone/Do", &testpb.EchoRequest{}, &testpb.EchoResponse{})
		}, codes.Unimplemented, "lambda: invoke failed: operation error Lambda: Invoke, api error ResourceNotFoundException: Function not found"},
		{"over the function's receive limit", func() error {
			_, err := client.Echo(context.Background(), big(4<<20+100))
			return err
		}, codes.ResourceExhausted, "grpc: received message larger than max (4194409 vs. 4194304)"},
		{"over the Lambda payload limit", func() error {
			_, err := client.Echo(context.Background(), big(5<<20))
			return err
		}, codes.ResourceExhausted, "lambda: request payload of"},
		{"over the bridge's receive limit", func() error {
			_, err := client.Echo(context.Background(), big(7<<20), grpc.MaxCallSendMsgSize(8<<20))
			return err
		}, codes.ResourceExhausted, "grpc: received message larger than max (7340037 vs. 6291456)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.call()
			if st := status.Convert(err); st.Code() != tc.code || !strings.HasPrefix(st.Message(), tc.prefix) {
				t.Errorf("got %v %q, want %v %q…", st.Code(), st.Message(), tc.code, tc.prefix)
			}
			echoOK(t, s.conn)
		})
	}
}

// noCredentials is the SDK's failure when the default chain finds nothing.
type noCredentials struct{}

func (noCredentials) Retrieve(context.Context) (aws.Credentials, error) {
	return aws.Credentials{}, fmt.Errorf("failed to refresh cached credentials, no EC2 IMDS role found")
}

// TestNoCredentials: without AWS credentials, calls fail UNAUTHENTICATED
// with the reason, before reaching Lambda, and the bridge keeps serving.
func TestNoCredentials(t *testing.T) {
	fns := newFunctions(t, map[string]lambda.Handler{"test-fn": testFunction()})
	s := startBridge(t, bridge.Config{Invoker: fns, Function: "test-fn", Credentials: noCredentials{}})
	for range 2 {
		_, err := testpb.NewTestServiceClient(s.conn).Echo(context.Background(), &testpb.EchoRequest{})
		want := "lambda-grpc-bridge: no AWS credentials to invoke test-fn: failed to refresh cached credentials, no EC2 IMDS role found"
		if st := status.Convert(err); st.Code() != codes.Unauthenticated || st.Message() != want {
			t.Errorf("got %v %q", st.Code(), st.Message())
		}
	}
	if n := len(fns.invocations()); n != 0 {
		t.Errorf("%d invocations without credentials", n)
	}
}

// TestCardinality: like grpc-go's server for a unary method, the bridge
// refuses a call without a request message or with two, and invokes
// nothing.
func TestCardinality(t *testing.T) {
	fns := newFunctions(t, map[string]lambda.Handler{"test-fn": testFunction()})
	s := startBridge(t, bridge.Config{Invoker: fns, Function: "test-fn"})
	desc := &grpc.StreamDesc{ClientStreams: true, ServerStreams: true}
	for n, want := range map[int]string{
		0: "cardinality violation: received no request message from non-client-streaming RPC",
		2: "cardinality violation: received multiple request messages for non-client-streaming RPC",
	} {
		stream, err := s.conn.NewStream(context.Background(), desc, testpb.TestService_Echo_FullMethodName)
		if err != nil {
			t.Fatal(err)
		}
		for range n {
			if err := stream.SendMsg(&testpb.EchoRequest{}); err != nil {
				t.Fatal(err)
			}
		}
		stream.CloseSend()
		err = stream.RecvMsg(&testpb.EchoResponse{})
		if st := status.Convert(err); st.Code() != codes.Internal || st.Message() != want {
			t.Errorf("%d messages: got %v %q, want INTERNAL %q", n, st.Code(), st.Message(), want)
		}
	}
	if n := len(fns.invocations()); n != 0 {
		t.Errorf("%d invocations", n)
	}
}

// TestLogsOneLinePerCall: each call logs its method, function, code and
// duration.
func TestLogsOneLinePerCall(t *testing.T) {
	fns := newFunctions(t, map[string]lambda.Handler{"test-fn": testFunction()})
	s := startBridge(t, bridge.Config{Invoker: fns, Function: "test-fn"})
	client := testpb.NewTestServiceClient(s.conn)
	if _, err := client.Echo(context.Background(), &testpb.EchoRequest{}); err != nil {
		t.Fatal(err)
	}
	_, _ = client.Echo(context.Background(), &testpb.EchoRequest{Fail: &testpb.Status{Code: int32(codes.Aborted), Message: "try again"}})
	lines := s.log.lines("msg=call")
	want := []string{
		"method=/lambdatest.v1.TestService/Echo function=test-fn code=OK duration=",
		"method=/lambdatest.v1.TestService/Echo function=test-fn code=Aborted duration=",
	}
	if len(lines) != len(want) {
		t.Fatalf("log lines %q, want %d", lines, len(want))
	}
	for i, w := range want {
		if !strings.Contains(lines[i], w) {
			t.Errorf("line %q, want %q", lines[i], w)
		}
	}
	if !strings.Contains(lines[1], `message="try again"`) {
		t.Errorf("line %q lacks the status message", lines[1])
	}
}

// blockingServer's Sleep waits until released, to hold a call in flight.
type blockingServer struct {
	testserver.Server
	entered chan struct{}
	release chan struct{}
}

func (b *blockingServer) Sleep(ctx context.Context, _ *testpb.SleepRequest) (*testpb.EchoResponse, error) {
	close(b.entered)
	select {
	case <-b.release:
		return &testpb.EchoResponse{Message: "finished"}, nil
	case <-ctx.Done():
		return nil, status.FromContextError(ctx.Err()).Err()
	}
}

// TestShutdownLetsCallsFinish: during Shutdown a call in flight runs to its
// end and gets its answer; Shutdown returns once it has.
func TestShutdownLetsCallsFinish(t *testing.T) {
	impl := &blockingServer{entered: make(chan struct{}), release: make(chan struct{})}
	fn := runtime.NewServer()
	testpb.RegisterTestServiceLambdaServer(fn, impl)
	fns := newFunctions(t, map[string]lambda.Handler{"test-fn": fn})
	s := startBridge(t, bridge.Config{Invoker: fns, Function: "test-fn"})

	type result struct {
		resp *testpb.EchoResponse
		err  error
	}
	call := make(chan result, 1)
	go func() {
		resp, err := testpb.NewTestServiceClient(s.conn).Sleep(context.Background(), &testpb.SleepRequest{})
		call <- result{resp, err}
	}()
	<-impl.entered
	stopped := make(chan struct{})
	go func() {
		s.b.Shutdown(context.Background())
		close(stopped)
	}()
	select {
	case <-stopped:
		t.Fatal("Shutdown returned while a call was in flight")
	case r := <-call:
		t.Fatalf("the call ended before it was released: %v, %v", r.resp, r.err)
	default:
	}
	close(impl.release)
	r := <-call
	if r.err != nil || r.resp.GetMessage() != "finished" {
		t.Errorf("the call in flight got %v, %v; want its answer", r.resp, r.err)
	}
	<-stopped
}
