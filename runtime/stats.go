package runtime

import (
	"context"
	"encoding/base64"
	"net"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/lambdacontext"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/stats"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/protoc-gen-go-lambda/protoc-gen-go-lambda/runtime/internal/wire"
)

// This file reports each call to the stats handlers of the StatsHandler
// option, as grpc-go's server reports an RPC to those of grpc.StatsHandler,
// so that handlers written for grpc-go (OpenTelemetry's otelgrpc among them)
// work unchanged on every front end. The events and their order are
// grpc-go's for a unary call:
//
//   - TagRPC, with the incoming metadata and the handler's deadline in the
//     context; the handler's context derives from the one it returns;
//   - InHeader, then Begin;
//   - InPayload once the request message is decoded;
//   - OutHeader when the answer carries header metadata (always on success;
//     on failure only with header metadata, as grpc-go sends a
//     "trailers-only" answer otherwise), then OutPayload on success;
//   - OutTrailer, then End with the call's status as its error.
//
// A call to a well-formed name of an unknown service or method gets TagRPC,
// InHeader and OutTrailer and nothing else, as on grpc-go (a handler that
// starts a span in TagRPC never sees it end there either); a malformed name
// or malformed metadata, which grpc-go's transport refuses before its
// server sees the call, gets nothing.
//
// What HTTP/2 gives grpc-go and a Lambda invocation does not is left empty
// or says so: RemoteAddr is nil (the caller's address does not reach a
// function); LocalAddr is the function's name (AWS_LAMBDA_FUNCTION_NAME) in
// Lambda and nil elsewhere; header WireLength is 0 (there is no HPACK
// frame); a message's WireLength is the size it has in the invocation
// payload (base64 text or protojson in an Invoke envelope; the message
// bytes on the HTTP front end). Compression is "" and CompressedLength
// equals Length: a gzip-compressed HTTP request reaches the dispatch core
// already decompressed.
//
// The connection is synthetic: one per Server, begun (TagConn, ConnBegin)
// by its first call, never ended (Lambda freezes and discards an instance
// without notice). As grpc-go promises for the server side, the context of
// every call carries the values TagConn returned.

// serverStats holds a Server's stats handlers and its synthetic connection.
type serverStats struct {
	handlers []stats.Handler
	h        stats.Handler // handlers, combined as grpc-go combines them

	once sync.Once
	conn context.Context // TagConn's context, set by the first call
}

func (s *serverStats) add(h stats.Handler) {
	s.handlers = append(s.handlers, h)
	if len(s.handlers) == 1 {
		s.h = h
	} else {
		s.h = wire.StatsHandlers(s.handlers)
	}
}

// connContext begins the connection on the first call and returns its
// context.
func (s *serverStats) connContext() context.Context {
	s.once.Do(func() {
		info := &stats.ConnTagInfo{LocalAddr: functionAddr()}
		ctx := s.h.TagConn(context.Background(), info)
		s.h.HandleConn(ctx, &stats.ConnBegin{})
		s.conn = ctx
	})
	return s.conn
}

// functionAddr is the function's name as a net.Addr, nil outside Lambda.
func functionAddr() net.Addr {
	if lambdacontext.FunctionName == "" {
		return nil
	}
	return lambdaAddr(lambdacontext.FunctionName)
}

// lambdaAddr is a function's name as a net.Addr of network "lambda".
type lambdaAddr string

func (lambdaAddr) Network() string  { return "lambda" }
func (a lambdaAddr) String() string { return string(a) }

// callStats is one call's reporting state; it holds every event the call
// can report, so that they cost one allocation together.
type callStats struct {
	h     stats.Handler
	ctx   context.Context // TagRPC's, for every HandleRPC
	conn  connValues      // the invocation's context with the connection's values
	state uint8           // statsNone, statsTagged or statsBegun
	sent  bool            // OutHeader and OutPayload were reported

	tagInfo    stats.RPCTagInfo
	inHeader   stats.InHeader
	begin      stats.Begin
	inPayload  stats.InPayload
	outHeader  stats.OutHeader
	outPayload stats.OutPayload
	outTrailer stats.OutTrailer
	end        stats.End
}

const (
	statsNone   = iota // nothing reported: the call was refused before routing
	statsTagged        // TagRPC and InHeader: the method is unknown
	statsBegun         // Begin: the method's handler is to run
)

// connValues is the invocation's context, which decides the deadline and
// cancellation, with the values of the connection's context under it.
type connValues struct {
	context.Context
	conn context.Context
}

func (c *connValues) Value(key any) any {
	if v := c.Context.Value(key); v != nil {
		return v
	}
	return c.conn.Value(key)
}

// dispatchStats is dispatch with the stats handlers s.
func (c *call) dispatchStats(ctx context.Context, s *serverStats) outcome {
	cs := &callStats{h: s.h}
	cs.conn = connValues{Context: ctx, conn: s.connContext()}
	c.stats = cs
	o := c.serve(&cs.conn)
	if !c.endLater {
		cs.finish(c, o)
	}
	return o
}

// end reports the end of a call whose front end said it would (endLater),
// with the status the caller gets: o's, or replaced's when the front end
// replaced the answer with its size-limit failure.
func (c *call) end(o outcome, replaced *status.Status) {
	if c.stats == nil {
		return
	}
	if replaced != nil {
		o.st, o.details = replaced, nil
	}
	c.stats.finish(c, o)
}

