package invoke

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/protoc-gen-go-lambda/protoc-gen-go-lambda/runtime/internal/wire"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	spb "google.golang.org/genproto/googleapis/rpc/status"
)

// Invoker calls a Lambda function synchronously. *lambda.Client from
// github.com/aws/aws-sdk-go-v2/service/lambda satisfies it; so can an
// in-process function for tests, e.g. one that passes the payload to
// Server.Invoke.
type Invoker interface {
	Invoke(ctx context.Context, params *lambda.InvokeInput, optFns ...func(*lambda.Options)) (*lambda.InvokeOutput, error)
}

// ClientConn carries gRPC calls to one Lambda function, one invocation per
// call: unary calls through the Invoke API, server-streaming calls through
// InvokeWithResponseStream when the Invoker is also a StreamInvoker
// (stream.go). It implements grpc.ClientConnInterface, so both the
// generated New<Service>LambdaClient and protoc-gen-go-grpc's
// New<Service>Client accept it. It is safe for concurrent use.
type ClientConn struct {
	invoker      Invoker
	functionName string
	fnName       *string // the Invoke input's FunctionName and Qualifier,
	qualifier    *string // allocated once and only read by the SDK
	opts         clientOptions
	interceptor  grpc.UnaryClientInterceptor
	unary        grpc.UnaryInvoker // cc.invoke, bound once
	retry        *retryers
	auth         authInfo // what per-RPC credentials learn of the transport
}

var _ grpc.ClientConnInterface = (*ClientConn)(nil)

// NewClientConn returns a ClientConn that invokes functionName (a name,
// ARN or partial ARN, as the Invoke API takes) through invoker.
func NewClientConn(invoker Invoker, functionName string, opts ...Option) *ClientConn {
	cc := &ClientConn{invoker: invoker, functionName: functionName, opts: newOptions(opts)}
	cc.fnName = aws.String(functionName)
	if cc.opts.qualifier != "" {
		cc.qualifier = aws.String(cc.opts.qualifier)
	}
	cc.interceptor = chainUnaryClientInterceptors(cc.opts.interceptors)
	cc.retry = newRetryers(cc.opts.retry, cc.opts.descriptors)
	cc.auth = transportAuthInfo(invoker, cc.opts.insecure)
	if cc.opts.stats != nil {
		cc.opts.stats.beginConn(functionName, cc.opts.qualifier)
	}
	cc.unary = func(ctx context.Context, method string, req, reply any, _ *grpc.ClientConn, opts ...grpc.CallOption) error {
		return cc.invoke(ctx, method, req, reply, opts...)
	}
	return cc
}

// Invoke performs a unary RPC as one synchronous Lambda invocation and
// returns after the response arrives, like grpc.ClientConn.Invoke. The
// error, if any, is a gRPC status error.
func (cc *ClientConn) Invoke(ctx context.Context, method string, args, reply any, opts ...grpc.CallOption) error {
	if len(cc.opts.callOptions) > 0 {
		opts = append(cc.opts.callOptions[:len(cc.opts.callOptions):len(cc.opts.callOptions)], opts...)
	}
	if cc.interceptor != nil {
		// Interceptors get a nil *grpc.ClientConn: there is no HTTP/2
		// connection, and the type is concrete.
		return cc.interceptor(ctx, method, args, reply, nil, cc.unary, opts...)
	}
	return cc.invoke(ctx, method, args, reply, opts...)
}

// callInfo collects the call options this transport honours.
type callInfo struct {
	maxRecv  int
	maxSend  int
	headers  []*metadata.MD
	trailers []*metadata.MD
	onFinish []func(error)
	creds    credentials.PerRPCCredentials // the last grpc.PerRPCCredentials, as on grpc-go
	failFast bool                          // false with grpc.WaitForReady(true); only stats handlers see it
}

func newCallInfo(opts []grpc.CallOption) callInfo {
	ci := callInfo{maxRecv: wire.DefaultMaxRecvMsgSize, maxSend: wire.DefaultMaxSendMsgSize, failFast: true}
	for _, o := range opts {
		switch o := o.(type) {
		case grpc.HeaderCallOption:
			ci.headers = append(ci.headers, o.HeaderAddr)
		case grpc.TrailerCallOption:
			ci.trailers = append(ci.trailers, o.TrailerAddr)
		case grpc.MaxRecvMsgSizeCallOption:
			ci.maxRecv = o.MaxRecvMsgSize
		case grpc.MaxSendMsgSizeCallOption:
			ci.maxSend = o.MaxSendMsgSize
		case grpc.OnFinishCallOption:
			ci.onFinish = append(ci.onFinish, o.OnFinish)
		case grpc.PerRPCCredsCallOption:
			ci.creds = o.Creds
		case grpc.FailFastCallOption:
			ci.failFast = o.FailFast
		}
	}
	return ci
}

