// Package lambdatest provides test doubles that behave like the AWS Lambda
// service and the Go runtime that runs a function, so that a service's
// generated client and handler can be tested together in one process,
// without AWS or the emulator, and still meet what a deployed function
// meets.
package lambdatest

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/aws/aws-sdk-go-v2/aws"
	awslambda "github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/smithy-go"

	"github.com/protoc-gen-go-lambda/protoc-gen-go-lambda/runtime/invoke"
)

// DefaultFunctionTimeout is the function timeout an Invoker gives each
// invocation unless told otherwise: Lambda's maximum, 15 minutes.
const DefaultFunctionTimeout = 15 * time.Minute

// MaxPayloadSize is Lambda's limit for a synchronous invocation's request and
// response payloads: 6 MB (6,291,456 bytes).
const MaxPayloadSize = 6 * 1024 * 1024

// Invoker is an invoke.Invoker that runs a lambda.Handler (such as a
// *runtime.Server) in this process the way the Lambda Invoke API and
// aws-lambda-go run a function:
//
//   - the handler gets a fresh context, as the function's process would:
//     values and cancellation of the caller's context do not reach it, and
//     its deadline is the function timeout;
//   - the payload is copied into a buffer that belongs to the runtime, not to
//     the invocation: as aws-lambda-go does, the buffer is handed to the next
//     invocation as soon as the handler returns (here it is also overwritten
//     then), so a handler that reads its payload after returning reads
//     someone else's bytes, or garbage;
//   - invocations run concurrently, as with AWS_LAMBDA_MAX_CONCURRENCY
//     (Lambda Managed Instances) in aws-lambda-go v1.55+, up to the limit
//     set by WithMaxConcurrency;
//   - the caller stops waiting when its context is done, while the handler
//     runs on, as the Invoke API's HTTP request is abandoned; an answer that
//     comes after the caller's deadline is lost the same way;
//   - payloads over the synchronous limit fail as Lambda fails them: a
//     RequestTooLargeException API error for the request, a
//     Function.ResponseSizeTooLarge function error for the response;
//   - a handler still running at the function timeout gets Lambda's
//     Sandbox.Timedout function error (the handler itself cannot be killed
//     in-process; it runs on, its buffer still reserved);
//   - an error returned by the handler becomes Lambda's function error
//     document with X-Amz-Function-Error "Unhandled", and so does a panic,
//     as aws-lambda-go reports it (the panic value's type and text).
//
// The SDK options passed to Invoke are ignored: there is no SDK in between,
// hence no SDK retries. Close ends all running invocations, as stopping the
// function would.
type Invoker struct {
	handler lambda.Handler
	timeout time.Duration
	slots   chan struct{} // nil: no concurrency limit

	base   context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	count  atomic.Int64

	mu      sync.Mutex
	buffers [][]byte // free payload buffers, reused like aws-lambda-go's pool
}

var _ invoke.Invoker = (*Invoker)(nil)

// An Option configures an Invoker.
type Option func(*Invoker)

// WithFunctionTimeout sets the function timeout: each invocation's context
// expires that long after it starts, and a handler still running then gets
// Lambda's timeout error. The default is DefaultFunctionTimeout.
func WithFunctionTimeout(d time.Duration) Option {
	return func(inv *Invoker) {
		if d > 0 {
			inv.timeout = d
		}
	}
}

// WithMaxConcurrency limits how many invocations run at once, as
// AWS_LAMBDA_MAX_CONCURRENCY does; an invocation beyond it waits for a free
// slot (or for its caller's context). The default is no limit.
func WithMaxConcurrency(n int) Option {
	return func(inv *Invoker) {
		if n > 0 {
			inv.slots = make(chan struct{}, n)
		}
	}
}

// NewInvoker returns an Invoker that runs h.
func NewInvoker(h lambda.Handler, opts ...Option) *Invoker {
	inv := &Invoker{handler: h, timeout: DefaultFunctionTimeout}
	for _, o := range opts {
		o(inv)
	}
	inv.base, inv.cancel = context.WithCancel(context.Background())
	return inv
}

// Invocations returns how many invocations reached the handler.
func (inv *Invoker) Invocations() int64 { return inv.count.Load() }

// Close cancels the contexts of running invocations and waits for their
// handlers to return.
func (inv *Invoker) Close() {
	inv.cancel()
	inv.wg.Wait()
}

