package runtime

import (
	"math"
	"time"

	"google.golang.org/grpc"
)

// Defaults match grpc-go's, so a service behaves the same on either transport.
const (
	defaultMaxRecvMsgSize = 4 * 1024 * 1024
	defaultMaxSendMsgSize = math.MaxInt32
	// DefaultDeadlineMargin is how long before the Lambda deadline a handler's
	// context is cancelled, leaving time to write the DEADLINE_EXCEEDED
	// response before Lambda kills the invocation.
	DefaultDeadlineMargin = 100 * time.Millisecond
)

// MaxPayloadSize is the Lambda limit for a synchronous invocation's request
// and response payloads: 6 MB (6,291,456 bytes).
const MaxPayloadSize = 6 * 1024 * 1024

// A ServerOption configures a Server.
type ServerOption func(*serverOptions)

type serverOptions struct {
	interceptors   []grpc.UnaryServerInterceptor
	maxRecvMsgSize int
	maxSendMsgSize int
	deadlineMargin time.Duration
}

func newServerOptions(opts []ServerOption) serverOptions {
	o := serverOptions{
		maxRecvMsgSize: defaultMaxRecvMsgSize,
		maxSendMsgSize: defaultMaxSendMsgSize,
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

// A ClientOption configures a ClientConn.
type ClientOption func(*clientOptions)

type clientOptions struct {
	interceptors []grpc.UnaryClientInterceptor
	qualifier    string
	jsonMode     bool
	callOptions  []grpc.CallOption
	retry        RetryPolicy
}

func newClientOptions(opts []ClientOption) clientOptions {
	o := clientOptions{retry: DefaultRetryPolicy}
	for _, opt := range opts {
		opt(&o)
	}
	return o
}

// WithUnaryInterceptor adds an interceptor around every unary call, like
// grpc.WithUnaryInterceptor; it joins the chain of WithChainUnaryInterceptor.
func WithUnaryInterceptor(i grpc.UnaryClientInterceptor) ClientOption {
	return WithChainUnaryInterceptor(i)
}

// WithChainUnaryInterceptor adds interceptors around every unary call, the
// first outermost, as grpc.WithChainUnaryInterceptor orders them.
func WithChainUnaryInterceptor(interceptors ...grpc.UnaryClientInterceptor) ClientOption {
	return func(o *clientOptions) { o.interceptors = append(o.interceptors, interceptors...) }
}

// WithQualifier invokes a version or alias of the function (the Invoke API's
// Qualifier), e.g. "live" or "42".
func WithQualifier(qualifier string) ClientOption {
	return func(o *clientOptions) { o.qualifier = qualifier }
}

// WithJSON makes calls in JSON mode: message bodies travel as protojson
// instead of base64 protobuf. It is slower and larger; use it when a person
// or a non-Go system reads the payloads.
func WithJSON() ClientOption {
	return func(o *clientOptions) { o.jsonMode = true }
}

// WithDefaultCallOptions sets call options applied to every call before the
// call's own, like grpc.WithDefaultCallOptions (e.g. grpc.MaxCallRecvMsgSize).
func WithDefaultCallOptions(opts ...grpc.CallOption) ClientOption {
	return func(o *clientOptions) { o.callOptions = append(o.callOptions, opts...) }
}

// WithRetryPolicy replaces DefaultRetryPolicy; see RetryPolicy.
func WithRetryPolicy(p RetryPolicy) ClientOption {
	return func(o *clientOptions) { o.retry = p }
}
