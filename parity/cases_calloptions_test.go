package parity

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/protoc-gen-go-lambda/protoc-gen-go-lambda/internal/testing/testpb"
)

// tokenCreds is a grpc.PerRPCCredentials that needs no transport security.
type tokenCreds struct {
	md  map[string]string
	err error
}

func (c tokenCreds) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	return c.md, c.err
}

func (tokenCreds) RequireTransportSecurity() bool { return false }

// audienceCreds sends the audience it is given as x-audience.
type audienceCreds struct{}

func (audienceCreds) GetRequestMetadata(_ context.Context, uri ...string) (map[string]string, error) {
	return map[string]string{"x-audience": strings.Join(uri, ",")}, nil
}

func (audienceCreds) RequireTransportSecurity() bool { return false }

// onFinishChecked is a client interceptor that adds grpc.OnFinish and fails
// the call unless it ran exactly once with the call's own error.
func onFinishChecked(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
	var calls int
	var got error
	err := invoker(ctx, method, req, reply, cc, append(opts, grpc.OnFinish(func(err error) { calls++; got = err }))...)
	if calls != 1 || !errors.Is(got, err) && got != err {
		return fmt.Errorf("OnFinish ran %d times with %v; the call returned %v", calls, got, err)
	}
	return err
}

// callOptionCases: call options and per-call features of the client.
func callOptionCases() []Case {
	return []Case{
		{Name: "grpc.WaitForReady and grpc.StaticMethod", CallOptions: []grpc.CallOption{grpc.WaitForReady(true), grpc.StaticMethod()}, Req: &testpb.EchoRequest{Message: "ready"}},
		{Name: "grpc.OnFinish runs once with the result, success", ClientInterceptors: []grpc.UnaryClientInterceptor{onFinishChecked}, Req: &testpb.EchoRequest{}},
		{Name: "grpc.OnFinish runs once with the result, error", ClientInterceptors: []grpc.UnaryClientInterceptor{onFinishChecked}, Req: fail(codes.NotFound, "nf")},
		{Name: "grpc.PerRPCCredentials adds metadata", CallOptions: []grpc.CallOption{grpc.PerRPCCredentials(tokenCreds{md: map[string]string{"authorization": "Bearer t0ken", "x-tenant": "42"}})}, Req: &testpb.EchoRequest{}},
		{Name: "grpc.PerRPCCredentials fails with a plain error", CallOptions: []grpc.CallOption{grpc.PerRPCCredentials(tokenCreds{err: errors.New("token expired")})}, Req: &testpb.EchoRequest{}},
		{Name: "grpc.PerRPCCredentials fails with a status", CallOptions: []grpc.CallOption{grpc.PerRPCCredentials(tokenCreds{err: status.Error(codes.PermissionDenied, "no token for you")})}, Req: &testpb.EchoRequest{}},
		{Name: "grpc.PerRPCCredentials fails with a status a control plane must not use", CallOptions: []grpc.CallOption{grpc.PerRPCCredentials(tokenCreds{err: status.Error(codes.NotFound, "no such token")})}, Req: &testpb.EchoRequest{}},
		{
			Name:        "grpc.PerRPCCredentials sees the call's audience",
			CallOptions: []grpc.CallOption{grpc.PerRPCCredentials(audienceCreds{})},
			Req:         &testpb.EchoRequest{},
			Difference:  "grpc-go passes the audience https://<authority>/<service>; a Lambda call has no authority, so the runtime passes lambda:<full method>",
			Diff: func(t *testing.T, g, l Outcome) {
				aud := func(o Outcome) string {
					for _, p := range o.Resp.(*testpb.EchoResponse).GetIncoming() {
						if p.GetKey() == "x-audience" {
							return string(p.GetValue())
						}
					}
					return ""
				}
				if aud(g) != "https://parity/lambdatest.v1.TestService" || aud(l) != "lambda:/lambdatest.v1.TestService/Echo" {
					t.Errorf("audiences %q and %q", aud(g), aud(l))
				}
			},
		},
		{Name: "nil request through ClientConn.Invoke", Call: func(ctx context.Context, c Conn, opts ...grpc.CallOption) (proto.Message, error) {
			out := new(testpb.EchoResponse)
			err := c.CC.Invoke(ctx, testpb.TestService_Echo_FullMethodName, nil, out, opts...)
			return out, err
		}},
		{Name: "request of the wrong type through ClientConn.Invoke", Call: func(ctx context.Context, c Conn, opts ...grpc.CallOption) (proto.Message, error) {
			out := new(testpb.EchoResponse)
			err := c.CC.Invoke(ctx, testpb.TestService_Echo_FullMethodName, "not a message", out, opts...)
			return out, err
		}},
		{Name: "reply of the wrong type through ClientConn.Invoke", Call: func(ctx context.Context, c Conn, opts ...grpc.CallOption) (proto.Message, error) {
			var out struct{}
			err := c.CC.Invoke(ctx, testpb.TestService_Echo_FullMethodName, &testpb.EchoRequest{}, &out, opts...)
			return nil, err
		}},
		{Name: "reply of another message type through ClientConn.Invoke", Service: quiet(), Call: func(ctx context.Context, c Conn, opts ...grpc.CallOption) (proto.Message, error) {
			out := new(testpb.SleepRequest) // fields 1 and 2 differ in type from EchoResponse's
			err := c.CC.Invoke(ctx, testpb.TestService_Echo_FullMethodName, &testpb.EchoRequest{Message: "m", Payload: []byte("p")}, out, opts...)
			return out, err
		}},
		{
			Name: "peer.FromContext in the handler",
			Service: &Service{EchoFunc: func(ctx context.Context, _ *testpb.EchoRequest) (*testpb.EchoResponse, error) {
				p, ok := peer.FromContext(ctx)
				return &testpb.EchoResponse{Message: fmt.Sprintf("peer %v", ok && p != nil && p.Addr != nil)}, nil
			}},
			Req:        &testpb.EchoRequest{},
			Difference: "an invocation has no network peer: the caller's connection ends at the Lambda service, so the handler's context carries no peer.Peer (lambdacontext.FromContext describes the invocation instead)",
			Diff: func(t *testing.T, g, l Outcome) {
				if g.Resp.(*testpb.EchoResponse).GetMessage() != "peer true" || l.Resp.(*testpb.EchoResponse).GetMessage() != "peer false" {
					t.Errorf("want a peer on grpc-go only, got %v and %v", g.Resp, l.Resp)
				}
			},
		},
	}
}
