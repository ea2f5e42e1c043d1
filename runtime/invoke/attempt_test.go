package invoke_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc/metadata"

	"github.com/protoc-gen-go-lambda/protoc-gen-go-lambda/internal/testing/testpb"
	"github.com/protoc-gen-go-lambda/protoc-gen-go-lambda/internal/testing/testserver"
	"github.com/protoc-gen-go-lambda/protoc-gen-go-lambda/runtime/internal/wire"
	"github.com/protoc-gen-go-lambda/protoc-gen-go-lambda/runtime/invoke"
)

// TestRetryCarriesRemainingDeadline: the Invoke API throttles the first two
// attempts, each after holding its answer for throttleDelay, then runs the
// function. Each attempt's envelope must carry the caller's time left when
// it is sent, as grpc-go sends grpc-timeout per attempt: attempt k+1 is sent
// after attempt k's answer, so at least throttleDelay later, and its
// timeout_ms is smaller by at least that much. (The bound follows from the
// order of events, not from how fast the machine is.) The envelopes are
// otherwise the same.
func TestRetryCarriesRemainingDeadline(t *testing.T) {
	const throttleDelay = 300 * time.Millisecond
	fn := testpb.NewTestServiceLambdaHandler(&testserver.Server{})
	var mu sync.Mutex
	var bodies [][]byte
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			t.Errorf("reading the request: %v", err)
			return
		}
		mu.Lock()
		bodies = append(bodies, body)
		n := len(bodies)
		mu.Unlock()
		if n <= 2 {
			time.Sleep(throttleDelay)
			w.Header().Set("X-Amzn-ErrorType", "TooManyRequestsException")
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusTooManyRequests)
			fmt.Fprint(w, `{"Type":"User","message":"Rate exceeded"}`)
			return
		}
		out, err := fn.Invoke(r.Context(), body)
		if err != nil {
			t.Errorf("function: %v", err)
		}
		w.Write(out)
	}))
	defer ts.Close()

	for _, jsonMode := range []bool{false, true} {
		t.Run(fmt.Sprintf("json=%v", jsonMode), func(t *testing.T) {
			mu.Lock()
			bodies = nil
			mu.Unlock()
			opts := []invoke.Option{invoke.WithRetryPolicy(invoke.RetryPolicy{MaxAttempts: 3, MaxBackoff: 10 * time.Millisecond})}
			if jsonMode {
				opts = append(opts, invoke.WithJSON())
			}
			c := testpb.NewTestServiceLambdaClient(invoke.NewClientConn(sdkLambdaClient(ts.URL), "orders-function", opts...))
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			ctx = metadata.AppendToOutgoingContext(ctx, "x-tenant", `"quoted" \ tenant`, "trace-bin", "\x00\xff")
			resp, err := c.Echo(ctx, &testpb.EchoRequest{Message: `a "message"`, Payload: []byte("payload")})
			if err != nil || resp.GetMessage() != `a "message"` {
				t.Fatalf("got %v, %v; want the answer of the third attempt", resp, err)
			}
			mu.Lock()
			defer mu.Unlock()
			if len(bodies) != 3 {
				t.Fatalf("%d attempts, want 3", len(bodies))
			}
			envs := make([]wire.Request, 3)
			for i, b := range bodies {
				if err := wire.ParseRequest(b, &envs[i]); err != nil || !envs[i].HasTimeout {
					t.Fatalf("attempt %d: envelope %q: %v (timeout_ms present: %v)", i+1, b, err, envs[i].HasTimeout)
				}
			}
			t.Logf("timeout_ms per attempt: %d, %d, %d", envs[0].Timeout.Milliseconds(), envs[1].Timeout.Milliseconds(), envs[2].Timeout.Milliseconds())
			for i := 1; i < 3; i++ {
				held := time.Duration(i) * throttleDelay
				if lost := envs[0].Timeout - envs[i].Timeout; lost < held {
					t.Errorf("attempt %d: timeout_ms %d, attempt 1: %d; it was sent at least %v later, so its timeout must be at least that much smaller",
						i+1, envs[i].Timeout.Milliseconds(), envs[0].Timeout.Milliseconds(), held)
				}
				a, b := envs[0], envs[i]
				a.Timeout, b.Timeout = 0, 0
				if fmt.Sprint(a) != fmt.Sprint(b) {
					t.Errorf("attempt %d's envelope differs beyond its timeout:\n%s\n%s", i+1, bodies[0], bodies[i])
				}
			}
		})
	}
}
