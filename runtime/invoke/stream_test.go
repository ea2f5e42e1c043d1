package invoke_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws/protocol/eventstream"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/protoc-gen-go-lambda/protoc-gen-go-lambda/internal/testing/testpb"
	"github.com/protoc-gen-go-lambda/protoc-gen-go-lambda/runtime/internal/wire"
	"github.com/protoc-gen-go-lambda/protoc-gen-go-lambda/runtime/invoke"
)

// These tests run server-streaming calls through the real AWS SDK Lambda
// client's InvokeWithResponseStream against an httptest server that
// answers as the Lambda service does: HTTP 200, an
// application/vnd.amazon.eventstream body of PayloadChunk events carrying
// the function's bytes and a final InvokeComplete event, each encoded with
// the SDK's own event stream encoder. The SDK's decoding is part of what
// is tested; the function's answer is written frame by frame with the
// wire package, as docs/protocol.md specifies it.

// streamAPI is a fake InvokeWithResponseStream endpoint. answer writes the
// events of one invocation; it gets the decoded request envelope.
type streamAPI struct {
	srv *httptest.Server

	mu       sync.Mutex
	requests []*http.Request
	bodies   [][]byte
	conns    int
	answer   func(w *eventWriter, req *wire.Request)
}

func newStreamAPI(t *testing.T, answer func(w *eventWriter, req *wire.Request)) *streamAPI {
	t.Helper()
	a := &streamAPI{answer: answer}
	a.srv = httptest.NewUnstartedServer(http.HandlerFunc(a.serve))
	a.srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			a.mu.Lock()
			a.conns++
			a.mu.Unlock()
		}
	}
	a.srv.Start()
	t.Cleanup(a.srv.Close)
	return a
}

// Conns is how many connections the fake has accepted.
func (a *streamAPI) Conns() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.conns
}

func (a *streamAPI) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	a.mu.Lock()
	a.requests = append(a.requests, r)
	a.bodies = append(a.bodies, body)
	a.mu.Unlock()
	var req wire.Request
	if err := wire.ParseRequest(body, &req); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	w.Header().Set("Content-Type", "application/vnd.amazon.eventstream")
	w.Header().Set("X-Amz-Executed-Version", "$LATEST")
	w.Header().Set("X-Amzn-RequestId", "5f6e1f2a-0000-4000-8000-000000000000")
	w.WriteHeader(http.StatusOK)
	ew := &eventWriter{w: w, rc: http.NewResponseController(w), enc: eventstream.NewEncoder(), ctx: r.Context()}
	ew.rc.Flush()
	a.answer(ew, &req)
}

func (a *streamAPI) Requests() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.requests)
}

func (a *streamAPI) request(i int) (*http.Request, []byte) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.requests[i], a.bodies[i]
}

// eventWriter writes Lambda's response stream events, flushing each.
type eventWriter struct {
	w   io.Writer
	rc  *http.ResponseController
	enc *eventstream.Encoder
	ctx context.Context // the request's: done when the client went away
}

func (e *eventWriter) event(eventType, contentType string, payload []byte) error {
	var msg eventstream.Message
	msg.Headers.Set(":event-type", eventstream.StringValue(eventType))
	msg.Headers.Set(":message-type", eventstream.StringValue("event"))
	msg.Headers.Set(":content-type", eventstream.StringValue(contentType))
	msg.Payload = payload
	if err := e.enc.Encode(e.w, msg); err != nil {
		return err
	}
	return e.rc.Flush()
}

// chunk sends b as one PayloadChunk.
func (e *eventWriter) chunk(b []byte) error {
	return e.event("PayloadChunk", "application/octet-stream", b)
}

// complete sends InvokeComplete; errorCode and details empty for success.
func (e *eventWriter) complete(errorCode, details string) error {
	fields := map[string]string{}
	if errorCode != "" {
		fields["ErrorCode"] = errorCode
	}
	if details != "" {
		fields["ErrorDetails"] = details
	}
	b, _ := json.Marshal(fields)
	return e.event("InvokeComplete", "application/json", b)
}

// Frames, as a function writes them.

func headerFrame(md metadata.MD) []byte { return wire.AppendHeaderFrame(nil, md) }

func messageFrame(t *testing.T, m proto.Message) []byte {
	t.Helper()
	b, err := proto.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return append(wire.AppendFramePrefix(nil, wire.FrameMessage, len(b)), b...)
}

func endFrame(t *testing.T, st *status.Status, header, trailer metadata.MD) []byte {
	t.Helper()
	details, err := wire.StatusDetails(st)
	if err != nil {
		t.Fatal(err)
	}
	return wire.AppendEndFrame(nil, uint32(st.Code()), st.Message(), details, header, trailer)
}

func streamClient(endpoint string, opts ...invoke.Option) testpb.TestServiceLambdaClient {
	cc := invoke.NewClientConn(sdkLambdaClient(endpoint), "orders-function", append([]invoke.Option{invoke.WithRetryPolicy(testRetryPolicy)}, opts...)...)
	return testpb.NewTestServiceLambdaClient(cc)
}

