package lambdatest_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/iotest"
	"time"

	"connectrpc.com/connect"
	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/protoc-gen-go-lambda/protoc-gen-go-lambda/internal/testing/testpb"
	"github.com/protoc-gen-go-lambda/protoc-gen-go-lambda/internal/testing/testserver"
	"github.com/protoc-gen-go-lambda/protoc-gen-go-lambda/runtime"
	"github.com/protoc-gen-go-lambda/protoc-gen-go-lambda/runtime/lambdatest"
)

// streamFunctionEnv, with functionEnv, makes this test binary the
// streaming function TestStreamingFunctionBehindTheEmulator runs under
// aws-lambda-rie: testserver's TestService in a runtime.Server, with the
// main of a function behind a function URL in RESPONSE_STREAM mode,
// lambda.Start(srv.InvokeStream). (init runs before TestMain, which would
// start the echo function.)
const streamFunctionEnv = "LAMBDATEST_STREAM_FUNCTION"

func init() {
	if os.Getenv(functionEnv) == "" || os.Getenv(streamFunctionEnv) == "" {
		return
	}
	parent := os.Getppid()
	go func() {
		for os.Getppid() == parent {
			time.Sleep(100 * time.Millisecond)
		}
		os.Exit(0)
	}()
	srv := testpb.NewTestServiceLambdaHandler(&testserver.Server{})
	lambda.Start(srv.InvokeStream)
}

// feStreamFunc is a function started with lambda.Start of a handler whose
// result is an io.Reader, as a streaming runtime.Server's InvokeStream is.
// Its Invoke is never the one called.
type feStreamFunc func(ctx context.Context, payload json.RawMessage) (io.Reader, error)

func (f feStreamFunc) InvokeStream(ctx context.Context, payload json.RawMessage) (io.Reader, error) {
	return f(ctx, payload)
}

func (f feStreamFunc) Invoke(context.Context, []byte) ([]byte, error) {
	return nil, errors.New("a streaming function was invoked through Invoke")
}

// feStreamedAnswer is an answer in Lambda's streamed HTTP format: prelude as
// JSON, eight zero bytes, body.
func feStreamedAnswer(t *testing.T, prelude any, body string) []byte {
	t.Helper()
	return append(append(answer(t, prelude), 0, 0, 0, 0, 0, 0, 0, 0), body...)
}

// streamingFrontEnds are the front ends that can stream, with the path
// their clients use.
var streamingFrontEnds = []lambdatest.FrontEnd{lambdatest.FunctionURL, lambdatest.RESTAPI}

