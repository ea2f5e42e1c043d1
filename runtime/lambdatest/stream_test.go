package lambdatest_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/aws/aws-sdk-go-v2/aws"
	awslambda "github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/smithy-go"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/protoc-gen-go-lambda/protoc-gen-go-lambda/internal/testing/testpb"
	"github.com/protoc-gen-go-lambda/protoc-gen-go-lambda/runtime/internal/wire"
	"github.com/protoc-gen-go-lambda/protoc-gen-go-lambda/runtime/invoke"
	"github.com/protoc-gen-go-lambda/protoc-gen-go-lambda/runtime/lambdatest"
)

// streamFunc is a function that streams its answer (a StreamHandler); its
// Invoke, for plain invocations, is not used by these tests.
type streamFunc func(ctx context.Context, payload json.RawMessage) (io.Reader, error)

func (f streamFunc) InvokeStream(ctx context.Context, payload json.RawMessage) (io.Reader, error) {
	return f(ctx, payload)
}

func (f streamFunc) Invoke(ctx context.Context, payload []byte) ([]byte, error) {
	r, err := f(ctx, payload)
	if err != nil {
		return nil, err
	}
	return io.ReadAll(r)
}

// event is one event of a response stream, as text.
func event(ev types.InvokeWithResponseStreamResponseEvent) string {
	switch ev := ev.(type) {
	case *types.InvokeWithResponseStreamResponseEventMemberPayloadChunk:
		return "chunk " + string(ev.Value.Payload)
	case *types.InvokeWithResponseStreamResponseEventMemberInvokeComplete:
		if ev.Value.ErrorCode == nil {
			return "complete"
		}
		return fmt.Sprintf("complete %s %s", aws.ToString(ev.Value.ErrorCode), aws.ToString(ev.Value.ErrorDetails))
	}
	return fmt.Sprintf("%T", ev)
}

// readEvents reads a response stream to its end.
func readEvents(t *testing.T, out *awslambda.InvokeWithResponseStreamOutput) []string {
	t.Helper()
	stream := out.GetStream()
	defer stream.Close()
	var got []string
	for ev := range stream.Events() {
		got = append(got, event(ev))
	}
	if err := stream.Err(); err != nil {
		t.Errorf("stream error: %v", err)
	}
	return got
}

func invokeStream(t *testing.T, inv *lambdatest.Invoker, ctx context.Context, payload string) *awslambda.InvokeWithResponseStreamOutput {
	t.Helper()
	out, err := inv.InvokeWithResponseStream(ctx, &awslambda.InvokeWithResponseStreamInput{FunctionName: aws.String("f"), Payload: []byte(payload)})
	if err != nil {
		t.Fatal(err)
	}
	if out.StatusCode != 200 || aws.ToString(out.ExecutedVersion) != "$LATEST" {
		t.Errorf("output: status %d, version %q", out.StatusCode, aws.ToString(out.ExecutedVersion))
	}
	return out
}

// closeReader is a reader that records its Close. Its fields are not
// exported: aws-lambda-go (and so the Invoker) answers a reader that
// marshals to JSON other than {} with that JSON.
type closeReader struct {
	r      io.Reader
	closed chan struct{}
}

func (r *closeReader) Read(p []byte) (int, error) { return r.r.Read(p) }

func (r *closeReader) Close() error {
	close(r.closed)
	return nil
}

// TestStreamChunksAsTheyCome: each Read of the handler's reader leaves as
// a PayloadChunk when it returns, not at the end (the handler writes its
// second piece only after the caller has received the first), then
// InvokeComplete; the reader is closed after the end. The handler gets a
// fresh context with the function timeout and the Lambda context, and the
// payload as a json.RawMessage.
func TestStreamChunksAsTheyCome(t *testing.T) {
	received := make(chan struct{})
	var gotCtx context.Context
	var gotPayload json.RawMessage
	reader := &closeReader{closed: make(chan struct{})}
	inv := lambdatest.NewInvoker(streamFunc(func(ctx context.Context, payload json.RawMessage) (io.Reader, error) {
		gotCtx, gotPayload = ctx, payload
		pr, pw := io.Pipe()
		go func() {
			pw.Write([]byte("one"))
			<-received
			pw.Write([]byte("two"))
			pw.Close()
		}()
		reader.r = pr
		return reader, nil
	}), lambdatest.WithFunctionTimeout(7*time.Second))
	defer inv.Close()
	caller, cancel := context.WithTimeout(context.WithValue(context.Background(), ctxKey{}, "caller"), time.Hour)
	defer cancel()
	out := invokeStream(t, inv, caller, `{"v":1}`)
	stream := out.GetStream()
	defer stream.Close()
	var got []string
	for ev := range stream.Events() {
		got = append(got, event(ev))
		if len(got) == 1 {
			close(received)
		}
	}
	if want := []string{"chunk one", "chunk two", "complete"}; !slices.Equal(got, want) {
		t.Errorf("events %q, want %q", got, want)
	}
	<-reader.closed
	if d, ok := gotCtx.Deadline(); !ok || time.Until(d) > 7*time.Second {
		t.Errorf("handler deadline %v (set %v), want the 7 s function timeout", time.Until(d), ok)
	}
	if gotCtx.Value(ctxKey{}) != nil {
		t.Error("a value of the caller's context reached the handler")
	}
	if lc, ok := lambdacontext.FromContext(gotCtx); !ok || !strings.HasPrefix(lc.AwsRequestID, "lambdatest-") || !strings.HasSuffix(lc.InvokedFunctionArn, ":function:f") {
		t.Errorf("lambdacontext = %+v, %v", lc, ok)
	}
	if string(gotPayload) != `{"v":1}` {
		t.Errorf("payload %q", gotPayload)
	}
	if inv.Invocations() != 1 {
		t.Errorf("%d invocations", inv.Invocations())
	}
}

