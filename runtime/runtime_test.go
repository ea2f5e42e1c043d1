package runtime_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"

	"github.com/protoc-gen-go-lambda/protoc-gen-go-lambda/internal/testing/testpb"
	"github.com/protoc-gen-go-lambda/protoc-gen-go-lambda/internal/testing/testserver"
	"github.com/protoc-gen-go-lambda/protoc-gen-go-lambda/runtime"
	"github.com/protoc-gen-go-lambda/protoc-gen-go-lambda/runtime/invoke"
	"github.com/protoc-gen-go-lambda/protoc-gen-go-lambda/runtime/lambdatest"
)

// These tests run the generated client and handler of TestService against
// each other in-process: generated client → invoke.ClientConn → the exact
// payload bytes → runtime.Server.Invoke → generated handler → testserver.
// e2e/ runs the same path across the real process boundary, and parity/
// compares every outcome with grpc-go's.

// recordingInvoker passes payloads to a Server and remembers the inputs.
type recordingInvoker struct {
	invoke.Invoker
	mu     sync.Mutex
	inputs []*lambda.InvokeInput
}

func (r *recordingInvoker) Invoke(ctx context.Context, in *lambda.InvokeInput, opts ...func(*lambda.Options)) (*lambda.InvokeOutput, error) {
	r.mu.Lock()
	r.inputs = append(r.inputs, in)
	r.mu.Unlock()
	return r.Invoker.Invoke(ctx, in, opts...)
}

func (r *recordingInvoker) calls() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.inputs)
}

type fixture struct {
	client  testpb.TestServiceLambdaClient
	invoker *recordingInvoker
	server  *runtime.Server
}

func newFixture(t *testing.T, srvOpts []runtime.ServerOption, lambdaTimeout time.Duration, clientOpts ...invoke.Option) *fixture {
	t.Helper()
	srv := testpb.NewTestServiceLambdaHandler(&testserver.Server{}, srvOpts...)
	inv := &recordingInvoker{Invoker: lambdatest.NewInvoker(srv, lambdatest.WithFunctionTimeout(lambdaTimeout))}
	cc := invoke.NewClientConn(inv, "test-function", clientOpts...)
	return &fixture{client: testpb.NewTestServiceLambdaClient(cc), invoker: inv, server: srv}
}

