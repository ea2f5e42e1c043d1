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
	h := b.log.Handler()
	if !h.Enabled(ctx, slog.LevelInfo) {
		return
	}
	now := time.Now()
	// A record of its own rather than Logger.LogAttrs, which asks the
	// runtime for its caller's frame (half the line's cost) for a source
	// that would be this function's on every line.
	r := slog.NewRecord(now, slog.LevelInfo, "call", 0)
	r.AddAttrs(slog.String("method", method))
	if function != "" {
		r.AddAttrs(slog.String("function", function))
	}
	if err == nil {
		r.AddAttrs(slog.String("code", "OK"), slog.Duration("duration", now.Sub(start)))
	} else {
		st := status.Convert(err)
		r.AddAttrs(slog.String("code", st.Code().String()), slog.Duration("duration", now.Sub(start)), slog.String("message", st.Message()))
	}
	_ = h.Handle(ctx, r) // as slog.Logger does: a handler's failure fails no call
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