// feGetStream sends a GET and returns the response with its body unread.
func feGetStream(t *testing.T, url string) *http.Response {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

// TestWithResponseStreamOnlyWhereAWSStreams: HTTP APIs and load balancers
// cannot stream a response; asking them to is a programming error.
func TestWithResponseStreamOnlyWhereAWSStreams(t *testing.T) {
	for _, fe := range allFrontEnds {
		func() {
			defer func() {
				p := recover()
				streams := fe == lambdatest.FunctionURL || fe == lambdatest.RESTAPI
				switch {
				case streams && p != nil:
					t.Errorf("%s: panicked: %v", fe, p)
				case !streams && (p == nil || !strings.Contains(p.(string), fe.String()+" cannot stream")):
					t.Errorf("%s: panic %v, want one that says it cannot stream", fe, p)
				}
			}()
			lambdatest.NewHTTPHandler(&recorder{}, fe, lambdatest.WithResponseStream())
		}()
	}
}

// TestResponseStreamPrelude: the prelude's status, headers and cookies
// are the response's (a REST API also reads multiValueHeaders), the body
// follows as it is, however the function's writes cut it, without
// Content-Length.
func TestResponseStreamPrelude(t *testing.T) {
	for _, fe := range streamingFrontEnds {
		t.Run(fe.String(), func(t *testing.T) {
			var event map[string]any
			srv := frontEnd(t, feStreamFunc(func(_ context.Context, p json.RawMessage) (io.Reader, error) {
				if err := json.Unmarshal(p, &event); err != nil {
					return nil, err
				}
				return iotest.OneByteReader(bytes.NewReader(feStreamedAnswer(t, map[string]any{
					"statusCode":        201,
					"headers":           map[string]string{"Content-Type": "text/plain", "X-One": "1", "Content-Length": "999"},
					"multiValueHeaders": map[string][]string{"X-Multi": {"a", "b"}},
					"cookies":           []string{"c1=v1; Path=/", "c2=v2"},
				}, "hello\x00world"))), nil
			}), fe, lambdatest.WithResponseStream())
			resp := feGetStream(t, srv.URL+pathFor(fe))
			body, err := io.ReadAll(resp.Body)
			if err != nil || resp.StatusCode != http.StatusCreated || string(body) != "hello\x00world" {
				t.Fatalf("%d %q %v", resp.StatusCode, body, err)
			}
			if resp.ContentLength != -1 || resp.Header.Get("Content-Length") != "" || !slices.Equal(resp.TransferEncoding, []string{"chunked"}) {
				t.Errorf("Content-Length %d %q, Transfer-Encoding %v: want a chunked body", resp.ContentLength, resp.Header.Get("Content-Length"), resp.TransferEncoding)
			}
			h := resp.Header
			if h.Get("Content-Type") != "text/plain" || h.Get("X-One") != "1" || !slices.Equal(h.Values("Set-Cookie"), []string{"c1=v1; Path=/", "c2=v2"}) {
				t.Errorf("headers %v", h)
			}
			if multi := h.Values("X-Multi"); (fe == lambdatest.RESTAPI) != slices.Equal(multi, []string{"a", "b"}) {
				t.Errorf("X-Multi %q: only a REST API reads multiValueHeaders", multi)
			}
			if event["requestContext"] == nil {
				t.Errorf("the function got %v", event)
			}
		})
	}
	// Without a status, 200; without a Content-Type, a stream of bytes.
	srv := frontEnd(t, feStreamFunc(func(context.Context, json.RawMessage) (io.Reader, error) {
		return bytes.NewReader(feStreamedAnswer(t, map[string]any{}, "x")), nil
	}), lambdatest.FunctionURL, lambdatest.WithResponseStream())
	got := get(t, srv, "/")
	if got.status != http.StatusOK || got.header.Get("Content-Type") != "application/octet-stream" || string(got.body) != "x" {
		t.Errorf("empty prelude: %d %v %q", got.status, got.header, got.body)
	}
}

// TestResponseStreamFlushesEachWrite: each write of the function reaches
// the client before the function writes the next.
func TestResponseStreamFlushesEachWrite(t *testing.T) {
	for _, fe := range streamingFrontEnds {
		t.Run(fe.String(), func(t *testing.T) {
			next := make(chan string)
			srv := frontEnd(t, feStreamFunc(func(context.Context, json.RawMessage) (io.Reader, error) {
				pr, pw := io.Pipe()
				go func() {
					pw.Write(feStreamedAnswer(t, map[string]any{"statusCode": 200}, ""))
					for s := range next {
						pw.Write([]byte(s))
					}
					pw.Close()
				}()
				return pr, nil
			}), fe, lambdatest.WithResponseStream())
			resp := feGetStream(t, srv.URL+pathFor(fe)) // the headers are out
			br := bufio.NewReader(resp.Body)
			for _, line := range []string{"first\n", "second\n", "third\n"} {
				next <- line // only once the previous one was read
				if got, err := br.ReadString('\n'); got != line || err != nil {
					t.Fatalf("read %q, %v; want %q", got, err, line)
				}
			}
			close(next)
			if rest, err := io.ReadAll(br); len(rest) != 0 || err != nil {
				t.Errorf("after the end: %q, %v", rest, err)
			}
		})
	}
}

// TestResponseStreamFailures: a function that fails before its prelude is
// out, or answers something that is not a prelude, gets the front end's
// 502; one that fails after it has its response cut.
func TestResponseStreamFailures(t *testing.T) {
	ok := map[string]any{"statusCode": 200}
	for _, fe := range streamingFrontEnds {
		t.Run(fe.String(), func(t *testing.T) {
			for name, h := range map[string]feStreamFunc{
				"error": func(context.Context, json.RawMessage) (io.Reader, error) {
					return nil, errors.New("boom")
				},
				"read error": func(context.Context, json.RawMessage) (io.Reader, error) {
					return io.MultiReader(strings.NewReader(`{"statusCode":200}`), iotest.ErrReader(errors.New("boom"))), nil
				},
				"not JSON": func(context.Context, json.RawMessage) (io.Reader, error) {
					return bytes.NewReader(append([]byte("status 200"), make([]byte, 8)...)), nil
				},
				"JSON array": func(context.Context, json.RawMessage) (io.Reader, error) {
					return bytes.NewReader(append([]byte("[200]"), make([]byte, 8)...)), nil
				},
				"one zero byte": func(context.Context, json.RawMessage) (io.Reader, error) {
					return strings.NewReader("{\"statusCode\":200}\x00body"), nil
				},
				"bad status": func(context.Context, json.RawMessage) (io.Reader, error) {
					return bytes.NewReader(feStreamedAnswer(t, map[string]any{"statusCode": 42}, "body")), nil
				},
				"not a response": func(context.Context, json.RawMessage) (io.Reader, error) {
					return strings.NewReader("plain text"), nil
				},
			} {
				srv := frontEnd(t, h, fe, lambdatest.WithResponseStream())
				checkFailed(t, fe, get(t, srv, pathFor(fe)), name)
			}
			// After the prelude: the body ends early, with an error.
			srv := frontEnd(t, feStreamFunc(func(context.Context, json.RawMessage) (io.Reader, error) {
				return io.MultiReader(bytes.NewReader(feStreamedAnswer(t, ok, "part")), iotest.ErrReader(errors.New("boom"))), nil
			}), fe, lambdatest.WithResponseStream())
			resp := feGetStream(t, srv.URL+pathFor(fe))
			body, err := io.ReadAll(resp.Body)
			if resp.StatusCode != http.StatusOK || string(body) != "part" || !errors.Is(err, io.ErrUnexpectedEOF) {
				t.Errorf("failed mid-stream: %d %q %v; want 200, the body so far, then a cut", resp.StatusCode, body, err)
			}
		})
	}
	// A REST API wants the prelude in the first 16 KB.
	big := strings.Repeat("v", 16*1024)
	srv := frontEnd(t, feStreamFunc(func(context.Context, json.RawMessage) (io.Reader, error) {
		return bytes.NewReader(feStreamedAnswer(t, map[string]any{"headers": map[string]string{"X-Big": big}}, "body")), nil
	}), lambdatest.RESTAPI, lambdatest.WithResponseStream())
	checkFailed(t, lambdatest.RESTAPI, get(t, srv, pathFor(lambdatest.RESTAPI)), "a 16 KB prelude")
}

// TestResponseStreamFunctionTimeout: the function timeout before the
// prelude is the front end's 502; after it, it cuts the response.
func TestResponseStreamFunctionTimeout(t *testing.T) {
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	for _, fe := range streamingFrontEnds {
		srv := frontEnd(t, feStreamFunc(func(context.Context, json.RawMessage) (io.Reader, error) {
			<-release // past its timeout
			return strings.NewReader(""), nil
		}), fe, lambdatest.WithResponseStream(), lambdatest.WithFunctionTimeout(20*time.Millisecond))
		checkFailed(t, fe, get(t, srv, pathFor(fe)), fe.String()+" timeout")

		srv = frontEnd(t, feStreamFunc(func(context.Context, json.RawMessage) (io.Reader, error) {
			pr, pw := io.Pipe()
			go func() {
				pw.Write(feStreamedAnswer(t, map[string]any{"statusCode": 200}, "part"))
				<-release
				pw.Close()
			}()
			return pr, nil
		}), fe, lambdatest.WithResponseStream(), lambdatest.WithFunctionTimeout(500*time.Millisecond))
		resp := feGetStream(t, srv.URL+pathFor(fe))
		body, err := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK || string(body) != "part" || !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Errorf("%s: timeout mid-stream: %d %q %v; want 200, the body so far, then a cut", fe, resp.StatusCode, body, err)
		}
	}
}