func mustAny(t *testing.T, m proto.Message) *anypb.Any {
	t.Helper()
	a, err := anypb.New(m)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func TestEcho(t *testing.T) {
	for _, mode := range []struct {
		name string
		opts []invoke.Option
	}{{"binary", nil}, {"json", []invoke.Option{invoke.WithJSON()}}} {
		t.Run(mode.name, func(t *testing.T) {
			f := newFixture(t, nil, 0, mode.opts...)
			req := &testpb.EchoRequest{Message: "héllo, 世界 🌍", Payload: []byte{0, 1, 2, 255}}
			resp, err := f.client.Echo(context.Background(), req)
			if err != nil {
				t.Fatal(err)
			}
			if resp.GetMessage() != req.GetMessage() || string(resp.GetPayload()) != string(req.GetPayload()) {
				t.Errorf("echo = %v, want message and payload of %v", resp, req)
			}
			if got, want := resp.GetMethod(), testpb.TestServiceLambda_Echo_FullMethodName; got != want {
				t.Errorf("grpc.Method in handler = %q, want %q", got, want)
			}
			payload := string(f.invoker.inputs[0].Payload)
			if mode.name == "json" != strings.Contains(payload, `"json":`) {
				t.Errorf("payload %s is not in %s mode", payload, mode.name)
			}
		})
	}
}

func TestStatusAndDetails(t *testing.T) {
	f := newFixture(t, nil, 0)
	details := []*anypb.Any{
		mustAny(t, &errdetails.BadRequest{FieldViolations: []*errdetails.BadRequest_FieldViolation{{Field: "name", Description: "required"}}}),
		mustAny(t, &errdetails.ResourceInfo{ResourceType: "book", ResourceName: "b-1"}),
	}
	for code := codes.Canceled; code <= codes.Unauthenticated; code++ {
		req := &testpb.EchoRequest{Fail: &testpb.Status{Code: int32(code), Message: "failed: " + code.String() + " \r\n\t ünïcode 😀", Details: details}}
		_, err := f.client.Echo(context.Background(), req)
		st, ok := status.FromError(err)
		if !ok {
			t.Fatalf("%v: not a status error: %v", code, err)
		}
		want := &testpb.Status{Code: int32(code), Message: req.Fail.Message, Details: details}
		got := &testpb.Status{Code: int32(st.Code()), Message: st.Message(), Details: st.Proto().GetDetails()}
		if !proto.Equal(got, want) {
			t.Errorf("%v: status = %v, want %v", code, got, want)
		}
		if d := st.Details(); len(d) != 2 {
			t.Errorf("%v: %d details decoded, want 2: %v", code, len(d), d)
		}
	}
}

// errorService returns fixed errors, to check grpc-go's conversion of
// handler errors.
type errorService struct {
	testserver.Server
	err error
}

func (e *errorService) Echo(context.Context, *testpb.EchoRequest) (*testpb.EchoResponse, error) {
	return nil, e.err
}

func TestHandlerErrorConversion(t *testing.T) {
	for _, tc := range []struct {
		name     string
		err      error
		wantCode codes.Code
		wantMsg  string
	}{
		{"plain error", errors.New("disk on fire"), codes.Unknown, "disk on fire"},
		{"wrapped status", fmt.Errorf("loading: %w", status.Error(codes.NotFound, "no book")), codes.NotFound, "loading: rpc error: code = NotFound desc = no book"},
		{"context deadline", context.DeadlineExceeded, codes.DeadlineExceeded, "context deadline exceeded"},
		{"context canceled", context.Canceled, codes.Canceled, "context canceled"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := runtime.NewServer()
			testpb.RegisterTestServiceLambdaServer(srv, &errorService{err: tc.err})
			client := testpb.NewTestServiceLambdaClient(invoke.NewClientConn(lambdatest.NewInvoker(srv), "f"))
			_, err := client.Echo(context.Background(), &testpb.EchoRequest{})
			st := status.Convert(err)
			if st.Code() != tc.wantCode || st.Message() != tc.wantMsg {
				t.Errorf("got %v %q, want %v %q", st.Code(), st.Message(), tc.wantCode, tc.wantMsg)
			}
		})
	}
}

func TestMetadata(t *testing.T) {
	f := newFixture(t, nil, 0)
	ctx := metadata.AppendToOutgoingContext(context.Background(),
		"authorization", "Bearer t0ken",
		"multi", "one", "multi", "two",
		"trace-bin", string([]byte{0, 0xff, 0x80, 'x'}),
		"te", "trailers", // reserved: grpc-go drops it
	)
	var header, trailer metadata.MD
	resp, err := f.client.Echo(ctx, &testpb.EchoRequest{
		Header:  []*testpb.Pair{{Key: "x-set", Value: []byte("set")}, {Key: "x-set-bin", Value: []byte{1, 2, 3}}},
		Trailer: []*testpb.Pair{{Key: "x-trailer", Value: []byte("t1")}, {Key: "x-trailer", Value: []byte("t2")}},
	}, grpc.Header(&header), grpc.Trailer(&trailer))
	if err != nil {
		t.Fatal(err)
	}
	incoming := metadata.MD{}
	for _, p := range resp.GetIncoming() {
		incoming.Append(p.GetKey(), string(p.GetValue()))
	}
	want := metadata.MD{"authorization": {"Bearer t0ken"}, "multi": {"one", "two"}, "trace-bin": {string([]byte{0, 0xff, 0x80, 'x'})}}
	if fmt.Sprint(incoming) != fmt.Sprint(want) {
		t.Errorf("incoming metadata = %v, want %v", incoming, want)
	}
	if got := header.Get("x-set"); len(got) != 1 || got[0] != "set" {
		t.Errorf("header x-set = %q", got)
	}
	if got := header.Get("x-set-bin"); len(got) != 1 || got[0] != "\x01\x02\x03" {
		t.Errorf("header x-set-bin = %q", got)
	}
	if got := trailer.Get("x-trailer"); len(got) != 2 || got[0] != "t1" || got[1] != "t2" {
		t.Errorf("trailer x-trailer = %q", got)
	}

	// SendHeader, and header and trailer on an error.
	header, trailer = nil, nil
	_, err = f.client.Echo(context.Background(), &testpb.EchoRequest{
		SendHeader: []*testpb.Pair{{Key: "x-sent", Value: []byte("early")}},
		Trailer:    []*testpb.Pair{{Key: "x-why", Value: []byte("because")}},
		Fail:       &testpb.Status{Code: int32(codes.Aborted), Message: "aborted"},
	}, grpc.Header(&header), grpc.Trailer(&trailer))
	if status.Code(err) != codes.Aborted {
		t.Fatalf("err = %v, want Aborted", err)
	}
	if header.Get("x-sent")[0] != "early" || trailer.Get("x-why")[0] != "because" {
		t.Errorf("on error: header %v, trailer %v", header, trailer)
	}
}

