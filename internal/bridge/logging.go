package bridge

import (
	"context"
	"log/slog"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/status"
)

// This file logs one line per call: method, the function it went to (for
// forwarded calls), status code and duration, and the status message of a
// failed call.

func (b *Bridge) logCall(ctx context.Context, method, function string, err error, start time.Time) {
	st := status.Convert(err)
	attrs := []slog.Attr{slog.String("method", method)}
	if function != "" {
		attrs = append(attrs, slog.String("function", function))
	}
	attrs = append(attrs, slog.String("code", st.Code().String()), slog.Duration("duration", time.Since(start)))
	if err != nil {
		attrs = append(attrs, slog.String("message", st.Message()))
	}
	b.log.LogAttrs(ctx, slog.LevelInfo, "call", attrs...)
}

// logUnary logs the calls of the bridge's own unary methods (health).
func (b *Bridge) logUnary(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	start := time.Now()
	resp, err := handler(ctx, req)
	b.logCall(ctx, info.FullMethod, "", err, start)
	return resp, err
}

// logStream logs the calls of the bridge's own streaming methods
// (reflection, health watches); forwarded calls log themselves.
func (b *Bridge) logStream(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
	service, _ := splitMethod(info.FullMethod)
	if !b.ownServices[service] {
		return handler(srv, ss)
	}
	start := time.Now()
	err := handler(srv, ss)
	b.logCall(ss.Context(), info.FullMethod, "", err, start)
	return err
}
