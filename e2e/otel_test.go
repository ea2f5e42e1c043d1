package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	goruntime "runtime"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	ordersv1 "github.com/protoc-gen-go-lambda/protoc-gen-go-lambda/example/gen/orders/v1"
	"github.com/protoc-gen-go-lambda/protoc-gen-go-lambda/runtime/invoke"
)

// otelFunction is example/otelfunction: the example service with otelgrpc's
// server handler, exporting its spans as JSON lines on stdout.
const otelFunction = "otel"

func init() { bootstrapPackages[otelFunction] = "./example/otelfunction" }

// exportedSpan is the part of a span that the console exporter
// (stdouttrace) writes and this test reads.
type exportedSpan struct {
	Name        string
	SpanKind    int
	SpanContext struct{ TraceID, SpanID string }
	Parent      struct {
		TraceID, SpanID string
		Remote          bool
	}
	Status struct{ Code, Description string }
}

// TestOpenTelemetryUnderEmulator: with otelgrpc's client handler on the
// caller and example/otelfunction's real bootstrap under the emulator, the
// function's span for each call is in the caller's trace, with the
// caller's client span as its remote parent: the W3C traceparent crossed
// the Invoke API in the call's metadata, through the real AWS SDK client,
// the emulator and aws-lambda-go.
func TestOpenTelemetryUnderEmulator(t *testing.T) {
	t.Parallel()
	em := startEmulator(t, emulatorConfig{Function: otelFunction, Env: []string{"OTEL_TRACES_EXPORTER=console"}})
	spans := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans))
	client := ordersv1.NewOrderServiceLambdaClient(em.conn(invoke.WithStatsHandler(
		otelgrpc.NewClientHandler(otelgrpc.WithTracerProvider(tp), otelgrpc.WithPropagators(propagation.TraceContext{})))))

	ctx := context.Background()
	if _, err := client.GetOrder(ctx, &ordersv1.GetOrderRequest{Id: "o-1001"}); err != nil {
		t.Fatalf("GetOrder o-1001: %v", err)
	}
	if _, err := client.GetOrder(ctx, &ordersv1.GetOrderRequest{Id: "o-404"}); status.Code(err) != codes.NotFound {
		t.Fatalf("GetOrder o-404: %v, want NOT_FOUND", err)
	}
	ended := spans.Ended()
	if len(ended) != 2 {
		t.Fatalf("%d client spans, want 2", len(ended))
	}
	for i, cs := range ended {
		if cs.SpanKind() != trace.SpanKindClient {
			t.Fatalf("span %q is not a client span", cs.Name())
		}
		fs := waitForSpan(t, em, cs.SpanContext().SpanID().String())
		if fs.Name != cs.Name() || fs.SpanKind != int(trace.SpanKindServer) {
			t.Errorf("call %d: the function's span is %q kind %d, want the server span of %q", i, fs.Name, fs.SpanKind, cs.Name())
		}
		if fs.SpanContext.TraceID != cs.SpanContext().TraceID().String() || fs.Parent.TraceID != fs.SpanContext.TraceID || !fs.Parent.Remote {
			t.Errorf("call %d: the function's span is in trace %s (parent in %s, remote %v), want the caller's %s with a remote parent",
				i, fs.SpanContext.TraceID, fs.Parent.TraceID, fs.Parent.Remote, cs.SpanContext().TraceID())
		}
		// NOT_FOUND is not a server error in otelgrpc's terms: Unset, as on
		// grpc-go; the client span says Error.
		if wantClient := map[int]string{0: "Unset", 1: "Error"}[i]; cs.Status().Code.String() != wantClient || fs.Status.Code != "Unset" {
			t.Errorf("call %d: statuses client %v, function %s; want client %s, function Unset", i, cs.Status().Code, fs.Status.Code, wantClient)
		}
	}
}

// waitForSpan waits until the function's log has the span whose parent is
// parentID: the function exports before it answers, and the emulator
// copies the function's output to its own as it comes.
func waitForSpan(t *testing.T, em *emulator, parentID string) exportedSpan {
	t.Helper()
	deadline := time.Now().Add(hangLimit)
	for {
		sc := bufio.NewScanner(strings.NewReader(em.Log()))
		sc.Buffer(make([]byte, 0, 1<<20), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			if !strings.HasPrefix(line, `{"Name":`) {
				continue
			}
			var s exportedSpan
			if err := json.Unmarshal([]byte(line), &s); err != nil {
				t.Fatalf("the function's log has a span line that is not JSON: %v\n%s", err, line)
			}
			if s.Parent.SpanID == parentID {
				return s
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no span with parent %s in the function's log within %v:\n%s", parentID, hangLimit, em.Log())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// hangLimit bounds a wait for something that must happen; it is not a
// timing assertion.
const hangLimit = 30 * time.Second

// TestFunctionDoesNotLinkOpenTelemetry: the runtime and example/function
// link no OpenTelemetry package; only a function that installs a stats
// handler built on it (example/otelfunction) pays for it, in binary size
// and cold start (docs/performance.md, docs/observability.md).
func TestFunctionDoesNotLinkOpenTelemetry(t *testing.T) {
	t.Parallel()
	goTool, err := exec.LookPath("go")
	if err != nil {
		goTool = filepath.Join(goruntime.GOROOT(), "bin", "go")
	}
	for _, tc := range []struct {
		pkg  string
		want bool
	}{{"./example/function", false}, {"./runtime", false}, {"./example/otelfunction", true}} {
		cmd := exec.Command(goTool, "list", "-deps", "-tags", "lambda.norpc", "-f", "{{.ImportPath}}", tc.pkg)
		cmd.Dir = moduleRoot(t)
		cmd.Env = append(os.Environ(), "GOOS=linux", "GOARCH="+goruntime.GOARCH, "CGO_ENABLED=0")
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("go list -deps %s: %v", tc.pkg, err)
		}
		var otel []string
		for _, dep := range strings.Fields(string(out)) {
			if strings.HasPrefix(dep, "go.opentelemetry.io/") {
				otel = append(otel, dep)
			}
		}
		if got := len(otel) > 0; got != tc.want {
			t.Errorf("%s links OpenTelemetry: %v, want %v (%s)", tc.pkg, got, tc.want, strings.Join(otel, ", "))
		}
	}
}