// recvAll receives until an error; it returns the messages and the error
// (nil for io.EOF).
func recvAll(stream grpc.ServerStreamingClient[testpb.EchoResponse]) ([]string, error) {
	var got []string
	for {
		m, err := stream.Recv()
		if err == io.EOF {
			return got, nil
		}
		if err != nil {
			return got, err
		}
		got = append(got, m.GetMessage())
	}
}

// TestStreamMessagesThenOK: a header, three messages, then OK with a
// trailer: Header waits for the header, Recv yields the messages and
// io.EOF, Trailer and the call options see the metadata, the stats
// handlers see grpc-go's events, and the request is the envelope of
// docs/protocol.md, sent once through InvokeWithResponseStream.
func TestStreamMessagesThenOK(t *testing.T) {
	api := newStreamAPI(t, func(w *eventWriter, req *wire.Request) {
		w.chunk(headerFrame(metadata.Pairs("x-shard", "7")))
		for i := range 3 {
			w.chunk(messageFrame(t, &testpb.EchoResponse{Message: fmt.Sprintf("m%d", i)}))
		}
		w.chunk(endFrame(t, status.New(codes.OK, ""), nil, metadata.Pairs("x-n", "3")))
		w.complete("", "")
	})
	log := &clientLog{name: "log"}
	c := streamClient(api.srv.URL, invoke.WithStatsHandler(log))
	ctx, cancel := context.WithTimeout(metadata.AppendToOutgoingContext(context.Background(), "x-caller", "c1"), time.Minute)
	defer cancel()
	var header, trailer metadata.MD
	finished := make(chan error, 1)
	stream, err := c.Stream(ctx, &testpb.EchoRequest{Message: "watch"}, grpc.Header(&header), grpc.Trailer(&trailer), grpc.OnFinish(func(err error) { finished <- err }))
	if err != nil {
		t.Fatal(err)
	}
	md, err := stream.Header()
	if err != nil || !slices.Equal(md["x-shard"], []string{"7"}) {
		t.Errorf("Header() = %v, %v; want x-shard: 7", md, err)
	}
	got, err := recvAll(stream)
	if err != nil || !slices.Equal(got, []string{"m0", "m1", "m2"}) {
		t.Errorf("received %q, %v; want m0 m1 m2 then io.EOF", got, err)
	}
	if tr := stream.Trailer(); !slices.Equal(tr["x-n"], []string{"3"}) {
		t.Errorf("Trailer() = %v, want x-n: 3", tr)
	}
	if err := <-finished; err != nil {
		t.Errorf("OnFinish(%v), want nil", err)
	}
	if !slices.Equal(header["x-shard"], []string{"7"}) || !slices.Equal(trailer["x-n"], []string{"3"}) {
		t.Errorf("grpc.Header %v, grpc.Trailer %v", header, trailer)
	}
	if _, err := stream.Recv(); err != io.EOF {
		t.Errorf("Recv after the end: %v, want io.EOF", err)
	}

	if n := api.Requests(); n != 1 {
		t.Fatalf("%d requests, want 1", n)
	}
	r, body := api.request(0)
	if r.URL.Path != "/2021-11-15/functions/orders-function/response-streaming-invocations" || r.Header.Get("X-Amz-Invocation-Type") != "RequestResponse" {
		t.Errorf("request %s %s, X-Amz-Invocation-Type %q", r.Method, r.URL.Path, r.Header.Get("X-Amz-Invocation-Type"))
	}
	var req wire.Request
	if err := wire.ParseRequest(body, &req); err != nil {
		t.Fatal(err)
	}
	var in testpb.EchoRequest
	if err := req.Unmarshal(&in, 1<<20); err != nil || in.GetMessage() != "watch" {
		t.Errorf("request message %v, %v", &in, err)
	}
	if req.Method != testpb.TestService_Stream_FullMethodName || !req.HasTimeout || req.Timeout <= 0 || req.Timeout > time.Minute || !slices.Equal(req.MD["x-caller"], []string{"c1"}) {
		t.Errorf("request envelope: method %q, timeout %v (%v), metadata %v", req.Method, req.Timeout, req.HasTimeout, req.MD)
	}

	want := []string{
		"TagConn remote=lambda:orders-function local=<nil>", "ConnBegin client=true",
		"TagRPC /lambdatest.v1.TestService/Stream failfast=true", "Begin failfast=true",
		"OutHeader /lambdatest.v1.TestService/Stream keys=[x-caller x-tagged-by] remote=lambda:orders-function authority=orders-function",
		"OutPayload length=7", "InHeader", "InPayload", "InPayload", "InPayload", "InTrailer", "End OK",
	}
	if got := log.lines(); !slices.Equal(got, want) {
		t.Errorf("stats events:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestStreamErrorAfterMessages: two messages, then a status with details
// and a trailer: the messages, then the status error with its details; the
// trailer holds the caller's trailer and the details, as grpc-go's.
func TestStreamErrorAfterMessages(t *testing.T) {
	st, err := status.New(codes.NotFound, "order o-404 is gone").WithDetails(&errdetails.ResourceInfo{ResourceType: "order", ResourceName: "o-404"})
	if err != nil {
		t.Fatal(err)
	}
	api := newStreamAPI(t, func(w *eventWriter, req *wire.Request) {
		w.chunk(headerFrame(metadata.Pairs("x-shard", "7")))
		w.chunk(messageFrame(t, &testpb.EchoResponse{Message: "a"}))
		w.chunk(messageFrame(t, &testpb.EchoResponse{Message: "b"}))
		w.chunk(endFrame(t, st, nil, metadata.Pairs("x-why", "gone")))
		w.complete("", "")
	})
	stream, err := streamClient(api.srv.URL).Stream(context.Background(), &testpb.EchoRequest{})
	if err != nil {
		t.Fatal(err)
	}
	got, err := recvAll(stream)
	if !slices.Equal(got, []string{"a", "b"}) {
		t.Errorf("received %q, want a b", got)
	}
	gotSt := status.Convert(err)
	if gotSt.Code() != codes.NotFound || gotSt.Message() != "order o-404 is gone" || !proto.Equal(gotSt.Proto(), st.Proto()) {
		t.Errorf("status %v, want %v", gotSt.Proto(), st.Proto())
	}
	tr := stream.Trailer()
	if !slices.Equal(tr["x-why"], []string{"gone"}) || len(tr[wire.StatusDetailsKey]) != 1 {
		t.Errorf("Trailer() = %v, want x-why and %s", tr, wire.StatusDetailsKey)
	}
	if md, err := stream.Header(); err != nil || !slices.Equal(md["x-shard"], []string{"7"}) {
		t.Errorf("Header() = %v, %v", md, err)
	}
}

// TestStreamFrameSplitAcrossChunks: the same answer as
// TestStreamMessagesThenOK sent one byte per PayloadChunk, so that every
// frame and prefix is split; and all of it in one chunk.
func TestStreamFrameSplitAcrossChunks(t *testing.T) {
	var answer []byte
	answer = append(answer, headerFrame(metadata.Pairs("x-shard", "7"))...)
	for i := range 3 {
		answer = append(answer, messageFrame(t, &testpb.EchoResponse{Message: fmt.Sprintf("m%d", i), Payload: make([]byte, 300*i)})...)
	}
	answer = append(answer, endFrame(t, status.New(codes.OK, ""), nil, metadata.Pairs("x-n", "3"))...)
	for _, size := range []int{1, 7, len(answer)} {
		t.Run(fmt.Sprint(size), func(t *testing.T) {
			api := newStreamAPI(t, func(w *eventWriter, req *wire.Request) {
				for b := answer; len(b) > 0; {
					n := min(size, len(b))
					w.chunk(b[:n])
					b = b[n:]
				}
				w.complete("", "")
			})
			stream, err := streamClient(api.srv.URL).Stream(context.Background(), &testpb.EchoRequest{})
			if err != nil {
				t.Fatal(err)
			}
			if md, err := stream.Header(); err != nil || !slices.Equal(md["x-shard"], []string{"7"}) {
				t.Errorf("Header() = %v, %v", md, err)
			}
			got, err := recvAll(stream)
			if err != nil || !slices.Equal(got, []string{"m0", "m1", "m2"}) {
				t.Errorf("received %q, %v", got, err)
			}
			if tr := stream.Trailer(); !slices.Equal(tr["x-n"], []string{"3"}) {
				t.Errorf("Trailer() = %v", tr)
			}
		})
	}
}

// TestStreamTrailersOnly: a call that fails before sending anything has
// only an end frame: Header returns nil, nil (and ends the call, as
// grpc-go's), Recv the status, Trailer the trailer; grpc.Header gets nil;
// the stats handlers see no InHeader. An end frame with header metadata
// gives a header, as grpc-go's server sends it before the trailer.
func TestStreamTrailersOnly(t *testing.T) {
	t.Run("no header", func(t *testing.T) {
		api := newStreamAPI(t, func(w *eventWriter, req *wire.Request) {
			w.chunk(endFrame(t, status.New(codes.PermissionDenied, "not yours"), nil, metadata.Pairs("x-why", "acl")))
			w.complete("", "")
		})
		log := &clientLog{name: "log"}
		header := metadata.MD{"stale": nil}
		finished := make(chan error, 1)
		stream, err := streamClient(api.srv.URL, invoke.WithStatsHandler(log)).Stream(context.Background(), &testpb.EchoRequest{}, grpc.Header(&header), grpc.OnFinish(func(err error) { finished <- err }))
		if err != nil {
			t.Fatal(err)
		}
		md, err := stream.Header()
		if md != nil || err != nil {
			t.Errorf("Header() = %v, %v; want nil, nil", md, err)
		}
		// Header ended the call: OnFinish has run without a Recv.
		if err := <-finished; status.Code(err) != codes.PermissionDenied {
			t.Errorf("OnFinish(%v)", err)
		}
		_, err = stream.Recv()
		if st := status.Convert(err); st.Code() != codes.PermissionDenied || st.Message() != "not yours" {
			t.Errorf("Recv: %v", err)
		}
		if tr := stream.Trailer(); !slices.Equal(tr["x-why"], []string{"acl"}) {
			t.Errorf("Trailer() = %v", tr)
		}
		if header != nil {
			t.Errorf("grpc.Header got %v, want nil", header)
		}
		got := log.lines()
		if slices.Contains(got, "InHeader") || !slices.Contains(got, "InTrailer") || got[len(got)-1] != "End PermissionDenied" {
			t.Errorf("stats events %q: want InTrailer and End PermissionDenied, no InHeader", got)
		}
	})
	t.Run("header in the end frame", func(t *testing.T) {
		api := newStreamAPI(t, func(w *eventWriter, req *wire.Request) {
			w.chunk(endFrame(t, status.New(codes.Aborted, "retry"), metadata.Pairs("x-h", "1"), nil))
			w.complete("", "")
		})
		stream, err := streamClient(api.srv.URL).Stream(context.Background(), &testpb.EchoRequest{})
		if err != nil {
			t.Fatal(err)
		}
		if md, err := stream.Header(); err != nil || !slices.Equal(md["x-h"], []string{"1"}) {
			t.Errorf("Header() = %v, %v; want x-h: 1", md, err)
		}
		if _, err := stream.Recv(); status.Code(err) != codes.Aborted {
			t.Errorf("Recv: %v", err)
		}
	})
	t.Run("OK without messages", func(t *testing.T) {
		api := newStreamAPI(t, func(w *eventWriter, req *wire.Request) {
			w.chunk(endFrame(t, status.New(codes.OK, ""), nil, nil))
			w.complete("", "")
		})
		stream, err := streamClient(api.srv.URL).Stream(context.Background(), &testpb.EchoRequest{})
		if err != nil {
			t.Fatal(err)
		}
		if md, err := stream.Header(); md != nil || err != nil {
			t.Errorf("Header() = %v, %v; want nil, nil", md, err)
		}
		if _, err := stream.Recv(); err != io.EOF {
			t.Errorf("Recv: %v, want io.EOF", err)
		}
	})
}

// TestStreamUnframedEnvelope: an answer that starts with '{' is one
// response envelope (a request the server refused before dispatching it)
// or Lambda's error document, read as a unary answer.
func TestStreamUnframedEnvelope(t *testing.T) {
	for _, tc := range []struct {
		name    string
		payload string
		code    codes.Code
		msg     string
	}{
		{"refused", `{"v":1,"code":12,"message":"unknown method Nope for service lambdatest.v1.TestService"}`, codes.Unimplemented, "unknown method Nope for service lambdatest.v1.TestService"},
		{"function error document", `{"errorType":"Runtime.ExitError","errorMessage":"exit status 2"}`, codes.Unavailable, "lambda: invocation failed: Runtime.ExitError: exit status 2"},
		{"envelope version", `{"v":2,"code":0,"body":""}`, codes.Internal, "lambda: response envelope version 2 is not supported; this client speaks version 1"},
		{"not an envelope", `{"hello":"world"}`, codes.Internal, `lambda: the function's response is not a protoc-gen-go-lambda envelope: "{\"hello\":\"world\"}"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			api := newStreamAPI(t, func(w *eventWriter, req *wire.Request) {
				// Split, to be read whole.
				w.chunk([]byte(tc.payload[:5]))
				w.chunk([]byte(tc.payload[5:]))
				w.complete("", "")
			})
			stream, err := streamClient(api.srv.URL).Stream(context.Background(), &testpb.EchoRequest{})
			if err != nil {
				t.Fatal(err)
			}
			got, err := recvAll(stream)
			if st := status.Convert(err); len(got) != 0 || st.Code() != tc.code || st.Message() != tc.msg {
				t.Errorf("got %q, %v %q; want %v %q", got, st.Code(), st.Message(), tc.code, tc.msg)
			}
		})
	}
}

// TestStreamTruncated: an answer that stops before its end frame. With a
// function error in InvokeComplete, the error maps as a unary call's
// function error (Sandbox.Timedout: DEADLINE_EXCEEDED); without one, or
// with no InvokeComplete at all, INTERNAL. The messages before the break
// are delivered first.
func TestStreamTruncated(t *testing.T) {
	for _, tc := range []struct {
		name             string
		errorCode        string
		details          string
		noComplete, half bool
		code             codes.Code
		msg              string
	}{
		{name: "Sandbox.Timedout", errorCode: "Sandbox.Timedout", details: "Task timed out after 1.00 seconds", code: codes.DeadlineExceeded, msg: "lambda: invocation failed: Sandbox.Timedout: Task timed out after 1.00 seconds"},
		{name: "Sandbox.Timedout mid-frame", errorCode: "Sandbox.Timedout", details: "Task timed out after 1.00 seconds", half: true, code: codes.DeadlineExceeded, msg: "lambda: invocation failed: Sandbox.Timedout: Task timed out after 1.00 seconds"},
		{name: "Unhandled with a document", errorCode: "Unhandled", details: `{"errorType":"Runtime.ExitError","errorMessage":"exit status 2"}`, code: codes.Unavailable, msg: "lambda: invocation failed: Runtime.ExitError (Unhandled): exit status 2"},
		{name: "no error", code: codes.Internal, msg: "lambda: the response stream ended without a status"},
		{name: "no error mid-frame", half: true, code: codes.Internal, msg: "lambda: the response stream ended without a status"},
		{name: "no InvokeComplete", noComplete: true, code: codes.Internal, msg: "lambda: the response stream ended without a status"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			api := newStreamAPI(t, func(w *eventWriter, req *wire.Request) {
				w.chunk(headerFrame(nil))
				w.chunk(messageFrame(t, &testpb.EchoResponse{Message: "a"}))
				if tc.half {
					w.chunk(messageFrame(t, &testpb.EchoResponse{Message: "cut off"})[:8])
				}
				if !tc.noComplete {
					w.complete(tc.errorCode, tc.details)
				}
			})
			stream, err := streamClient(api.srv.URL).Stream(context.Background(), &testpb.EchoRequest{})
			if err != nil {
				t.Fatal(err)
			}
			got, err := recvAll(stream)
			if st := status.Convert(err); !slices.Equal(got, []string{"a"}) || st.Code() != tc.code || st.Message() != tc.msg {
				t.Errorf("got %q, %v %q; want [a], %v %q", got, st.Code(), st.Message(), tc.code, tc.msg)
			}
		})
	}
}

// TestStreamMalformed: an unknown frame, a second header, an end frame
// that is not a status: INTERNAL.
func TestStreamMalformed(t *testing.T) {
	for _, tc := range []struct {
		name   string
		answer []byte
		msg    string
	}{
		{"unknown flags", append(wire.AppendFramePrefix(nil, 0x07, 2), "hi"...), "lambda: malformed response stream: unknown frame flags 0x07"},
		{"second header", append(headerFrame(nil), headerFrame(nil)...), "lambda: malformed response stream: a header frame after the header or a message"},
		{"end frame without code", append(wire.AppendFramePrefix(nil, wire.FrameEnd, 7), `{"v":1}`...), `lambda: malformed end frame: no "code"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			api := newStreamAPI(t, func(w *eventWriter, req *wire.Request) {
				w.chunk(tc.answer)
				w.complete("", "")
			})
			stream, err := streamClient(api.srv.URL).Stream(context.Background(), &testpb.EchoRequest{})
			if err != nil {
				t.Fatal(err)
			}
			_, err = recvAll(stream)
			if st := status.Convert(err); st.Code() != codes.Internal || st.Message() != tc.msg {
				t.Errorf("got %v %q, want INTERNAL %q", st.Code(), st.Message(), tc.msg)
			}
		})
	}
}

// TestStreamMessageOverLimit: a message frame longer than the receive limit
// ends the call with grpc-go's RESOURCE_EXHAUSTED, after the messages
// before it.
func TestStreamMessageOverLimit(t *testing.T) {
	big := &testpb.EchoResponse{Message: "big", Payload: make([]byte, 100)}
	size := proto.Size(big)
	api := newStreamAPI(t, func(w *eventWriter, req *wire.Request) {
		w.chunk(headerFrame(nil))
		w.chunk(messageFrame(t, &testpb.EchoResponse{Message: "small"}))
		w.chunk(messageFrame(t, big))
		w.chunk(endFrame(t, status.New(codes.OK, ""), nil, nil))
		w.complete("", "")
	})
	stream, err := streamClient(api.srv.URL).Stream(context.Background(), &testpb.EchoRequest{}, grpc.MaxCallRecvMsgSize(50))
	if err != nil {
		t.Fatal(err)
	}
	got, err := recvAll(stream)
	want := fmt.Sprintf("grpc: received message larger than max (%d vs. 50)", size)
	if st := status.Convert(err); !slices.Equal(got, []string{"small"}) || st.Code() != codes.ResourceExhausted || st.Message() != want {
		t.Errorf("got %q, %v %q; want [small], RESOURCE_EXHAUSTED %q", got, st.Code(), st.Message(), want)
	}
}

// TestStreamCancelMidStream: the caller cancels while the function is
// still streaming: a Recv waiting for the next message returns CANCELLED
// ("context canceled"), OnFinish hears of it, and the HTTP response is
// abandoned (the server sees its client go). With a deadline instead, the
// status is DEADLINE_EXCEEDED. Nothing here measures time: the function
// blocks until its client has gone.
func TestStreamCancelMidStream(t *testing.T) {
	for _, tc := range []struct {
		name string
		code codes.Code
		msg  string
	}{
		{"cancel", codes.Canceled, "context canceled"},
		{"deadline", codes.DeadlineExceeded, "context deadline exceeded"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clientGone := make(chan struct{})
			api := newStreamAPI(t, func(w *eventWriter, req *wire.Request) {
				w.chunk(headerFrame(nil))
				w.chunk(messageFrame(t, &testpb.EchoResponse{Message: "first"}))
				<-w.ctx.Done() // the connection closed
				close(clientGone)
			})
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			if tc.code == codes.DeadlineExceeded {
				ctx, cancel = context.WithTimeout(ctx, 100*time.Millisecond)
				defer cancel()
			}
			finished := make(chan error, 1)
			stream, err := streamClient(api.srv.URL).Stream(ctx, &testpb.EchoRequest{}, grpc.OnFinish(func(err error) { finished <- err }))
			if err != nil {
				t.Fatal(err)
			}
			if m, err := stream.Recv(); err != nil || m.GetMessage() != "first" {
				t.Fatalf("Recv: %v, %v", m, err)
			}
			recvd := make(chan error, 1)
			go func() {
				_, err := stream.Recv()
				recvd <- err
			}()
			if tc.code == codes.Canceled {
				cancel()
			}
			err = <-recvd
			if st := status.Convert(err); st.Code() != tc.code || st.Message() != tc.msg {
				t.Errorf("Recv: %v %q, want %v %q", st.Code(), st.Message(), tc.code, tc.msg)
			}
			if err := <-finished; status.Code(err) != tc.code {
				t.Errorf("OnFinish(%v)", err)
			}
			<-clientGone
			if stream.Trailer() != nil {
				t.Errorf("Trailer() = %v, want nil", stream.Trailer())
			}
		})
	}
	t.Run("without Recv", func(t *testing.T) {
		clientGone := make(chan struct{})
		api := newStreamAPI(t, func(w *eventWriter, req *wire.Request) {
			w.chunk(headerFrame(nil))
			<-w.ctx.Done()
			close(clientGone)
		})
		ctx, cancel := context.WithCancel(context.Background())
		finished := make(chan error, 1)
		stream, err := streamClient(api.srv.URL).Stream(ctx, &testpb.EchoRequest{}, grpc.OnFinish(func(err error) { finished <- err }))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := stream.Header(); err != nil {
			t.Fatal(err)
		}
		cancel()
		// The call ends, and the response is abandoned, with nobody in Recv.
		if err := <-finished; status.Code(err) != codes.Canceled {
			t.Errorf("OnFinish(%v)", err)
		}
		<-clientGone
	})
}

// TestStreamUnimplemented: client-streaming and bidirectional methods, and
// a server-streaming method over an Invoker without
// InvokeWithResponseStream, fail with UNIMPLEMENTED and send nothing.
func TestStreamUnimplemented(t *testing.T) {
	api := newStreamAPI(t, func(w *eventWriter, req *wire.Request) {})
	cc := invoke.NewClientConn(sdkLambdaClient(api.srv.URL), "orders-function")
	for _, tc := range []struct {
		desc *grpc.StreamDesc
		want string
	}{
		{&grpc.StreamDesc{ClientStreams: true}, "lambda: /x.v1.S/Up is a client-streaming method; a Lambda invocation takes its whole request before the function starts, so only unary and server-streaming methods are carried"},
		{&grpc.StreamDesc{ClientStreams: true, ServerStreams: true}, "lambda: /x.v1.S/Up is a bidirectional-streaming method; a Lambda invocation takes its whole request before the function starts, so only unary and server-streaming methods are carried"},
	} {
		var finished error
		_, err := cc.NewStream(context.Background(), tc.desc, "/x.v1.S/Up", grpc.OnFinish(func(err error) { finished = err }))
		if st := status.Convert(err); st.Code() != codes.Unimplemented || st.Message() != tc.want {
			t.Errorf("got %v %q, want UNIMPLEMENTED %q", st.Code(), st.Message(), tc.want)
		}
		if finished != err {
			t.Errorf("OnFinish(%v), want the error", finished)
		}
	}
	if n := api.Requests(); n != 0 {
		t.Errorf("%d requests, want none", n)
	}

	_, err := testpb.NewTestServiceLambdaClient(invoke.NewClientConn(nothingInvoker{}, "orders-function")).Stream(context.Background(), &testpb.EchoRequest{})
	want := "lambda: /lambdatest.v1.TestService/Stream is a server-streaming method, and the ClientConn's Invoker (invoke_test.nothingInvoker) does not implement invoke.StreamInvoker (InvokeWithResponseStream)"
	if st := status.Convert(err); st.Code() != codes.Unimplemented || st.Message() != want {
		t.Errorf("got %v %q, want UNIMPLEMENTED %q", st.Code(), st.Message(), want)
	}
}

// TestStreamNotRetried: a throttled stream is not retried, whatever the
// retry policy, and maps as a unary call's Invoke API error.
func TestStreamNotRetried(t *testing.T) {
	api := newFakeInvokeAPI(t, lambdaAPIError(429, "TooManyRequestsException", "Rate Exceeded."))
	stream, err := testServiceClient(api.srv.URL).Stream(context.Background(), &testpb.EchoRequest{})
	if err != nil {
		t.Fatal(err)
	}
	_, err = stream.Recv()
	if st := status.Convert(err); st.Code() != codes.Unavailable || !strings.Contains(st.Message(), "TooManyRequestsException: Rate Exceeded.") {
		t.Errorf("got %v %q", st.Code(), st.Message())
	}
	if n := api.Requests(); n != 1 {
		t.Errorf("%d attempts, want 1", n)
	}
}

// TestStreamJSONMode: with WithJSON the request carries "json" and the
// message frames are protobuf JSON.
func TestStreamJSONMode(t *testing.T) {
	api := newStreamAPI(t, func(w *eventWriter, req *wire.Request) {
		if !req.HasJSON {
			w.chunk(endFrame(t, status.New(codes.InvalidArgument, "not JSON mode"), nil, nil))
			return
		}
		for _, m := range []string{"x", "y"} {
			b, _ := protojson.Marshal(&testpb.EchoResponse{Message: m})
			w.chunk(append(wire.AppendFramePrefix(nil, wire.FrameMessage, len(b)), b...))
		}
		w.chunk(endFrame(t, status.New(codes.OK, ""), nil, nil))
		w.complete("", "")
	})
	stream, err := streamClient(api.srv.URL, invoke.WithJSON()).Stream(context.Background(), &testpb.EchoRequest{Message: "j"})
	if err != nil {
		t.Fatal(err)
	}
	if got, err := recvAll(stream); err != nil || !slices.Equal(got, []string{"x", "y"}) {
		t.Errorf("got %q, %v", got, err)
	}
}

// TestStreamSendRules: grpc-go's rules for the send side of a
// server-streaming call: CloseSend without a message ends the call with the
// cardinality violation a grpc-go server answers, sending nothing; a second
// SendMsg fails; a unary method through NewStream gets exactly one message.
func TestStreamSendRules(t *testing.T) {
	api := newStreamAPI(t, func(w *eventWriter, req *wire.Request) {
		b, _ := proto.Marshal(&testpb.EchoResponse{Message: "unary"})
		w.chunk(fmt.Appendf(nil, `{"v":1,"code":0,"body":%q}`, base64.StdEncoding.EncodeToString(b)))
		w.complete("", "")
	})
	cc := invoke.NewClientConn(sdkLambdaClient(api.srv.URL), "orders-function")
	desc := &testpb.TestService_ServiceDesc.Streams[0]

	s, err := cc.NewStream(context.Background(), desc, testpb.TestService_Stream_FullMethodName)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.CloseSend(); err != nil {
		t.Fatal(err)
	}
	err = s.RecvMsg(&testpb.EchoResponse{})
	if st := status.Convert(err); st.Code() != codes.Internal || st.Message() != "cardinality violation: received no request message from non-client-streaming RPC" {
		t.Errorf("CloseSend without a message: %v", err)
	}

	s, err = cc.NewStream(context.Background(), desc, testpb.TestService_Stream_FullMethodName)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.SendMsg(&testpb.EchoRequest{}); err != nil {
		t.Fatal(err)
	}
	if err := s.SendMsg(&testpb.EchoRequest{}); status.Convert(err).Message() != "SendMsg called after CloseSend" {
		t.Errorf("second SendMsg: %v", err)
	}
	if n := api.Requests(); n > 1 {
		t.Errorf("%d requests, want at most 1", n)
	}

	s, err = cc.NewStream(context.Background(), &grpc.StreamDesc{}, testpb.TestService_Echo_FullMethodName)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.SendMsg(&testpb.EchoRequest{}); err != nil {
		t.Fatal(err)
	}
	var resp testpb.EchoResponse
	if err := s.RecvMsg(&resp); err != nil || resp.GetMessage() != "unary" {
		t.Errorf("unary through a stream: %v, %v", &resp, err)
	}
}

// TestStreamInvokerErrors: what a StreamInvoker returns instead of a
// stream maps as Invoke's errors do.
func TestStreamInvokerErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		inv  streamInvokerFunc
		code codes.Code
	}{
		{"nothing", func() (*lambda.InvokeWithResponseStreamOutput, error) { return nil, nil }, codes.Internal},
		{"plain error", func() (*lambda.InvokeWithResponseStreamOutput, error) { return nil, errors.New("boom") }, codes.Unknown},
	} {
		t.Run(tc.name, func(t *testing.T) {
			stream, err := testpb.NewTestServiceLambdaClient(invoke.NewClientConn(tc.inv, "fn")).Stream(context.Background(), &testpb.EchoRequest{})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := stream.Recv(); status.Code(err) != tc.code {
				t.Errorf("got %v, want %v", err, tc.code)
			}
		})
	}
}

