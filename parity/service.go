package parity

import (
	"context"

	"google.golang.org/grpc"

	"github.com/protoc-gen-go-lambda/protoc-gen-go-lambda/internal/testing/testpb"
	"github.com/protoc-gen-go-lambda/protoc-gen-go-lambda/internal/testing/testserver"
)

// Service implements TestService for a grpc.Server and a runtime.Server
// alike, so that one object serves both sides of a parity case. A method
// whose func field is set runs it; otherwise the method behaves as
// testserver.Server's, except that Echo does not report the handler's
// deadline (a Lambda invocation always has one, a grpc-go call only when the
// caller set it; the deadline cases report it themselves).
type Service struct {
	testpb.UnimplementedTestServiceServer

	EchoFunc  func(context.Context, *testpb.EchoRequest) (*testpb.EchoResponse, error)
	SleepFunc func(context.Context, *testpb.SleepRequest) (*testpb.EchoResponse, error)
	PanicFunc func(context.Context, *testpb.EchoRequest) (*testpb.EchoResponse, error)
	RetryFunc func(context.Context, *testpb.EchoRequest) (*testpb.EchoResponse, error)

	ts testserver.Server
}

var (
	_ testpb.TestServiceServer       = (*Service)(nil)
	_ testpb.TestServiceLambdaServer = (*Service)(nil)
)

// Echo implements TestService.Echo.
func (s *Service) Echo(ctx context.Context, req *testpb.EchoRequest) (*testpb.EchoResponse, error) {
	if s.EchoFunc != nil {
		return s.EchoFunc(ctx, req)
	}
	return DefaultEcho(ctx, req)
}

// DefaultEcho is Service's Echo when EchoFunc is nil: testserver's Echo
// without the deadline fields.
func DefaultEcho(ctx context.Context, req *testpb.EchoRequest) (*testpb.EchoResponse, error) {
	resp, err := (&testserver.Server{}).Echo(ctx, req)
	if resp != nil {
		resp.HasDeadline, resp.DeadlineMs = false, 0
	}
	return resp, err
}

// Sleep implements TestService.Sleep.
func (s *Service) Sleep(ctx context.Context, req *testpb.SleepRequest) (*testpb.EchoResponse, error) {
	if s.SleepFunc != nil {
		return s.SleepFunc(ctx, req)
	}
	return s.ts.Sleep(ctx, req)
}

// Panic implements TestService.Panic.
func (s *Service) Panic(ctx context.Context, req *testpb.EchoRequest) (*testpb.EchoResponse, error) {
	if s.PanicFunc != nil {
		return s.PanicFunc(ctx, req)
	}
	return s.ts.Panic(ctx, req)
}

// Exit implements TestService.Exit; in-process it fails with
// FAILED_PRECONDITION, as testserver's does.
func (s *Service) Exit(ctx context.Context, req *testpb.ExitRequest) (*testpb.EchoResponse, error) {
	return s.ts.Exit(ctx, req)
}

// Retry implements TestService.Retry.
func (s *Service) Retry(ctx context.Context, req *testpb.EchoRequest) (*testpb.EchoResponse, error) {
	if s.RetryFunc != nil {
		return s.RetryFunc(ctx, req)
	}
	return s.Echo(ctx, req)
}

// Stream implements TestService.Stream.
func (s *Service) Stream(req *testpb.EchoRequest, stream grpc.ServerStreamingServer[testpb.EchoResponse]) error {
	return s.ts.Stream(req, stream)
}