// TestStreamCallerGoneFunctionRunsOn: the caller closes the stream after
// the first chunk; the function is not told (its context stays live), and
// what it streams after is read and discarded, so its writes do not block;
// its reader is closed at its end.
func TestStreamCallerGoneFunctionRunsOn(t *testing.T) {
	for _, how := range []string{"close", "cancel"} {
		t.Run(how, func(t *testing.T) {
			gone := make(chan struct{})
			handlerDone := make(chan error, 1)
			reader := &closeReader{closed: make(chan struct{})}
			inv := lambdatest.NewInvoker(streamFunc(func(ctx context.Context, payload json.RawMessage) (io.Reader, error) {
				pr, pw := io.Pipe()
				go func() {
					pw.Write([]byte("first"))
					<-gone
					for range 100 {
						if _, err := pw.Write(make([]byte, 1000)); err != nil {
							handlerDone <- err
							return
						}
					}
					pw.Close()
					handlerDone <- ctx.Err()
				}()
				reader.r = pr
				return reader, nil
			}))
			defer inv.Close()
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			out := invokeStream(t, inv, ctx, `{}`)
			stream := out.GetStream()
			if ev := <-stream.Events(); event(ev) != "chunk first" {
				t.Fatalf("first event %s", event(ev))
			}
			if how == "close" {
				stream.Close()
			} else {
				cancel()
			}
			close(gone)
			if err := <-handlerDone; err != nil {
				t.Errorf("the function saw %v after its caller went", err)
			}
			<-reader.closed
			for range stream.Events() {
				// Whatever was in flight; the channel ends.
			}
		})
	}
}

// TestStreamFunctionTimeout: a function still streaming at its timeout:
// what it sent, then InvokeComplete Sandbox.Timedout. Before the handler
// returned: the same error, no chunk.
func TestStreamFunctionTimeout(t *testing.T) {
	t.Run("while streaming", func(t *testing.T) {
		inv := lambdatest.NewInvoker(streamFunc(func(ctx context.Context, payload json.RawMessage) (io.Reader, error) {
			pr, pw := io.Pipe()
			go func() {
				pw.Write([]byte("partial"))
				<-ctx.Done()
				pw.Close()
			}()
			return pr, nil
		}), lambdatest.WithFunctionTimeout(50*time.Millisecond))
		defer inv.Close()
		got := readEvents(t, invokeStream(t, inv, context.Background(), `{}`))
		if want := []string{"chunk partial", "complete Sandbox.Timedout Task timed out after 0.05 seconds"}; !slices.Equal(got, want) {
			t.Errorf("events %q, want %q", got, want)
		}
	})
	t.Run("before the answer", func(t *testing.T) {
		release := make(chan struct{})
		inv := lambdatest.NewInvoker(streamFunc(func(ctx context.Context, payload json.RawMessage) (io.Reader, error) {
			<-release
			return strings.NewReader("late"), nil
		}), lambdatest.WithFunctionTimeout(50*time.Millisecond))
		defer inv.Close()
		got := readEvents(t, invokeStream(t, inv, context.Background(), `{}`))
		close(release)
		if want := []string{"complete Sandbox.Timedout Task timed out after 0.05 seconds"}; !slices.Equal(got, want) {
			t.Errorf("events %q, want %q", got, want)
		}
	})
}

type readError struct{}

func (readError) Error() string { return "disk on fire" }

// failingReader returns some bytes, then an error.
type failingReader struct{ n int }

