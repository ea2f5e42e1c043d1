package invoke

import (
	"google.golang.org/grpc"
	"google.golang.org/grpc/stats"
)

// An Option configures a ClientConn.
type Option func(*clientOptions)

type clientOptions struct {
	interceptors []grpc.UnaryClientInterceptor
	qualifier    string
	jsonMode     bool
	callOptions  []grpc.CallOption
	retry        RetryPolicy
	insecure     bool
	stats        *clientStats // nil without WithStatsHandler
	buffered     bool         // WithBufferedStreams
	descriptors  DescriptorResolver
}

func newOptions(opts []Option) clientOptions {
	o := clientOptions{retry: DefaultRetryPolicy}
	for _, opt := range opts {
		opt(&o)
	}
	return o
}

// WithUnaryInterceptor adds an interceptor around every unary call, like
// grpc.WithUnaryInterceptor; it joins the chain of WithChainUnaryInterceptor.
func WithUnaryInterceptor(i grpc.UnaryClientInterceptor) Option {
	return WithChainUnaryInterceptor(i)
}

// WithChainUnaryInterceptor adds interceptors around every unary call, the
// first outermost, as grpc.WithChainUnaryInterceptor orders them.
func WithChainUnaryInterceptor(interceptors ...grpc.UnaryClientInterceptor) Option {
	return func(o *clientOptions) { o.interceptors = append(o.interceptors, interceptors...) }
}

// WithQualifier invokes a version or alias of the function (the Invoke API's
// Qualifier), e.g. "live" or "42".
func WithQualifier(qualifier string) Option {
	return func(o *clientOptions) { o.qualifier = qualifier }
}

// WithJSON makes calls in JSON mode: message bodies travel as protojson
// instead of base64 protobuf. It is slower and larger; use it when a person
// or a non-Go system reads the payloads.
func WithJSON() Option {
	return func(o *clientOptions) { o.jsonMode = true }
}

// WithDefaultCallOptions sets call options applied to every call before the
// call's own, like grpc.WithDefaultCallOptions (e.g. grpc.MaxCallRecvMsgSize).
func WithDefaultCallOptions(opts ...grpc.CallOption) Option {
	return func(o *clientOptions) { o.callOptions = append(o.callOptions, opts...) }
}

// WithRetryPolicy replaces DefaultRetryPolicy; see RetryPolicy.
func WithRetryPolicy(p RetryPolicy) Option {
	return func(o *clientOptions) { o.retry = p }
}

// WithInsecure declares that the Invoker carries payloads without transport
// security, as grpc-go's insecure transport credentials do for a
// connection: per-RPC credentials whose RequireTransportSecurity is true are
// then refused with grpc-go's UNAUTHENTICATED "transport: cannot send secure
// credentials on an insecure connection", and the others see a
// credentials.AuthInfo of security level NoSecurity.
//
// A *lambda.Client needs no option: its endpoint says whether it is HTTPS.
// Any other Invoker is taken as secure, as the in-process test doubles of
// lambdatest are; one that sends payloads over plaintext without a
// *lambda.Client underneath (to which the SDK options are passed, and whose
// request URL is checked) should be given this option.
func WithInsecure() Option {
	return func(o *clientOptions) { o.insecure = true }
}

// WithStatsHandler adds a stats handler that sees every call, as
// grpc.WithStatsHandler does for a grpc.ClientConn: TagRPC, then Begin,
// OutHeader, OutPayload, InHeader, InPayload, InTrailer and End, in
// grpc-go's order and with its fields where a Lambda invocation has them
// (stats.go says which it has not), inside the interceptors. So
// OpenTelemetry's otelgrpc.NewClientHandler() works unchanged: it starts
// the client span and puts its W3C traceparent in the outgoing metadata,
// where a function's otelgrpc.NewServerHandler() finds it
// (docs/observability.md). Several handlers are called in the order given.
// The connection a handler sees is synthetic: one per ClientConn, begun by
// NewClientConn and never ended; its RemoteAddr names the function. A nil
// handler is ignored, as grpc-go ignores one.
func WithStatsHandler(h stats.Handler) Option {
	return func(o *clientOptions) {
		if h == nil {
			return
		}
		if o.stats == nil {
			o.stats = &clientStats{}
		}
		o.stats.add(h)
	}
}

// WithBufferedStreams carries server-streaming calls with the plain Invoke
// API instead of InvokeWithResponseStream: the function's answer (the same
// frames, docs/protocol.md) comes back all at once when it has returned,
// within the 6 MB limit of a synchronous invocation, and the messages are
// then received one by one. It is for endpoints that do not stream, such as
// the Lambda Runtime Interface Emulator (docs/emulator.md), and for Invokers
// that are not StreamInvokers. Semantics are otherwise those of a streamed
// call; like one, it is never retried.
func WithBufferedStreams() Option {
	return func(o *clientOptions) { o.buffered = true }
}

// WithDescriptors makes the ClientConn look methods up in r, instead of the
// registry of the proto files linked into the program
// (protoregistry.GlobalFiles), to read their idempotency_level: a method
// marked IDEMPOTENT or NO_SIDE_EFFECTS is retried on more failures
// (RetryPolicy). A proxy that forwards methods it has no generated code for,
// such as the gRPC bridge with the descriptors its functions report, gives
// its own.
func WithDescriptors(r DescriptorResolver) Option {
	return func(o *clientOptions) { o.descriptors = r }
}
