package runtime

import (
	"time"

	"github.com/protoc-gen-go-lambda/protoc-gen-go-lambda/runtime/internal/wire"
	"google.golang.org/grpc"
	"google.golang.org/grpc/stats"
)

// DefaultDeadlineMargin is how long before the Lambda deadline a handler's
// context is cancelled, leaving time to write the DEADLINE_EXCEEDED
// response before Lambda kills the invocation.
const DefaultDeadlineMargin = 100 * time.Millisecond

// MaxPayloadSize is the Lambda limit for a synchronous invocation's request
// and response payloads: 6 MB (6,291,456 bytes).
const MaxPayloadSize = wire.MaxPayloadSize

// EnvelopeVersion is the version of the JSON envelope (docs/protocol.md) a
// Server reads and writes.
const EnvelopeVersion = wire.EnvelopeVersion

// A ServerOption configures a Server.
type ServerOption func(*serverOptions)

type serverOptions struct {
	interceptors       []grpc.UnaryServerInterceptor
	streamInterceptors []grpc.StreamServerInterceptor
	maxRecvMsgSize     int
	maxSendMsgSize     int
	deadlineMargin     time.Duration
	cors               *corsPolicy
	stats              *serverStats // nil without StatsHandler
}

func newServerOptions(opts []ServerOption) serverOptions {
	o := serverOptions{
		maxRecvMsgSize: wire.DefaultMaxRecvMsgSize,
		maxSendMsgSize: wire.DefaultMaxSendMsgSize,
		deadlineMargin: DefaultDeadlineMargin,
	}
	for _, opt := range opts {
		opt(&o)
	}
	return o
}

// UnaryInterceptor adds an interceptor around every unary handler. Several
// interceptors run in the order given, the first outermost, as with
// grpc.ChainUnaryInterceptor; UnaryInterceptor and ChainUnaryInterceptor
// may be mixed and add to the same chain.
func UnaryInterceptor(i grpc.UnaryServerInterceptor) ServerOption {
	return ChainUnaryInterceptor(i)
}

// ChainUnaryInterceptor adds interceptors around every unary handler, the
// first outermost, exactly as grpc.ChainUnaryInterceptor orders them.
func ChainUnaryInterceptor(interceptors ...grpc.UnaryServerInterceptor) ServerOption {
	return func(o *serverOptions) { o.interceptors = append(o.interceptors, interceptors...) }
}

// StreamInterceptor adds an interceptor around every server-streaming
// handler, as grpc.StreamInterceptor does; it adds to the chain that
// ChainStreamInterceptor builds.
func StreamInterceptor(i grpc.StreamServerInterceptor) ServerOption {
	return ChainStreamInterceptor(i)
}

// ChainStreamInterceptor adds interceptors around every server-streaming
// handler, the first outermost, as grpc.ChainStreamInterceptor orders them.
func ChainStreamInterceptor(interceptors ...grpc.StreamServerInterceptor) ServerOption {
	return func(o *serverOptions) { o.streamInterceptors = append(o.streamInterceptors, interceptors...) }
}

// MaxRecvMsgSize sets the largest request message, in bytes, the server
// accepts; larger ones fail with RESOURCE_EXHAUSTED. The default is 4 MiB,
// grpc-go's default.
func MaxRecvMsgSize(n int) ServerOption {
	return func(o *serverOptions) { o.maxRecvMsgSize = n }
}

// MaxSendMsgSize sets the largest response message, in bytes, the server
// sends; larger ones fail with RESOURCE_EXHAUSTED. The default is
// math.MaxInt32, grpc-go's default; the Lambda payload limit applies besides.
func MaxSendMsgSize(n int) ServerOption {
	return func(o *serverOptions) { o.maxSendMsgSize = n }
}

// DeadlineMargin sets how long before the Lambda invocation's deadline the
// handler's context expires. The server then answers DEADLINE_EXCEEDED
// itself instead of being killed by Lambda mid-call. The default is
// DefaultDeadlineMargin.
func DeadlineMargin(d time.Duration) ServerOption {
	return func(o *serverOptions) { o.deadlineMargin = d }
}

// CORS makes the server answer CORS itself on the HTTP front end (HTTP
// events; docs/http.md), so that web pages from the allowed origins can call
// it with Connect or gRPC-Web: OPTIONS preflights get
// Access-Control-Allow-Methods (GET, POST), Access-Control-Allow-Headers (the
// protocols' headers, as connectrpc.com/cors lists them, and whatever else
// the preflight asks for, since metadata names are the application's) and
// Access-Control-Max-Age (two hours); answers get
// Access-Control-Allow-Origin and Access-Control-Expose-Headers naming the
// protocols' headers and every header the answer carries, so header and
// trailer metadata reach the page. An origin is a scheme, host and port
// ("https://app.example.com"); one "*" in it matches any text there
// ("https://*.example.com"), and "*" alone allows every origin. Credentials
// (cookies) are not allowed.
//
// Use it for the front ends that do not answer CORS themselves: API Gateway
// REST APIs and load balancers. A Function URL or an HTTP API with its own
// CORS configuration answers preflights before they reach the function and
// replaces the function's CORS headers; configure one or the other.
func CORS(allowedOrigins ...string) ServerOption {
	return func(o *serverOptions) { o.cors = newCORSPolicy(allowedOrigins) }
}

// StatsHandler adds a stats handler that sees every call, as
// grpc.StatsHandler does for a grpc.Server, whatever front end the call
// came through: TagRPC, then InHeader, Begin, InPayload, OutHeader,
// OutPayload, OutTrailer and End, in grpc-go's order and with its fields
// where a Lambda invocation has them (stats.go says which it has not). So
// OpenTelemetry's otelgrpc.NewServerHandler() works unchanged: its span is
// the parent of the handler's context, and a W3C traceparent in the call's
// metadata (sent by otelgrpc.NewClientHandler() on the client, or as a
// request header on the HTTP front end) makes it the caller's span's child
// (docs/observability.md). Several handlers are called in the order given.
// The connection a handler sees is synthetic: one per Server, begun by its
// first call and never ended. A nil handler is ignored, as grpc-go ignores
// one.
func StatsHandler(h stats.Handler) ServerOption {
	return func(o *serverOptions) {
		if h == nil {
			return
		}
		if o.stats == nil {
			o.stats = &serverStats{}
		}
		o.stats.add(h)
	}
}
