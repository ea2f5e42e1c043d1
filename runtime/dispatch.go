package runtime

import (
	"context"
	"log"
	"runtime/debug"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/protoc-gen-go-lambda/protoc-gen-go-lambda/runtime/internal/wire"
)

// This file is the dispatch core: what happens to a call once a front end
// (the Invoke envelope today) has decoded it, whatever it came through.
// Routing, the handler's deadline, incoming metadata, grpc.SetHeader and
// friends, interceptors, panics, message size limits and the final status
// are decided here, once; a front end only decodes a request into a call and
// encodes the outcome.

// messageSource reads a call's request message; wire.Payload is one.
type messageSource interface {
	Unmarshal(v any, maxSize int) error
}

// call is the state of one RPC, allocated once per invocation.
type call struct {
	srv        *Server
	method     string
	timeout    time.Duration
	hasTimeout bool
	md         metadata.MD
	jsonMode   bool // the messages are protojson; otherwise binary protobuf
	body       messageSource
	stream     serverStream

	// body may alias the invocation payload, which aws-lambda-go hands to
	// the next invocation as soon as Invoke returns. A handler that outlives
	// its call (it ignored its deadline) must not read it then: abandon,
	// under mu, ends the payload's life for decode.
	mu        sync.Mutex
	abandoned error // set once the call is answered without the handler

	stats *callStats // nil without stats handlers (stats.go)
	// endLater: the front end reports the call's end (end) once it has
	// encoded the answer, which its size limit may replace.
	endLater bool
}

// outcome is the dispatch core's answer, for a front end to encode.
type outcome struct {
	st      *status.Status // nil when the call succeeded
	details []byte         // st as a serialized google.rpc.Status, when it has details
	header  metadata.MD
	trailer metadata.MD
	body    *wire.Buffer // the response message when st is nil; the front end frees it
}

// result is what a handler returned.
type result struct {
	resp any
	err  error
}

// dispatch serves the call.
func (c *call) dispatch(ctx context.Context) outcome {
	if s := c.srv.opts.stats; s != nil {
		return c.dispatchStats(ctx, s)
	}
	return c.serve(ctx)
}

// serve serves the call, reporting to c.stats when it is set.
func (c *call) serve(ctx context.Context) outcome {
	if st := checkIncomingMetadata(c.md); st != nil {
		return failure(st, nil, nil)
	}
	r, st := c.srv.lookup(c.method)
	if st != nil {
		if c.stats != nil {
			c.stats.unknownMethod(ctx, c)
		}
		return failure(st, nil, nil)
	}
	ctx, cancel := c.handlerContext(ctx)
	defer cancel()
	stream := &c.stream
	stream.method = r.method
	ctx = grpc.NewContextWithServerTransportStream(ctx, stream)
	md := c.md
	if md == nil {
		md = metadata.MD{}
	}
	ctx = metadata.NewIncomingContext(ctx, md)
	if c.stats != nil {
		ctx = c.stats.beginCall(ctx, c, md, r.stream != nil && r.stream.ServerStreams)
	}

	if r.stream != nil {
		if c.stream.sink == nil {
			return failure(status.Newf(codes.Unimplemented, "lambda: %s is a %s method, which this front end does not carry", r.method, wire.StreamKind(r.stream)), nil, nil)
		}
		return c.serveStream(ctx, r)
	}
	res, handlerDone := c.runHandler(ctx, r, nil)
	header, trailer := stream.finish(handlerDone)
	if msg := invalidWireMetadata(header); msg != "" {
		return failure(status.New(codes.Internal, msg), nil, nil)
	}
	if msg := invalidWireMetadata(trailer); msg != "" {
		return failure(status.New(codes.Internal, msg), header, nil)
	}
	if res.err != nil {
		return failure(toStatus(res.err), header, trailer)
	}
	buf, st := c.srv.marshal(res.resp, c.jsonMode)
	if st != nil {
		return failure(st, header, trailer)
	}
	if c.stats != nil {
		c.stats.sendResponse(c, header, res.resp, buf.B)
	}
	return outcome{header: header, trailer: trailer, body: buf}
}

