package runtime_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	awslambda "github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/protoc-gen-go-lambda/protoc-gen-go-lambda/runtime/invoke"
	"github.com/protoc-gen-go-lambda/protoc-gen-go-lambda/runtime/lambdatest"
	"google.golang.org/grpc/status"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/protoc-gen-go-lambda/protoc-gen-go-lambda/internal/testing/testpb"
	"github.com/protoc-gen-go-lambda/protoc-gen-go-lambda/internal/testing/testserver"
	"github.com/protoc-gen-go-lambda/protoc-gen-go-lambda/runtime"
	"github.com/protoc-gen-go-lambda/protoc-gen-go-lambda/runtime/internal/wire"
)

const streamPath = "/lambdatest.v1.TestService/Stream"

// streamAnswer is a server-streaming call's answer, read frame by frame.
type streamAnswer struct {
	header   metadata.MD
	sawHead  bool
	messages []*testpb.EchoResponse
	end      *wire.Response
}

// readStream reads frames from r until the end frame.
func readStream(t *testing.T, r io.Reader) *streamAnswer {
	t.Helper()
	a := &streamAnswer{}
	for {
		flags, data, err := wire.ReadFrame(r, nil, 1<<30)
		if err != nil {
			t.Fatalf("reading the stream: %v (so far %+v)", err, a)
		}
		switch flags {
		case wire.FrameHeader:
			if a.sawHead || len(a.messages) > 0 {
				t.Fatal("a second or late header frame")
			}
			a.sawHead = true
			if a.header, err = wire.ParseHeaderFrame(data); err != nil {
				t.Fatal(err)
			}
		case wire.FrameMessage:
			m := new(testpb.EchoResponse)
			if err := proto.Unmarshal(data, m); err != nil {
				t.Fatal(err)
			}
			a.messages = append(a.messages, m)
		case wire.FrameEnd:
			if a.end, err = wire.ParseResponse(data); err != nil {
				t.Fatal(err)
			}
			return a
		default:
			t.Fatalf("unknown frame %#x", flags)
		}
	}
}

func streamRequest(t *testing.T, req *testpb.EchoRequest, timeout time.Duration) []byte {
	t.Helper()
	b, err := proto.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	return wire.AppendRequest(nil, streamPath, timeout, metadata.MD{"x-in": {"1"}}, b, false)
}

func TestStreamEnvelopeBufferedAndStreamed(t *testing.T) {
	detail, _ := anypb.New(durationpb.New(time.Second))
	req := &testpb.EchoRequest{
		Message: "m", Count: 3,
		Header:  []*testpb.Pair{{Key: "h", Value: []byte("hv")}},
		Trailer: []*testpb.Pair{{Key: "t", Value: []byte("tv")}},
		Fail:    &testpb.Status{Code: int32(codes.Aborted), Message: "after three", Details: []*anypb.Any{detail}},
	}
	srv := testpb.NewTestServiceLambdaHandler(&testserver.Server{})
	buffered, _ := srv.Invoke(context.Background(), streamRequest(t, req, 0))
	reader, err := srv.InvokeStream(context.Background(), streamRequest(t, req, 0))
	if err != nil {
		t.Fatal(err)
	}
	streamed, err := io.ReadAll(reader)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(buffered, streamed) {
		t.Errorf("Invoke and InvokeStream answer differently:\n%q\n%q", buffered, streamed)
	}
	a := readStream(t, bytes.NewReader(buffered))
	if !a.sawHead || a.header["h"][0] != "hv" || len(a.messages) != 3 || a.messages[2].GetMessage() != "m 2" {
		t.Errorf("header %v (frame %v), messages %v", a.header, a.sawHead, a.messages)
	}
	if a.end.Code != int64(codes.Aborted) || a.end.Message != "after three" || a.end.Trailer["t"][0] != "tv" || len(a.end.Details) == 0 || len(a.end.Header) != 0 {
		t.Errorf("end %+v", a.end)
	}
}

