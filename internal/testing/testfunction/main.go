// Command testfunction is TestService as a Lambda function, for the
// end-to-end tests under the Lambda Runtime Interface Emulator. Unlike the
// example, its Exit method really ends the process.
//
// With LAMBDATEST_IGNORE_LAMBDA_DEADLINE=1 in its environment, the function
// serves every invocation with a context stripped of Lambda's deadline, so
// the runtime cannot answer DEADLINE_EXCEEDED before Lambda's own function
// timeout: a handler that ignores its context then runs into that timeout,
// and Lambda (or the emulator) ends the invocation itself. The end-to-end
// tests use it to produce the "Task timed out" outcome on demand.
//
// LAMBDATEST_DEADLINE_MARGIN (a Go duration) sets runtime.DeadlineMargin, so
// that a test can leave the runtime a margin no scheduling delay eats up.
package main

import (
	"context"
	"log"
	"os"
	"time"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/protoc-gen-go-lambda/protoc-gen-go-lambda/internal/testing/testpb"
	"github.com/protoc-gen-go-lambda/protoc-gen-go-lambda/internal/testing/testserver"
	"github.com/protoc-gen-go-lambda/protoc-gen-go-lambda/runtime"
)

func main() {
	var opts []runtime.ServerOption
	if m := os.Getenv("LAMBDATEST_DEADLINE_MARGIN"); m != "" {
		d, err := time.ParseDuration(m)
		if err != nil {
			log.Fatalf("LAMBDATEST_DEADLINE_MARGIN: %v", err)
		}
		opts = append(opts, runtime.DeadlineMargin(d))
	}
	var h lambda.Handler = testpb.NewTestServiceLambdaHandler(&testserver.Server{ExitProcess: os.Exit}, opts...)
	if os.Getenv("LAMBDATEST_IGNORE_LAMBDA_DEADLINE") == "1" {
		h = withoutDeadline{h}
	}
	lambda.Start(h)
}

// withoutDeadline serves invocations with a context that keeps Lambda's
// values (lambdacontext) but not its deadline.
type withoutDeadline struct{ h lambda.Handler }

func (w withoutDeadline) Invoke(ctx context.Context, payload []byte) ([]byte, error) {
	return w.h.Invoke(context.WithoutCancel(ctx), payload)
}
