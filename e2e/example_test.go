package e2e

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/protoc-gen-go-lambda/protoc-gen-go-lambda/example/client/demo"
	ordersv1 "github.com/protoc-gen-go-lambda/protoc-gen-go-lambda/example/gen/orders/v1"
	"github.com/protoc-gen-go-lambda/protoc-gen-go-lambda/runtime/invoke"
)

// TestExampleDemo runs the README demo's calls (example/client/demo.Run)
// against the example's real bootstrap under the emulator, in binary and in
// JSON mode: success, NOT_FOUND with ResourceInfo, INVALID_ARGUMENT with
// BadRequest, header and trailer metadata, a call that succeeds within its
// deadline and one that runs past it, and the server-streaming WatchOrder
// (over plain Invoke: the emulator does not stream). demo.Run checks each outcome's code and, where it matters,
// its details, metadata and message.
func TestExampleDemo(t *testing.T) {
	t.Parallel()
	em := startEmulator(t, emulatorConfig{Function: exampleFunction})
	for _, mode := range []struct {
		name string
		opts []invoke.Option
	}{
		{"binary", []invoke.Option{invoke.WithBufferedStreams()}},
		{"json", []invoke.Option{invoke.WithJSON(), invoke.WithBufferedStreams()}},
	} {
		t.Run(mode.name, func(t *testing.T) {
			client := ordersv1.NewOrderServiceLambdaClient(em.conn(mode.opts...))
			var out bytes.Buffer
			failed := demo.Run(context.Background(), client, &out)
			t.Logf("demo output:\n%s", out.String())
			if failed != 0 {
				t.Errorf("%d call(s) did not give the expected outcome", failed)
			}
			ok := 0
			for _, line := range strings.Split(out.String(), "\n") {
				if strings.HasPrefix(line, "ok  ") {
					ok++
				}
			}
			if ok != 9 {
				t.Errorf("%d calls reported ok, want 9", ok)
			}
		})
	}
	// Every call is one invocation: 9 per run.
	if got := em.Requests(); got != 18 {
		t.Errorf("the emulator got %d requests, want 18 (9 invocations per run, no retries)", got)
	}
}
