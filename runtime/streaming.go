package runtime

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"runtime/debug"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/protoc-gen-go-lambda/protoc-gen-go-lambda/runtime/internal/wire"
)

// This file is server streaming in the dispatch core: a server-streaming
// method's handler sends its messages through a grpc.ServerStream whose
// output goes to the front end's streamSink as it is produced. Whether
// those bytes leave the function at once (InvokeStream, Lambda response
// streaming) or at the end (Invoke, buffered) is the streamOut's business,
// not the front end's.

// streamSink is where a front end writes a server-streaming call's output,
// in its own protocol. The stream calls it under its lock, so calls never
// overlap; an error ends the handler's sending (SendMsg returns it).
type streamSink interface {
	// sendHeader writes the header metadata; at most once, before the
	// first message.
	sendHeader(md metadata.MD) error
	// sendMessage writes one marshaled response message; b is reused after
	// the call.
	sendMessage(b []byte) error
	// coalesce makes the sink's next write go out with the one after it:
	// a header sent because the first message is, leaves with it, in one
	// chunk of the streamed response.
	coalesce()
}

// serverStreaming reports whether a route is a server-streaming method,
// the one kind of streaming method an invocation can carry.
func (r *route) serverStreaming() bool {
	return r.stream != nil && r.stream.ServerStreams && !r.stream.ClientStreams
}

// handlerStream is the grpc.ServerStream a server-streaming handler gets.
type handlerStream struct {
	ctx  context.Context
	c    *call
	recv int // messages received: the request is the one message
}

var _ grpc.ServerStream = (*handlerStream)(nil)

func (h *handlerStream) Context() context.Context        { return h.ctx }
func (h *handlerStream) SetHeader(md metadata.MD) error  { return h.c.stream.SetHeader(md) }
func (h *handlerStream) SendHeader(md metadata.MD) error { return h.c.stream.SendHeader(md) }
func (h *handlerStream) SetTrailer(md metadata.MD)       { _ = h.c.stream.SetTrailer(md) }
func (h *handlerStream) SendMsg(m any) error             { return h.c.stream.sendMsg(h.c, m) }
func (h *handlerStream) RecvMsg(m any) error             { return h.recvMsg(m) }

// recvMsg yields the request message, then io.EOF, as grpc-go's server
// stream does for a client that sent one message and closed.
func (h *handlerStream) recvMsg(m any) error {
	if h.recv > 0 {
		return io.EOF
	}
	h.recv++
	return h.c.decode(m)
}

// sendMsg marshals and writes one response message, sending the header
// first if it has not gone out.
func (s *serverStream) sendMsg(c *call, m any) error {
	buf, st := c.srv.marshal(m, c.jsonMode)
	if st != nil {
		return st.Err()
	}
	defer buf.Free()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.done {
		return s.endErr
	}
	if err := s.writeHeaderLocked(true); err != nil {
		return err
	}
	if c.stats != nil {
		c.stats.sendStreamMessage(c, s.header, m, buf.B)
	}
	if err := s.sink.sendMessage(buf.B); err != nil {
		s.failed = toStatus(err)
		return err
	}
	return nil
}

// writeHeaderLocked sends the header if it has not been sent; with
// withMessage, a message follows at once and the two leave together.
func (s *serverStream) writeHeaderLocked(withMessage bool) error {
	if s.headerWritten {
		return nil
	}
	if s.failed != nil {
		return s.failed.Err()
	}
	s.headerSent, s.headerWritten = true, true
	if msg := invalidWireMetadata(s.header); msg != "" {
		s.failed = status.New(codes.Internal, msg)
		return s.failed.Err()
	}
	if withMessage {
		s.sink.coalesce()
	}
	if err := s.sink.sendHeader(s.header); err != nil {
		s.failed = toStatus(err)
		return err
	}
	return nil
}

// serveStream serves a server-streaming call; the outcome has no body, and
// its header is the header metadata only when none was sent.
func (c *call) serveStream(ctx context.Context, r *route) outcome {
	stream := &c.stream
	res, handlerDone := c.runHandler(ctx, r, &handlerStream{ctx: ctx, c: c})
	err := res.err
	header, trailer, failed := stream.finishStream(handlerDone, err)
	if failed != nil {
		return failure(failed, header, trailer)
	}
	if msg := invalidWireMetadata(trailer); msg != "" {
		return failure(status.New(codes.Internal, msg), header, nil)
	}
	if err != nil {
		return failure(toStatus(err), header, trailer)
	}
	return outcome{header: header, trailer: trailer}
}

// handleStream runs a streaming handler with the stream interceptors and
// turns a panic into INTERNAL.
func (c *call) handleStream(hs *handlerStream, r *route) (err error) {
	defer func() {
		if p := recover(); p != nil {
			log.Printf("protoc-gen-go-lambda: panic in handler for %s: %v\n%s", r.method, p, debug.Stack())
			err = status.Errorf(codes.Internal, "panic in handler: %v", p)
		}
	}()
	if i := c.srv.streamInterceptor; i != nil {
		info := &grpc.StreamServerInfo{FullMethod: r.method, IsServerStream: true}
		return i(r.service.impl, hs, info, r.stream.Handler)
	}
	return r.stream.Handler(r.service.impl, hs)
}