// TestStreamFirstMessageLeavesBeforeHandlerEnds: under InvokeStream the
// handler's first message can be read while the handler is still running;
// the handler waits, after its first send, until the test has read it.
func TestStreamFirstMessageLeavesBeforeHandlerEnds(t *testing.T) {
	read, ended := make(chan struct{}), make(chan struct{})
	srv := runtime.NewServer()
	srv.RegisterService(&grpc.ServiceDesc{
		ServiceName: "lambdatest.v1.TestService",
		HandlerType: (*any)(nil),
		Streams: []grpc.StreamDesc{{StreamName: "Stream", ServerStreams: true, Handler: func(_ any, ss grpc.ServerStream) error {
			defer close(ended)
			in := new(testpb.EchoRequest)
			if err := ss.RecvMsg(in); err != nil {
				return err
			}
			if err := ss.SendMsg(&testpb.EchoResponse{Message: "first"}); err != nil {
				return err
			}
			select {
			case <-read:
			case <-ss.Context().Done():
				return ss.Context().Err()
			}
			return ss.SendMsg(&testpb.EchoResponse{Message: "second"})
		}}},
	}, struct{}{})
	reader, _ := srv.InvokeStream(context.Background(), streamRequest(t, &testpb.EchoRequest{}, 10*time.Second))
	got := make(chan string, 1)
	go func() {
		for {
			flags, data, err := wire.ReadFrame(reader, nil, 1<<20)
			if err != nil {
				got <- "error: " + err.Error()
				return
			}
			if flags == wire.FrameMessage {
				m := new(testpb.EchoResponse)
				_ = proto.Unmarshal(data, m)
				select {
				case <-ended:
					got <- "the first message came after the handler ended"
				default:
					got <- m.GetMessage()
				}
				return
			}
		}
	}()
	// The handler cannot end before read is closed but at its 10 s
	// deadline: a buffered answer would only come after that.
	if m := <-got; m != "first" {
		t.Fatalf("first read %q, want the first message while the handler runs", m)
	}
	close(read)
	a := readStream(t, reader)
	if len(a.messages) != 1 || a.messages[0].GetMessage() != "second" || a.end.Code != 0 {
		t.Errorf("rest of the stream: %v, end %+v", a.messages, a.end)
	}
}

func TestStreamDeadlineMidStream(t *testing.T) {
	srv := testpb.NewTestServiceLambdaHandler(&testserver.Server{})
	out, _ := srv.Invoke(context.Background(), streamRequest(t, &testpb.EchoRequest{Count: 1000, IntervalMillis: 20, Trailer: []*testpb.Pair{{Key: "t", Value: []byte("v")}}}, 300*time.Millisecond))
	a := readStream(t, bytes.NewReader(out))
	if a.end.Code != int64(codes.DeadlineExceeded) || len(a.messages) == 0 || len(a.messages) >= 1000 || len(a.end.Trailer) != 0 {
		t.Errorf("%d messages, end %+v; want some, then DEADLINE_EXCEEDED without the trailer", len(a.messages), a.end)
	}
}

func TestStreamBufferedOverLimit(t *testing.T) {
	srv := testpb.NewTestServiceLambdaHandler(&testserver.Server{})
	out, _ := srv.Invoke(context.Background(), streamRequest(t, &testpb.EchoRequest{Count: 10, ResponseSize: 1 << 20}, 0))
	if len(out) > runtime.MaxPayloadSize {
		t.Fatalf("buffered answer of %d bytes", len(out))
	}
	a := readStream(t, bytes.NewReader(out))
	if a.end.Code != int64(codes.ResourceExhausted) || !strings.Contains(a.end.Message, "InvokeStream") || len(a.messages) == 0 {
		t.Errorf("%d messages, end %+v", len(a.messages), a.end)
	}
	// Streamed, there is no such limit.
	r, _ := srv.InvokeStream(context.Background(), streamRequest(t, &testpb.EchoRequest{Count: 10, ResponseSize: 1 << 20}, 0))
	if a := readStream(t, r); a.end.Code != 0 || len(a.messages) != 10 {
		t.Errorf("streamed: %d messages, end %+v", len(a.messages), a.end)
	}
}

