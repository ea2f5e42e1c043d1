package invoke

import (
	"context"
	"encoding/base64"
	"net"
	"time"

	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/stats"

	"github.com/protoc-gen-go-lambda/protoc-gen-go-lambda/runtime/internal/wire"
)

// This file reports each call to the stats handlers of WithStatsHandler,
// as grpc-go's client reports an RPC to those of grpc.WithStatsHandler, so
// that handlers written for grpc-go (OpenTelemetry's otelgrpc among them)
// work unchanged. The events and their order are grpc-go's for a unary
// call, inside the interceptors:
//
//   - TagRPC; the outgoing metadata is read from the context it returns, so
//     a handler can add to it (otelgrpc injects the W3C traceparent);
//   - Begin; OutHeader once the outgoing metadata (and per-RPC credentials)
//     are ready; OutPayload when the request goes out;
//   - InHeader when the answer has header metadata (always on success; on
//     failure only with header metadata, as a grpc-go server answers
//     "trailers-only" otherwise), InTrailer with the trailer the caller
//     gets, then InPayload once the response message is decoded: the whole
//     answer has arrived by then, as grpc-go's transport has read a unary
//     answer's trailer by the time its caller has decoded the message;
//   - End with the call's error and that trailer.
//
// A call that fails before it would have reached a grpc-go transport (a
// context already done) reports nothing; one that fails on the way (per-RPC
// credentials, size limits, the Invoke API) reports Begin and End with what
// it got to. The SDK's retries of one invocation are one attempt here: a
// call reports one TagRPC, Begin and End whatever they did.
//
// What HTTP/2 gives grpc-go and a Lambda invocation does not is left empty
// or says so: OutHeader's RemoteAddr is the function (its name and
// qualifier as a net.Addr of network "lambda"), LocalAddr is nil;
// Authority is the function's name; header WireLength is 0 (there is no
// HPACK frame); a message's WireLength is its size in the invocation payload
// (base64 text, or protojson with WithJSON); Compression is "" and
// CompressedLength equals Length. OutHeader's Header is the outgoing
// metadata without grpc-go's user-agent, which a function never sees.
//
// The connection is synthetic: one per ClientConn, begun (TagConn,
// ConnBegin) by NewClientConn and never ended (a ClientConn holds nothing
// to close).

// clientStats holds a ClientConn's stats handlers.
type clientStats struct {
	handlers  []stats.Handler
	h         stats.Handler // handlers, combined as grpc-go combines them
	remote    net.Addr
	authority string
}

func (s *clientStats) add(h stats.Handler) {
	s.handlers = append(s.handlers, h)
	if len(s.handlers) == 1 {
		s.h = h
	} else {
		s.h = wire.StatsHandlers(s.handlers)
	}
}

// beginConn reports the synthetic connection of a new ClientConn. As on
// grpc-go's client, calls' contexts do not derive from TagConn's.
func (s *clientStats) beginConn(functionName, qualifier string) {
	name := functionName
	if qualifier != "" {
		name += ":" + qualifier
	}
	s.remote, s.authority = lambdaAddr(name), functionName
	ctx := s.h.TagConn(context.Background(), &stats.ConnTagInfo{RemoteAddr: s.remote})
	s.h.HandleConn(ctx, &stats.ConnBegin{Client: true})
}

// lambdaAddr is a function's name (and qualifier) as a net.Addr of network
// "lambda".
type lambdaAddr string

func (lambdaAddr) Network() string  { return "lambda" }
func (a lambdaAddr) String() string { return string(a) }

// callStats is one call's reporting state; it holds every event the call
// can report, so that they cost one allocation together.
type callStats struct {
	s   *clientStats
	ctx context.Context // TagRPC's

	tagInfo    stats.RPCTagInfo
	begin      stats.Begin
	outHeader  stats.OutHeader
	outPayload stats.OutPayload
	inHeader   stats.InHeader
	inPayload  stats.InPayload
	inTrailer  stats.InTrailer
	end        stats.End
}

// beginCall reports TagRPC and Begin and returns the call's context.
func (s *clientStats) beginCall(ctx context.Context, method string, failFast, serverStream bool) (context.Context, *callStats) {
	cs := &callStats{s: s}
	cs.tagInfo = stats.RPCTagInfo{FullMethodName: method, FailFast: failFast}
	ctx = s.h.TagRPC(ctx, &cs.tagInfo)
	cs.ctx = ctx
	cs.begin = stats.Begin{Client: true, BeginTime: time.Now(), FailFast: failFast, IsServerStream: serverStream}
	s.h.HandleRPC(ctx, &cs.begin)
	return ctx, cs
}

// sendHeader reports the outgoing metadata: md, the context's outgoing
// metadata with the per-RPC credentials' when withCreds, without them as
// grpc-go reports it.
func (cs *callStats) sendHeader(method string, md metadata.MD, withCreds bool) {
	if withCreds {
		md, _ = metadata.FromOutgoingContext(cs.ctx)
	}
	if md == nil {
		md = metadata.MD{}
	}
	cs.outHeader = stats.OutHeader{Client: true, Header: md, FullMethod: method, RemoteAddr: cs.s.remote, Authority: cs.s.authority}
	cs.s.h.HandleRPC(cs.ctx, &cs.outHeader)
}

// sendPayload reports the request message as it goes out.
func (cs *callStats) sendPayload(args any, body []byte, jsonMode bool) {
	wireLen := len(body)
	if !jsonMode {
		wireLen = base64.StdEncoding.EncodedLen(len(body))
	}
	cs.outPayload = stats.OutPayload{Client: true, Payload: args, Length: len(body), CompressedLength: len(body), WireLength: wireLen, SentTime: time.Now()}
	cs.s.h.HandleRPC(cs.ctx, &cs.outPayload)
}

// receiveHeader reports the answer's header metadata: always with a
// message, and with a status only when it has header metadata.
func (cs *callStats) receiveHeader(env *wire.Response) {
	if env.Code != 0 && len(env.Header) == 0 {
		return
	}
	cs.inHeader = stats.InHeader{Client: true, Header: env.Header}
	cs.s.h.HandleRPC(cs.ctx, &cs.inHeader)
}

// receivePayload reports the response message once decoded.
func (cs *callStats) receivePayload(reply any, env *wire.Response) {
	n, wireLen := len(env.JSON), len(env.JSON)
	if !env.HasJSON {
		n, wireLen = wire.Base64DecodedLen(env.Body), len(env.Body)
	}
	cs.inPayload = stats.InPayload{Client: true, Payload: reply, Length: n, CompressedLength: n, WireLength: wireLen, RecvTime: time.Now()}
	cs.s.h.HandleRPC(cs.ctx, &cs.inPayload)
}

// receiveTrailer reports the trailer the caller gets.
func (cs *callStats) receiveTrailer(trailer metadata.MD) {
	cs.inTrailer = stats.InTrailer{Client: true, Trailer: trailer}
	cs.s.h.HandleRPC(cs.ctx, &cs.inTrailer)
}

// finish reports End.
func (cs *callStats) finish(err error, trailer metadata.MD) {
	cs.end = stats.End{Client: true, BeginTime: cs.begin.BeginTime, EndTime: time.Now(), Trailer: trailer, Error: err}
	cs.s.h.HandleRPC(cs.ctx, &cs.end)
}
