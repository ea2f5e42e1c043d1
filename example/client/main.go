// Command client calls the example OrderService function through the AWS
// Lambda Invoke API with the generated OrderServiceLambdaClient, once per
// behaviour, and prints what came back. By default it talks to the Lambda
// Runtime Interface Emulator on 127.0.0.1:8080 (see scripts/demo); with
// -endpoint "" it uses the real Lambda service and the usual AWS
// configuration (environment, profile, role).
//
// With -trace (or OTEL_TRACES_EXPORTER set) it traces the calls with
// OpenTelemetry: otelgrpc's client handler through invoke.WithStatsHandler
// makes a client span per call, under one "demo" span, and sends the W3C
// traceparent to the function, whose spans (example/otelfunction) join the
// same trace. "console" writes the client's spans to stderr as JSON lines,
// "otlp" sends them to OTEL_EXPORTER_OTLP_ENDPOINT.
//
// It exits 1 when any call does not give the expected outcome.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc"
	"go.opentelemetry.io/otel"
	oteltrace "go.opentelemetry.io/otel/trace"

	"github.com/protoc-gen-go-lambda/protoc-gen-go-lambda/example/client/demo"
	ordersv1 "github.com/protoc-gen-go-lambda/protoc-gen-go-lambda/example/gen/orders/v1"
	"github.com/protoc-gen-go-lambda/protoc-gen-go-lambda/example/otelfunction/tracing"
	"github.com/protoc-gen-go-lambda/protoc-gen-go-lambda/runtime/invoke"
)

func main() {
	endpoint := flag.String("endpoint", "http://127.0.0.1:8080", `Lambda API endpoint; "" for the real service`)
	region := flag.String("region", "us-east-1", "AWS region")
	function := flag.String("function", "function", "function name or ARN (the emulator's is \"function\")")
	qualifier := flag.String("qualifier", "", "function version or alias")
	jsonMode := flag.Bool("json", false, "send bodies as protojson instead of base64 protobuf")
	trace := flag.String("trace", os.Getenv("OTEL_TRACES_EXPORTER"), "trace the calls with OpenTelemetry and export the client's spans: "+tracing.Exporters+`; "" (the default unless OTEL_TRACES_EXPORTER is set) does not trace`)
	flag.Parse()

	ctx := context.Background()
	invoker, err := newLambdaClient(ctx, *endpoint, *region)
	if err != nil {
		fmt.Fprintln(os.Stderr, "client:", err)
		os.Exit(2)
	}
	var opts []invoke.Option
	if *qualifier != "" {
		opts = append(opts, invoke.WithQualifier(*qualifier))
	}
	if *jsonMode {
		opts = append(opts, invoke.WithJSON())
	}
	if *endpoint != "" {
		// The emulator has no InvokeWithResponseStream: WatchOrder's events
		// come back all at once over plain Invoke (docs/emulator.md).
		opts = append(opts, invoke.WithBufferedStreams())
	}
	finish := func() {}
	if *trace != "" {
		tp, err := tracing.Start(ctx, *trace, "orders-client", os.Stderr)
		if err != nil {
			fmt.Fprintln(os.Stderr, "client:", err)
			os.Exit(2)
		}
		opts = append(opts, invoke.WithStatsHandler(otelgrpc.NewClientHandler()))
		var span oteltrace.Span
		ctx, span = otel.Tracer("example/client").Start(ctx, "demo")
		finish = func() {
			span.End()
			fmt.Printf("trace %s\n", spanTraceID(ctx))
			if err := tp.Shutdown(context.Background()); err != nil {
				fmt.Fprintln(os.Stderr, "client: exporting spans:", err)
			}
		}
	}
	client := ordersv1.NewOrderServiceLambdaClient(invoke.NewClientConn(invoker, *function, opts...))
	failed := demo.Run(ctx, client, os.Stdout)
	finish()
	if failed > 0 {
		fmt.Printf("\n%d call(s) did not give the expected outcome\n", failed)
		os.Exit(1)
	}
	fmt.Println("\nall calls gave the expected outcome")
}

// newLambdaClient returns an AWS SDK Lambda client. For a local endpoint
// (the emulator) it uses fixed dummy credentials: the emulator checks none.
func newLambdaClient(ctx context.Context, endpoint, region string) (*lambda.Client, error) {
	loadOpts := []func(*config.LoadOptions) error{config.WithRegion(region)}
	if endpoint != "" {
		loadOpts = append(loadOpts, config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider("emulator", "emulator", "")))
	}
	cfg, err := config.LoadDefaultConfig(ctx, loadOpts...)
	if err != nil {
		return nil, fmt.Errorf("loading AWS configuration: %w", err)
	}
	return lambda.NewFromConfig(cfg, func(o *lambda.Options) {
		if endpoint != "" {
			o.BaseEndpoint = aws.String(endpoint)
		}
	}), nil
}

// spanTraceID is the trace id of the span in ctx.
func spanTraceID(ctx context.Context) string {
	return oteltrace.SpanContextFromContext(ctx).TraceID().String()
}