func TestStreamRefusalsAreEnvelopes(t *testing.T) {
	srv := testpb.NewTestServiceLambdaHandler(&testserver.Server{})
	for _, method := range []string{"/lambdatest.v1.TestService/Collect", "/lambdatest.v1.TestService/Nope"} {
		r, _ := srv.InvokeStream(context.Background(), wire.AppendRequest(nil, method, 0, nil, nil, false))
		out, _ := io.ReadAll(r)
		env, err := wire.ParseResponse(out)
		if err != nil || env.Code != int64(codes.Unimplemented) {
			t.Errorf("%s: %q %v", method, out, err)
		}
	}
}

// TestStreamThroughAWSLambdaGo: aws-lambda-go, given srv.InvokeStream, sends
// the reader's bytes (it would JSON-encode another result).
func TestStreamThroughAWSLambdaGo(t *testing.T) {
	srv := testpb.NewTestServiceLambdaHandler(&testserver.Server{})
	h := lambda.NewHandler(srv.InvokeStream)
	out, err := h.Invoke(context.Background(), streamRequest(t, &testpb.EchoRequest{Count: 2}, 0))
	if err != nil {
		t.Fatal(err)
	}
	if a := readStream(t, bytes.NewReader(out)); len(a.messages) != 2 || a.end.Code != 0 {
		t.Errorf("through aws-lambda-go: %q", out)
	}
	// A unary call's answer is the envelope Invoke gives.
	b, _ := proto.Marshal(&testpb.EchoRequest{Message: "u"})
	payload := wire.AppendRequest(nil, "/lambdatest.v1.TestService/Echo", 0, nil, b, false)
	out, err = h.Invoke(context.Background(), payload)
	want, _ := srv.Invoke(context.Background(), payload)
	if err != nil || !json.Valid(out) || !bytes.Equal(out, want) {
		t.Errorf("unary through aws-lambda-go: %q, %v; want %q", out, err, want)
	}
}

// TestStreamHTTPStreamed: under InvokeStream a Function URL event gets
// Lambda's streamed HTTP answer, a load balancer's the JSON one.
func TestStreamHTTPStreamed(t *testing.T) {
	srv := testpb.NewTestServiceLambdaHandler(&testserver.Server{})
	msg, _ := proto.Marshal(&testpb.EchoRequest{Message: "m", Count: 2})
	body := append([]byte{0, 0, 0, 0, byte(len(msg))}, msg...)
	ev := map[string]any{
		"version": "2.0", "rawPath": streamPath, "headers": map[string]string{"content-type": "application/connect+proto"},
		"requestContext": map[string]any{"http": map[string]any{"method": "POST", "path": streamPath}},
		"body":           string(body), "isBase64Encoded": false,
	}
	payload, _ := json.Marshal(ev)
	r, _ := srv.InvokeStream(context.Background(), payload)
	if ct, _ := r.(interface{ ContentType() string }); ct == nil || ct.ContentType() != "application/vnd.awslambda.http-integration-response" {
		t.Fatalf("content type %v", ct)
	}
	out, _ := io.ReadAll(r)
	i := bytes.Index(out, make([]byte, 8))
	if i < 0 {
		t.Fatalf("no prelude: %q", out)
	}
	var prelude struct {
		StatusCode int
		Headers    map[string]string
	}
	if err := json.Unmarshal(out[:i], &prelude); err != nil || prelude.StatusCode != 200 || prelude.Headers["content-type"] != "application/connect+proto" {
		t.Fatalf("prelude %q: %v", out[:i], err)
	}
	frames := out[i+8:]
	n := 0
	for len(frames) >= 5 && frames[0] == 0 {
		frames = frames[5+int(frames[4])|int(frames[3])<<8:]
		n++
	}
	if n != 2 || len(frames) < 5 || frames[0] != 2 || string(frames[5:]) != "{}" {
		t.Errorf("%d messages then %q", n, frames)
	}
}

