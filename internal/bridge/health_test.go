package bridge_test

import (
	"context"
	"io"
	"testing"

	"github.com/aws/aws-lambda-go/lambda"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/health"
	"google.golang.org/grpc/status"

	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/protoc-gen-go-lambda/protoc-gen-go-lambda/internal/bridge"
)

// TestHealth: the bridge answers for itself; for a service, it asks the
// function when the function serves grpc.health.v1, and otherwise answers
// SERVING for the services the function reports.
func TestHealth(t *testing.T) {
	plain := testFunction()
	withHealth := testFunction()
	hs := health.NewServer()
	hs.SetServingStatus("lambdatest.v1.TestService", healthpb.HealthCheckResponse_NOT_SERVING)
	healthpb.RegisterHealthServer(withHealth, hs)
	fns := newFunctions(t, map[string]lambda.Handler{"plain-fn": plain, "health-fn": withHealth})

	for _, tc := range []struct {
		function string
		service  string
		want     healthpb.HealthCheckResponse_ServingStatus
		code     codes.Code
	}{
		{"plain-fn", "", healthpb.HealthCheckResponse_SERVING, codes.OK},
		{"plain-fn", "lambdatest.v1.TestService", healthpb.HealthCheckResponse_SERVING, codes.OK},
		{"plain-fn", "nope.v1.Nope", 0, codes.NotFound},
		{"health-fn", "", healthpb.HealthCheckResponse_SERVING, codes.OK}, // the bridge's own, not the function's
		{"health-fn", "lambdatest.v1.TestService", healthpb.HealthCheckResponse_NOT_SERVING, codes.OK},
		{"health-fn", "nope.v1.Nope", 0, codes.NotFound}, // the function's grpc-go health server says so
		{"no-such-fn", "lambdatest.v1.TestService", 0, codes.Unimplemented},
	} {
		t.Run(tc.function+"/"+tc.service, func(t *testing.T) {
			s := startBridge(t, bridge.Config{Invoker: fns, Function: tc.function})
			resp, err := healthpb.NewHealthClient(s.conn).Check(context.Background(), &healthpb.HealthCheckRequest{Service: tc.service})
			if st := status.Convert(err); st.Code() != tc.code || resp.GetStatus() != tc.want {
				t.Errorf("got %v, %v; want %v, %v", resp.GetStatus(), st, tc.want, tc.code)
			}
		})
	}

	// The function was asked: set it SERVING and the bridge says so.
	hs.SetServingStatus("lambdatest.v1.TestService", healthpb.HealthCheckResponse_SERVING)
	s := startBridge(t, bridge.Config{Invoker: fns, Function: "health-fn"})
	resp, err := healthpb.NewHealthClient(s.conn).Check(context.Background(), &healthpb.HealthCheckRequest{Service: "lambdatest.v1.TestService"})
	if err != nil || resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		t.Errorf("after the function's change: %v, %v", resp, err)
	}
}

// TestHealthWatchAndShutdown: a watch gets the status at once and
// NOT_SERVING when the bridge shuts down, which ends it; the shutdown
// does not wait for the watch.
func TestHealthWatchAndShutdown(t *testing.T) {
	fns := newFunctions(t, map[string]lambda.Handler{"test-fn": testFunction()})
	s := startBridge(t, bridge.Config{Invoker: fns, Function: "test-fn"})
	client := healthpb.NewHealthClient(s.conn)
	unknown, err := client.Watch(context.Background(), &healthpb.HealthCheckRequest{Service: "nope.v1.Nope"})
	if err != nil {
		t.Fatal(err)
	}
	if resp, err := unknown.Recv(); err != nil || resp.GetStatus() != healthpb.HealthCheckResponse_SERVICE_UNKNOWN {
		t.Errorf("watching an unknown service: %v, %v", resp, err)
	}
	watch, err := client.Watch(context.Background(), &healthpb.HealthCheckRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if resp, err := watch.Recv(); err != nil || resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("first: %v, %v", resp, err)
	}
	s.b.Shutdown(context.Background())
	if resp, err := watch.Recv(); err != nil || resp.GetStatus() != healthpb.HealthCheckResponse_NOT_SERVING {
		t.Errorf("at shutdown: %v, %v", resp, err)
	}
	if _, err := watch.Recv(); err != io.EOF {
		t.Errorf("after NOT_SERVING: %v, want the watch ended", err)
	}
}
