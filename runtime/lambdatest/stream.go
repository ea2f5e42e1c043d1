package lambdatest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"reflect"
	"strconv"
	"strings"
	"sync"

	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awslambda "github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/smithy-go/eventstream"

	"github.com/protoc-gen-go-lambda/protoc-gen-go-lambda/runtime/invoke"
)

// StreamHandler is a function whose answer is streamed: aws-lambda-go
// streams the io.Reader that a handler of this signature returns, with
// lambda.Start(h.InvokeStream), each Read's bytes leaving the function as
// they come. *runtime.Server implements it.
type StreamHandler interface {
	InvokeStream(ctx context.Context, payload json.RawMessage) (io.Reader, error)
}

// MaxStreamedResponseSize is Lambda's limit for a streamed response: 200 MB
// (209,715,200 bytes).
const MaxStreamedResponseSize = 200 << 20

var _ invoke.StreamInvoker = (*Invoker)(nil)

// InvokeWithResponseStream implements invoke.StreamInvoker: it runs the
// function as the Lambda InvokeWithResponseStream API does, with the same
// semantics as Invoke (a fresh context with the function timeout, the
// caller's cancellation not reaching the handler, the concurrency limit,
// the 6 MB request limit), and answers through the AWS SDK's own client
// and event stream decoder: the output's stream is the SDK's, reading an
// application/vnd.amazon.eventstream body that this Invoker writes in
// process, a PayloadChunk event per piece of the answer, then
// InvokeComplete.
//
//   - A handler that is also a StreamHandler is run as aws-lambda-go runs
//     one: it gets a fresh copy of the payload as a json.RawMessage (a
//     payload that is not JSON fails as aws-lambda-go's decoding fails it),
//     and the bytes of each Read of its io.Reader go out as one PayloadChunk
//     as soon as it returns them. As in aws-lambda-go, a reader that
//     marshals to JSON other than "{}..." is answered as that JSON instead,
//     and a reader that is an io.Closer is closed once it has been read.
//   - Any other handler is run through lambda.Handler's Invoke; its answer
//     goes out as one PayloadChunk (at most MaxPayloadSize bytes, as for a
//     function that does not stream).
//   - When the caller goes away (its context, or the response stream closed)
//     the function is not told: its answer is read on and discarded until
//     it ends, as Lambda does.
//   - A streamed answer over MaxStreamedResponseSize ends with InvokeComplete
//     ErrorCode "Function.ResponseSizeTooLarge", the rest discarded.
//   - A handler still running at the function timeout gets InvokeComplete
//     with ErrorCode "Sandbox.Timedout" and ErrorDetails "Task timed out
//     after N.NN seconds" (the handler runs on, as with Invoke).
//   - An error returned by the handler, or by a Read of its reader, ends the
//     stream with InvokeComplete ErrorCode "Unhandled" and ErrorDetails
//     aws-lambda-go's error document, {"errorMessage":…,"errorType":…}.
//
// Real Lambda's ErrorCode and ErrorDetails for a function error in a
// streamed invocation are not documented; these are this double's
// reading. The invoke client accepts either an error type or a kind as
// ErrorCode, and a document or a message as ErrorDetails.
//
// The SDK options passed in are ignored, as with Invoke.
func (inv *Invoker) InvokeWithResponseStream(ctx context.Context, in *awslambda.InvokeWithResponseStreamInput, _ ...func(*awslambda.Options)) (*awslambda.InvokeWithResponseStreamOutput, error) {
	return streamSDK().InvokeWithResponseStream(context.WithValue(ctx, invokerKey{}, inv), in, ownEventStreamCodec)
}