func (cc *ClientConn) invoke(ctx context.Context, method string, args, reply any, opts ...grpc.CallOption) (err error) {
	ci := newCallInfo(opts)
	if len(ci.onFinish) > 0 {
		defer func() {
			for _, f := range ci.onFinish {
				f(err)
			}
		}()
	}
	var header, trailer metadata.MD
	defer func() {
		for _, h := range ci.headers {
			*h = header
		}
		for _, t := range ci.trailers {
			*t = trailer
		}
	}()

	if err := ctx.Err(); err != nil {
		return status.FromContextError(err).Err()
	}
	var cs *callStats // stats.go
	if cc.opts.stats != nil {
		ctx, cs = cc.opts.stats.beginCall(ctx, method, ci.failFast, false)
		defer func() { cs.finish(err, trailer) }()
	}
	md, err := cc.outgoingMetadata(ctx, method, ci.creds)
	if err != nil {
		return err
	}
	if cs != nil {
		cs.sendHeader(method, md, ci.creds != nil)
	}
	buf, err := wire.MarshalMessage(args, cc.opts.jsonMode)
	if err != nil {
		return status.Errorf(codes.Internal, "grpc: error while marshaling: %v", err)
	}
	defer buf.Free()
	body := buf.B
	if len(body) > ci.maxSend {
		return status.Errorf(codes.ResourceExhausted, "trying to send message larger than max (%d vs. %d)", len(body), ci.maxSend)
	}
	var timeout time.Duration
	if d, ok := ctx.Deadline(); ok {
		if timeout = time.Until(d); timeout <= 0 {
			return status.FromContextError(context.DeadlineExceeded).Err()
		}
		if timeout > wire.MaxTimeout-time.Millisecond {
			// What it rounds up to. wire.AppendRequest's own rounding
			// (timeout + 1ms - 1) overflows within 1 ms below MaxTimeout.
			timeout = wire.MaxTimeout
		}
	}
	payload := wire.AppendRequest(make([]byte, 0, wire.RequestSize(method, md, len(body), cc.opts.jsonMode)), method, timeout, md, body, cc.opts.jsonMode)
	if len(payload) > wire.MaxPayloadSize {
		return status.Errorf(codes.ResourceExhausted, "lambda: request payload of %d bytes exceeds the Lambda limit of %d bytes for a synchronous invocation", len(payload), wire.MaxPayloadSize)
	}
	if cs != nil {
		cs.sendPayload(args, body, cc.opts.jsonMode)
	}

	in := &lambda.InvokeInput{
		FunctionName:   cc.fnName,
		Qualifier:      cc.qualifier,
		InvocationType: types.InvocationTypeRequestResponse,
		Payload:        payload,
	}
	secureCreds := ci.creds != nil && ci.creds.RequireTransportSecurity()
	out, err := cc.invoker.Invoke(ctx, in, cc.retry.forMethod(method, secureCreds))
	if err != nil {
		if ctxErr := ctx.Err(); ctxErr != nil {
			return status.FromContextError(ctxErr).Err()
		}
		if isInsecureCredentialsError(err) {
			return errInsecureCredentials
		}
		return invokeErrorStatus(err).Err()
	}
	if out == nil {
		return status.Error(codes.Internal, "lambda: the invoker returned neither an output nor an error")
	}
	if ctxErr := ctx.Err(); ctxErr != nil {
		// The answer came too late: grpc-go reports the caller's deadline or
		// cancellation, whatever the server said.
		return status.FromContextError(ctxErr).Err()
	}
	env, st := decodeResponse(out, cc.opts.jsonMode)
	if st != nil {
		return st.Err()
	}
	header = env.Header
	if cs != nil {
		cs.receiveHeader(env)
	}
	if env.Code != 0 {
		var st *status.Status
		st, trailer = responseStatus(env)
		if cs != nil {
			cs.receiveTrailer(trailer)
		}
		return st.Err()
	}
	trailer = env.Trailer
	if cs != nil {
		cs.receiveTrailer(trailer)
	}
	if raw, ok := reply.(*RawMessage); ok && !env.HasJSON {
		// A proxy's message: its bytes as the function wrote them.
		if raw.Bytes, err = env.DecodeRaw(ci.maxRecv, raw.Pool); err != nil {
			return err
		}
	} else if err := env.Unmarshal(reply, ci.maxRecv); err != nil {
		return err
	}
	if cs != nil {
		cs.receivePayload(reply, env)
	}
	if v, ok := trailer[wire.StatusDetailsKey]; ok {
		// A handler set grpc-status-details-bin itself: grpc-go's client reads
		// the call's status from it, even after a response.
		return detailsStatus(codes.OK, "", v).Err()
	}
	return nil
}