func (r *failingReader) Read(p []byte) (int, error) {
	if r.n == 0 {
		r.n++
		return copy(p, "some"), nil
	}
	return 0, readError{}
}

// TestStreamFunctionErrors: the handler's error, a Read's error, a payload
// that is not JSON: InvokeComplete "Unhandled" with aws-lambda-go's error
// document.
func TestStreamFunctionErrors(t *testing.T) {
	for _, tc := range []struct {
		name    string
		h       streamFunc
		payload string
		want    []string
	}{
		{"handler error", func(context.Context, json.RawMessage) (io.Reader, error) { return nil, errors.New("boom") }, `{}`,
			[]string{`complete Unhandled {"errorMessage":"boom","errorType":"errorString"}`}},
		{"read error", func(context.Context, json.RawMessage) (io.Reader, error) { return &failingReader{}, nil }, `{}`,
			[]string{"chunk some", `complete Unhandled {"errorMessage":"disk on fire","errorType":"readError"}`}},
		{"not JSON", func(context.Context, json.RawMessage) (io.Reader, error) { return strings.NewReader("never"), nil }, `not json`,
			[]string{`complete Unhandled {"errorMessage":"invalid character 'o' in literal null (expecting 'u')","errorType":"SyntaxError"}`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			inv := lambdatest.NewInvoker(tc.h)
			defer inv.Close()
			if got := readEvents(t, invokeStream(t, inv, context.Background(), tc.payload)); !slices.Equal(got, tc.want) {
				t.Errorf("events %q, want %q", got, tc.want)
			}
		})
	}
}

// jsonReader is a reader with an exported field: aws-lambda-go answers it
// as its JSON, not its bytes.
type jsonReader struct {
	*strings.Reader
	Name string
}

// TestStreamBufferedAnswers: a handler that does not stream (a plain
// lambda.Handler) answers in one chunk; a streamed reader that marshals to
// JSON is answered as that JSON, as aws-lambda-go does.
func TestStreamBufferedAnswers(t *testing.T) {
	inv := lambdatest.NewInvoker(handlerFunc(func(ctx context.Context, p []byte) ([]byte, error) {
		return []byte("whole answer"), nil
	}))
	defer inv.Close()
	if got, want := readEvents(t, invokeStream(t, inv, context.Background(), `{}`)), []string{"chunk whole answer", "complete"}; !slices.Equal(got, want) {
		t.Errorf("plain handler: events %q, want %q", got, want)
	}

	inv = lambdatest.NewInvoker(streamFunc(func(context.Context, json.RawMessage) (io.Reader, error) {
		return jsonReader{strings.NewReader("bytes"), "json"}, nil
	}))
	defer inv.Close()
	if got, want := readEvents(t, invokeStream(t, inv, context.Background(), `{}`)), []string{`chunk {"Name":"json"}`, "complete"}; !slices.Equal(got, want) {
		t.Errorf("JSON reader: events %q, want %q", got, want)
	}
}

// TestStreamLimits: a request over 6 MB is refused with Lambda's API
// error; a second invocation beyond WithMaxConcurrency waits for a slot,
// which the first holds until its stream has ended.
func TestStreamLimits(t *testing.T) {
	inv := lambdatest.NewInvoker(streamFunc(func(context.Context, json.RawMessage) (io.Reader, error) {
		return strings.NewReader("x"), nil
	}))
	defer inv.Close()
	_, err := inv.InvokeWithResponseStream(context.Background(), &awslambda.InvokeWithResponseStreamInput{FunctionName: aws.String("f"), Payload: make([]byte, lambdatest.MaxPayloadSize+1)})
	var apiErr smithy.APIError
	if !errors.As(err, &apiErr) || apiErr.ErrorCode() != "RequestTooLargeException" {
		t.Errorf("oversized request: %v, want RequestTooLargeException", err)
	}
	if inv.Invocations() != 0 {
		t.Errorf("%d invocations", inv.Invocations())
	}

	release := make(chan struct{})
	inv = lambdatest.NewInvoker(streamFunc(func(context.Context, json.RawMessage) (io.Reader, error) {
		pr, pw := io.Pipe()
		go func() {
			pw.Write([]byte("held"))
			<-release
			pw.Close()
		}()
		return pr, nil
	}), lambdatest.WithMaxConcurrency(1))
	defer inv.Close()
	first := invokeStream(t, inv, context.Background(), `{}`)
	if ev := <-first.GetStream().Events(); event(ev) != "chunk held" {
		t.Fatalf("first: %s", event(ev))
	}
	ctx, cancel := context.WithCancel(context.Background())
	second := make(chan error, 1)
	go func() {
		_, err := inv.InvokeWithResponseStream(ctx, &awslambda.InvokeWithResponseStreamInput{FunctionName: aws.String("f"), Payload: []byte(`{}`)})
		second <- err
	}()
	cancel()
	if err := <-second; !errors.Is(err, context.Canceled) {
		t.Errorf("second invocation: %v, want it to wait for a slot until canceled", err)
	}
	close(release)
	if got := readEvents(t, first); !slices.Equal(got, []string{"complete"}) {
		t.Errorf("first, after release: %q", got)
	}
	if got := readEvents(t, invokeStream(t, inv, context.Background(), `{}`)); len(got) != 2 {
		t.Errorf("third: %q", got)
	}
	if inv.Invocations() != 2 {
		t.Errorf("%d invocations, want 2", inv.Invocations())
	}
}