// streamSDK is the SDK client through which every Invoker answers
// InvokeWithResponseStream; its HTTP client is streamTransport, which runs
// the function of the Invoker in the request's context.
var streamSDK = sync.OnceValue(func() *awslambda.Client {
	return awslambda.New(awslambda.Options{
		Region:       "us-east-1",
		Credentials:  credentials.NewStaticCredentialsProvider("AKIDLAMBDATEST", "lambdatest", ""),
		BaseEndpoint: aws.String("http://lambdatest.invalid"),
		HTTPClient:   streamTransport{},
		Retryer:      aws.NopRetryer{},
	})
})

type invokerKey struct{}

// ownEventStreamCodec gives an SDK call its own protocol, whose event
// stream codec is then not shared with the client's other calls: smithy-go
// keeps per-call decoding state in the codec of the client's protocol, a
// data race between concurrent event streams (aws/smithy-go#714). It is
// the protocol invoke's streams use (invoke.StreamProtocol), which decodes
// PayloadChunk events as a client through invoke would in production.
func ownEventStreamCodec(o *awslambda.Options) {
	invoke.StreamProtocol(o)
}

// streamTransport answers InvokeWithResponseStream requests by running the
// function of the Invoker that made them.
type streamTransport struct{}

const eventStreamContentType = "application/vnd.amazon.eventstream"

