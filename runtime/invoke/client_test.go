package invoke_test

import (
	"context"
	"math"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/protoc-gen-go-lambda/protoc-gen-go-lambda/internal/testing/testpb"
	"github.com/protoc-gen-go-lambda/protoc-gen-go-lambda/internal/testing/testserver"
	"github.com/protoc-gen-go-lambda/protoc-gen-go-lambda/runtime/internal/wire"
	"github.com/protoc-gen-go-lambda/protoc-gen-go-lambda/runtime/invoke"
	"github.com/protoc-gen-go-lambda/protoc-gen-go-lambda/runtime/lambdatest"
)

// TestFarDeadline: a deadline about 292 years away (as far as time.Time
// goes from now) is sent clamped to wire.MaxTimeout instead of
// overflowing, and the call succeeds.
func TestFarDeadline(t *testing.T) {
	inv := lambdatest.NewInvoker(testpb.NewTestServiceLambdaHandler(&testserver.Server{}))
	defer inv.Close()
	c := testpb.NewTestServiceLambdaClient(invoke.NewClientConn(inv, "orders-function"))
	for _, d := range []time.Duration{math.MaxInt64, wire.MaxTimeout, 15 * time.Minute} {
		ctx, cancel := context.WithDeadline(context.Background(), time.Now().Add(d))
		resp, err := c.Echo(ctx, &testpb.EchoRequest{Message: "far"})
		cancel()
		if err != nil || resp.GetMessage() != "far" || !resp.GetHasDeadline() {
			t.Errorf("deadline in %v: got %v, %v; want the answer, under the function's own deadline", d, resp, err)
		}
	}
}

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
