package parity

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"connectrpc.com/connect"
	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"

	"github.com/protoc-gen-go-lambda/protoc-gen-go-lambda/internal/testing/testpb"
)

// This file is the client side of the HTTP parity suite (http_test.go):
// connect-go's generic client (connect.NewClient), put behind
// grpc.ClientConnInterface so that the suite's cases, written against
// generated gRPC clients, call through it unchanged. The same adapter
// speaks gRPC to the grpc-go server (the baseline) and the Connect protocol
// or gRPC-Web to the function behind a front end, so whatever it does of its
// own is the same on both sides of every comparison.

// wireProtocol is one protocol and codec connect-go's client speaks.
type wireProtocol struct {
	Name string // "grpc", "connect" or "grpcweb"
	JSON bool   // connect.WithProtoJSON
}

var (
	protoGRPC = wireProtocol{Name: "grpc"}
	// httpProtocols are the protocols the HTTP front ends serve, in the
	// order of the table's columns.
	httpProtocols = []wireProtocol{
		{Name: "connect"}, {Name: "connect", JSON: true},
		{Name: "grpcweb"}, {Name: "grpcweb", JSON: true},
	}
)

func (p wireProtocol) String() string {
	codec := "proto"
	if p.JSON {
		codec = "json"
	}
	return p.Name + "/" + codec
}

// Title is the protocol's name in the document.
func (p wireProtocol) Title() string {
	name := map[string]string{"grpc": "gRPC", "connect": "Connect", "grpcweb": "gRPC-Web"}[p.Name]
	if p.JSON {
		return name + " JSON"
	}
	return name + " proto"
}

func (p wireProtocol) options() []connect.ClientOption {
	var opts []connect.ClientOption
	switch p.Name {
	case "grpc":
		opts = append(opts, connect.WithGRPC())
	case "grpcweb":
		opts = append(opts, connect.WithGRPCWeb())
	}
	if p.JSON {
		opts = append(opts, connect.WithProtoJSON())
	}
	return opts
}

// connectConn is a grpc.ClientConnInterface that makes each unary call with
// a connect-go client. It does what a caller of connect-go does by hand:
//
//   - the outgoing metadata (metadata.FromOutgoingContext) becomes request
//     headers, -bin values base64-encoded with connect.EncodeBinaryHeader;
//     keys grpc-go's client drops as reserved are dropped here too;
//   - grpc.Header and grpc.Trailer get connect-go's response header and
//     trailer (connect.NewClientContext's CallInfo, which has both, split as
//     the wire had them, on success and on error), -bin values decoded;
//   - a *connect.Error becomes the status with its code, message and
//     details (each connect.ErrorDetail's type and bytes as an Any);
//   - grpc.MaxCallRecvMsgSize and grpc.MaxCallSendMsgSize become
//     connect.WithReadMaxBytes and connect.WithSendMaxBytes; grpc.StaticMethod,
//     which generated clients pass, changes nothing on the wire.
//
// Any other call option fails the call: the suite must not run a case whose
// call options the adapter would silently ignore. Interceptors run as
// invoke.ClientConn runs them, with a nil *grpc.ClientConn.
type connectConn struct {
	client      *http.Client
	baseURL     string // the server's URL, without a trailing slash
	proto       wireProtocol
	interceptor grpc.UnaryClientInterceptor
}

var _ grpc.ClientConnInterface = (*connectConn)(nil)

func newConnectConn(client *http.Client, baseURL string, p wireProtocol, interceptors []grpc.UnaryClientInterceptor) *connectConn {
	cc := &connectConn{client: client, baseURL: strings.TrimSuffix(baseURL, "/"), proto: p}
	if len(interceptors) > 0 {
		cc.interceptor = chainClient(interceptors)
	}
	return cc
}

// chainClient chains interceptors as grpc.WithChainUnaryInterceptor does,
// the first outermost.
func chainClient(is []grpc.UnaryClientInterceptor) grpc.UnaryClientInterceptor {
	return func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
		var next func(i int) grpc.UnaryInvoker
		next = func(i int) grpc.UnaryInvoker {
			if i == len(is) {
				return invoker
			}
			return func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, opts ...grpc.CallOption) error {
				return is[i](ctx, method, req, reply, cc, next(i+1), opts...)
			}
		}
		return next(0)(ctx, method, req, reply, cc, opts...)
	}
}

// Invoke implements grpc.ClientConnInterface.
func (cc *connectConn) Invoke(ctx context.Context, method string, args, reply any, opts ...grpc.CallOption) error {
	unary := func(ctx context.Context, method string, args, reply any, _ *grpc.ClientConn, opts ...grpc.CallOption) error {
		return cc.invoke(ctx, method, args, reply, opts...)
	}
	if cc.interceptor != nil {
		return cc.interceptor(ctx, method, args, reply, nil, unary, opts...)
	}
	return unary(ctx, method, args, reply, nil, opts...)
}

// NewStream implements grpc.ClientConnInterface; the suite runs no
// streaming case through connect-go (see httpExclusions).
func (cc *connectConn) NewStream(context.Context, *grpc.StreamDesc, string, ...grpc.CallOption) (grpc.ClientStream, error) {
	return nil, errors.New("connectConn: streaming calls are not adapted")
}

// errUnadapted fails a call the adapter cannot make faithfully.
type errUnadapted struct{ what string }

func (e errUnadapted) Error() string { return "connectConn: " + e.what + " is not adapted" }

