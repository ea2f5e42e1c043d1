package lambdatest_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/aws/aws-sdk-go-v2/aws"
	awslambda "github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/smithy-go"

	"github.com/protoc-gen-go-lambda/protoc-gen-go-lambda/runtime/lambdatest"
)

// handlerFunc adapts a function to lambda.Handler.
type handlerFunc func(ctx context.Context, payload []byte) ([]byte, error)

func (f handlerFunc) Invoke(ctx context.Context, payload []byte) ([]byte, error) {
	return f(ctx, payload)
}

type ctxKey struct{}

func TestFreshContextWithTheFunctionTimeout(t *testing.T) {
	var got context.Context
	inv := lambdatest.NewInvoker(handlerFunc(func(ctx context.Context, p []byte) ([]byte, error) {
		got = ctx
		return []byte("{}"), nil
	}), lambdatest.WithFunctionTimeout(7*time.Second))
	defer inv.Close()
	caller, cancel := context.WithTimeout(context.WithValue(context.Background(), ctxKey{}, "caller"), time.Hour)
	defer cancel()
	if _, err := inv.Invoke(caller, &awslambda.InvokeInput{FunctionName: aws.String("f"), Payload: []byte("{}")}); err != nil {
		t.Fatal(err)
	}
	d, ok := got.Deadline()
	if !ok || time.Until(d) > 7*time.Second {
		t.Errorf("handler deadline %v (set %v), want the 7 s function timeout, not the caller's hour", time.Until(d), ok)
	}
	if got.Value(ctxKey{}) != nil {
		t.Error("a value of the caller's context reached the handler")
	}
	if lc, ok := lambdacontext.FromContext(got); !ok || lc.AwsRequestID == "" || !strings.HasSuffix(lc.InvokedFunctionArn, ":function:f") {
		t.Errorf("lambdacontext = %+v, %v", lc, ok)
	}
}

func TestCallerCancellationDoesNotReachTheHandler(t *testing.T) {
	started, release := make(chan struct{}), make(chan struct{})
	handlerErr := make(chan error, 1)
	inv := lambdatest.NewInvoker(handlerFunc(func(ctx context.Context, p []byte) ([]byte, error) {
		close(started)
		<-release
		handlerErr <- ctx.Err()
		return []byte("{}"), nil
	}))
	defer inv.Close()
	ctx, cancel := context.WithCancel(context.Background())
	go func() { <-started; cancel() }()
	_, err := inv.Invoke(ctx, &awslambda.InvokeInput{Payload: []byte("{}")})
	var canceled *smithy.CanceledError
	if !errors.As(err, &canceled) {
		t.Errorf("caller got %v, want the SDK's CanceledError", err)
	}
	close(release)
	if err := <-handlerErr; err != nil {
		t.Errorf("the handler's context ended with the caller's: %v", err)
	}
}

// TestPayloadBufferIsReused: once a handler returns, the bytes it was given
// are no longer its own, as with aws-lambda-go.
func TestPayloadBufferIsReused(t *testing.T) {
	var kept []byte
	inv := lambdatest.NewInvoker(handlerFunc(func(ctx context.Context, p []byte) ([]byte, error) {
		if kept == nil {
			kept = p
		}
		return []byte("{}"), nil
	}))
	defer inv.Close()
	for _, p := range []string{"first payload", "other payload"} {
		if _, err := inv.Invoke(context.Background(), &awslambda.InvokeInput{Payload: []byte(p)}); err != nil {
			t.Fatal(err)
		}
	}
	inv.Close() // every invocation has handed its buffer back
	if bytes.Equal(kept, []byte("first payload")) {
		t.Error("the first payload outlived its invocation untouched")
	}
}