// finishStream closes a streaming call to further writes. It returns the
// header still to be sent (none when it went out, or when the handler did
// not finish and had not sent it), the trailer (none when the handler did
// not finish), and the status of a failed write, which ends the call.
func (s *serverStream) finishStream(handlerDone bool, err error) (header, trailer metadata.MD, failed *status.Status) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.done = true
	s.endErr = errStreamEnded
	if err != nil {
		s.endErr = err
	}
	if !s.headerWritten && (handlerDone || s.headerSent) {
		header = s.header
	}
	if handlerDone {
		trailer = s.trailer
	}
	return header, trailer, s.failed
}

var errStreamEnded = status.Error(codes.Internal, "transport: the stream is done")

// streamOut is where a streamed answer's bytes go: all into buf, for an
// answer returned at once (Invoke), or, with w set, out of the function as
// they come (InvokeStream).
type streamOut struct {
	buf   []byte
	w     io.Writer
	limit int  // buffered: the most buf may hold
	gone  bool // the reader went away: bytes are dropped, as Lambda drops them

	hold    bool   // streamed: keep the next write for the one after it
	pending []byte // what hold kept
}

// write sends p, or appends it to the buffered answer.
func (o *streamOut) write(p []byte) error {
	if o.w == nil {
		if len(o.buf)+len(p) > o.limit {
			return status.Errorf(codes.ResourceExhausted, "lambda: the streamed response exceeds the limit of %d bytes of a buffered invocation; start the function with lambda.Start(srv.InvokeStream) and call it with response streaming", o.limit)
		}
		o.buf = append(o.buf, p...)
		return nil
	}
	if o.gone {
		return nil
	}
	if o.hold {
		o.hold = false
		o.pending = append(o.pending[:0], p...)
		return nil
	}
	if len(o.pending) > 0 {
		p = append(o.pending, p...)
		o.pending = o.pending[:0]
	}
	if _, err := o.w.Write(p); err != nil {
		o.gone = true
	}
	return nil
}

// streamedAnswer is InvokeStream's result: aws-lambda-go sends a handler's
// io.Reader result as a streamed response, reading it as it is written.
type streamedAnswer struct {
	r           io.Reader
	contentType string
	closer      io.Closer
}

func (a *streamedAnswer) Read(p []byte) (int, error) { return a.r.Read(p) }

// ContentType is the response's content type for Lambda: aws-lambda-go
// sends it with the response.
func (a *streamedAnswer) ContentType() string { return a.contentType }

// MarshalJSON fails, so that aws-lambda-go sends the reader's bytes rather
// than the reader encoded as JSON.
func (a *streamedAnswer) MarshalJSON() ([]byte, error) {
	return nil, errors.New("a streamed answer is not JSON")
}

// Close ends the answer; aws-lambda-go calls it after sending it. A handler
// still writing then has its bytes dropped.
func (a *streamedAnswer) Close() error {
	if a.closer != nil {
		return a.closer.Close()
	}
	return nil
}

// Content types of the answers InvokeStream returns.
const (
	contentTypeEnvelope = "application/json"
	contentTypeFrames   = "application/octet-stream"
)

// streamer starts a streamed answer: fn runs on its own goroutine and
// writes to out, and the reader returned reads what it writes.
type streamer struct {
	answer *streamedAnswer
}

func (st *streamer) start(contentType string, fn func(out *streamOut)) {
	pr, pw := io.Pipe()
	st.answer = &streamedAnswer{r: pr, contentType: contentType, closer: pr}
	go func() {
		defer func() {
			// A last resort for a bug in this package: the function keeps
			// serving, and Lambda reports the broken stream.
			if p := recover(); p != nil {
				log.Printf("protoc-gen-go-lambda: panic while streaming: %v\n%s", p, debug.Stack())
				pw.CloseWithError(fmt.Errorf("lambda: internal error: %v", p))
				return
			}
			pw.Close()
		}()
		fn(&streamOut{w: pw})
	}()
}

// InvokeStream handles one Lambda invocation whose answer Lambda may stream:
// a function whose main is lambda.Start(srv.InvokeStream) serves its
// server-streaming methods with each message leaving the function when the
// handler sends it, to callers of InvokeWithResponseStream and to Function
// URLs in RESPONSE_STREAM mode. aws-lambda-go streams a handler's
// io.Reader result; Lambda buffers it for a plain Invoke.
//
// Unary calls are answered as Invoke answers them, except HTTP events other
// than a load balancer's: those get the streamed HTTP answer Lambda expects
// from a function behind a Function URL in RESPONSE_STREAM mode (or an API
// Gateway REST API integration in STREAM mode): a JSON prelude with the
// status and headers, eight zero bytes, then the body. A function behind an
// HTTP API, a buffered Function URL or REST API, or a load balancer uses
// lambda.Start(srv) instead, which also serves server-streaming methods,
// buffered (docs/http.md, docs/protocol.md).
//
// The returned error is always nil; see Server.
func (s *Server) InvokeStream(ctx context.Context, payload json.RawMessage) (io.Reader, error) {
	st := &streamer{}
	var out []byte
	contentType := contentTypeEnvelope
	served := false
	if !wire.LooksLikeEnvelope(payload) {
		out, contentType, served = s.serveHTTP(ctx, payload, st)
	}
	if !served {
		out = s.serveEnvelope(ctx, payload, st)
	}
	if st.answer != nil {
		return st.answer, nil
	}
	return &streamedAnswer{r: bytes.NewReader(out), contentType: contentType}, nil
}