// TestResponseStreamIntegrationTimeout: a REST API waits its integration
// timeout for the prelude (504), not for the end of the stream.
func TestResponseStreamIntegrationTimeout(t *testing.T) {
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	srv := frontEnd(t, feStreamFunc(func(context.Context, json.RawMessage) (io.Reader, error) {
		<-release
		return strings.NewReader(""), nil
	}), lambdatest.RESTAPI, lambdatest.WithResponseStream(), lambdatest.WithIntegrationTimeout(20*time.Millisecond))
	if got := get(t, srv, pathFor(lambdatest.RESTAPI)); got.status != http.StatusGatewayTimeout || string(got.body) != `{"message": "Endpoint request timed out"}` {
		t.Errorf("no prelude: %d %q", got.status, got.body)
	}

	// The prelude in time, the body after the timeout: the whole stream.
	gotPrelude := make(chan struct{})
	srv = frontEnd(t, feStreamFunc(func(context.Context, json.RawMessage) (io.Reader, error) {
		pr, pw := io.Pipe()
		go func() {
			pw.Write(feStreamedAnswer(t, map[string]any{"statusCode": 200}, "first "))
			<-gotPrelude
			time.Sleep(400 * time.Millisecond) // past the integration timeout
			pw.Write([]byte("last"))
			pw.Close()
		}()
		return pr, nil
	}), lambdatest.RESTAPI, lambdatest.WithResponseStream(), lambdatest.WithIntegrationTimeout(300*time.Millisecond))
	resp := feGetStream(t, srv.URL+pathFor(lambdatest.RESTAPI))
	close(gotPrelude)
	body, err := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || string(body) != "first last" || err != nil {
		t.Errorf("prelude in time: %d %q %v", resp.StatusCode, body, err)
	}
}

// TestResponseStreamSizeLimits: the request is limited as for Invoke, the
// streamed response to 200 MB instead of 6 MB.
func TestResponseStreamSizeLimits(t *testing.T) {
	ok := map[string]any{"statusCode": 200}
	chunk := bytes.Repeat([]byte("z"), 1<<20)
	// answer streams the prelude and then n bytes of body, chunk by chunk.
	answerOf := func(n int) feStreamFunc {
		return func(context.Context, json.RawMessage) (io.Reader, error) {
			pr, pw := io.Pipe()
			go func() {
				pw.Write(feStreamedAnswer(t, ok, ""))
				for n > 0 {
					k := min(n, len(chunk))
					if _, err := pw.Write(chunk[:k]); err != nil {
						return
					}
					n -= k
				}
				pw.Close()
			}()
			return pr, nil
		}
	}
	for _, fe := range streamingFrontEnds {
		srv := frontEnd(t, answerOf(lambdatest.MaxPayloadSize+1), fe, lambdatest.WithResponseStream())
		resp := feGetStream(t, srv.URL+pathFor(fe))
		if n, err := io.Copy(io.Discard, resp.Body); n != lambdatest.MaxPayloadSize+1 || err != nil {
			t.Errorf("%s: a 6 MB + 1 body: %d bytes, %v", fe, n, err)
		}

		rec := &recorder{}
		srv = frontEnd(t, rec, fe, lambdatest.WithResponseStream())
		if got := post(t, srv, pathFor(fe), "application/octet-stream", make([]byte, 5<<20)); got.status != http.StatusRequestEntityTooLarge || rec.count() != 0 {
			t.Errorf("%s: a request over 6 MB in base64: %d, invoked %d times", fe, got.status, rec.count())
		}
	}
	// Past 200 MB (the prelude included), the stream is cut.
	if testing.Short() {
		t.Skip("200 MB of stream in -short mode")
	}
	srv := frontEnd(t, answerOf(lambdatest.MaxStreamedResponseSize), lambdatest.FunctionURL, lambdatest.WithResponseStream())
	resp := feGetStream(t, srv.URL+"/")
	n, err := io.Copy(io.Discard, resp.Body)
	if n >= lambdatest.MaxStreamedResponseSize || !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("a 200 MB body: %d bytes, %v; want it cut", n, err)
	}
}