// frameFunc answers a server-streaming call with hand-written frames:
// a header, one message per word of the request, then OK with a trailer;
// the words are sent as they are produced. Its reader ends when the
// handler's context does.
func frameFunc(t *testing.T, wait <-chan struct{}) streamFunc {
	return func(ctx context.Context, payload json.RawMessage) (io.Reader, error) {
		var req wire.Request
		if err := wire.ParseRequest(payload, &req); err != nil {
			return nil, err
		}
		var in testpb.EchoRequest
		if err := req.Unmarshal(&in, 1<<20); err != nil {
			return nil, err
		}
		pr, pw := io.Pipe()
		go func() {
			pw.Write(wire.AppendHeaderFrame(nil, metadata.Pairs("x-words", fmt.Sprint(len(strings.Fields(in.GetMessage()))))))
			for i, w := range strings.Fields(in.GetMessage()) {
				if i == 1 && wait != nil {
					<-wait
				}
				b, _ := proto.Marshal(&testpb.EchoResponse{Message: w})
				if _, err := pw.Write(append(wire.AppendFramePrefix(nil, wire.FrameMessage, len(b)), b...)); err != nil {
					t.Errorf("the function's write failed: %v", err)
				}
			}
			pw.Write(wire.AppendEndFrame(nil, 0, "", nil, nil, metadata.Pairs("x-done", "yes")))
			pw.Close()
		}()
		return pr, nil
	}
}

// TestStreamThroughClient: the generated client's server-streaming method
// over an invoke.ClientConn on the Invoker: the messages as the function
// produces them (the second only after the caller has received the
// first), the header and the trailer; a caller that cancels mid-stream
// gets CANCELLED at once while the function runs on to its end.
func TestStreamThroughClient(t *testing.T) {
	wait := make(chan struct{})
	inv := lambdatest.NewInvoker(frameFunc(t, wait))
	defer inv.Close()
	c := testpb.NewTestServiceLambdaClient(invoke.NewClientConn(inv, "f"))
	stream, err := c.Stream(context.Background(), &testpb.EchoRequest{Message: "a b c"})
	if err != nil {
		t.Fatal(err)
	}
	if md, err := stream.Header(); err != nil || !slices.Equal(md["x-words"], []string{"3"}) {
		t.Errorf("Header() = %v, %v", md, err)
	}
	var got []string
	for {
		m, err := stream.Recv()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, m.GetMessage())
		if len(got) == 1 {
			close(wait)
		}
	}
	if !slices.Equal(got, []string{"a", "b", "c"}) || !slices.Equal(stream.Trailer()["x-done"], []string{"yes"}) {
		t.Errorf("got %q, trailer %v", got, stream.Trailer())
	}

	wait = make(chan struct{})
	var once sync.Once
	inv2 := lambdatest.NewInvoker(frameFunc(t, wait))
	defer inv2.Close()
	ctx, cancel := context.WithCancel(context.Background())
	stream, err = testpb.NewTestServiceLambdaClient(invoke.NewClientConn(inv2, "f")).Stream(ctx, &testpb.EchoRequest{Message: "a b c"})
	if err != nil {
		t.Fatal(err)
	}
	if m, err := stream.Recv(); err != nil || m.GetMessage() != "a" {
		t.Fatalf("Recv: %v, %v", m, err)
	}
	recvd := make(chan error, 1)
	go func() {
		_, err := stream.Recv()
		recvd <- err
	}()
	cancel()
	if st := status.Convert(<-recvd); st.Code() != codes.Canceled || st.Message() != "context canceled" {
		t.Errorf("after cancel: %v %q", st.Code(), st.Message())
	}
	once.Do(func() { close(wait) })
	// The function runs on: Close waits for it, and its writes succeed
	// (frameFunc reports a failed one).
	inv2.Close()
}
