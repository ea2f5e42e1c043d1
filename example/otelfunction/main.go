// Command otelfunction is the example OrderService as an AWS Lambda function
// traced with OpenTelemetry: example/function's service with otelgrpc's
// server handler installed through runtime.StatsHandler, so each call is a
// server span, a child of the caller's span when the caller sends a W3C
// traceparent (otelgrpc's client handler does; so does any HTTP client on
// the function URL front end), with otelgrpc's attributes and metrics.
//
// OTEL_TRACES_EXPORTER chooses where spans go: "console" (the default; one
// JSON line per span in the function's log), "otlp" (OTLP/HTTP to
// OTEL_EXPORTER_OTLP_ENDPOINT, e.g. the ADOT collector layer on
// localhost:4318) or "none". docs/observability.md has the details.
//
// It is a separate function from example/function on purpose: the
// OpenTelemetry SDK and its exporters add megabytes to the binary and work
// to every cold start, and example/function is the size and cold-start
// reference (docs/performance.md). The runtime itself links no
// OpenTelemetry; only a function that installs a handler pays for it.
//
// Build it for the provided.al2023 runtime as a "bootstrap" binary:
//
//	GOOS=linux CGO_ENABLED=0 go build -tags lambda.norpc -o bootstrap ./example/otelfunction
package main

import (
	"context"
	"log"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"
	"go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	ordersv1 "github.com/protoc-gen-go-lambda/protoc-gen-go-lambda/example/gen/orders/v1"
	"github.com/protoc-gen-go-lambda/protoc-gen-go-lambda/example/otelfunction/tracing"
	"github.com/protoc-gen-go-lambda/protoc-gen-go-lambda/example/service"
	"github.com/protoc-gen-go-lambda/protoc-gen-go-lambda/runtime"
)

func main() {
	exporter := os.Getenv("OTEL_TRACES_EXPORTER")
	if exporter == "" {
		exporter = "console"
	}
	name := lambdacontext.FunctionName
	if name == "" {
		name = "orders"
	}
	tp, err := tracing.Start(context.Background(), exporter, name, os.Stdout)
	if err != nil {
		log.Fatalf("otelfunction: %v", err)
	}
	srv := ordersv1.NewOrderServiceLambdaHandler(service.New(),
		runtime.StatsHandler(otelgrpc.NewServerHandler()))
	lambda.Start(flushing{srv, tp})
}

// flushing exports an invocation's spans before the invocation returns:
// Lambda freezes the process between invocations, so a batching exporter's
// timer cannot be relied on, and a process may be discarded while frozen.
type flushing struct {
	lambda.Handler
	tp *sdktrace.TracerProvider
}

func (f flushing) Invoke(ctx context.Context, payload []byte) ([]byte, error) {
	out, err := f.Handler.Invoke(ctx, payload)
	if ferr := f.tp.ForceFlush(ctx); ferr != nil {
		log.Printf("otelfunction: exporting spans: %v", ferr)
	}
	return out, err
}
