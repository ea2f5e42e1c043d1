// Package tracing sets up OpenTelemetry tracing for the example's traced
// function (example/otelfunction) and client (example/client -trace): a
// tracer provider whose exporter the environment chooses, as
// OTEL_TRACES_EXPORTER does for OpenTelemetry's SDKs, and the W3C
// propagators otelgrpc uses to carry the trace from the client to the
// function in the call's metadata.
package tracing

import (
	"context"
	"fmt"
	"io"
	"os"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/exporters/stdout/stdouttrace"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
)

// Exporters are the values Start takes, as OTEL_TRACES_EXPORTER spells them:
//
//   - "console" (or "stdout"): one JSON line per span on w; in Lambda that
//     is the function's CloudWatch log;
//   - "otlp": OTLP over HTTP/protobuf to OTEL_EXPORTER_OTLP_ENDPOINT
//     (default http://localhost:4318), e.g. the ADOT collector's Lambda
//     layer, or any OTLP collector; the exporter reads the other
//     OTEL_EXPORTER_OTLP_* variables itself;
//   - "none": spans are made and propagated but not exported.
const Exporters = `"console" (or "stdout"), "otlp" or "none"`

// Start makes a tracer provider exporting to exporter, named service unless
// OTEL_SERVICE_NAME says otherwise, and installs it and the W3C Trace
// Context and Baggage propagators as OpenTelemetry's globals, which
// otelgrpc's handlers use by default. Call the provider's ForceFlush before
// a Lambda invocation returns (Lambda freezes the process in between) and
// its Shutdown before a program exits.
func Start(ctx context.Context, exporter, service string, w io.Writer) (*sdktrace.TracerProvider, error) {
	var opts []sdktrace.TracerProviderOption
	switch exporter {
	case "console", "stdout":
		exp, err := stdouttrace.New(stdouttrace.WithWriter(w))
		if err != nil {
			return nil, err
		}
		opts = append(opts, sdktrace.WithBatcher(exp))
	case "otlp":
		exp, err := otlptracehttp.New(ctx)
		if err != nil {
			return nil, err
		}
		opts = append(opts, sdktrace.WithBatcher(exp))
	case "none":
	default:
		return nil, fmt.Errorf("unknown trace exporter %q: use %s", exporter, Exporters)
	}
	res := resource.Default()
	if os.Getenv("OTEL_SERVICE_NAME") == "" {
		named, err := resource.Merge(res, resource.NewSchemaless(semconv.ServiceName(service)))
		if err != nil {
			return nil, err
		}
		res = named
	}
	tp := sdktrace.NewTracerProvider(append(opts, sdktrace.WithResource(res))...)
	otel.SetTracerProvider(tp)
	otel.SetTextMapPropagator(propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{}))
	return tp, nil
}
