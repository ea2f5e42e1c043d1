package bridge

import (
	"context"
	"slices"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

// This file serves grpc.health.v1.Health: the bridge answers for itself
// (the empty service name) and, for a service it routes, asks the function
// that serves it when that function serves the health service too; for a
// function that does not, a service the function reports is SERVING.

// healthService is the health service's full name.
const healthService = "grpc.health.v1.Health"

type healthServer struct {
	healthpb.UnimplementedHealthServer
	b *Bridge
}

func (b *Bridge) registerHealth() {
	healthpb.RegisterHealthServer(b.server, &healthServer{b: b})
}

// Check implements grpc.health.v1.Health.Check.
func (h *healthServer) Check(ctx context.Context, req *healthpb.HealthCheckRequest) (*healthpb.HealthCheckResponse, error) {
	return h.b.health(ctx, req.GetService())
}

// Watch implements grpc.health.v1.Health.Watch: it sends the status when
// the watch starts, and NOT_SERVING when the bridge shuts down, which ends
// the watch. A service the bridge does not know is SERVICE_UNKNOWN, as on
// grpc-go's health server.
func (h *healthServer) Watch(req *healthpb.HealthCheckRequest, stream grpc.ServerStreamingServer[healthpb.HealthCheckResponse]) error {
	ctx := stream.Context()
	resp, err := h.b.health(ctx, req.GetService())
	if status.Code(err) == codes.NotFound {
		resp, err = &healthpb.HealthCheckResponse{Status: healthpb.HealthCheckResponse_SERVICE_UNKNOWN}, nil
	}
	if err != nil {
		return err
	}
	if err := stream.Send(resp); err != nil {
		return err
	}
	select {
	case <-ctx.Done():
		return status.FromContextError(ctx.Err()).Err()
	case <-h.b.shutdown:
		return stream.Send(&healthpb.HealthCheckResponse{Status: healthpb.HealthCheckResponse_NOT_SERVING})
	}
}

// health is the status of one service name.
func (b *Bridge) health(ctx context.Context, service string) (*healthpb.HealthCheckResponse, error) {
	if b.shuttingDown.Load() {
		return &healthpb.HealthCheckResponse{Status: healthpb.HealthCheckResponse_NOT_SERVING}, nil
	}
	if service == "" {
		return &healthpb.HealthCheckResponse{Status: healthpb.HealthCheckResponse_SERVING}, nil
	}
	t := b.target(service)
	if t == nil {
		return nil, status.Error(codes.NotFound, "unknown service") // grpc-go's health server's words
	}
	if err := b.fetch(ctx, t, false); err != nil {
		st := status.Convert(err)
		return nil, status.Errorf(st.Code(), "lambda-grpc-bridge: cannot tell the health of %s: %s", service, st.Message())
	}
	t.desc.mu.Lock()
	f := t.desc.fetched
	t.desc.mu.Unlock()
	if slices.Contains(f.services, healthService) {
		if err := b.checkCredentials(ctx, t.function); err != nil {
			return nil, err
		}
		return healthpb.NewHealthClient(t.cc).Check(outgoingContext(ctx), &healthpb.HealthCheckRequest{Service: service})
	}
	if slices.Contains(f.services, service) {
		return &healthpb.HealthCheckResponse{Status: healthpb.HealthCheckResponse_SERVING}, nil
	}
	return nil, status.Error(codes.NotFound, "unknown service")
}
