package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"

	spb "google.golang.org/genproto/googleapis/rpc/status"

	"github.com/protoc-gen-go-lambda/protoc-gen-go-lambda/internal/testing/testpb"
	"github.com/protoc-gen-go-lambda/protoc-gen-go-lambda/internal/testing/testserver"
	"github.com/protoc-gen-go-lambda/protoc-gen-go-lambda/runtime/invoke"
)

// These tests run TestService's real bootstrap (internal/testing/testfunction)
// under the emulator and call it through the generated client, ClientConn
// and the real SDK client.

// modes are the two body encodings every behaviour is tried in.
var modes = []struct {
	name string
	opts []invoke.Option
}{
	{"binary", nil},
	{"json", []invoke.Option{invoke.WithJSON()}},
}

// testClient returns a TestService client of the emulator's function.
func testClient(em *emulator, opts ...invoke.Option) testpb.TestServiceLambdaClient {
	return testpb.NewTestServiceLambdaClient(em.conn(opts...))
}

// echoOK makes one Echo call that must succeed: the function is serving.
func echoOK(t *testing.T, c testpb.TestServiceLambdaClient, msg string) {
	t.Helper()
	resp, err := c.Echo(context.Background(), &testpb.EchoRequest{Message: msg})
	if err != nil {
		t.Fatalf("Echo(%q) after the failure: %v; want success", msg, err)
	}
	if resp.GetMessage() != msg {
		t.Fatalf("Echo(%q) after the failure answered %q", msg, resp.GetMessage())
	}
}