// TestResponseStreamRunsTheFunctionAsLambdaDoes: the function gets a fresh
// context with the function timeout and a Lambda context; a client that
// hangs up stops neither the function nor its writes, which are dropped;
// the payload is the function's own (aws-lambda-go decodes it into the
// json.RawMessage), still the event after the client left; the reader is
// closed once read.
func TestResponseStreamRunsTheFunctionAsLambdaDoes(t *testing.T) {
	type seen struct {
		deadline time.Time
		lc       *lambdacontext.LambdaContext
		ctxErr   error
		writeErr error
		payload  string // the payload, read after the client left
		closed   bool
	}
	seenc := make(chan seen, 1)
	hungUp := make(chan struct{})
	srv := frontEnd(t, feStreamFunc(func(ctx context.Context, p json.RawMessage) (io.Reader, error) {
		pr, pw := io.Pipe()
		r := &feCloseRecorder{r: pr, closed: make(chan struct{})}
		go func() {
			pw.Write(feStreamedAnswer(t, map[string]any{"statusCode": 200}, "first"))
			<-hungUp
			var s seen
			s.deadline, _ = ctx.Deadline()
			s.lc, _ = lambdacontext.FromContext(ctx)
			s.ctxErr = ctx.Err()
			_, s.writeErr = pw.Write(bytes.Repeat([]byte("more"), 64*1024))
			s.payload = string(p)
			pw.Close()
			select {
			case <-r.closed:
				s.closed = true
			case <-time.After(10 * time.Second):
			}
			seenc <- s
		}()
		return r, nil
	}), lambdatest.FunctionURL, lambdatest.WithResponseStream(), lambdatest.WithFunctionTimeout(time.Hour))
	start := time.Now()
	resp := feGetStream(t, srv.URL+"/")
	buf := make([]byte, 5)
	if _, err := io.ReadFull(resp.Body, buf); err != nil || string(buf) != "first" {
		t.Fatalf("read %q, %v", buf, err)
	}
	resp.Body.Close() // the client hangs up
	close(hungUp)
	s := <-seenc
	if s.ctxErr != nil || s.writeErr != nil {
		t.Errorf("after the client left: context %v, write %v; want the function to run on", s.ctxErr, s.writeErr)
	}
	if s.deadline.Before(start.Add(59*time.Minute)) || s.lc == nil || s.lc.AwsRequestID == "" {
		t.Errorf("deadline %v from the start, lambda context %+v", s.deadline.Sub(start), s.lc)
	}
	if !strings.Contains(s.payload, `"rawPath":"/"`) {
		t.Errorf("the payload while the stream ran: %.100q; want the event", s.payload)
	}
	if !s.closed {
		t.Error("the reader was not closed once read")
	}
}

// feCloseRecorder notes that it was closed. (Its fields are unexported:
// aws-lambda-go would send a reader that marshals to JSON as that JSON.)
type feCloseRecorder struct {
	r      io.Reader
	closed chan struct{}
}

func (c *feCloseRecorder) Read(p []byte) (int, error) { return c.r.Read(p) }

func (c *feCloseRecorder) Close() error {
	close(c.closed)
	if cl, ok := c.r.(io.Closer); ok {
		return cl.Close()
	}
	return nil
}

// TestResponseStreamOfAHandlerThatDoesNotStream: a plain lambda.Handler
// behind a streaming front end is invoked through Invoke; an answer in the
// streamed format is read as one, any other as a buffered answer.
func TestResponseStreamOfAHandlerThatDoesNotStream(t *testing.T) {
	for _, fe := range streamingFrontEnds {
		srv := frontEnd(t, &recorder{answer: feStreamedAnswer(t, map[string]any{"statusCode": 202, "headers": map[string]string{"X-A": "1"}}, "streamed")}, fe, lambdatest.WithResponseStream())
		if got := get(t, srv, pathFor(fe)); got.status != http.StatusAccepted || got.header.Get("X-A") != "1" || string(got.body) != "streamed" {
			t.Errorf("%s, streamed answer: %d %v %q", fe, got.status, got.header, got.body)
		}
		srv = frontEnd(t, &recorder{answer: answer(t, map[string]any{"statusCode": 203, "body": "buffered"})}, fe, lambdatest.WithResponseStream())
		if got := get(t, srv, pathFor(fe)); got.status != http.StatusNonAuthoritativeInfo || string(got.body) != "buffered" {
			t.Errorf("%s, buffered answer: %d %q", fe, got.status, got.body)
		}
		srv = frontEnd(t, handlerFunc(func(context.Context, []byte) ([]byte, error) {
			return nil, errors.New("boom")
		}), fe, lambdatest.WithResponseStream())
		checkFailed(t, fe, get(t, srv, pathFor(fe)), fe.String()+" error")
	}
}