type streamInvokerFunc func() (*lambda.InvokeWithResponseStreamOutput, error)

func (f streamInvokerFunc) Invoke(context.Context, *lambda.InvokeInput, ...func(*lambda.Options)) (*lambda.InvokeOutput, error) {
	return nil, errors.New("unary")
}

func (f streamInvokerFunc) InvokeWithResponseStream(context.Context, *lambda.InvokeWithResponseStreamInput, ...func(*lambda.Options)) (*lambda.InvokeWithResponseStreamOutput, error) {
	return f()
}

var _ invoke.StreamInvoker = (*lambda.Client)(nil)

// TestStreamConcurrentOnOneClient: concurrent streams on one *lambda.Client
// each get their answer; under the race detector this also checks that
// they do not share the SDK's event stream decoding state
// (aws/smithy-go#714).
func TestStreamConcurrentOnOneClient(t *testing.T) {
	api := newStreamAPI(t, func(w *eventWriter, req *wire.Request) {
		var in testpb.EchoRequest
		req.Unmarshal(&in, 1<<20)
		w.chunk(headerFrame(nil))
		for i := range 5 {
			w.chunk(messageFrame(t, &testpb.EchoResponse{Message: fmt.Sprintf("%s-%d", in.GetMessage(), i)}))
		}
		w.chunk(endFrame(t, status.New(codes.OK, ""), nil, nil))
		w.complete("", "")
	})
	c := streamClient(api.srv.URL)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			stream, err := c.Stream(context.Background(), &testpb.EchoRequest{Message: fmt.Sprint(g)})
			if err != nil {
				t.Error(err)
				return
			}
			got, err := recvAll(stream)
			if err != nil || len(got) != 5 || got[4] != fmt.Sprintf("%d-4", g) {
				t.Errorf("stream %d: %q, %v", g, got, err)
			}
		})
	}
	wg.Wait()
}