func TestConcurrencyLimit(t *testing.T) {
	const limit = 3
	var mu sync.Mutex
	running, peak := 0, 0
	arrived := make(chan struct{}, 10)
	release := make(chan struct{})
	inv := lambdatest.NewInvoker(handlerFunc(func(ctx context.Context, p []byte) ([]byte, error) {
		mu.Lock()
		running++
		peak = max(peak, running)
		mu.Unlock()
		arrived <- struct{}{}
		<-release
		mu.Lock()
		running--
		mu.Unlock()
		return []byte("{}"), nil
	}), lambdatest.WithMaxConcurrency(limit))
	defer inv.Close()
	var wg sync.WaitGroup
	for range 10 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := inv.Invoke(context.Background(), &awslambda.InvokeInput{Payload: []byte("{}")}); err != nil {
				t.Error(err)
			}
		}()
	}
	for range limit {
		<-arrived // limit invocations run at once
	}
	close(release)
	wg.Wait()
	if peak != limit || inv.Invocations() != 10 {
		t.Errorf("peak %d running, %d invocations; want %d and 10", peak, inv.Invocations(), limit)
	}
}

func TestLambdaFailures(t *testing.T) {
	inv := lambdatest.NewInvoker(handlerFunc(func(ctx context.Context, p []byte) ([]byte, error) {
		switch string(p) {
		case "sleep":
			<-ctx.Done()
			time.Sleep(10 * time.Millisecond) // past the timeout
			return []byte("{}"), nil
		case "error":
			return nil, errors.New("boom")
		case "big":
			return make([]byte, lambdatest.MaxPayloadSize+1), nil
		}
		return []byte("{}"), nil
	}), lambdatest.WithFunctionTimeout(20*time.Millisecond))
	defer inv.Close()
	for _, tc := range []struct{ payload, errorType string }{
		{"sleep", "Sandbox.Timedout"}, {"error", "*errors.errorString"}, {"big", "Function.ResponseSizeTooLarge"},
	} {
		out, err := inv.Invoke(context.Background(), &awslambda.InvokeInput{Payload: []byte(tc.payload)})
		if err != nil || aws.ToString(out.FunctionError) != "Unhandled" || !strings.Contains(string(out.Payload), `"errorType":"`+tc.errorType+`"`) {
			t.Errorf("%s: %v, %+v", tc.payload, err, out)
		}
	}
	_, err := inv.Invoke(context.Background(), &awslambda.InvokeInput{Payload: make([]byte, lambdatest.MaxPayloadSize+1)})
	var apiErr smithy.APIError
	if !errors.As(err, &apiErr) || apiErr.ErrorCode() != "RequestTooLargeException" {
		t.Errorf("oversize request: %v", err)
	}
}

// panicking is a handler that panics, as a bug in a function would.
type panicking struct{}

func (panicking) Invoke(context.Context, []byte) ([]byte, error) { panic("boom") }

func (panicking) InvokeStream(context.Context, json.RawMessage) (io.Reader, error) {
	panic(fmt.Errorf("stream boom"))
}

// TestHandlerPanicIsAFunctionError: a handler's panic does not take the
// caller down; it is the function error aws-lambda-go reports for it.
func TestHandlerPanicIsAFunctionError(t *testing.T) {
	inv := lambdatest.NewInvoker(panicking{})
	defer inv.Close()
	out, err := inv.Invoke(context.Background(), &awslambda.InvokeInput{Payload: []byte(`{}`)})
	if err != nil || aws.ToString(out.FunctionError) != "Unhandled" || string(out.Payload) != `{"errorMessage":"boom","errorType":"string"}` {
		t.Errorf("Invoke: %v; %+v %s", err, out, out.Payload)
	}
	sout, err := inv.InvokeWithResponseStream(context.Background(), &awslambda.InvokeWithResponseStreamInput{FunctionName: aws.String("fn"), Payload: []byte(`{}`)})
	if err != nil {
		t.Fatal(err)
	}
	stream := sout.GetStream()
	defer stream.Close()
	var complete *types.InvokeWithResponseStreamCompleteEvent
	for ev := range stream.Events() {
		if c, ok := ev.(*types.InvokeWithResponseStreamResponseEventMemberInvokeComplete); ok {
			complete = &c.Value
		}
	}
	if complete == nil || aws.ToString(complete.ErrorCode) != "Unhandled" || !strings.Contains(aws.ToString(complete.ErrorDetails), `"errorMessage":"stream boom"`) {
		t.Errorf("InvokeWithResponseStream: %+v", complete)
	}
}