func TestInvalidOutgoingMetadata(t *testing.T) {
	f := newFixture(t, nil, 0)
	ctx := metadata.NewOutgoingContext(context.Background(), metadata.MD{"bad key": {"v"}})
	_, err := f.client.Echo(ctx, &testpb.EchoRequest{})
	if st := status.Convert(err); st.Code() != codes.Internal || !strings.Contains(st.Message(), "illegal characters") {
		t.Errorf("err = %v, want grpc-go's Internal for an illegal key", err)
	}
	if f.invoker.calls() != 0 {
		t.Errorf("%d invocations for a call that must fail before sending", f.invoker.calls())
	}
}

func TestDeadlines(t *testing.T) {
	t.Run("client deadline travels", func(t *testing.T) {
		f := newFixture(t, nil, 0)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		resp, err := f.client.Echo(ctx, &testpb.EchoRequest{})
		if err != nil {
			t.Fatal(err)
		}
		if !resp.GetHasDeadline() || resp.GetDeadlineMs() <= 0 || resp.GetDeadlineMs() > 5000 {
			t.Errorf("handler deadline: has=%v left=%dms, want within the client's 5s", resp.GetHasDeadline(), resp.GetDeadlineMs())
		}
	})
	t.Run("no client deadline: the function timeout less the margin", func(t *testing.T) {
		// Lambda gives every invocation a deadline, so a handler always has
		// one (docs/compatibility.md), however the caller called.
		f := newFixture(t, nil, 10*time.Second)
		resp, err := f.client.Echo(context.Background(), &testpb.EchoRequest{})
		if err != nil {
			t.Fatal(err)
		}
		if left := resp.GetDeadlineMs(); !resp.GetHasDeadline() || left > 9900 || left < 5000 {
			t.Errorf("handler deadline: has=%v left=%dms, want the 10s function timeout less the 100ms margin", resp.GetHasDeadline(), left)
		}
	})
	t.Run("lambda deadline less the margin", func(t *testing.T) {
		f := newFixture(t, []runtime.ServerOption{runtime.DeadlineMargin(time.Second)}, 3*time.Second)
		resp, err := f.client.Echo(context.Background(), &testpb.EchoRequest{})
		if err != nil {
			t.Fatal(err)
		}
		if !resp.GetHasDeadline() || resp.GetDeadlineMs() > 2000 {
			t.Errorf("handler deadline %dms, want at most the 3s Lambda timeout less the 1s margin", resp.GetDeadlineMs())
		}
	})
	t.Run("handler waits on its context", func(t *testing.T) {
		// The handler's own outcome shows that its context expired with the
		// caller's deadline: the function's context (a fresh one, with the
		// 15-minute function timeout) knows nothing of the caller, so only
		// timeout_ms can end the handler's 20 s sleep early.
		outcome := make(chan error, 1)
		record := func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
			resp, err := handler(ctx, req)
			outcome <- err
			return resp, err
		}
		f := newFixture(t, []runtime.ServerOption{runtime.UnaryInterceptor(record)}, 0)
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		_, err := f.client.Sleep(ctx, &testpb.SleepRequest{Millis: 20_000})
		if st := status.Convert(err); st.Code() != codes.DeadlineExceeded || st.Message() != "context deadline exceeded" {
			t.Errorf("err = %v, want DeadlineExceeded", err)
		}
		if err := <-outcome; status.Code(err) != codes.DeadlineExceeded {
			t.Errorf("the handler returned %v, want DeadlineExceeded from its context", err)
		}
	})
	t.Run("handler ignores its context", func(t *testing.T) {
		// The Lambda deadline is near and the handler does not look at its
		// context: the server still answers DEADLINE_EXCEEDED itself (the
		// handler would have answered OK "slept").
		f := newFixture(t, []runtime.ServerOption{runtime.DeadlineMargin(100 * time.Millisecond)}, 300*time.Millisecond)
		_, err := f.client.Sleep(context.Background(), &testpb.SleepRequest{Millis: 2000, IgnoreContext: true})
		if status.Code(err) != codes.DeadlineExceeded {
			t.Errorf("err = %v, want DeadlineExceeded", err)
		}
		if _, err := f.client.Echo(context.Background(), &testpb.EchoRequest{}); err != nil {
			t.Errorf("next call: %v", err)
		}
	})
	t.Run("expired before the call", func(t *testing.T) {
		f := newFixture(t, nil, 0)
		ctx, cancel := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
		defer cancel()
		_, err := f.client.Echo(ctx, &testpb.EchoRequest{})
		if st := status.Convert(err); st.Code() != codes.DeadlineExceeded || st.Message() != "context deadline exceeded" {
			t.Errorf("err = %v, want DeadlineExceeded", err)
		}
		if f.invoker.calls() != 0 {
			t.Error("an expired call was sent")
		}
	})
	t.Run("cancelled before the call", func(t *testing.T) {
		f := newFixture(t, nil, 0)
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_, err := f.client.Echo(ctx, &testpb.EchoRequest{})
		if st := status.Convert(err); st.Code() != codes.Canceled || st.Message() != "context canceled" {
			t.Errorf("err = %v, want Canceled", err)
		}
	})
	t.Run("cancelled during the call", func(t *testing.T) {
		f := newFixture(t, nil, 0)
		ctx, cancel := context.WithCancel(context.Background())
		time.AfterFunc(50*time.Millisecond, cancel)
		_, err := f.client.Sleep(ctx, &testpb.SleepRequest{Millis: 60_000})
		if status.Code(err) != codes.Canceled {
			t.Errorf("err = %v, want Canceled", err)
		}
	})
}