// TestStreamConnectionReused: a stream read to its end leaves its
// connection to the next call (the client reads InvokeComplete before it
// reports the status); one given up on does not.
func TestStreamConnectionReused(t *testing.T) {
	api := newStreamAPI(t, func(w *eventWriter, req *wire.Request) {
		w.chunk(headerFrame(nil))
		w.chunk(messageFrame(t, &testpb.EchoResponse{Message: "a"}))
		w.chunk(endFrame(t, status.New(codes.OK, ""), nil, nil))
		w.complete("", "")
	})
	c := streamClient(api.srv.URL)
	for i := range 3 {
		stream, err := c.Stream(context.Background(), &testpb.EchoRequest{})
		if err != nil {
			t.Fatal(err)
		}
		if got, err := recvAll(stream); err != nil || len(got) != 1 {
			t.Fatalf("stream %d: %q, %v", i, got, err)
		}
	}
	if n := api.Conns(); n != 1 {
		t.Errorf("3 streams used %d connections, want 1", n)
	}
}

// streamCreds are per-RPC credentials for stream tests.
type streamCreds struct{ secure bool }

func (c streamCreds) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	return map[string]string{"authorization": "Bearer s3cret"}, nil
}

func (c streamCreds) RequireTransportSecurity() bool { return c.secure }