// tag reports TagRPC and InHeader; ctx carries the incoming metadata.
func (cs *callStats) tag(ctx context.Context, c *call, md metadata.MD) context.Context {
	cs.tagInfo = stats.RPCTagInfo{FullMethodName: c.method}
	ctx = cs.h.TagRPC(ctx, &cs.tagInfo)
	cs.ctx = ctx
	cs.state = statsTagged
	cs.inHeader = stats.InHeader{FullMethod: c.method, Header: md, LocalAddr: functionAddr()}
	cs.h.HandleRPC(ctx, &cs.inHeader)
	return ctx
}

// unknownMethod reports a call to a well-formed name that no registered
// service has, or a streaming method's, which the route refuses.
func (cs *callStats) unknownMethod(ctx context.Context, c *call) {
	if !wellFormedMethod(c.method) {
		return
	}
	md := c.md
	if md == nil {
		md = metadata.MD{}
	}
	cs.tag(metadata.NewIncomingContext(ctx, md), c, md)
}

func wellFormedMethod(m string) bool {
	if len(m) == 0 || m[0] != '/' {
		return false
	}
	for i := len(m) - 1; i > 0; i-- {
		if m[i] == '/' {
			return true
		}
	}
	return false
}

// beginCall reports TagRPC, InHeader and Begin for a routed call; ctx is
// the handler's context so far, which the returned one replaces.
func (cs *callStats) beginCall(ctx context.Context, c *call, md metadata.MD, serverStream bool) context.Context {
	ctx = cs.tag(ctx, c, md)
	cs.state = statsBegun
	cs.begin = stats.Begin{BeginTime: time.Now(), IsServerStream: serverStream}
	cs.h.HandleRPC(ctx, &cs.begin)
	return ctx
}

// received reports the request message once decoded. The call's mutex is
// held, so the report comes before End even when the handler is abandoned.
func (cs *callStats) received(c *call, m any) {
	n, wireLen := messageSize(c.body, m)
	cs.inPayload = stats.InPayload{Payload: m, Length: n, CompressedLength: n, WireLength: wireLen, RecvTime: time.Now()}
	cs.h.HandleRPC(cs.ctx, &cs.inPayload)
}

// messageSize is the size of a received message and the size it had in the
// invocation payload.
func messageSize(body messageSource, m any) (n, wireLen int) {
	switch b := body.(type) {
	case *wire.Payload:
		if b.HasJSON {
			return len(b.JSON), len(b.JSON)
		}
		return wire.Base64DecodedLen(b.Body), len(b.Body)
	case *httpMessage:
		return len(b.data), len(b.data)
	}
	if pm, ok := m.(proto.Message); ok {
		n = proto.Size(pm)
	}
	return n, n
}

// sendResponse reports the header and the response message, when the call
// succeeded and its answer is ready.
func (cs *callStats) sendResponse(c *call, header metadata.MD, resp any, body []byte) {
	cs.sent = true
	cs.outHeader = stats.OutHeader{Header: header}
	cs.h.HandleRPC(cs.ctx, &cs.outHeader)
	wireLen := len(body)
	if !c.jsonMode {
		wireLen = base64.StdEncoding.EncodedLen(len(body))
	}
	if _, ok := c.body.(*httpMessage); ok {
		wireLen = len(body)
	}
	cs.outPayload = stats.OutPayload{Payload: resp, Length: len(body), CompressedLength: len(body), WireLength: wireLen, SentTime: time.Now()}
	cs.h.HandleRPC(cs.ctx, &cs.outPayload)
}

// sendStreamMessage reports one message of a server-streaming call, and
// the header before the first.
func (cs *callStats) sendStreamMessage(c *call, header metadata.MD, m any, body []byte) {
	if cs.state == statsNone {
		return
	}
	if !cs.sent {
		cs.sent = true
		cs.outHeader = stats.OutHeader{Header: header}
		cs.h.HandleRPC(cs.ctx, &cs.outHeader)
	}
	n := len(body)
	cs.h.HandleRPC(cs.ctx, &stats.OutPayload{Payload: m, Length: n, CompressedLength: n, WireLength: n + wire.FramePrefixSize, SentTime: time.Now()})
}

// finish reports the rest once the outcome is known: the header of a
// failure that has header metadata (or whose handler sent it), the trailer,
// and End.
func (cs *callStats) finish(c *call, o outcome) {
	if cs.state == statsNone {
		return
	}
	if !cs.sent && cs.state == statsBegun {
		c.stream.mu.Lock()
		headerSent := c.stream.headerSent
		c.stream.mu.Unlock()
		if len(o.header) > 0 || headerSent {
			cs.outHeader = stats.OutHeader{Header: o.header}
			cs.h.HandleRPC(cs.ctx, &cs.outHeader)
		}
	}
	cs.outTrailer = stats.OutTrailer{Trailer: o.trailer}
	cs.h.HandleRPC(cs.ctx, &cs.outTrailer)
	if cs.state != statsBegun {
		return
	}
	cs.end = stats.End{BeginTime: cs.begin.BeginTime, EndTime: time.Now()}
	if o.st != nil {
		cs.end.Error = o.st.Err()
	}
	cs.h.HandleRPC(cs.ctx, &cs.end)
}