// TestStreamedAnswerWithoutStreaming: without WithResponseStream, the
// function URL and REST API read an answer in the streamed format (what a
// streaming function's bootstrap gives a buffered invocation, as under the
// emulator), at once; the HTTP API and ALBs cannot (502), as for any
// answer they cannot read.
func TestStreamedAnswerWithoutStreaming(t *testing.T) {
	good := feStreamedAnswer(t, map[string]any{
		"statusCode":        201,
		"headers":           map[string]string{"Content-Type": "application/connect+proto", "X-A": "1"},
		"multiValueHeaders": map[string][]string{"X-Multi": {"a", "b"}},
		"cookies":           []string{"c=1"},
	}, "body\x00\x01")
	for _, fe := range allFrontEnds {
		srv := frontEnd(t, &recorder{answer: good}, fe)
		got := get(t, srv, pathFor(fe))
		if fe != lambdatest.FunctionURL && fe != lambdatest.RESTAPI {
			checkFailed(t, fe, got, fe.String()+" streamed answer")
			continue
		}
		if got.status != http.StatusCreated || string(got.body) != "body\x00\x01" || got.header.Get("Content-Length") != "6" {
			t.Errorf("%s: %d %q, Content-Length %q", fe, got.status, got.body, got.header.Get("Content-Length"))
		}
		if got.header.Get("X-A") != "1" || got.header.Get("Content-Type") != "application/connect+proto" || !slices.Equal(got.header.Values("Set-Cookie"), []string{"c=1"}) {
			t.Errorf("%s: headers %v", fe, got.header)
		}
		if multi := got.header.Values("X-Multi"); (fe == lambdatest.RESTAPI) != slices.Equal(multi, []string{"a", "b"}) {
			t.Errorf("%s: X-Multi %q: only a REST API reads multiValueHeaders", fe, multi)
		}
		for _, bad := range [][]byte{
			append([]byte(`{"statusCode":200}`), 0, 0, 0),
			append([]byte(`not JSON`), make([]byte, 8)...),
			feStreamedAnswer(t, map[string]any{"statusCode": "many"}, ""),
		} {
			srv := frontEnd(t, &recorder{answer: bad}, fe)
			checkFailed(t, fe, get(t, srv, pathFor(fe)), fe.String()+" "+strings.ToValidUTF8(string(bad), "?"))
		}
	}
}

// The proof with a real client: connect-go's generic client calls the
// server-streaming method Stream of internal/testing/testserver, served by
// a runtime.Server behind the stand-in, over Connect and gRPC-Web, proto
// and JSON.

const feStreamMethod = "/lambdatest.v1.TestService/Stream"

// feProtocols are the ways connect-go's client speaks to the front door.
var feProtocols = []struct {
	name string
	opts []connect.ClientOption
}{
	{"Connect/proto", nil},
	{"Connect/JSON", []connect.ClientOption{connect.WithProtoJSON()}},
	{"gRPC-Web/proto", []connect.ClientOption{connect.WithGRPCWeb()}},
	{"gRPC-Web/JSON", []connect.ClientOption{connect.WithGRPCWeb(), connect.WithProtoJSON()}},
}

// feDeployment is a function behind a front end: streamed (a function URL
// in RESPONSE_STREAM mode or a REST API in STREAM mode, with main
// lambda.Start(srv.InvokeStream)), or buffered (lambda.Start(srv)).
type feDeployment struct {
	name     string
	fe       lambdatest.FrontEnd
	opts     []lambdatest.HTTPOption
	prefix   string // the REST API's stage
	streamed bool
}

var (
	feStreamedDeployments = []feDeployment{
		{"FunctionURL/RESPONSE_STREAM", lambdatest.FunctionURL, []lambdatest.HTTPOption{lambdatest.WithResponseStream()}, "", true},
		{"RESTAPI/STREAM", lambdatest.RESTAPI, []lambdatest.HTTPOption{lambdatest.WithResponseStream()}, "/prod", true},
	}
	feBufferedDeployments = []feDeployment{
		{"FunctionURL/BUFFERED", lambdatest.FunctionURL, nil, "", false},
		{"HTTPAPI", lambdatest.HTTPAPI, nil, "", false},
		{"RESTAPI/BUFFERED", lambdatest.RESTAPI, nil, "/prod", false},
		{"ALB", lambdatest.ALB, nil, "", false},
		{"ALBMultiValue", lambdatest.ALBMultiValue, nil, "", false},
	}
)

// serve puts srv behind the deployment's front end and returns its base
// URL.
func (d feDeployment) serve(t *testing.T, srv *runtime.Server, opts ...lambdatest.HTTPOption) string {
	t.Helper()
	return frontEnd(t, srv, d.fe, append(append([]lambdatest.HTTPOption(nil), d.opts...), opts...)...).URL + d.prefix
}