// TestStreamSendChecks: per-RPC credentials ride in the request's metadata,
// and those that require transport security are refused over plaintext
// before anything is sent; a request over the send limit, or over Lambda's
// 6 MB, fails in SendMsg (the generated method returns it) and ends the
// call; nothing is sent.
func TestStreamSendChecks(t *testing.T) {
	api := newStreamAPI(t, func(w *eventWriter, req *wire.Request) {
		w.chunk(wire.AppendEndFrame(nil, 0, "", nil, nil, metadata.MD{"x-auth": req.MD["authorization"]}))
		w.complete("", "")
	})
	c := streamClient(api.srv.URL)

	stream, err := c.Stream(context.Background(), &testpb.EchoRequest{}, grpc.PerRPCCredentials(streamCreds{}))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := recvAll(stream); err != nil || !slices.Equal(stream.Trailer()["x-auth"], []string{"Bearer s3cret"}) {
		t.Errorf("plain credentials: %v, the function saw %v", err, stream.Trailer())
	}
	sent := api.Requests()

	_, err = c.Stream(context.Background(), &testpb.EchoRequest{}, grpc.PerRPCCredentials(streamCreds{secure: true}))
	if st := status.Convert(err); st.Code() != codes.Unauthenticated || st.Message() != "transport: cannot send secure credentials on an insecure connection" {
		t.Errorf("secure credentials over http: %v", err)
	}

	var finished error
	_, err = c.Stream(context.Background(), &testpb.EchoRequest{Message: "0123456789"}, grpc.MaxCallSendMsgSize(5), grpc.OnFinish(func(err error) { finished = err }))
	if st := status.Convert(err); st.Code() != codes.ResourceExhausted || st.Message() != "trying to send message larger than max (12 vs. 5)" || finished != err {
		t.Errorf("over the send limit: %v (OnFinish %v)", err, finished)
	}

	_, err = c.Stream(context.Background(), &testpb.EchoRequest{Payload: make([]byte, wire.MaxPayloadSize)})
	if st := status.Convert(err); st.Code() != codes.ResourceExhausted || !strings.HasPrefix(st.Message(), "lambda: request payload of ") {
		t.Errorf("over 6 MB: %v", err)
	}
	if n := api.Requests(); n != sent {
		t.Errorf("%d requests sent by the refused calls", n-sent)
	}
}
