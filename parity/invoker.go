package parity

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/smithy-go"

	"github.com/protoc-gen-go-lambda/protoc-gen-go-lambda/runtime"
)

// Handler is what Invoker runs: a Lambda handler such as *runtime.Server.
type Handler interface {
	Invoke(ctx context.Context, payload []byte) ([]byte, error)
}

// DefaultFunctionTimeout is the function timeout an Invoker gives each
// invocation unless told otherwise: Lambda's maximum, 15 minutes.
const DefaultFunctionTimeout = 15 * time.Minute

// Invoker is a runtime.Invoker that runs a handler in-process the way the
// Lambda Invoke API runs a function, for tests that need the whole client and
// server stack without AWS:
//
//   - the handler gets the exact payload bytes and a fresh context, as the
//     function's process would: values and cancellation of the caller's
//     context do not reach it, and its deadline is the function timeout;
//   - the caller stops waiting when its context is done, while the handler
//     runs on, as the Invoke API's HTTP request is abandoned; an answer that
//     comes after the caller's deadline is lost the same way;
//   - payloads over the synchronous limit fail as Lambda fails them: a
//     RequestTooLargeException API error for the request, a
//     Function.ResponseSizeTooLarge function error for the response;
//   - an error returned by the handler becomes Lambda's function error
//     document with X-Amz-Function-Error "Unhandled".
//
// Close ends all running invocations, as stopping the function would.
type Invoker struct {
	handler Handler
	timeout time.Duration

	base   context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	count  atomic.Int64
}

var _ runtime.Invoker = (*Invoker)(nil)

// NewInvoker returns an Invoker for h whose invocations time out after
// timeout, or DefaultFunctionTimeout when timeout is zero.
func NewInvoker(h Handler, timeout time.Duration) *Invoker {
	if timeout <= 0 {
		timeout = DefaultFunctionTimeout
	}
	base, cancel := context.WithCancel(context.Background())
	return &Invoker{handler: h, timeout: timeout, base: base, cancel: cancel}
}

// Invocations returns how many invocations reached the handler.
func (inv *Invoker) Invocations() int64 { return inv.count.Load() }

// Close cancels the contexts of running invocations and waits for their
// handlers to return.
func (inv *Invoker) Close() {
	inv.cancel()
	inv.wg.Wait()
}

// Invoke implements runtime.Invoker.
func (inv *Invoker) Invoke(ctx context.Context, in *lambda.InvokeInput, _ ...func(*lambda.Options)) (*lambda.InvokeOutput, error) {
	if err := ctx.Err(); err != nil {
		return nil, operationError(&smithy.CanceledError{Err: err})
	}
	if len(in.Payload) > runtime.MaxPayloadSize {
		return nil, operationError(&smithy.GenericAPIError{
			Code:    "RequestTooLargeException",
			Message: fmt.Sprintf("Request must be smaller than %d bytes for the InvokeFunction operation", runtime.MaxPayloadSize),
		})
	}
	n := inv.count.Add(1)
	fctx, cancel := context.WithTimeout(inv.base, inv.timeout)
	fctx = lambdacontext.NewContext(fctx, &lambdacontext.LambdaContext{
		AwsRequestID:       "parity-" + strconv.FormatInt(n, 10),
		InvokedFunctionArn: "arn:aws:lambda:us-east-1:123456789012:function:" + aws.ToString(in.FunctionName),
	})
	type result struct {
		out []byte
		err error
	}
	done := make(chan result, 1)
	inv.wg.Add(1)
	go func() {
		defer inv.wg.Done()
		defer cancel()
		out, err := inv.handler.Invoke(fctx, in.Payload)
		done <- result{out, err}
	}()
	var res result
	select {
	case res = <-done:
		if d, ok := ctx.Deadline(); ok && !time.Now().Before(d) {
			// The answer came after the caller's deadline, whose timer may
			// not have fired yet: over the network the request would already
			// have been abandoned.
			<-ctx.Done()
			return nil, operationError(&smithy.CanceledError{Err: ctx.Err()})
		}
	case <-ctx.Done():
		return nil, operationError(&smithy.CanceledError{Err: ctx.Err()})
	case <-fctx.Done():
		// The function ran out of time; Lambda answers for it.
		select {
		case res = <-done:
		default:
			return functionError("Unhandled", "Sandbox.Timedout", fmt.Sprintf("Task timed out after %.2f seconds", inv.timeout.Seconds())), nil
		}
	}
	if res.err != nil {
		return functionError("Unhandled", fmt.Sprintf("%T", res.err), res.err.Error()), nil
	}
	if len(res.out) > runtime.MaxPayloadSize {
		return functionError("Unhandled", "Function.ResponseSizeTooLarge", fmt.Sprintf("Response payload size exceeded maximum allowed payload size (%d bytes).", runtime.MaxPayloadSize)), nil
	}
	return &lambda.InvokeOutput{StatusCode: 200, Payload: res.out, ExecutedVersion: aws.String("$LATEST")}, nil
}

// operationError wraps err as the AWS SDK wraps the errors of an operation.
func operationError(err error) error {
	return &smithy.OperationError{ServiceID: "Lambda", OperationName: "Invoke", Err: err}
}

// functionError is the output of an invocation whose function failed.
func functionError(kind, errType, msg string) *lambda.InvokeOutput {
	doc, _ := json.Marshal(map[string]string{"errorType": errType, "errorMessage": msg})
	return &lambda.InvokeOutput{StatusCode: 200, FunctionError: aws.String(kind), Payload: doc, ExecutedVersion: aws.String("$LATEST")}
}