// Invoke implements invoke.Invoker.
func (inv *Invoker) Invoke(ctx context.Context, in *awslambda.InvokeInput, _ ...func(*awslambda.Options)) (*awslambda.InvokeOutput, error) {
	if err := ctx.Err(); err != nil {
		return nil, operationError(&smithy.CanceledError{Err: err})
	}
	if len(in.Payload) > MaxPayloadSize {
		return nil, operationError(&smithy.GenericAPIError{
			Code:    "RequestTooLargeException",
			Message: fmt.Sprintf("Request must be smaller than %d bytes for the InvokeFunction operation", MaxPayloadSize),
		})
	}
	if inv.slots != nil {
		select {
		case inv.slots <- struct{}{}:
		case <-ctx.Done():
			return nil, operationError(&smithy.CanceledError{Err: ctx.Err()})
		}
	}
	n := inv.count.Add(1)
	fctx, cancel := context.WithTimeout(inv.base, inv.timeout)
	fctx = lambdacontext.NewContext(fctx, &lambdacontext.LambdaContext{
		AwsRequestID:       "lambdatest-" + strconv.FormatInt(n, 10),
		InvokedFunctionArn: "arn:aws:lambda:us-east-1:123456789012:function:" + aws.ToString(in.FunctionName),
	})
	payload := append(inv.getBuffer(), in.Payload...)
	type result struct {
		out []byte
		err error
	}
	done := make(chan result, 1)
	inv.wg.Add(1)
	go func() {
		defer inv.wg.Done()
		defer cancel()
		out, err := invokeRecovering(fctx, inv.handler, payload)
		// The response goes out before the buffer is reused; out is the
		// handler's own.
		done <- result{out, err}
		inv.putBuffer(payload)
		if inv.slots != nil {
			<-inv.slots
		}
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
	if p, ok := res.err.(*handlerPanic); ok {
		return functionError("Unhandled", p.typ, p.msg), nil
	}
	if res.err != nil {
		return functionError("Unhandled", fmt.Sprintf("%T", res.err), res.err.Error()), nil
	}
	if len(res.out) > MaxPayloadSize {
		return functionError("Unhandled", "Function.ResponseSizeTooLarge", fmt.Sprintf("Response payload size exceeded maximum allowed payload size (%d bytes).", MaxPayloadSize)), nil
	}
	return &awslambda.InvokeOutput{StatusCode: 200, Payload: res.out, ExecutedVersion: aws.String("$LATEST")}, nil
}

func (inv *Invoker) getBuffer() []byte {
	inv.mu.Lock()
	defer inv.mu.Unlock()
	if n := len(inv.buffers); n > 0 {
		b := inv.buffers[n-1]
		inv.buffers = inv.buffers[:n-1]
		return b[:0]
	}
	return nil
}

// putBuffer makes b free for the next invocation. It is overwritten first,
// so that a read of a finished invocation's payload is seen at once, not
// only when another invocation happens to reuse the buffer.
func (inv *Invoker) putBuffer(b []byte) {
	b = b[:cap(b)]
	for i := range b {
		b[i] = 'X'
	}
	inv.mu.Lock()
	defer inv.mu.Unlock()
	inv.buffers = append(inv.buffers, b)
}

// operationError wraps err as the AWS SDK wraps the errors of an operation.
func operationError(err error) error {
	return &smithy.OperationError{ServiceID: "Lambda", OperationName: "Invoke", Err: err}
}

// functionError is the output of an invocation whose function failed.
func functionError(kind, errType, msg string) *awslambda.InvokeOutput {
	doc, _ := json.Marshal(map[string]string{"errorType": errType, "errorMessage": msg})
	return &awslambda.InvokeOutput{StatusCode: 200, FunctionError: aws.String(kind), Payload: doc, ExecutedVersion: aws.String("$LATEST")}
}

// handlerPanic is a handler's panic, which aws-lambda-go recovers and
// reports as the invocation's function error: the panic value's type name
// and its text (then it ends the process; here the handler just returns).
type handlerPanic struct{ typ, msg string }

func (p *handlerPanic) Error() string { return p.msg }

// invokeRecovering runs h as aws-lambda-go does, a panic becoming the
// function error aws-lambda-go reports for it.
func invokeRecovering(ctx context.Context, h lambda.Handler, payload []byte) ([]byte, error) {
	return recovering(func() ([]byte, error) { return h.Invoke(ctx, payload) })
}

// recovering runs f, a handler's panic becoming a *handlerPanic.
func recovering[T any](f func() (T, error)) (out T, err error) {
	defer func() {
		if v := recover(); v != nil {
			err = newHandlerPanic(v)
		}
	}()
	return f()
}

func newHandlerPanic(v any) *handlerPanic {
	typ := reflect.TypeOf(v)
	name := "nil"
	if typ != nil {
		if name = typ.Name(); typ.Kind() == reflect.Pointer {
			name = typ.Elem().Name()
		}
	}
	return &handlerPanic{typ: name, msg: fmt.Sprint(v)}
}
