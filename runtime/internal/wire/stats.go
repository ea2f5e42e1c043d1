package wire

import (
	"context"

	"google.golang.org/grpc/stats"
)

// StatsHandlers calls several stats handlers in order, as grpc-go combines
// the handlers of several StatsHandler (server) or WithStatsHandler (client)
// options: each TagRPC and TagConn gets the context the previous one
// returned.
type StatsHandlers []stats.Handler

func (hs StatsHandlers) TagRPC(ctx context.Context, info *stats.RPCTagInfo) context.Context {
	for _, h := range hs {
		ctx = h.TagRPC(ctx, info)
	}
	return ctx
}

func (hs StatsHandlers) HandleRPC(ctx context.Context, s stats.RPCStats) {
	for _, h := range hs {
		h.HandleRPC(ctx, s)
	}
}

func (hs StatsHandlers) TagConn(ctx context.Context, info *stats.ConnTagInfo) context.Context {
	for _, h := range hs {
		ctx = h.TagConn(ctx, info)
	}
	return ctx
}

func (hs StatsHandlers) HandleConn(ctx context.Context, s stats.ConnStats) {
	for _, h := range hs {
		h.HandleConn(ctx, s)
	}
}