// runHandler runs the call's handler (the streaming one with hs) until it
// returns or ctx ends. Without a deadline nothing can end the call early
// but the handler itself, which sees its context's cancellation. With one,
// the handler runs on its own goroutine so that one that ignores its
// context still gets a DEADLINE_EXCEEDED answer out before Lambda kills the
// invocation (grpc-go likewise leaves such a handler running): the call is
// then abandoned, and done is false.
func (c *call) runHandler(ctx context.Context, r *route, hs *handlerStream) (res result, done bool) {
	if _, ok := ctx.Deadline(); !ok {
		return c.runOnce(ctx, r, hs), true
	}
	ch := make(chan result, 1)
	go func() { ch <- c.runOnce(ctx, r, hs) }()
	select {
	case res = <-ch:
		return res, true
	case <-ctx.Done():
		select {
		case res = <-ch: // finished at the same moment: keep its answer
			return res, true
		default:
			res.err = status.FromContextError(ctx.Err()).Err()
			c.abandon(res.err)
			return res, false
		}
	}
}

// runOnce runs the unary handler, or the streaming one with hs.
func (c *call) runOnce(ctx context.Context, r *route, hs *handlerStream) result {
	if hs != nil {
		return result{err: c.handleStream(hs, r)}
	}
	return c.handle(ctx, r)
}

// handlerContext gives the handler the earlier of the caller's deadline and
// the Lambda deadline less the margin.
func (c *call) handlerContext(ctx context.Context) (context.Context, context.CancelFunc) {
	var deadline time.Time
	if c.hasTimeout {
		deadline = time.Now().Add(c.timeout)
	}
	if d, ok := ctx.Deadline(); ok {
		if d = d.Add(-c.srv.opts.deadlineMargin); deadline.IsZero() || d.Before(deadline) {
			deadline = d
		}
	}
	if deadline.IsZero() {
		if ctx.Done() == nil {
			// Nothing can cancel the call: save the context (an allocation).
			return ctx, func() {}
		}
		return context.WithCancel(ctx)
	}
	return context.WithDeadline(ctx, deadline)
}

// handle runs the method handler with the interceptor chain and turns a
// panic into INTERNAL, so one bad request cannot take the function down.
func (c *call) handle(ctx context.Context, r *route) (res result) {
	defer func() {
		if p := recover(); p != nil {
			log.Printf("protoc-gen-go-lambda: panic in handler for %s: %v\n%s", r.method, p, debug.Stack())
			res = result{err: status.Errorf(codes.Internal, "panic in handler: %v", p)}
		}
	}()
	resp, err := r.unary(r.service.impl, ctx, c.decode, c.srv.interceptor)
	return result{resp: resp, err: err}
}

// decode is the handler's dec function: it reads the request body into m.
func (c *call) decode(m any) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.abandoned != nil {
		// The payload may hold another invocation's bytes by now.
		return c.abandoned
	}
	err := c.body.Unmarshal(m, c.srv.opts.maxRecvMsgSize)
	if err == nil && c.stats != nil {
		c.stats.received(c, m)
	}
	return err
}

// abandon makes every later decode fail with err instead of reading the
// payload; it waits for a decode in progress to finish.
func (c *call) abandon(err error) {
	c.mu.Lock()
	c.abandoned = err
	c.mu.Unlock()
}

// toStatus converts a handler error as grpc-go's server does: a status error
// (wrapped or not) keeps its status, a context error its code, anything else
// becomes UNKNOWN with the error's text.
func toStatus(err error) *status.Status {
	if st, ok := status.FromError(err); ok {
		return st
	}
	return status.FromContextError(err)
}

func (s *Server) marshal(resp any, jsonMode bool) (*wire.Buffer, *status.Status) {
	buf, err := wire.MarshalMessage(resp, jsonMode)
	if err != nil {
		return nil, status.Newf(codes.Internal, "grpc: error while marshaling: %v", err)
	}
	if n := len(buf.B); n > s.opts.maxSendMsgSize {
		buf.Free()
		return nil, status.Newf(codes.ResourceExhausted, "trying to send message larger than max (%d vs. %d)", n, s.opts.maxSendMsgSize)
	}
	return buf, nil
}

// failure is the outcome of a call that ends with a status: what grpc-go's
// server would send, the status as it is (even OK, or a code beyond int32:
// the front end decides what its protocol can say), its details serialized
// (the grpc-status-details-bin trailer), and the metadata.
func failure(st *status.Status, header, trailer metadata.MD) outcome {
	if _, ok := trailer[wire.StatusDetailsKey]; ok && len(st.Details()) > 0 {
		// grpc-go drops a handler's own grpc-status-details-bin trailer when it
		// writes the status's details there (trailer is the call's own map).
		delete(trailer, wire.StatusDetailsKey)
	}
	details, err := wire.StatusDetails(st)
	if err != nil {
		// grpc-go's server logs this and sends the status without its
		// details (http2Server.writeStatus); so does this one.
		log.Printf("protoc-gen-go-lambda: %v; status %v is sent without its details", err, st.Code())
	}
	return outcome{st: st, details: details, header: header, trailer: trailer}
}
