package bridge_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"testing"

	"github.com/aws/aws-lambda-go/lambda"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/protoc-gen-go-lambda/protoc-gen-go-lambda/internal/bridge"
	"github.com/protoc-gen-go-lambda/protoc-gen-go-lambda/internal/testing/testpb"
	"github.com/protoc-gen-go-lambda/protoc-gen-go-lambda/runtime/invoke"
)

// streamSeen is what a caller sees of a server-streaming call.
type streamSeen struct {
	header, trailer metadata.MD
	messages        []string
	code            codes.Code
	msg             string
	details         int
}

func (s streamSeen) String() string {
	return fmt.Sprintf("header %v, messages %q, %v %q (%d details), trailer %v", s.header, s.messages, s.code, s.msg, s.details, s.trailer)
}

func watch(ctx context.Context, client testpb.TestServiceClient, req *testpb.EchoRequest) (streamSeen, error) {
	var seen streamSeen
	stream, err := client.Stream(ctx, req)
	if err != nil {
		return seen, err
	}
	seen.header, _ = stream.Header()
	for {
		m, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			st := status.Convert(err)
			seen.code, seen.msg, seen.details = st.Code(), st.Message(), len(st.Details())
			break
		}
		seen.messages = append(seen.messages, m.GetMessage())
	}
	seen.trailer = stream.Trailer()
	// grpc-go's transport adds it to the header, or to a trailers-only
	// answer's trailer.
	delete(seen.header, "content-type")
	delete(seen.trailer, "content-type")
	return seen, nil
}

// TestServerStreaming: a grpc-go client's server-streaming call through the
// bridge sees what the generated client sees calling the function itself.
func TestServerStreaming(t *testing.T) {
	fns := newFunctions(t, map[string]lambda.Handler{"test-fn": testFunction()})
	s := startBridge(t, bridge.Config{Invoker: fns, Function: "test-fn"})
	detail, _ := anypb.New(durationpb.New(7))
	for _, req := range []*testpb.EchoRequest{
		{Message: "m", Count: 3, Header: pairs("h", "1"), Trailer: pairs("t", "2", "t-bin", "\x00\x01")},
		{Message: "m", Count: 2, SendHeader: pairs("early", "yes"), Fail: &testpb.Status{Code: int32(codes.Aborted), Message: "after two", Details: []*anypb.Any{detail}}, Trailer: pairs("t", "3")},
		{Count: 0, Fail: &testpb.Status{Code: int32(codes.NotFound), Message: "nothing"}},
		{Count: 0},
	} {
		direct := testpb.NewTestServiceLambdaClient(invoke.NewClientConn(fns, "test-fn"))
		want, err := watch(context.Background(), direct, req)
		if err != nil {
			t.Fatal(err)
		}
		got, err := watch(context.Background(), testpb.NewTestServiceClient(s.conn), req)
		if err != nil {
			t.Fatal(err)
		}
		if got.String() != want.String() {
			t.Errorf("request %v:\n through the bridge %v\n directly          %v", req, got, want)
		}
		if len(want.messages) != int(req.GetCount()) {
			t.Errorf("request %v: %d messages", req, len(want.messages))
		}
	}
}