// lengthRecorder is an HTTP transport that notes each response's
// Content-Length: -1 for a streamed (chunked) body.
type lengthRecorder struct {
	base    *http.Transport
	mu      sync.Mutex
	lengths []int64
}

func (l *lengthRecorder) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := l.base.RoundTrip(req)
	if err == nil {
		l.mu.Lock()
		l.lengths = append(l.lengths, resp.ContentLength)
		l.mu.Unlock()
	}
	return resp, err
}

func (l *lengthRecorder) last() int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.lengths) == 0 {
		return 0
	}
	return l.lengths[len(l.lengths)-1]
}

// streamClient is connect-go's client of Stream at baseURL.
func streamClient(t *testing.T, baseURL string, opts ...connect.ClientOption) (*connect.Client[testpb.EchoRequest, testpb.EchoResponse], *lengthRecorder) {
	t.Helper()
	rec := &lengthRecorder{base: &http.Transport{Proxy: nil}}
	t.Cleanup(rec.base.CloseIdleConnections)
	return connect.NewClient[testpb.EchoRequest, testpb.EchoResponse](&http.Client{Transport: rec}, baseURL+feStreamMethod, opts...), rec
}

// streamResult is what connect-go's client saw of a call.
type streamResult struct {
	header, trailer http.Header
	messages        []string
	err             error
}

func callStream(ctx context.Context, c *connect.Client[testpb.EchoRequest, testpb.EchoResponse], req *testpb.EchoRequest) streamResult {
	stream, err := c.CallServerStream(ctx, connect.NewRequest(req))
	if err != nil {
		return streamResult{err: err}
	}
	defer stream.Close()
	var res streamResult
	for stream.Receive() {
		res.messages = append(res.messages, stream.Msg().GetMessage())
	}
	res.header, res.trailer, res.err = stream.ResponseHeader(), stream.ResponseTrailer(), stream.Err()
	return res
}