func (streamTransport) Do(req *http.Request) (*http.Response, error) {
	ctx := req.Context()
	inv, ok := ctx.Value(invokerKey{}).(*Invoker)
	if !ok {
		return nil, errors.New("lambdatest: a request without its Invoker")
	}
	var payload []byte
	if req.Body != nil {
		var err error
		payload, err = io.ReadAll(req.Body)
		req.Body.Close()
		if err != nil {
			return nil, err
		}
	}
	name, ok := strings.CutPrefix(req.URL.Path, "/2021-11-15/functions/")
	name, ok2 := strings.CutSuffix(name, "/response-streaming-invocations")
	if !ok || !ok2 {
		return apiErrorResponse(req, http.StatusNotFound, "UnknownOperationException", "lambdatest serves InvokeWithResponseStream only"), nil
	}
	if n, err := url.PathUnescape(name); err == nil {
		name = n
	}
	if len(payload) > MaxPayloadSize {
		return apiErrorResponse(req, http.StatusRequestEntityTooLarge, "RequestTooLargeException",
			fmt.Sprintf("Request must be smaller than %d bytes for the InvokeFunction operation", MaxPayloadSize)), nil
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if inv.slots != nil {
		select {
		case inv.slots <- struct{}{}:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	fctx, cancel, requestID := inv.functionContext(name)
	pr, pw := io.Pipe()
	// The caller's side of the connection: abandoned when its context ends
	// (the SDK closes the body too); the function is not told. Close ends
	// it as well.
	stopCaller := context.AfterFunc(ctx, func() { pr.CloseWithError(ctx.Err()) })
	stopBase := context.AfterFunc(inv.base, func() { pr.CloseWithError(errors.New("lambdatest: the Invoker was closed")) })
	w := &eventWriter{pw: pw, enc: eventstream.NewEncoder()}
	inv.wg.Add(1)
	go func() {
		defer inv.wg.Done()
		defer func() {
			stopCaller()
			stopBase()
			cancel()
			if inv.slots != nil {
				<-inv.slots
			}
		}()
		inv.runStream(fctx, payload, w)
	}()
	return &http.Response{
		Status:     "200 OK",
		StatusCode: http.StatusOK,
		Proto:      "HTTP/1.1",
		ProtoMajor: 1,
		ProtoMinor: 1,
		Header: http.Header{
			"Content-Type":           {eventStreamContentType},
			"X-Amz-Executed-Version": {"$LATEST"},
			"X-Amzn-Requestid":       {requestID},
		},
		Body:          pr,
		ContentLength: -1,
		Request:       req,
	}, nil
}

// functionContext is an invocation's context: the function timeout from
// now, not the caller's, with the Lambda context of request n.
func (inv *Invoker) functionContext(name string) (context.Context, context.CancelFunc, string) {
	id := "lambdatest-" + strconv.FormatInt(inv.count.Add(1), 10)
	fctx, cancel := context.WithTimeout(inv.base, inv.timeout)
	fctx = lambdacontext.NewContext(fctx, &lambdacontext.LambdaContext{
		AwsRequestID:       id,
		InvokedFunctionArn: "arn:aws:lambda:us-east-1:123456789012:function:" + name,
	})
	return fctx, cancel, id
}

// apiErrorResponse is an Invoke API error answer, as Lambda writes them.
func apiErrorResponse(req *http.Request, code int, errorType, message string) *http.Response {
	body, _ := json.Marshal(map[string]string{"Type": "User", "message": message})
	return &http.Response{
		Status:        fmt.Sprintf("%d %s", code, http.StatusText(code)),
		StatusCode:    code,
		Proto:         "HTTP/1.1",
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        http.Header{"Content-Type": {"application/json"}, "X-Amzn-Errortype": {errorType}},
		Body:          io.NopCloser(bytes.NewReader(body)),
		ContentLength: int64(len(body)),
		Request:       req,
	}
}

// streamResult is what the handler returned.
type streamResult struct {
	r   io.Reader // a streamed answer
	out []byte    // a buffered one
	err error
}

// runStream runs one invocation and writes its events.
func (inv *Invoker) runStream(fctx context.Context, payload []byte, w *eventWriter) {
	done := make(chan streamResult, 1)
	sh, streams := inv.handler.(StreamHandler)
	go func() {
		if !streams {
			buf := append(inv.getBuffer(), payload...)
			out, err := invokeRecovering(fctx, inv.handler, buf)
			done <- streamResult{out: out, err: err}
			inv.putBuffer(buf)
			return
		}
		// aws-lambda-go decodes the payload into the handler's
		// json.RawMessage, a copy.
		var raw json.RawMessage
		if err := json.NewDecoder(bytes.NewReader(payload)).Decode(&raw); err != nil {
			done <- streamResult{err: err}
			return
		}
		r, err := invokeStreamRecovering(fctx, sh, raw)
		done <- streamResult{r: r, err: err}
	}()

	var res streamResult
	select {
	case res = <-done:
		if fctx.Err() != nil {
			// The answer came as the function timed out: Lambda had
			// stopped it.
			w.complete("Sandbox.Timedout", inv.timeoutMessage())
			if res.r != nil {
				drain(fctx, res.r, nil)
			}
			return
		}
	case <-fctx.Done():
		select {
		case res = <-done:
		default:
			w.complete("Sandbox.Timedout", inv.timeoutMessage())
			// The handler runs on; whatever it streams is discarded.
			res = <-done
			if res.r != nil {
				drain(fctx, res.r, nil)
			}
			return
		}
	}
	switch {
	case res.err != nil:
		w.complete("Unhandled", streamErrorDocument(res.err))
		return
	case res.r == nil:
		if len(res.out) > MaxPayloadSize {
			w.complete("Function.ResponseSizeTooLarge", fmt.Sprintf("Response payload size exceeded maximum allowed payload size (%d bytes).", MaxPayloadSize))
			return
		}
		if len(res.out) > 0 {
			w.chunk(res.out)
		}
		w.complete("", "")
		return
	}
	// aws-lambda-go answers a reader that marshals to JSON other than
	// "{}..." with that JSON rather than its bytes.
	if b, err := json.Marshal(res.r); err == nil && !bytes.HasPrefix(b, []byte("{}")) {
		if c, ok := res.r.(io.Closer); ok {
			c.Close()
		}
		w.chunk(b)
		w.complete("", "")
		return
	}
	// Stream, with the function timeout still running.
	streamed := make(chan error, 1)
	go func() { streamed <- drain(fctx, res.r, w) }()
	select {
	case err := <-streamed:
		switch {
		case fctx.Err() != nil:
			// The reader ended because its context did: the function
			// timed out.
			w.complete("Sandbox.Timedout", inv.timeoutMessage())
		case err != nil:
			w.complete("Unhandled", streamErrorDocument(err))
		default:
			w.complete("", "")
		}
	case <-fctx.Done():
		w.complete("Sandbox.Timedout", inv.timeoutMessage())
		<-streamed
	}
}

func (inv *Invoker) timeoutMessage() string {
	return fmt.Sprintf("Task timed out after %.2f seconds", inv.timeout.Seconds())
}

// drain reads r to its end, each Read's bytes a PayloadChunk on w (nil:
// discarded, as is what comes after the function's context has ended), and
// closes r if it is an io.Closer. It returns the Read error that ended it,
// nil for io.EOF; a stream over MaxStreamedResponseSize is ended there.
func drain(fctx context.Context, r io.Reader, w *eventWriter) error {
	if c, ok := r.(io.Closer); ok {
		defer c.Close()
	}
	buf := make([]byte, 64<<10)
	var size int64
	for {
		n, err := r.Read(buf)
		if n > 0 && w != nil && fctx.Err() == nil {
			if size += int64(n); size > MaxStreamedResponseSize {
				w.complete("Function.ResponseSizeTooLarge", fmt.Sprintf("Response payload size exceeded maximum allowed payload size (%d bytes).", MaxStreamedResponseSize))
				w = nil
			} else {
				w.chunk(buf[:n])
			}
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			// aws-lambda-go stops reading at the first error.
			return err
		}
	}
}

// streamErrorDocument is aws-lambda-go's error document for err.
func streamErrorDocument(err error) string {
	if p, ok := err.(*handlerPanic); ok {
		doc, _ := json.Marshal(map[string]string{"errorMessage": p.msg, "errorType": p.typ})
		return string(doc)
	}
	t := reflect.TypeOf(err)
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	doc, _ := json.Marshal(map[string]string{"errorMessage": err.Error(), "errorType": t.Name()})
	return string(doc)
}

// eventWriter writes a response stream's events to the caller's side of
// the connection. Once InvokeComplete is sent, or the caller has gone, it
// writes nothing more.
type eventWriter struct {
	mu     sync.Mutex
	pw     *io.PipeWriter
	enc    *eventstream.Encoder
	closed bool
}

func (w *eventWriter) write(eventType, contentType string, payload []byte) {
	var msg eventstream.Message
	msg.Headers.Set(eventstream.EventTypeHeader, eventstream.StringValue(eventType))
	msg.Headers.Set(eventstream.MessageTypeHeader, eventstream.StringValue(eventstream.EventMessageType))
	msg.Headers.Set(eventstream.ContentTypeHeader, eventstream.StringValue(contentType))
	msg.Payload = payload
	if err := w.enc.Encode(w.pw, msg); err != nil {
		// The caller has gone: the rest is discarded.
		w.closed = true
		w.pw.CloseWithError(err)
	}
}

// chunk sends a PayloadChunk.
func (w *eventWriter) chunk(b []byte) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.closed {
		w.write("PayloadChunk", "application/octet-stream", b)
	}
}

// complete sends InvokeComplete, with an error code for a failed
// invocation, and ends the stream.
func (w *eventWriter) complete(errorCode, details string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return
	}
	ev := map[string]string{}
	if errorCode != "" {
		ev["ErrorCode"] = errorCode
		ev["ErrorDetails"] = details
	}
	b, _ := json.Marshal(ev)
	w.write("InvokeComplete", "application/json", b)
	w.closed = true
	w.pw.Close()
}

// invokeStreamRecovering is invokeRecovering for a StreamHandler.
func invokeStreamRecovering(ctx context.Context, h StreamHandler, payload json.RawMessage) (io.Reader, error) {
	return recovering(func() (io.Reader, error) { return h.InvokeStream(ctx, payload) })
}
