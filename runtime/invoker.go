package runtime

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	awslambda "github.com/aws/aws-sdk-go-v2/service/lambda"
)

// InProcessInvoker returns an Invoker that hands each payload, unchanged, to
// handler in this process, as the Lambda service hands it to a function:
// for unit tests and benchmarks of a service without the emulator or AWS.
// timeout, when positive, is the function timeout: the handler's context
// gets a deadline that far ahead, as Lambda's does.
//
// A Go error from the handler becomes a failed invocation
// (FunctionError "Unhandled" and Lambda's error document), as on Lambda.
func InProcessInvoker(handler lambda.Handler, timeout time.Duration) Invoker {
	return &inProcessInvoker{handler: handler, timeout: timeout}
}

type inProcessInvoker struct {
	handler lambda.Handler
	timeout time.Duration
}

func (i *inProcessInvoker) Invoke(ctx context.Context, in *awslambda.InvokeInput, _ ...func(*awslambda.Options)) (*awslambda.InvokeOutput, error) {
	if i.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, i.timeout)
		defer cancel()
	}
	out, err := i.handler.Invoke(ctx, in.Payload)
	if err != nil {
		doc, _ := json.Marshal(map[string]string{"errorMessage": err.Error(), "errorType": fmt.Sprintf("%T", err)})
		kind := "Unhandled"
		return &awslambda.InvokeOutput{StatusCode: 200, FunctionError: &kind, Payload: doc}, nil
	}
	return &awslambda.InvokeOutput{StatusCode: 200, Payload: out}, nil
}