func TestUnknownAndStreaming(t *testing.T) {
	f := newFixture(t, nil, 0)
	cc := invoke.NewClientConn(f.invoker, "f")
	for _, tc := range []struct{ method, want string }{
		{"/no.Such/Method", "unknown service no.Such"},
		{"/lambdatest.v1.TestService/Nope", "unknown method Nope for service lambdatest.v1.TestService"},
		{"no-slash", `malformed method name: "no-slash"`},
		{"/lambdatest.v1.TestService/Collect", "client-streaming method; a Lambda invocation takes its whole request"},
	} {
		err := cc.Invoke(context.Background(), tc.method, &testpb.EchoRequest{}, &testpb.EchoResponse{})
		if st := status.Convert(err); st.Code() != codes.Unimplemented || !strings.Contains(st.Message(), tc.want) {
			t.Errorf("%s: %v, want Unimplemented %q", tc.method, err, tc.want)
		}
	}
}

func TestPanicKeepsServing(t *testing.T) {
	f := newFixture(t, nil, 0)
	_, err := f.client.Panic(context.Background(), &testpb.EchoRequest{Message: "boom"})
	if st := status.Convert(err); st.Code() != codes.Internal || !strings.Contains(st.Message(), "boom") {
		t.Errorf("err = %v, want Internal naming the panic", err)
	}
	if _, err := f.client.Echo(context.Background(), &testpb.EchoRequest{}); err != nil {
		t.Errorf("call after the panic: %v", err)
	}
}