// decodeResponse reads the invocation's output: a response envelope, or a
// failure of the invocation itself, which becomes a status (see errors.go).
func decodeResponse(out *lambda.InvokeOutput, jsonMode bool) (*wire.Response, *status.Status) {
	env, err := wire.ParseResponse(out.Payload)
	if err != nil && out.FunctionError == nil && looksFramed(out.Payload) {
		// A server-streaming method called as unary: its frames, read as
		// grpc-go's client reads a stream for a unary call.
		return framedResponse(out.Payload, jsonMode)
	}
	switch {
	case out.FunctionError != nil:
		return nil, functionErrorStatus(aws.ToString(out.FunctionError), env, out.Payload)
	case err != nil:
		return nil, nonEnvelopeStatus(out.Payload)
	case env.FunctionError != nil:
		// The emulator reports function errors without X-Amz-Function-Error.
		return nil, functionErrorStatus("", env, out.Payload)
	case env.Version != wire.EnvelopeVersion:
		return nil, status.Newf(codes.Internal, "lambda: response envelope version %d is not supported; this client speaks version %d", env.Version, wire.EnvelopeVersion)
	case env.Code == 0 && !env.HasBody && !env.HasJSON:
		return nil, status.New(codes.Internal, `lambda: malformed response envelope: status OK without "body" or "json"`)
	}
	return env, nil
}

// looksFramed reports whether a payload starts like stream framing
// (docs/protocol.md): a header, message or end frame.
func looksFramed(p []byte) bool {
	return len(p) >= wire.FramePrefixSize && p[0] <= wire.FrameEnd
}

// framedResponse reads a framed answer as a unary call's: grpc-go's client
// wants exactly one message before an OK status.
func framedResponse(payload []byte, jsonMode bool) (*wire.Response, *status.Status) {
	env, n, err := wire.ParseFrames(payload, jsonMode)
	if err != nil {
		return nil, nonEnvelopeStatus(payload)
	}
	if env.Code == 0 && n != 1 {
		env.Code = int64(codes.Internal)
		env.Message = "cardinality violation: received no response message from non-server-streaming RPC"
		if n > 1 {
			env.Message = "cardinality violation: expected <EOF> for non server-streaming RPCs, but received another message"
		}
	}
	return env, nil
}

// responseStatus rebuilds the status of a failed call and the trailer the
// caller gets. As on grpc-go, the details are the grpc-status-details-bin
// trailer, which the caller sees too; without "details", a handler's own
// grpc-status-details-bin trailer is read the same way.
func responseStatus(env *wire.Response) (*status.Status, metadata.MD) {
	trailer := env.Trailer
	if env.Code < 0 || env.Code > int64(^uint32(0)) {
		return status.Newf(codes.Internal, "lambda: malformed response envelope: code %d", env.Code), trailer
	}
	code := codes.Code(env.Code)
	if len(env.Details) > 0 {
		raw, err := wire.DecodeBase64(nil, env.Details)
		if err != nil {
			return status.Newf(codes.Internal, "lambda: malformed response envelope: details are not valid base64: %v", err), trailer
		}
		if trailer == nil {
			trailer = metadata.MD{}
		}
		trailer[wire.StatusDetailsKey] = []string{string(raw)}
	}
	v, ok := trailer[wire.StatusDetailsKey]
	if !ok {
		return status.New(code, env.Message), trailer
	}
	return detailsStatus(code, env.Message, v), trailer
}

// detailsStatus is grpc-go's rule for the grpc-status-details-bin trailer
// (internal/status.NewWithProto): exactly one value that unmarshals to a
// google.rpc.Status is the call's status when its code agrees and an
// INTERNAL mismatch when it does not; anything else is ignored.
func detailsStatus(code codes.Code, message string, values []string) *status.Status {
	if len(values) != 1 {
		return status.New(code, message)
	}
	p := &spb.Status{}
	if err := proto.Unmarshal([]byte(values[0]), p); err != nil {
		return status.New(code, message)
	}
	if p.GetCode() != int32(code) {
		return status.Newf(codes.Internal, "grpc-status-details-bin mismatch: grpc-status=%v, grpc-message=%q, grpc-status-details-bin=%+v", code, message, p)
	}
	return status.FromProto(p)
}

func chainUnaryClientInterceptors(interceptors []grpc.UnaryClientInterceptor) grpc.UnaryClientInterceptor {
	switch len(interceptors) {
	case 0:
		return nil
	case 1:
		return interceptors[0]
	}
	return func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
		return interceptors[0](ctx, method, req, reply, cc, chainUnaryInvoker(interceptors, 0, invoker), opts...)
	}
}

func chainUnaryInvoker(interceptors []grpc.UnaryClientInterceptor, curr int, final grpc.UnaryInvoker) grpc.UnaryInvoker {
	if curr == len(interceptors)-1 {
		return final
	}
	return func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, opts ...grpc.CallOption) error {
		return interceptors[curr+1](ctx, method, req, reply, cc, chainUnaryInvoker(interceptors, curr+1, final), opts...)
	}
}

// String describes the connection for logs.
func (cc *ClientConn) String() string {
	if cc.opts.qualifier != "" {
		return fmt.Sprintf("lambda:%s:%s", cc.functionName, cc.opts.qualifier)
	}
	return "lambda:" + cc.functionName
}
