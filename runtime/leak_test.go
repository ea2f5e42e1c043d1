package runtime_test

import (
	"context"
	"encoding/base64"
	"fmt"
	"strings"
	"sync"
	"testing"

	awslambda "github.com/aws/aws-sdk-go-v2/service/lambda"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/protoc-gen-go-lambda/protoc-gen-go-lambda/runtime"
	"github.com/protoc-gen-go-lambda/protoc-gen-go-lambda/runtime/invoke"
	"github.com/protoc-gen-go-lambda/protoc-gen-go-lambda/runtime/lambdatest"
)

// lateService has one method, leak.Late/Echo, whose handler the request's
// "role" metadata steers. "late": wait for the context to end, then for the
// next invocation to hold the payload buffer, and only then read the request
// (a handler that outlives its deadline). "next": read the request, let the
// late handler read, wait until it has, then echo. Anything else: echo.
type lateService struct {
	proceed     chan struct{}     // the late handler may decode now
	decoded     chan *lateOutcome // what the late handler's decode gave
	decodedSeen chan struct{}     // closed once the test has that outcome
}

type lateOutcome struct {
	msg *structpb.Value
	err error
}

func (l *lateService) echo(_ any, ctx context.Context, dec func(any) error, _ grpc.UnaryServerInterceptor) (any, error) {
	md, _ := metadata.FromIncomingContext(ctx)
	role := strings.Join(md["role"], "")
	v := new(structpb.Value)
	switch role {
	case "late":
		<-ctx.Done()
		<-l.proceed
		err := dec(v)
		l.decoded <- &lateOutcome{v, err}
		return v, err
	case "next":
		if err := dec(v); err != nil {
			return nil, err
		}
		l.proceed <- struct{}{}
		<-l.decodedSeen
		return v, nil
	}
	if err := dec(v); err != nil {
		return nil, err
	}
	return v, nil
}

func (l *lateService) register(s *runtime.Server) {
	s.RegisterService(&grpc.ServiceDesc{
		ServiceName: "leak.Late",
		HandlerType: (*any)(nil),
		Methods:     []grpc.MethodDesc{{MethodName: "Echo", Handler: l.echo}},
	}, struct{}{})
}

// leakPayload is a request envelope for leak.Late/Echo with a short timeout,
// the role in metadata and text as the message, in binary or JSON mode.
func leakPayload(t *testing.T, mode, role, text string) []byte {
	t.Helper()
	msg := structpb.NewStringValue(text)
	if mode == "json" {
		b, err := protojson.Marshal(msg)
		if err != nil {
			t.Fatal(err)
		}
		return fmt.Appendf(nil, `{"v":1,"method":"/leak.Late/Echo","timeout_ms":50,"metadata":{"role":[%q]},"json":%s}`, role, b)
	}
	b, err := proto.Marshal(msg)
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Appendf(nil, `{"v":1,"method":"/leak.Late/Echo","timeout_ms":50,"metadata":{"role":[%q]},"body":%q}`, role, base64.StdEncoding.EncodeToString(b))
}

func invokeRaw(t *testing.T, inv invoke.Invoker, payload []byte) string {
	out, err := inv.Invoke(context.Background(), &awslambda.InvokeInput{Payload: payload})
	if err != nil {
		t.Errorf("invoke: %v", err)
		return ""
	}
	return string(out.Payload)
}

// TestLateDecodeNeverReadsAnotherInvocation is the regression test for the
// cross-request leak: a handler that ignores its deadline and reads its
// request after the server answered DEADLINE_EXCEEDED read the payload
// buffer that aws-lambda-go had already handed to the next invocation, and
// so received the next caller's request. lambdatest.Invoker reuses payload
// buffers as aws-lambda-go does; with one invocation at a time the second
// invocation gets the first one's buffer.
func TestLateDecodeNeverReadsAnotherInvocation(t *testing.T) {
	for _, mode := range []string{"binary", "json"} {
		t.Run(mode, func(t *testing.T) {
			l := &lateService{proceed: make(chan struct{}), decoded: make(chan *lateOutcome, 1), decodedSeen: make(chan struct{})}
			srv := runtime.NewServer(runtime.DeadlineMargin(0))
			l.register(srv)
			inv := lambdatest.NewInvoker(srv, lambdatest.WithMaxConcurrency(1))
			defer inv.Close()

			// Two payloads of the same length and shape, so that the first
			// one's body offsets point at the second one's body.
			first := leakPayload(t, mode, "late", "first-caller-secret")
			second := leakPayload(t, mode, "next", "other-caller-secret")
			if len(first) != len(second) {
				t.Fatalf("payloads differ in length: %d, %d", len(first), len(second))
			}
			if out := invokeRaw(t, inv, first); !strings.Contains(out, fmt.Sprintf(`"code":%d,`, codes.DeadlineExceeded)) {
				t.Fatalf("first invocation answered %s, want DEADLINE_EXCEEDED", out)
			}
			done := make(chan string)
			go func() { done <- invokeRaw(t, inv, second) }()
			got := <-l.decoded
			close(l.decodedSeen)
			if out := <-done; !strings.Contains(out, `"code":0,`) {
				t.Errorf("second invocation answered %s, want OK", out)
			}
			switch {
			case got.err == nil && got.msg.GetStringValue() != "first-caller-secret":
				t.Fatalf("the late handler decoded %q: another invocation's request", got.msg.GetStringValue())
			case got.err != nil && status.Code(got.err) != codes.DeadlineExceeded:
				t.Errorf("late decode failed with %v, want the call's DEADLINE_EXCEEDED", got.err)
			}
		})
	}
}

// TestConcurrentInvocationsKeepTheirOwnBytes runs many invocations at once
// through the client and lambdatest.Invoker (unbounded concurrency, reused
// payload buffers, as aws-lambda-go with AWS_LAMBDA_MAX_CONCURRENCY), some
// of them with deadlines too short to make, and checks every answer is its
// own request's echo. Run it with -race: shared state on the invocation path
// shows up there.
func TestConcurrentInvocationsKeepTheirOwnBytes(t *testing.T) {
	srv := runtime.NewServer()
	(&lateService{}).register(srv)
	inv := lambdatest.NewInvoker(srv)
	defer inv.Close()
	for _, opts := range [][]invoke.Option{nil, {invoke.WithJSON()}} {
		cc := invoke.NewClientConn(inv, "leak", opts...)
		var wg sync.WaitGroup
		for i := range 400 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				ctx := context.Background()
				if i%4 == 0 {
					var cancel context.CancelFunc
					ctx, cancel = context.WithTimeout(ctx, 1) // expires at once
					defer cancel()
				}
				text := fmt.Sprintf("request %d %s", i, strings.Repeat("x", i))
				out := new(structpb.Value)
				err := cc.Invoke(ctx, "/leak.Late/Echo", structpb.NewStringValue(text), out)
				switch {
				case err != nil && (i%4 != 0 || status.Code(err) != codes.DeadlineExceeded):
					t.Errorf("call %d: %v", i, err)
				case err == nil && out.GetStringValue() != text:
					t.Errorf("call %d got %q", i, out.GetStringValue())
				}
			}()
		}
		wg.Wait()
	}
}
