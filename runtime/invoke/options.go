package invoke

import (
	"google.golang.org/grpc"
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