func TestMessageSizeLimits(t *testing.T) {
	t.Run("server receive", func(t *testing.T) {
		f := newFixture(t, []runtime.ServerOption{runtime.MaxRecvMsgSize(1024)}, 0)
		_, err := f.client.Echo(context.Background(), &testpb.EchoRequest{Payload: make([]byte, 2000)})
		if st := status.Convert(err); st.Code() != codes.ResourceExhausted || !strings.HasPrefix(st.Message(), "grpc: received message larger than max (2003 vs. 1024)") {
			t.Errorf("err = %v", err)
		}
	})
	t.Run("server send", func(t *testing.T) {
		f := newFixture(t, []runtime.ServerOption{runtime.MaxSendMsgSize(1024)}, 0)
		_, err := f.client.Echo(context.Background(), &testpb.EchoRequest{ResponseSize: 2000})
		if st := status.Convert(err); st.Code() != codes.ResourceExhausted || !strings.HasPrefix(st.Message(), "trying to send message larger than max") {
			t.Errorf("err = %v", err)
		}
	})
	t.Run("client send and receive", func(t *testing.T) {
		f := newFixture(t, nil, 0)
		_, err := f.client.Echo(context.Background(), &testpb.EchoRequest{Payload: make([]byte, 2000)}, grpc.MaxCallSendMsgSize(100))
		if status.Code(err) != codes.ResourceExhausted || f.invoker.calls() != 0 {
			t.Errorf("send limit: err %v after %d invocations", err, f.invoker.calls())
		}
		_, err = f.client.Echo(context.Background(), &testpb.EchoRequest{ResponseSize: 2000}, grpc.MaxCallRecvMsgSize(100))
		if st := status.Convert(err); st.Code() != codes.ResourceExhausted || !strings.HasPrefix(st.Message(), "grpc: received message larger than max") {
			t.Errorf("receive limit: %v", err)
		}
	})
	t.Run("lambda payload limit", func(t *testing.T) {
		f := newFixture(t, []runtime.ServerOption{runtime.MaxRecvMsgSize(10 << 20)}, 0)
		_, err := f.client.Echo(context.Background(), &testpb.EchoRequest{Payload: make([]byte, 5<<20)}, grpc.MaxCallSendMsgSize(10<<20))
		st := status.Convert(err)
		if st.Code() != codes.ResourceExhausted || !strings.Contains(st.Message(), "6291456") {
			t.Errorf("err = %v, want ResourceExhausted naming the 6291456-byte limit", err)
		}
		if f.invoker.calls() != 0 {
			t.Error("an oversize request was sent")
		}
	})
}

func TestInterceptorChains(t *testing.T) {
	var order []string
	var mu sync.Mutex
	note := func(s string) { mu.Lock(); order = append(order, s); mu.Unlock() }
	srvInt := func(name string) grpc.UnaryServerInterceptor {
		return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
			note("server " + name + " " + info.FullMethod)
			return h(ctx, req)
		}
	}
	cliInt := func(name string) grpc.UnaryClientInterceptor {
		return func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, inv grpc.UnaryInvoker, opts ...grpc.CallOption) error {
			note("client " + name)
			ctx = metadata.AppendToOutgoingContext(ctx, "x-from", name)
			return inv(ctx, method, req, reply, cc, opts...)
		}
	}
	f := newFixture(t, []runtime.ServerOption{runtime.ChainUnaryInterceptor(srvInt("1"), srvInt("2")), runtime.UnaryInterceptor(srvInt("3"))}, 0,
		invoke.WithChainUnaryInterceptor(cliInt("a"), cliInt("b")))
	resp, err := f.client.Echo(context.Background(), &testpb.EchoRequest{})
	if err != nil {
		t.Fatal(err)
	}
	m := testpb.TestServiceLambda_Echo_FullMethodName
	want := []string{"client a", "client b", "server 1 " + m, "server 2 " + m, "server 3 " + m}
	if fmt.Sprint(order) != fmt.Sprint(want) {
		t.Errorf("order = %q, want %q", order, want)
	}
	var from []string
	for _, p := range resp.GetIncoming() {
		if p.GetKey() == "x-from" {
			from = append(from, string(p.GetValue()))
		}
	}
	if fmt.Sprint(from) != "[a b]" {
		t.Errorf("x-from received by the handler = %q, want the values added by client interceptors a and b", from)
	}
}

