package invoke_test

import (
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/protoc-gen-go-lambda/protoc-gen-go-lambda/internal/testing/testpb"
	"github.com/protoc-gen-go-lambda/protoc-gen-go-lambda/runtime/invoke"
)

// nothingInvoker returns neither an output nor an error.
type nothingInvoker struct{}

func (nothingInvoker) Invoke(context.Context, *lambda.InvokeInput, ...func(*lambda.Options)) (*lambda.InvokeOutput, error) {
	return nil, nil
}

// TestInvokerReturnsNothing: an Invoker that breaks its contract gets a
// clear INTERNAL status, not a panic.
func TestInvokerReturnsNothing(t *testing.T) {
	c := testpb.NewTestServiceLambdaClient(invoke.NewClientConn(nothingInvoker{}, "orders-function"))
	_, err := c.Echo(context.Background(), &testpb.EchoRequest{})
	if st := status.Convert(err); st.Code() != codes.Internal || st.Message() != "lambda: the invoker returned neither an output nor an error" {
		t.Errorf("got %v %q", st.Code(), st.Message())
	}
}