// TestStreamHeaderLeavesWithFirstMessage: a header that goes out because
// the first message does leaves in the same write (one chunk of the
// streamed response), while one sent with SendHeader leaves on its own.
func TestStreamHeaderLeavesWithFirstMessage(t *testing.T) {
	srv := testpb.NewTestServiceLambdaHandler(&testserver.Server{})
	firstRead := func(req *testpb.EchoRequest) (flags []byte) {
		r, _ := srv.InvokeStream(context.Background(), streamRequest(t, req, 10*time.Second))
		buf := make([]byte, 1<<16)
		n, err := r.Read(buf)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, r)
		b := bytes.NewReader(buf[:n])
		for b.Len() > 0 {
			f, _, err := wire.ReadFrame(b, nil, 1<<20)
			if err != nil {
				t.Fatalf("the first read ends inside a frame: %v", err)
			}
			flags = append(flags, f)
		}
		return flags
	}
	set := &testpb.EchoRequest{Count: 2, Header: []*testpb.Pair{{Key: "h", Value: []byte("1")}}}
	if got := firstRead(set); !bytes.Equal(got, []byte{wire.FrameHeader, wire.FrameMessage}) {
		t.Errorf("header set, then a message: the first read has frames %x, want header and message", got)
	}
	sent := &testpb.EchoRequest{Count: 2, SendHeader: []*testpb.Pair{{Key: "h", Value: []byte("1")}}}
	if got := firstRead(sent); !bytes.Equal(got, []byte{wire.FrameHeader}) {
		t.Errorf("SendHeader: the first read has frames %x, want the header alone", got)
	}
}

// TestConcurrentStreamsKeepTheirOwnMessages runs many server-streaming
// calls at once through the Lambda-faithful double (several invocations at
// a time, as with AWS_LAMBDA_MAX_CONCURRENCY; the payload buffer reused by
// the next invocation on the buffered path), streamed and buffered, a
// quarter of them with a deadline that passes mid-stream: each caller gets
// its own messages only. Run under -race by scripts/test.
func TestConcurrentStreamsKeepTheirOwnMessages(t *testing.T) {
	srv := testpb.NewTestServiceLambdaHandler(&testserver.Server{},
		runtime.ChainStreamInterceptor(func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
			return handler(srv, ss)
		}))
	inv := lambdatest.NewInvoker(srv, lambdatest.WithMaxConcurrency(16))
	defer inv.Close()
	streamed := testpb.NewTestServiceLambdaClient(invoke.NewClientConn(inv, "fn"))
	buffered := testpb.NewTestServiceLambdaClient(invoke.NewClientConn(invokeOnlyInvoker{inv}, "fn", invoke.WithBufferedStreams()))
	const calls = 200
	errs := make(chan error, calls)
	for i := range calls {
		go func() {
			client := streamed
			if i%2 == 1 {
				client = buffered
			}
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			req := &testpb.EchoRequest{Message: fmt.Sprintf("caller-%d", i), Count: 3}
			late := i%4 == 3
			if late {
				ctx, cancel = context.WithTimeout(context.Background(), 60*time.Millisecond)
				req.Count, req.IntervalMillis = 100, 50
			}
			defer cancel()
			stream, err := client.Stream(ctx, req)
			if err != nil {
				errs <- err
				return
			}
			n := 0
			for {
				m, err := stream.Recv()
				if err == io.EOF {
					break
				}
				if err != nil {
					if late && status.Code(err) == codes.DeadlineExceeded {
						break
					}
					errs <- fmt.Errorf("%s: %v", req.Message, err)
					return
				}
				if want := fmt.Sprintf("%s %d", req.Message, n); m.GetMessage() != want {
					errs <- fmt.Errorf("got %q, want %q", m.GetMessage(), want)
					return
				}
				n++
			}
			if !late && n != 3 {
				errs <- fmt.Errorf("%s: %d messages", req.Message, n)
				return
			}
			errs <- nil
		}()
	}
	for range calls {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}

// invokeOnlyInvoker hides the double's InvokeWithResponseStream.
type invokeOnlyInvoker struct{ inv *lambdatest.Invoker }

func (i invokeOnlyInvoker) Invoke(ctx context.Context, in *awslambda.InvokeInput, opts ...func(*awslambda.Options)) (*awslambda.InvokeOutput, error) {
	return i.inv.Invoke(ctx, in, opts...)
}