// A grpc-generated client and registration work on the Lambda transport.
func TestInteropWithGRPCGeneratedCode(t *testing.T) {
	srv := runtime.NewServer()
	testpb.RegisterTestServiceServer(srv, &testserver.Server{})
	cc := invoke.NewClientConn(lambdatest.NewInvoker(srv), "f", invoke.WithQualifier("live"))
	resp, err := testpb.NewTestServiceClient(cc).Echo(context.Background(), &testpb.EchoRequest{Message: "grpc-generated"})
	if err != nil || resp.GetMessage() != "grpc-generated" {
		t.Fatalf("resp %v, err %v", resp, err)
	}
	if info := srv.GetServiceInfo()["lambdatest.v1.TestService"]; len(info.Methods) != 7 {
		t.Errorf("GetServiceInfo methods = %v", info.Methods)
	}
}

func TestQualifierAndFunctionName(t *testing.T) {
	f := newFixture(t, nil, 0, invoke.WithQualifier("live"))
	if _, err := f.client.Echo(context.Background(), &testpb.EchoRequest{}); err != nil {
		t.Fatal(err)
	}
	in := f.invoker.inputs[0]
	if aws.ToString(in.FunctionName) != "test-function" || aws.ToString(in.Qualifier) != "live" || in.InvocationType != "RequestResponse" {
		t.Errorf("invoke input: function %q qualifier %q type %q", aws.ToString(in.FunctionName), aws.ToString(in.Qualifier), in.InvocationType)
	}
}

// failingInvoker stands in for the Lambda service where an in-process
// server cannot produce the failure; errors_test.go and e2e/ drive the real
// SDK client and the emulator.
type failingInvoker struct {
	out *lambda.InvokeOutput
	err error
}

func (f failingInvoker) Invoke(context.Context, *lambda.InvokeInput, ...func(*lambda.Options)) (*lambda.InvokeOutput, error) {
	return f.out, f.err
}

func TestFailedInvocationIsNeverOK(t *testing.T) {
	unhandled := "Unhandled"
	for _, tc := range []struct {
		name string
		inv  failingInvoker
		want codes.Code
	}{
		{"sdk error", failingInvoker{err: errors.New("dial tcp: connection refused")}, codes.Unknown},
		{"function error", failingInvoker{out: &lambda.InvokeOutput{StatusCode: 200, FunctionError: &unhandled, Payload: []byte(`{"errorMessage":"boom","errorType":"errorString"}`)}}, codes.Unknown},
		{"timeout text", failingInvoker{out: &lambda.InvokeOutput{StatusCode: 200, Payload: []byte(`Task timed out after 3.00 seconds`)}}, codes.DeadlineExceeded},
		{"not an envelope", failingInvoker{out: &lambda.InvokeOutput{StatusCode: 200, Payload: []byte(`{"hello":"world"}`)}}, codes.Internal},
		{"empty payload", failingInvoker{out: &lambda.InvokeOutput{StatusCode: 200}}, codes.Internal},
	} {
		t.Run(tc.name, func(t *testing.T) {
			client := testpb.NewTestServiceLambdaClient(invoke.NewClientConn(tc.inv, "f"))
			resp, err := client.Echo(context.Background(), &testpb.EchoRequest{})
			if err == nil || resp != nil {
				t.Fatalf("a failed invocation gave %v, %v", resp, err)
			}
			if st := status.Convert(err); st.Code() != tc.want || !strings.HasPrefix(st.Message(), "lambda: ") {
				t.Errorf("got %v %q, want %v with a message naming the cause", st.Code(), st.Message(), tc.want)
			}
		})
	}
}