func (cc *connectConn) invoke(ctx context.Context, method string, args, reply any, opts ...grpc.CallOption) error {
	var copts []connect.ClientOption
	var headers, trailers []*metadata.MD
	for _, o := range opts {
		switch o := o.(type) {
		case grpc.HeaderCallOption:
			headers = append(headers, o.HeaderAddr)
		case grpc.TrailerCallOption:
			trailers = append(trailers, o.TrailerAddr)
		case grpc.StaticMethodCallOption:
			// Generated clients pass it: a hint to grpc-go's stats
			// handlers that the method name is not caller-controlled.
		case grpc.MaxRecvMsgSizeCallOption:
			copts = append(copts, connect.WithReadMaxBytes(o.MaxRecvMsgSize))
		case grpc.MaxSendMsgSizeCallOption:
			copts = append(copts, connect.WithSendMaxBytes(o.MaxSendMsgSize))
		default:
			return errUnadapted{fmt.Sprintf("call option %T", o)}
		}
	}
	ctx, info := connect.NewClientContext(ctx)
	reqHeader := http.Header{}
	if md, ok := metadata.FromOutgoingContext(ctx); ok {
		for k, vs := range md {
			if grpcReservedKey(k) {
				continue
			}
			for _, v := range vs {
				if strings.HasSuffix(k, "-bin") {
					v = connect.EncodeBinaryHeader([]byte(v))
				}
				reqHeader.Add(k, v)
			}
		}
	}
	url := cc.baseURL + method
	copts = append(cc.proto.options(), copts...)
	var err error
	switch a := args.(type) {
	case *testpb.EchoRequest:
		switch r := reply.(type) {
		case *testpb.EchoResponse:
			err = unaryCall(ctx, cc.client, url, copts, reqHeader, a, r)
		case *testpb.SleepRequest:
			err = unaryCall(ctx, cc.client, url, copts, reqHeader, a, r)
		default:
			return errUnadapted{fmt.Sprintf("reply type %T for %T", reply, args)}
		}
	case *testpb.SleepRequest:
		r, ok := reply.(*testpb.EchoResponse)
		if !ok {
			return errUnadapted{fmt.Sprintf("reply type %T for %T", reply, args)}
		}
		err = unaryCall(ctx, cc.client, url, copts, reqHeader, a, r)
	case *healthpb.HealthCheckRequest:
		r, ok := reply.(*healthpb.HealthCheckResponse)
		if !ok {
			return errUnadapted{fmt.Sprintf("reply type %T for %T", reply, args)}
		}
		err = unaryCall(ctx, cc.client, url, copts, reqHeader, a, r)
	default:
		return errUnadapted{fmt.Sprintf("request type %T", args)}
	}
	header, trailer := headerMD(info.ResponseHeader()), headerMD(info.ResponseTrailer())
	for _, h := range headers {
		*h = header
	}
	for _, t := range trailers {
		*t = trailer
	}
	return err
}

// unaryCall makes the call with connect-go's client for the concrete
// message types and copies the response into reply.
func unaryCall[Req, Res any, PReq interface {
	*Req
	proto.Message
}, PRes interface {
	*Res
	proto.Message
}](ctx context.Context, client *http.Client, url string, opts []connect.ClientOption, header http.Header, args PReq, reply PRes) error {
	c := connect.NewClient[Req, Res](client, url, opts...)
	req := connect.NewRequest((*Req)(args))
	for k, vs := range header {
		for _, v := range vs {
			req.Header().Add(k, v)
		}
	}
	resp, err := c.CallUnary(ctx, req)
	if err != nil {
		return connectStatus(err)
	}
	proto.Reset(reply)
	proto.Merge(reply, PRes(resp.Msg))
	return nil
}

// connectStatus turns connect-go's error into a status error: connect's
// codes are gRPC's, and each detail keeps its type and bytes.
func connectStatus(err error) error {
	var ce *connect.Error
	if !errors.As(err, &ce) {
		return status.Error(codes.Unknown, err.Error())
	}
	p := &spb.Status{Code: int32(ce.Code()), Message: ce.Message()}
	for _, d := range ce.Details() {
		p.Details = append(p.Details, &anypb.Any{TypeUrl: "type.googleapis.com/" + d.Type(), Value: d.Bytes()})
	}
	return status.FromProto(p).Err()
}

// headerMD is an HTTP header as metadata: names lower-cased, -bin values
// decoded with connect.DecodeBinaryHeader (a value that does not decode is
// kept as it came, marked, so that a comparison shows it).
func headerMD(h http.Header) metadata.MD {
	if len(h) == 0 {
		return nil
	}
	md := metadata.MD{}
	for k, vs := range h {
		k = strings.ToLower(k)
		for _, v := range vs {
			if strings.HasSuffix(k, "-bin") {
				if b, err := connect.DecodeBinaryHeader(v); err == nil {
					v = string(b)
				} else {
					v = "undecodable: " + v
				}
			}
			md[k] = append(md[k], v)
		}
	}
	return md
}

// grpcReservedKey reports whether grpc-go's client drops an outgoing
// metadata key as reserved (internal/transport.isReservedHeader).
func grpcReservedKey(k string) bool {
	if k != "" && k[0] == ':' {
		return true
	}
	switch k {
	case "content-type", "user-agent", "grpc-message-type", "grpc-encoding", "grpc-message", "grpc-status", "grpc-timeout", "te":
		return true
	}
	return false
}