func anyOf(t *testing.T, m proto.Message) *anypb.Any {
	t.Helper()
	a, err := anypb.New(m)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// TestStatusCodesMessagesDetails sends every non-OK code, with a message and
// two details, from the handler through the process boundary: the caller
// gets the very same google.rpc.Status, and the details in the trailer as
// grpc-go hands them over (grpc-status-details-bin).
func TestStatusCodesMessagesDetails(t *testing.T) {
	t.Parallel()
	em := startEmulator(t, emulatorConfig{Function: testFunction})
	for _, mode := range modes {
		t.Run(mode.name, func(t *testing.T) {
			c := testClient(em, mode.opts...)
			// The handler gets the details to fail with in the request. In
			// JSON mode the request's google.protobuf.Any values must be of
			// types the function links (protojson resolves them), and
			// errdetails is not linked into the test function; the response's
			// details travel as binary google.rpc.Status in both modes.
			details := []*anypb.Any{
				anyOf(t, &testpb.Pair{Key: "k", Value: []byte{0, 1, 0xff}}),
				anyOf(t, &testpb.ExitRequest{Code: 7}),
			}
			if mode.name == "binary" {
				details = append(details,
					anyOf(t, &errdetails.ErrorInfo{Reason: "QUOTA", Domain: "e2e.example", Metadata: map[string]string{"k": "v"}}),
					anyOf(t, &errdetails.BadRequest{FieldViolations: []*errdetails.BadRequest_FieldViolation{{Field: "a.b", Description: "bad"}}}))
			}
			for code := codes.Canceled; code <= codes.Unauthenticated; code++ {
				msg := "failed: " + code.String() + ` — naïve "quotes" 100% \ ✓`
				var trailer metadata.MD
				_, err := c.Echo(context.Background(), &testpb.EchoRequest{
					Fail: &testpb.Status{Code: int32(code), Message: msg, Details: details},
				}, grpc.Trailer(&trailer))
				want := &spb.Status{Code: int32(code), Message: msg, Details: details}
				if got := status.Convert(err).Proto(); !proto.Equal(got, want) {
					t.Errorf("%v: got status %v, want %v", code, got, want)
				}
				if len(trailer.Get("grpc-status-details-bin")) != 1 {
					t.Errorf("%v: trailer %v lacks grpc-status-details-bin", code, trailer)
				}

				// Without details: code and message only.
				_, err = c.Echo(context.Background(), &testpb.EchoRequest{Fail: &testpb.Status{Code: int32(code), Message: msg}})
				if st := status.Convert(err); st.Code() != code || st.Message() != msg || len(st.Details()) != 0 {
					t.Errorf("%v without details: got %v %q %v", code, st.Code(), st.Message(), st.Details())
				}
			}
		})
	}
}

// TestMetadata sends request metadata (text, repeated and binary values) and
// gets the handler's header (grpc.SetHeader and grpc.SendHeader) and trailer
// back, on success and on failure.
func TestMetadata(t *testing.T) {
	t.Parallel()
	em := startEmulator(t, emulatorConfig{Function: testFunction})
	binValue := string([]byte{0, 1, 2, 0xfe, 0xff})
	for _, mode := range modes {
		t.Run(mode.name, func(t *testing.T) {
			c := testClient(em, mode.opts...)
			ctx := metadata.AppendToOutgoingContext(context.Background(),
				"x-user", "ada", "x-multi", "1", "x-multi", "2", "x-trace-bin", binValue)
			req := &testpb.EchoRequest{
				Message:    "md",
				Header:     []*testpb.Pair{{Key: "x-h", Value: []byte("h1")}, {Key: "x-h-bin", Value: []byte(binValue)}},
				SendHeader: []*testpb.Pair{{Key: "x-sent", Value: []byte("s1")}},
				Trailer:    []*testpb.Pair{{Key: "x-t", Value: []byte("t1")}, {Key: "x-t", Value: []byte("t2")}},
			}
			var header, trailer metadata.MD
			resp, err := c.Echo(ctx, req, grpc.Header(&header), grpc.Trailer(&trailer))
			if err != nil {
				t.Fatal(err)
			}
			incoming := testserver.MD(resp.GetIncoming())
			for k, want := range map[string][]string{"x-user": {"ada"}, "x-multi": {"1", "2"}, "x-trace-bin": {binValue}} {
				if got := incoming.Get(k); !equalStrings(got, want) {
					t.Errorf("the handler got %s=%q, want %q (all: %v)", k, got, want, incoming)
				}
			}
			checkMD(t, "header", header, map[string][]string{"x-h": {"h1"}, "x-h-bin": {binValue}, "x-sent": {"s1"}})
			checkMD(t, "trailer", trailer, map[string][]string{"x-t": {"t1", "t2"}})

			// A failed call still delivers the header and the trailer.
			req.Fail = &testpb.Status{Code: int32(codes.Aborted), Message: "conflict"}
			header, trailer = nil, nil
			_, err = c.Echo(ctx, req, grpc.Header(&header), grpc.Trailer(&trailer))
			if status.Code(err) != codes.Aborted {
				t.Fatalf("got %v, want Aborted", err)
			}
			checkMD(t, "header of a failed call", header, map[string][]string{"x-h": {"h1"}, "x-sent": {"s1"}})
			checkMD(t, "trailer of a failed call", trailer, map[string][]string{"x-t": {"t1", "t2"}})
		})
	}
}

func checkMD(t *testing.T, what string, md metadata.MD, want map[string][]string) {
	t.Helper()
	for k, v := range want {
		if got := md.Get(k); !equalStrings(got, v) {
			t.Errorf("%s: %s=%q, want %q (all: %v)", what, k, got, v, md)
		}
	}
}

func equalStrings(a, b []string) bool {
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

// TestClientDeadline: the caller's deadline travels to the function, which
// gives its handler that deadline; a call that runs past it ends with
// DEADLINE_EXCEEDED at the deadline, and the function serves the next call.
func TestClientDeadline(t *testing.T) {
	t.Parallel()
	em := startEmulator(t, emulatorConfig{Function: testFunction, TimeoutSeconds: 20})
	c := testClient(em)

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	resp, err := c.Echo(ctx, &testpb.EchoRequest{Message: "deadline"})
	cancel()
	if err != nil {
		t.Fatal(err)
	}
	if !resp.GetHasDeadline() || resp.GetDeadlineMs() <= 0 || resp.GetDeadlineMs() > 3000 {
		t.Errorf("the handler saw deadline=%v with %d ms left, want a deadline within the caller's 3 s", resp.GetHasDeadline(), resp.GetDeadlineMs())
	}

	// Without a caller deadline, the handler has Lambda's, less the margin.
	resp, err = c.Echo(context.Background(), &testpb.EchoRequest{Message: "no deadline"})
	if err != nil {
		t.Fatal(err)
	}
	if !resp.GetHasDeadline() || resp.GetDeadlineMs() <= 0 || resp.GetDeadlineMs() > 20000 {
		t.Errorf("the handler saw deadline=%v with %d ms left, want Lambda's 20 s function timeout", resp.GetHasDeadline(), resp.GetDeadlineMs())
	}

	before := em.Requests()
	ctx, cancel = context.WithTimeout(context.Background(), 300*time.Millisecond)
	_, err = c.Sleep(ctx, &testpb.SleepRequest{Millis: 10000})
	cancel()
	if st := status.Convert(err); st.Code() != codes.DeadlineExceeded || st.Message() != "context deadline exceeded" {
		t.Fatalf("Sleep 10 s with a 300 ms deadline: %v; want DeadlineExceeded", err)
	}
	if got := em.Requests() - before; got != 1 {
		t.Errorf("%d invocations for a call past its deadline, want 1", got)
	}
	echoOK(t, c, "after the deadline")

	// A deadline already gone: nothing is sent.
	before = em.Requests()
	ctx, cancel = context.WithTimeout(context.Background(), -time.Second)
	_, err = c.Echo(ctx, &testpb.EchoRequest{})
	cancel()
	if status.Code(err) != codes.DeadlineExceeded || em.Requests() != before {
		t.Errorf("expired deadline: %v after %d requests; want DeadlineExceeded and none", err, em.Requests()-before)
	}
	if em.Inits() != 1 {
		t.Errorf("the function started %d times, want once", em.Inits())
	}
}

// TestHandlerIgnoresContextPastFunctionTimeout: a handler that ignores its
// context and sleeps past AWS_LAMBDA_FUNCTION_TIMEOUT. The runtime answers
// DEADLINE_EXCEEDED itself, DeadlineMargin before Lambda's deadline, so the
// process lives on: the call is not retried, the function is not restarted,
// and the next call succeeds. The margin is a whole second here, so that no
// scheduling delay on a loaded machine lets Lambda's own timeout come first
// (TestLambdaFunctionTimeout covers that outcome, on demand).
func TestHandlerIgnoresContextPastFunctionTimeout(t *testing.T) {
	t.Parallel()
	em := startEmulator(t, emulatorConfig{Function: testFunction, TimeoutSeconds: 3, Env: []string{"LAMBDATEST_DEADLINE_MARGIN=1s"}})
	c := testClient(em)
	echoOK(t, c, "warm")
	_, err := c.Sleep(context.Background(), &testpb.SleepRequest{Millis: 8000, IgnoreContext: true})
	if st := status.Convert(err); st.Code() != codes.DeadlineExceeded || st.Message() != "context deadline exceeded" {
		t.Fatalf("got %v %q, want DeadlineExceeded \"context deadline exceeded\" from the runtime", st.Code(), st.Message())
	}
	echoOK(t, c, "after the timeout")
	if em.Inits() != 1 {
		t.Errorf("the function started %d times, want once: the runtime answered, Lambda did not end the invocation", em.Inits())
	}
	if em.Requests() != 3 {
		t.Errorf("%d requests, want 3: no call is retried", em.Requests())
	}
}

// TestLambdaFunctionTimeout: when the runtime cannot answer in time (here the
// test function serves with Lambda's deadline stripped from the context),
// Lambda ends the invocation itself. The emulator reports that as a plain
// text 200 ("Task timed out after 1.00 seconds"), real Lambda as an
// Unhandled Sandbox.Timedout function error; the caller gets
// DEADLINE_EXCEEDED either way, the call is not retried, and the next call
// succeeds in a fresh process.
func TestLambdaFunctionTimeout(t *testing.T) {
	t.Parallel()
	em := startEmulator(t, emulatorConfig{Function: testFunction, TimeoutSeconds: 1, Env: []string{"LAMBDATEST_IGNORE_LAMBDA_DEADLINE=1"}})
	c := testClient(em)
	_, err := c.Sleep(context.Background(), &testpb.SleepRequest{Millis: 8000, IgnoreContext: true})
	st := status.Convert(err)
	if st.Code() != codes.DeadlineExceeded || !strings.Contains(st.Message(), "Task timed out after 1.00 seconds") {
		t.Fatalf("got %v %q, want DeadlineExceeded reporting Lambda's timeout", st.Code(), st.Message())
	}
	if em.Requests() != 1 {
		t.Errorf("%d invocations, want 1: an invocation that ran is not retried", em.Requests())
	}
	echoOK(t, c, "after the timeout")
	if em.Inits() != 2 {
		t.Errorf("the function started %d times, want twice (Lambda restarts it after a timeout)", em.Inits())
	}
}

// TestPanicKeepsServing: a handler panic becomes INTERNAL with the panic's
// value, and the same process serves the next call.
func TestPanicKeepsServing(t *testing.T) {
	t.Parallel()
	em := startEmulator(t, emulatorConfig{Function: testFunction})
	for _, mode := range modes {
		t.Run(mode.name, func(t *testing.T) {
			c := testClient(em, mode.opts...)
			_, err := c.Panic(context.Background(), &testpb.EchoRequest{Message: "boom"})
			if st := status.Convert(err); st.Code() != codes.Internal || st.Message() != "panic in handler: boom" {
				t.Fatalf("got %v %q, want Internal %q", st.Code(), st.Message(), "panic in handler: boom")
			}
			echoOK(t, c, "after the panic")
		})
	}
	if em.Inits() != 1 {
		t.Errorf("the function started %d times, want once: a panic must not end the process", em.Inits())
	}
	if !strings.Contains(em.Log(), "panic in handler for /lambdatest.v1.TestService/Panic: boom") {
		t.Error("the function's log lacks the panic and its stack")
	}
}

// TestProcessExitMidCall: the function's process exits during a call. The
// caller gets UNAVAILABLE naming Runtime.ExitError and the exit status, as
// from real Lambda, although the emulator reports it as HTTP 502 (which the
// SDK's default retryer would have sent three times); the call is not
// retried, and the next call succeeds in a new process.
func TestProcessExitMidCall(t *testing.T) {
	t.Parallel()
	em := startEmulator(t, emulatorConfig{Function: testFunction})
	c := testClient(em)
	for i, exitCode := range []int32{3, 0} {
		before := em.Requests()
		_, err := c.Exit(context.Background(), &testpb.ExitRequest{Code: exitCode})
		st := status.Convert(err)
		if st.Code() != codes.Unavailable || !strings.Contains(st.Message(), "Runtime.ExitError") {
			t.Fatalf("exit(%d): got %v %q, want Unavailable naming Runtime.ExitError", exitCode, st.Code(), st.Message())
		}
		if exitCode != 0 && !strings.Contains(st.Message(), "exit status 3") {
			t.Errorf("exit(%d): the message %q does not give the exit status", exitCode, st.Message())
		}
		if got := em.Requests() - before; got != 1 {
			t.Errorf("exit(%d): %d invocations, want 1: a call that may have run is not retried", exitCode, got)
		}
		echoOK(t, c, "after the exit")
		if em.Inits() != i+2 {
			t.Errorf("the function started %d times, want %d", em.Inits(), i+2)
		}
	}
}

// TestRefusedConnectionIsRetried: with no one listening, no invocation can
// have run, so any method is retried (RetryPolicy.MaxAttempts in all) before
// the caller gets UNAVAILABLE.
func TestRefusedConnectionIsRetried(t *testing.T) {
	t.Parallel()
	em := startEmulator(t, emulatorConfig{Function: testFunction})
	em.Stop()
	c := testClient(em)
	_, err := c.Echo(context.Background(), &testpb.EchoRequest{Message: "nobody home"})
	if status.Code(err) != codes.Unavailable {
		t.Fatalf("got %v, want Unavailable", err)
	}
	if em.Requests() != int64(fastRetries.MaxAttempts) {
		t.Errorf("%d attempts, want %d", em.Requests(), fastRetries.MaxAttempts)
	}
}
