package invoke_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/protoc-gen-go-lambda/protoc-gen-go-lambda/internal/testing/testpb"
	"github.com/protoc-gen-go-lambda/protoc-gen-go-lambda/internal/testing/testserver"
	"github.com/protoc-gen-go-lambda/protoc-gen-go-lambda/runtime"
	"github.com/protoc-gen-go-lambda/protoc-gen-go-lambda/runtime/invoke"
	"github.com/protoc-gen-go-lambda/protoc-gen-go-lambda/runtime/lambdatest"
)

// invokeOnly hides an Invoker's InvokeWithResponseStream, as an endpoint
// without it (the emulator) has none.
type invokeOnly struct{ inv invoke.Invoker }

func (i invokeOnly) Invoke(ctx context.Context, in *lambda.InvokeInput, opts ...func(*lambda.Options)) (*lambda.InvokeOutput, error) {
	return i.inv.Invoke(ctx, in, opts...)
}

// seenStream is what a caller sees of a stream, as text.
func seenStream(ctx context.Context, c testpb.TestServiceLambdaClient, req *testpb.EchoRequest) string {
	stream, err := c.Stream(ctx, req)
	if err != nil {
		return "NewStream: " + err.Error()
	}
	header, herr := stream.Header()
	var msgs []string
	for {
		m, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			st := status.Convert(err)
			return fmt.Sprintf("header %v (%v), messages %q, %v %q %d details, trailer %v", header, herr, msgs, st.Code(), st.Message(), len(st.Details()), stream.Trailer())
		}
		msgs = append(msgs, m.GetMessage())
	}
	return fmt.Sprintf("header %v (%v), messages %q, OK, trailer %v", header, herr, msgs, stream.Trailer())
}

// TestBufferedStreams: with WithBufferedStreams, a server-streaming call
// over plain Invoke sees what the streamed call sees.
func TestBufferedStreams(t *testing.T) {
	srv := runtime.NewServer()
	testpb.RegisterTestServiceLambdaServer(srv, &testserver.Server{})
	inv := lambdatest.NewInvoker(srv)
	defer inv.Close()
	streamed := testpb.NewTestServiceLambdaClient(invoke.NewClientConn(inv, "fn"))
	buffered := testpb.NewTestServiceLambdaClient(invoke.NewClientConn(invokeOnly{inv}, "fn", invoke.WithBufferedStreams()))
	detail, _ := anypb.New(durationpb.New(time.Second))
	for _, req := range []*testpb.EchoRequest{
		{Message: "m", Count: 3, Header: []*testpb.Pair{{Key: "h", Value: []byte("1")}}, Trailer: []*testpb.Pair{{Key: "t", Value: []byte("2")}}},
		{Message: "m", Count: 1, Fail: &testpb.Status{Code: int32(codes.Aborted), Message: "stop", Details: []*anypb.Any{detail}}},
		{Fail: &testpb.Status{Code: int32(codes.NotFound), Message: "none"}},
		{},
	} {
		want := seenStream(context.Background(), streamed, req)
		if got := seenStream(context.Background(), buffered, req); got != want {
			t.Errorf("request %v:\n buffered %s\n streamed %s", req, got, want)
		}
	}
	// Without the option, an Invoker that does not stream is refused.
	plain := testpb.NewTestServiceLambdaClient(invoke.NewClientConn(invokeOnly{inv}, "fn"))
	if _, err := plain.Stream(context.Background(), &testpb.EchoRequest{}); status.Code(err) != codes.Unimplemented {
		t.Errorf("without WithBufferedStreams: %v", err)
	}
	// A deadline passes mid-stream: the function answers DEADLINE_EXCEEDED.
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	if got := seenStream(ctx, buffered, &testpb.EchoRequest{Count: 100, IntervalMillis: 50}); !strings.Contains(got, "DeadlineExceeded") {
		t.Errorf("deadline: %s", got)
	}
}
