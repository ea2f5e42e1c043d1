package parity

import (
	"context"
	"fmt"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/protoc-gen-go-lambda/protoc-gen-go-lambda/internal/testing/testpb"
)

// timeout returns a Ctx with a deadline d from now.
func timeout(d time.Duration) func(context.Context) (context.Context, context.CancelFunc) {
	return func(ctx context.Context) (context.Context, context.CancelFunc) { return context.WithTimeout(ctx, d) }
}

// deadlineReporter is a Service whose Echo reports whether its context has a
// deadline, and fails if that deadline is further away than limit (when
// limit > 0): a handler must never get more time than its caller gave.
func deadlineReporter(limit time.Duration) *Service {
	return &Service{EchoFunc: func(ctx context.Context, req *testpb.EchoRequest) (*testpb.EchoResponse, error) {
		d, ok := ctx.Deadline()
		if ok && limit > 0 {
			if left := time.Until(d); left > limit {
				return nil, status.Errorf(codes.Internal, "the handler got %v, more than the caller's %v", left, limit)
			}
		}
		return &testpb.EchoResponse{HasDeadline: ok}, nil
	}}
}

// sleep calls Sleep.
func sleep(d time.Duration, ignoreContext bool) func(context.Context, Conn, ...grpc.CallOption) (proto.Message, error) {
	return func(ctx context.Context, c Conn, opts ...grpc.CallOption) (proto.Message, error) {
		return c.Client.Sleep(ctx, &testpb.SleepRequest{Millis: d.Milliseconds(), IgnoreContext: ignoreContext}, opts...)
	}
}

// deadlineCases: deadlines and cancellation, compared by code only.
func deadlineCases() []Case {
	// The cancel-during case: the handler says it started, the caller then
	// cancels. The handler waits on its context, which on the Lambda path
	// ends only when the Invoker closes (a function does not learn that its
	// caller went away).
	started := make(chan struct{}, 1)
	waiting := &Service{SleepFunc: func(ctx context.Context, _ *testpb.SleepRequest) (*testpb.EchoResponse, error) {
		select {
		case started <- struct{}{}:
		default:
		}
		<-ctx.Done()
		return nil, status.FromContextError(ctx.Err()).Err()
	}}
	cancelOnStart := func(ctx context.Context) (context.Context, context.CancelFunc) {
		ctx, cancel := context.WithCancel(ctx)
		go func() {
			select {
			case <-started:
				cancel()
			case <-ctx.Done():
			}
		}()
		return ctx, cancel
	}
	headerThenWait := setting(func(ctx context.Context) error {
		if err := grpc.SendHeader(ctx, metadata.Pairs("x-early", "1")); err != nil {
			return err
		}
		<-ctx.Done()
		return status.FromContextError(ctx.Err()).Err()
	})
	return []Case{
		{
			Name:       "no deadline",
			Service:    deadlineReporter(0),
			Req:        &testpb.EchoRequest{},
			Difference: "a Lambda invocation always ends at the function timeout, so the handler's context always has a deadline: the earlier of the caller's and the function's, less DeadlineMargin; a grpc-go handler has one only when the caller set one",
			Diff: func(t *testing.T, g, l Outcome) {
				if g.Resp.(*testpb.EchoResponse).GetHasDeadline() || !l.Resp.(*testpb.EchoResponse).GetHasDeadline() {
					t.Errorf("want no deadline on grpc-go and one on Lambda, got %v and %v", g.Resp, l.Resp)
				}
			},
		},
		{Name: "generous deadline (1 minute)", Service: deadlineReporter(time.Minute), Ctx: timeout(time.Minute), Req: &testpb.EchoRequest{}},
		{Name: "deadline 100 years away", Service: deadlineReporter(0), Ctx: timeout(100 * 365 * 24 * time.Hour), Req: &testpb.EchoRequest{}},
		{Name: "short deadline, handler waits on its context", MessageVaries: true, Ctx: timeout(50 * time.Millisecond), Call: sleep(time.Hour, false)},
		{Name: "short deadline, handler ignores its context", MessageVaries: true, Ctx: timeout(50 * time.Millisecond), Call: sleep(300*time.Millisecond, true)},
		{Name: "deadline of one microsecond", MessageVaries: true, Ctx: timeout(time.Microsecond), Call: sleep(time.Hour, false)},
		{Name: "deadline already expired", Ctx: func(ctx context.Context) (context.Context, context.CancelFunc) {
			return context.WithDeadline(ctx, time.Now().Add(-time.Second))
		}, Req: &testpb.EchoRequest{}},
		{Name: "cancelled before the call", Ctx: func(ctx context.Context) (context.Context, context.CancelFunc) {
			ctx, cancel := context.WithCancel(ctx)
			cancel()
			return ctx, cancel
		}, Req: &testpb.EchoRequest{}},
		{Name: "cancelled during the call", Service: waiting, Ctx: cancelOnStart, Call: sleep(time.Hour, false)},
		{Name: "cancelled with a cause during the call", Service: waiting, Ctx: func(ctx context.Context) (context.Context, context.CancelFunc) {
			ctx, cancel := context.WithCancelCause(ctx)
			go func() {
				select {
				case <-started:
					cancel(fmt.Errorf("the user closed the tab"))
				case <-ctx.Done():
				}
			}()
			return ctx, func() { cancel(nil) }
		}, Call: sleep(time.Hour, false)},
		{
			Name:          "deadline passes after the header was sent",
			Service:       headerThenWait,
			MessageVaries: true,
			Ctx:           timeout(time.Second),
			Req:           &testpb.EchoRequest{},
			Difference:    "an invocation answers once, at its end: a header sent early cannot reach a caller that stopped waiting at its deadline, so the caller gets DEADLINE_EXCEEDED without it; grpc-go has already delivered it",
			Diff: func(t *testing.T, g, l Outcome) {
				if g.Code() != codes.DeadlineExceeded || l.Code() != codes.DeadlineExceeded || g.Header.Get("x-early") == nil || l.Header != nil {
					t.Errorf("want DEADLINE_EXCEEDED on both, the header on grpc-go only; got %s and %s", summary(g), summary(l))
				}
			},
		},
		{
			Name: "grpc.Method and ServerTransportStream in the handler",
			Service: &Service{EchoFunc: func(ctx context.Context, _ *testpb.EchoRequest) (*testpb.EchoResponse, error) {
				m, ok := grpc.Method(ctx)
				sts := grpc.ServerTransportStreamFromContext(ctx)
				if sts == nil {
					return nil, status.Error(codes.Internal, "no ServerTransportStream")
				}
				if err := sts.SetHeader(metadata.Pairs("x-via-stream", "1")); err != nil {
					return nil, err
				}
				if err := sts.SetTrailer(metadata.Pairs("x-via-stream", "2")); err != nil {
					return nil, err
				}
				return &testpb.EchoResponse{Method: m, Message: fmt.Sprintf("ok=%v stream.Method()=%s", ok, sts.Method())}, nil
			}},
			Req: &testpb.EchoRequest{},
		},
		{
			Name: "ServerTransportStream.SendHeader, then grpc.SetHeader fails",
			Service: setting(func(ctx context.Context) error {
				if err := grpc.ServerTransportStreamFromContext(ctx).SendHeader(metadata.Pairs("x-a", "1")); err != nil {
					return err
				}
				return grpc.SetHeader(ctx, metadata.Pairs("x-b", "2"))
			}),
			Req: &testpb.EchoRequest{},
		},
	}
}
