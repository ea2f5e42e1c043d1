package parity

import (
	"context"
	"io"
	"strings"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/protoc-gen-go-lambda/protoc-gen-go-lambda/internal/testing/testpb"
)

// rawCall calls method directly on the connection with an Echo request
// (req, or one with the message "routed").
func rawCall(method string, req ...*testpb.EchoRequest) func(context.Context, Conn, ...grpc.CallOption) (proto.Message, error) {
	in := &testpb.EchoRequest{Message: "routed"}
	if len(req) > 0 {
		in = req[0]
	}
	return func(ctx context.Context, c Conn, opts ...grpc.CallOption) (proto.Message, error) {
		out := new(testpb.EchoResponse)
		err := c.CC.Invoke(ctx, method, in, out, opts...)
		return out, err
	}
}

// unimplemented embeds protoc-gen-go-grpc's UnimplementedTestServiceServer
// and nothing else.
type unimplemented struct {
	testpb.UnimplementedTestServiceServer
}

// withHealth registers TestService and a grpc health server (the same
// objects on both paths).
func withHealth() func(grpc.ServiceRegistrar, bool) {
	svc := &Service{}
	hs := health.NewServer()
	hs.SetServingStatus("lambdatest.v1.TestService", healthpb.HealthCheckResponse_SERVING)
	return func(r grpc.ServiceRegistrar, lambda bool) {
		if lambda {
			testpb.RegisterTestServiceLambdaServer(r, svc)
		} else {
			testpb.RegisterTestServiceServer(r, svc)
		}
		healthpb.RegisterHealthServer(r, hs)
	}
}

func healthCheck(service string) func(context.Context, Conn, ...grpc.CallOption) (proto.Message, error) {
	return func(ctx context.Context, c Conn, opts ...grpc.CallOption) (proto.Message, error) {
		return healthpb.NewHealthClient(c.CC).Check(ctx, &healthpb.HealthCheckRequest{Service: service}, opts...)
	}
}

// routingCases: which method a call reaches, or grpc-go's status when none.
func routingCases() []Case {
	cs := []Case{
		{Name: "unknown service", Call: rawCall("/no.such.Service/Echo")},
		{Name: "unknown method on a known service", Call: rawCall("/lambdatest.v1.TestService/Nope")},
		{Name: "method name differs in case only", Call: rawCall("/lambdatest.v1.TestService/echo")},
		{Name: "service name differs in case only", Call: rawCall("/lambdatest.v1.testservice/Echo")},
	}
	for _, m := range []string{
		"lambdatest.v1.TestService/Echo",
		"/noslash",
		"/",
		"//",
		"/lambdatest.v1.TestService/",
		"//lambdatest.v1.TestService/Echo",
		"/lambdatest.v1.TestService/Echo/",
		"/lambdatest.v1.TestService/Echo/extra",
		"/lambdatest.v1.TestService//Echo",
		"/lambdatest.v1.TestService/Echo?x=1",
		"/lambdatest.v1.TestService/Echo ",
		"/lambdatest.v1.TestService/Éc😀",
	} {
		cs = append(cs, Case{Name: "malformed or unusual method name " + strings.ReplaceAll(m, " ", "␠"), Call: rawCall(m)})
	}
	cs = append(cs,
		Case{
			Name: "service registered twice",
			Outcomes: func(t *testing.T) (Outcome, Outcome) {
				return Outcome{Note: subprocess(t, subDuplicate, "grpc: Server.RegisterService")},
					Outcome{Lambda: true, Note: lambdaRegisterTwice()}
			},
			Difference: "grpc-go logs the error and exits the process (logger.Fatalf); runtime.Server panics with the same message, so a test or a caller of RegisterService can recover; either way the function never serves",
			Diff: func(t *testing.T, g, l Outcome) {
				const msg = `grpc: Server.RegisterService found duplicate service registration for "lambdatest.v1.TestService"`
				if g.Note != "process exits with status 1: "+msg || l.Note != "RegisterService panics: "+msg {
					t.Errorf("want exit status 1 and a panic, both with %q; got %q and %q", msg, g.Note, l.Note)
				}
			},
		},
		Case{Name: "method of an Unimplemented...Server", Service: &unimplemented{}, Req: &testpb.EchoRequest{}},
		Case{Name: "Unimplemented...Server method, Sleep", Service: &unimplemented{}, Call: sleep(0, false)},
		Case{Name: "second service on the same server (grpc health)", Register: withHealth(), Call: healthCheck("lambdatest.v1.TestService")},
		Case{Name: "second service answering NOT_FOUND (grpc health)", Register: withHealth(), Call: healthCheck("unknown.Service")},
		Case{
			Name: "server-streaming method through the generated client",
			Call: func(ctx context.Context, c Conn, opts ...grpc.CallOption) (proto.Message, error) {
				stream, err := c.Client.Stream(ctx, &testpb.EchoRequest{Message: "streamed", Count: 1}, opts...)
				if err != nil {
					return nil, err
				}
				m, err := stream.Recv()
				if err != nil {
					return nil, err
				}
				if _, err := stream.Recv(); err != io.EOF {
					return nil, status.Errorf(codes.Internal, "second Recv: %v, want io.EOF", err)
				}
				return m, nil
			},
		},
		Case{Name: "server-streaming method called as a unary method, one message", Call: rawCall("/lambdatest.v1.TestService/Stream", &testpb.EchoRequest{Count: 1})},
		Case{Name: "server-streaming method called as a unary method, no message", Call: rawCall("/lambdatest.v1.TestService/Stream", &testpb.EchoRequest{})},
		Case{Name: "server-streaming method called as a unary method, two messages", Call: rawCall("/lambdatest.v1.TestService/Stream", &testpb.EchoRequest{Count: 2})},
	)
	return cs
}

// TestUnimplementedMessagesMatch checks that the generated
// UnimplementedTestServiceLambdaServer fails every method exactly as
// protoc-gen-go-grpc's UnimplementedTestServiceServer does.
func TestUnimplementedMessagesMatch(t *testing.T) {
	ctx := context.Background()
	g, l := testpb.UnimplementedTestServiceServer{}, testpb.UnimplementedTestServiceLambdaServer{}
	pair := func(name string, a, b error) {
		if !proto.Equal(status.Convert(a).Proto(), status.Convert(b).Proto()) || a == nil {
			t.Errorf("%s: grpc %v, lambda %v", name, a, b)
		}
	}
	_, e1 := g.Echo(ctx, nil)
	_, e2 := l.Echo(ctx, nil)
	pair("Echo", e1, e2)
	_, e1 = g.Sleep(ctx, nil)
	_, e2 = l.Sleep(ctx, nil)
	pair("Sleep", e1, e2)
	_, e1 = g.Panic(ctx, nil)
	_, e2 = l.Panic(ctx, nil)
	pair("Panic", e1, e2)
	_, e1 = g.Exit(ctx, nil)
	_, e2 = l.Exit(ctx, nil)
	pair("Exit", e1, e2)
	_, e1 = g.Retry(ctx, nil)
	_, e2 = l.Retry(ctx, nil)
	pair("Retry", e1, e2)
	pair("Stream", g.Stream(nil, nil), l.Stream(nil, nil))
}