// TestBadPayloads sends raw payloads to Server.Invoke: each gets a
// well-formed envelope with a clear status, never a Go error or a panic.
func TestBadPayloads(t *testing.T) {
	srv := testpb.NewTestServiceLambdaHandler(&testserver.Server{})
	echo := testpb.TestServiceLambda_Echo_FullMethodName
	for _, tc := range []struct {
		name, payload string
		code          codes.Code
		msg           string
	}{
		{"not json", `hello`, codes.Internal, "lambda: malformed request envelope"},
		{"empty", ``, codes.Internal, "lambda: malformed request envelope"},
		{"trailing garbage", `{"v":1,"method":"` + echo + `","body":""} x`, codes.Internal, "lambda: malformed request envelope"},
		{"missing version", `{"method":"` + echo + `","body":""}`, codes.Internal, `missing "v"`},
		{"unknown version", `{"v":2,"method":"` + echo + `","body":""}`, codes.Unimplemented, "envelope version 2 is not supported"},
		{"missing method", `{"v":1,"body":""}`, codes.Unimplemented, `malformed method name: ""`},
		{"missing body", `{"v":1,"method":"` + echo + `"}`, codes.Internal, `neither "body" nor "json"`},
		{"bad base64", `{"v":1,"method":"` + echo + `","body":"!!!"}`, codes.Internal, "grpc: failed to unmarshal the received message: body is not valid base64"},
		{"bad protobuf", `{"v":1,"method":"` + echo + `","body":"/w=="}`, codes.Internal, "grpc: failed to unmarshal the received message"},
		{"bad json body", `{"v":1,"method":"` + echo + `","json":{"message":5}}`, codes.Internal, "grpc: failed to unmarshal the received message"},
		{"bad timeout", `{"v":1,"method":"` + echo + `","timeout_ms":-5,"body":""}`, codes.Internal, "timeout_ms"},
		{"bad binary metadata", `{"v":1,"method":"` + echo + `","metadata":{"x-bin":["***"]},"body":""}`, codes.Internal, "malformed binary metadata"},
		{"deep nesting", `{"v":1,"x":` + strings.Repeat("[", 10000) + `}`, codes.Internal, "nested too deeply"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := srv.Invoke(context.Background(), []byte(tc.payload))
			if err != nil {
				t.Fatalf("Invoke returned a Go error: %v", err)
			}
			st := decodeStatus(t, out)
			if st.Code() != tc.code || !strings.Contains(st.Message(), tc.msg) {
				t.Errorf("got %v %q, want %v containing %q", st.Code(), st.Message(), tc.code, tc.msg)
			}
		})
	}
	// The function still serves after all that.
	client := testpb.NewTestServiceLambdaClient(invoke.NewClientConn(lambdatest.NewInvoker(srv), "f"))
	if _, err := client.Echo(context.Background(), &testpb.EchoRequest{}); err != nil {
		t.Errorf("after bad payloads: %v", err)
	}
}

// decodeStatus reads a response envelope through a ClientConn, as a client
// would.
func decodeStatus(t *testing.T, payload []byte) *status.Status {
	t.Helper()
	inv := failingInvoker{out: &lambda.InvokeOutput{StatusCode: 200, Payload: payload}}
	err := invoke.NewClientConn(inv, "f").Invoke(context.Background(), "/x.Y/Z", &testpb.EchoRequest{}, &testpb.EchoResponse{})
	return status.Convert(err)
}

// TestUnmarshallableDetailsAreLogged: a status whose google.rpc.Status
// cannot be serialized (here its message is not UTF-8) goes out without its
// details, as grpc-go's server sends it, and the server logs why, as
// grpc-go does, instead of dropping them silently.
func TestUnmarshallableDetailsAreLogged(t *testing.T) {
	var logged strings.Builder
	log.SetOutput(&logged)
	defer log.SetOutput(os.Stderr)
	fail := func(context.Context, any, *grpc.UnaryServerInfo, grpc.UnaryHandler) (any, error) {
		st, err := status.New(codes.Internal, "bad \xff").WithDetails(&errdetails.ErrorInfo{Reason: "R"})
		if err != nil {
			return nil, err
		}
		return nil, st.Err()
	}
	f := newFixture(t, []runtime.ServerOption{runtime.UnaryInterceptor(fail)}, 0)
	_, err := f.client.Echo(context.Background(), &testpb.EchoRequest{})
	if st := status.Convert(err); st.Code() != codes.Internal || st.Message() != "bad \ufffd" || len(st.Details()) != 0 {
		t.Errorf("err = %v with details %v, want Internal \"bad \\ufffd\" without details", err, st.Details())
	}
	if !strings.Contains(logged.String(), "status Internal is sent without its details") {
		t.Errorf("the server logged %q, want why the details were dropped", logged.String())
	}
}