// TestConnectGoServerStream: connect-go's client gets N messages, then OK
// with the header and trailer metadata, or the handler's error with its
// details, over Connect and gRPC-Web, proto and JSON; streamed behind a
// function URL in RESPONSE_STREAM mode or a REST API in STREAM mode (a
// chunked body, read as it comes), buffered behind every front end with
// lambda.Start(srv) (the same messages and status, in one body with a
// Content-Length).
func TestConnectGoServerStream(t *testing.T) {
	detail, err := anypb.New(durationpb.New(1500 * time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	srv := testpb.NewTestServiceLambdaHandler(&testserver.Server{})
	for _, d := range append(append([]feDeployment(nil), feStreamedDeployments...), feBufferedDeployments...) {
		t.Run(d.name, func(t *testing.T) {
			base := d.serve(t, srv)
			for _, p := range feProtocols {
				t.Run(p.name, func(t *testing.T) {
					c, lengths := streamClient(t, base, p.opts...)
					checkBody := func(what string) {
						t.Helper()
						if n := lengths.last(); d.streamed != (n == -1) {
							t.Errorf("%s: Content-Length %d; want -1 (chunked) exactly when streamed", what, n)
						}
					}
					res := callStream(context.Background(), c, &testpb.EchoRequest{
						Message: "m", Count: 3,
						Header:  []*testpb.Pair{{Key: "x-head", Value: []byte("hv")}},
						Trailer: []*testpb.Pair{{Key: "x-trail", Value: []byte("tv")}},
					})
					if res.err != nil || !slices.Equal(res.messages, []string{"m 0", "m 1", "m 2"}) {
						t.Errorf("OK call: %q, %v", res.messages, res.err)
					}
					if res.header.Get("X-Head") != "hv" || res.trailer.Get("X-Trail") != "tv" {
						t.Errorf("OK call: header %v, trailer %v", res.header, res.trailer)
					}
					checkBody("OK call")

					res = callStream(context.Background(), c, &testpb.EchoRequest{
						Message: "e", Count: 2,
						Trailer: []*testpb.Pair{{Key: "x-trail", Value: []byte("tv")}},
						Fail:    &testpb.Status{Code: int32(codes.Aborted), Message: "after two", Details: []*anypb.Any{detail}},
					})
					var cerr *connect.Error
					if !slices.Equal(res.messages, []string{"e 0", "e 1"}) || !errors.As(res.err, &cerr) || cerr.Code() != connect.CodeAborted || cerr.Message() != "after two" {
						t.Fatalf("failing call: %q, %v; want two messages then ABORTED", res.messages, res.err)
					}
					if ds := cerr.Details(); len(ds) != 1 {
						t.Errorf("details %v", ds)
					} else if v, err := ds[0].Value(); err != nil || !proto.Equal(v, durationpb.New(1500*time.Millisecond)) {
						t.Errorf("detail %v, %v", v, err)
					}
					if res.trailer.Get("X-Trail") != "tv" && cerr.Meta().Get("X-Trail") != "tv" {
						t.Errorf("failing call: trailer %v, error metadata %v", res.trailer, cerr.Meta())
					}
					checkBody("failing call")
				})
			}
		})
	}
}

// TestConnectGoServerStreamDeadline: connect-go's timeout ends a stream
// mid-way with DEADLINE_EXCEEDED; streamed, the messages sent before it
// have arrived.
func TestConnectGoServerStreamDeadline(t *testing.T) {
	srv := testpb.NewTestServiceLambdaHandler(&testserver.Server{})
	for _, d := range append(append([]feDeployment(nil), feStreamedDeployments...), feBufferedDeployments[:2]...) {
		t.Run(d.name, func(t *testing.T) {
			t.Parallel()
			base := d.serve(t, srv)
			for _, p := range feProtocols {
				t.Run(p.name, func(t *testing.T) {
					t.Parallel()
					c, _ := streamClient(t, base, p.opts...)
					ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
					defer cancel()
					res := callStream(ctx, c, &testpb.EchoRequest{Message: "d", Count: 1000, IntervalMillis: 20})
					if connect.CodeOf(res.err) != connect.CodeDeadlineExceeded || len(res.messages) >= 1000 {
						t.Errorf("%d messages, then %v; want DEADLINE_EXCEEDED mid-stream", len(res.messages), res.err)
					}
					if d.streamed && len(res.messages) == 0 {
						t.Error("no message arrived before the deadline")
					}
				})
			}
		})
	}
}

// firstMessageService is lambdatest.v1.TestService with a Stream that
// sends "first", then waits until the client has it (read is closed) or
// its deadline, then sends "second". ended is closed when it returns.
func firstMessageService(read <-chan struct{}, ended chan<- struct{}) *runtime.Server {
	srv := runtime.NewServer()
	srv.RegisterService(&grpc.ServiceDesc{
		ServiceName: "lambdatest.v1.TestService",
		HandlerType: (*any)(nil),
		Streams: []grpc.StreamDesc{{StreamName: "Stream", ServerStreams: true, Handler: func(_ any, ss grpc.ServerStream) error {
			defer close(ended)
			if err := ss.RecvMsg(new(testpb.EchoRequest)); err != nil {
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
	return srv
}

// firstMessage calls the firstMessageService behind the deployment and
// reports how its first message came: "first" while the handler was
// still running (then it reads the rest of the stream, which must be
// "second" and OK), or what went wrong.
func firstMessage(t *testing.T, d feDeployment, opts []connect.ClientOption, httpOpts ...lambdatest.HTTPOption) string {
	t.Helper()
	read, ended := make(chan struct{}), make(chan struct{})
	c, _ := streamClient(t, d.serve(t, firstMessageService(read, ended), httpOpts...), opts...)
	stream, err := c.CallServerStream(context.Background(), connect.NewRequest(&testpb.EchoRequest{}))
	if err != nil {
		return "call: " + err.Error()
	}
	defer stream.Close()
	if !stream.Receive() {
		return fmt.Sprintf("no first message: %v", stream.Err())
	}
	select {
	case <-ended:
		return "the first message came after the handler ended"
	default:
	}
	if got := stream.Msg().GetMessage(); got != "first" {
		return "first message " + got
	}
	close(read)
	var rest []string
	for stream.Receive() {
		rest = append(rest, stream.Msg().GetMessage())
	}
	if !slices.Equal(rest, []string{"second"}) || stream.Err() != nil {
		t.Errorf("after the first message: %q, %v", rest, stream.Err())
	}
	return "first"
}

// TestConnectGoFirstMessageBeforeHandlerEnds: streamed, the handler's first
// message reaches connect-go's client while the handler runs: the handler
// waits, after sending it, until the client has it, so it could not come
// otherwise. (No timing: a buffered front end sends it only once the
// handler has given up at its deadline, which the second half shows.)
func TestConnectGoFirstMessageBeforeHandlerEnds(t *testing.T) {
	for _, d := range feStreamedDeployments {
		for _, p := range feProtocols {
			t.Run(d.name+"/"+p.name, func(t *testing.T) {
				if got := firstMessage(t, d, p.opts); got != "first" {
					t.Errorf("%s; want the first message while the handler runs", got)
				}
			})
		}
	}
	t.Run("buffered", func(t *testing.T) {
		// The same handler behind a buffered function URL: it ends at its
		// deadline (the function timeout less the runtime's margin), and
		// only then does its answer leave.
		got := firstMessage(t, feBufferedDeployments[0], nil, lambdatest.WithFunctionTimeout(time.Second))
		if got != "the first message came after the handler ended" {
			t.Errorf("buffered: %s; want the check to see the handler ended first", got)
		}
	})
}

// TestStreamingFunctionBehindTheEmulator: the real bootstrap of a
// streaming function (lambda.Start(srv.InvokeStream), this test binary as
// the function) under the real aws-lambda-rie, behind the function URL and
// REST API stand-ins through EmulatorHandler. The emulator cannot stream:
// it answers the function's streamed HTTP answer whole, and the stand-ins
// read it as one, with or without WithResponseStream; connect-go's client
// gets every message and the status, at the end. (An HTTP API could not
// read it: 502.)
func TestStreamingFunctionBehindTheEmulator(t *testing.T) {
	t.Setenv(streamFunctionEnv, "1") // passed on to the function
	endpoint := startEmulator(t)
	h := lambdatest.EmulatorHandler(endpoint)
	for _, d := range []feDeployment{
		{"FunctionURL/RESPONSE_STREAM", lambdatest.FunctionURL, []lambdatest.HTTPOption{lambdatest.WithResponseStream()}, "", true},
		{"FunctionURL/BUFFERED", lambdatest.FunctionURL, nil, "", false},
		{"RESTAPI/STREAM", lambdatest.RESTAPI, []lambdatest.HTTPOption{lambdatest.WithResponseStream()}, "/prod", true},
		{"RESTAPI/BUFFERED", lambdatest.RESTAPI, nil, "/prod", false},
	} {
		t.Run(d.name, func(t *testing.T) {
			base := frontEnd(t, h, d.fe, d.opts...).URL + d.prefix
			for _, p := range feProtocols {
				c, _ := streamClient(t, base, p.opts...)
				res := callStream(context.Background(), c, &testpb.EchoRequest{
					Message: "m", Count: 3,
					Header:  []*testpb.Pair{{Key: "x-head", Value: []byte("hv")}},
					Trailer: []*testpb.Pair{{Key: "x-trail", Value: []byte("tv")}},
				})
				if res.err != nil || !slices.Equal(res.messages, []string{"m 0", "m 1", "m 2"}) || res.header.Get("X-Head") != "hv" || res.trailer.Get("X-Trail") != "tv" {
					t.Errorf("%s: %q, %v, header %v, trailer %v", p.name, res.messages, res.err, res.header, res.trailer)
				}
				res = callStream(context.Background(), c, &testpb.EchoRequest{Message: "e", Count: 1, Fail: &testpb.Status{Code: int32(codes.NotFound), Message: "gone"}})
				if !slices.Equal(res.messages, []string{"e 0"}) || connect.CodeOf(res.err) != connect.CodeNotFound {
					t.Errorf("%s, failing: %q, %v", p.name, res.messages, res.err)
				}
			}
			// A unary call to the same function.
			unary := connect.NewClient[testpb.EchoRequest, testpb.EchoResponse](http.DefaultClient, base+"/lambdatest.v1.TestService/Echo")
			resp, err := unary.CallUnary(context.Background(), connect.NewRequest(&testpb.EchoRequest{Message: "u"}))
			if err != nil || resp.Msg.GetMessage() != "u" {
				t.Errorf("unary: %v, %v", resp, err)
			}
		})
	}
	srv := frontEnd(t, h, lambdatest.HTTPAPI)
	c, _ := streamClient(t, srv.URL)
	if res := callStream(context.Background(), c, &testpb.EchoRequest{Count: 1}); connect.CodeOf(res.err) != connect.CodeUnavailable {
		// connect-go maps the HTTP API's 502 to UNAVAILABLE.
		t.Errorf("behind an HTTP API: %q, %v; want the 502", res.messages, res.err)
	}
}

// TestGRPCWebTextServerStream: gRPC-Web's text mode (grpc-web's default in
// browsers, which connect-go's client does not speak) streams too: each
// frame is base64 on its own, so the body decodes quantum by quantum into
// the data frames and the trailer frame.
func TestGRPCWebTextServerStream(t *testing.T) {
	srv := testpb.NewTestServiceLambdaHandler(&testserver.Server{})
	for _, d := range append(append([]feDeployment(nil), feStreamedDeployments...), feBufferedDeployments[0]) {
		base := d.serve(t, srv)
		msg, err := proto.Marshal(&testpb.EchoRequest{Message: "t", Count: 2})
		if err != nil {
			t.Fatal(err)
		}
		frame := append([]byte{0, 0, 0, 0, byte(len(msg))}, msg...)
		req, err := http.NewRequest(http.MethodPost, base+feStreamMethod, strings.NewReader(base64.StdEncoding.EncodeToString(frame)))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/grpc-web-text")
		got := do(t, req)
		if got.status != http.StatusOK || got.header.Get("Content-Type") != "application/grpc-web-text" || len(got.body)%4 != 0 {
			t.Fatalf("%s: %d %v %q", d.name, got.status, got.header, got.body)
		}
		var raw []byte
		for b := got.body; len(b) > 0; b = b[4:] {
			q, err := base64.StdEncoding.DecodeString(string(b[:4]))
			if err != nil {
				t.Fatalf("%s: %q: %v", d.name, got.body, err)
			}
			raw = append(raw, q...)
		}
		var messages []string
		var trailer string
		for len(raw) >= 5 {
			n := int(raw[1])<<24 | int(raw[2])<<16 | int(raw[3])<<8 | int(raw[4])
			data := raw[5 : 5+n]
			if raw[0] == 0x80 {
				trailer = string(data)
			} else {
				m := new(testpb.EchoResponse)
				if err := proto.Unmarshal(data, m); err != nil {
					t.Fatal(err)
				}
				messages = append(messages, m.GetMessage())
			}
			raw = raw[5+n:]
		}
		if !slices.Equal(messages, []string{"t 0", "t 1"}) || !strings.Contains(trailer, "grpc-status: 0") {
			t.Errorf("%s: messages %q, trailer %q", d.name, messages, trailer)
		}
	}
}
