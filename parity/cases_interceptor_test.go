package parity

import (
	"context"
	"fmt"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/protoc-gen-go-lambda/protoc-gen-go-lambda/internal/testing/testpb"
)

// tracing returns a server interceptor that records its name in the header
// on the way in, in the trailer on the way out, and in the response message.
func tracing(name string) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		if err := grpc.SetHeader(ctx, metadata.Pairs("x-order", name+":in")); err != nil {
			return nil, err
		}
		resp, err := handler(ctx, req)
		if err2 := grpc.SetTrailer(ctx, metadata.Pairs("x-order", name+":out")); err2 != nil {
			return nil, err2
		}
		if r, ok := resp.(*testpb.EchoResponse); ok && r != nil {
			r.Message += " <" + name
		}
		return resp, err
	}
}

// clientTracing returns a client interceptor that adds its name to the
// outgoing metadata, so the handler's echo shows the chain's order.
func clientTracing(name string) grpc.UnaryClientInterceptor {
	return func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
		ctx = metadata.AppendToOutgoingContext(ctx, "x-client-order", name)
		return invoker(ctx, method, req, reply, cc, opts...)
	}
}

// interceptorCases: server and client interceptor chains.
func interceptorCases() []Case {
	return []Case{
		{
			Name:               "server chain order",
			ServerInterceptors: []grpc.UnaryServerInterceptor{tracing("a"), tracing("b"), tracing("c")},
			Req:                &testpb.EchoRequest{Message: "handler"},
		},
		{
			Name:               "server chain order on an error",
			ServerInterceptors: []grpc.UnaryServerInterceptor{tracing("a"), tracing("b")},
			Req:                fail(codes.NotFound, "missing"),
		},
		{
			Name: "server interceptor short-circuits with an error",
			ServerInterceptors: []grpc.UnaryServerInterceptor{tracing("outer"), func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, _ grpc.UnaryHandler) (any, error) {
				_ = grpc.SetHeader(ctx, metadata.Pairs("x-denied-by", "auth"))
				return nil, status.Error(codes.PermissionDenied, "denied by the interceptor")
			}},
			Service: &Service{EchoFunc: func(context.Context, *testpb.EchoRequest) (*testpb.EchoResponse, error) {
				return nil, status.Error(codes.Internal, "the handler must not run")
			}},
			Req: &testpb.EchoRequest{},
		},
		{
			Name: "server interceptor replaces the response",
			ServerInterceptors: []grpc.UnaryServerInterceptor{func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
				if _, err := handler(ctx, req); err != nil {
					return nil, err
				}
				return &testpb.EchoResponse{Message: "replaced", Payload: []byte{1, 2, 3}}, nil
			}},
			Req: &testpb.EchoRequest{Message: "original"},
		},
		{
			Name: "server interceptor replaces an error with a response",
			ServerInterceptors: []grpc.UnaryServerInterceptor{func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
				if _, err := handler(ctx, req); err != nil {
					return &testpb.EchoResponse{Message: "recovered from " + status.Convert(err).Message()}, nil
				}
				return nil, status.Error(codes.Internal, "want an error")
			}},
			Req: fail(codes.Unavailable, "flaky"),
		},
		{
			Name: "server interceptor rewrites the request and the incoming metadata",
			ServerInterceptors: []grpc.UnaryServerInterceptor{func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
				req.(*testpb.EchoRequest).Message = "rewritten"
				md, _ := metadata.FromIncomingContext(ctx)
				md = md.Copy()
				md.Set("x-added-by-interceptor", "1")
				return handler(metadata.NewIncomingContext(ctx, md), req)
			}},
			Ctx: appended("x-from-caller", "1"),
			Req: &testpb.EchoRequest{Message: "original"},
		},
		{
			Name: "server interceptor sees the method, the server and the request",
			ServerInterceptors: []grpc.UnaryServerInterceptor{func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
				m, _ := grpc.Method(ctx)
				_ = grpc.SetTrailer(ctx, metadata.Pairs(
					"x-full-method", info.FullMethod,
					"x-method", m,
					"x-server", fmt.Sprintf("%T", info.Server),
					"x-request", fmt.Sprintf("%T %s", req, req.(*testpb.EchoRequest).GetMessage()),
				))
				return handler(ctx, req)
			}},
			Req: &testpb.EchoRequest{Message: "seen"},
		},
		{
			Name: "server interceptor converts an error",
			ServerInterceptors: []grpc.UnaryServerInterceptor{func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
				resp, err := handler(ctx, req)
				if err != nil {
					return resp, fmt.Errorf("converted: %w", status.Error(codes.Aborted, status.Convert(err).Message()))
				}
				return resp, err
			}},
			Req: fail(codes.NotFound, "inner"),
		},
		{
			Name:               "client chain order and outgoing metadata",
			ClientInterceptors: []grpc.UnaryClientInterceptor{clientTracing("first"), clientTracing("second"), clientTracing("third")},
			Req:                &testpb.EchoRequest{},
		},
		{
			Name: "client interceptor adds metadata and reads the header",
			ClientInterceptors: []grpc.UnaryClientInterceptor{func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
				ctx = metadata.AppendToOutgoingContext(ctx, "x-token", "secret")
				var h, tr metadata.MD
				err := invoker(ctx, method, req, reply, cc, append(opts, grpc.Header(&h), grpc.Trailer(&tr))...)
				if r, ok := reply.(*testpb.EchoResponse); ok && err == nil {
					r.Message = fmt.Sprintf("header %v, trailer %v, method %s", h.Get("x-h"), tr.Get("x-t"), method)
				}
				return err
			}},
			Req: &testpb.EchoRequest{Header: pairs("x-h", "from the handler"), Trailer: pairs("x-t", "too")},
		},
		{
			Name: "client interceptor short-circuits",
			ClientInterceptors: []grpc.UnaryClientInterceptor{func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
				return status.Error(codes.Unauthenticated, "no credentials, not sent")
			}},
			Req: &testpb.EchoRequest{},
		},
		{
			Name: "client interceptor answers from a cache",
			ClientInterceptors: []grpc.UnaryClientInterceptor{func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
				proto.Merge(reply.(proto.Message), &testpb.EchoResponse{Message: "cached"})
				return nil
			}},
			Req: &testpb.EchoRequest{},
		},
		{
			Name: "client interceptor retries once after an error",
			ClientInterceptors: []grpc.UnaryClientInterceptor{func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
				r := proto.Clone(req.(proto.Message)).(*testpb.EchoRequest)
				if err := invoker(ctx, method, r, reply, cc, opts...); status.Code(err) != codes.Unavailable {
					return fmt.Errorf("first attempt: want UNAVAILABLE, got %w", err)
				}
				r.Fail = nil
				return invoker(ctx, method, r, reply, cc, opts...)
			}},
			Req: &testpb.EchoRequest{Message: "second time lucky", Fail: &testpb.Status{Code: int32(codes.Unavailable)}, Trailer: pairs("x-attempt", "t")},
		},
		{
			Name: "client interceptor changes the method",
			ClientInterceptors: []grpc.UnaryClientInterceptor{func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
				return invoker(ctx, method+"Renamed", req, reply, cc, opts...)
			}},
			Req: &testpb.EchoRequest{},
		},
		{
			Name:               "client and server chains together",
			ClientInterceptors: []grpc.UnaryClientInterceptor{clientTracing("c1"), clientTracing("c2")},
			ServerInterceptors: []grpc.UnaryServerInterceptor{tracing("s1"), tracing("s2")},
			Req:                &testpb.EchoRequest{Message: "both"},
		},
	}
}
