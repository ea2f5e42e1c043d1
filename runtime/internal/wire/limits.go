package wire

import (
	"math"

	"google.golang.org/grpc"
)

// MaxPayloadSize is the Lambda limit for a synchronous invocation's request
// and response payloads: 6 MB (6,291,456 bytes).
const MaxPayloadSize = 6 * 1024 * 1024

// Message size limits default to grpc-go's, so a service behaves the same on
// either transport.
const (
	DefaultMaxRecvMsgSize = 4 * 1024 * 1024
	DefaultMaxSendMsgSize = math.MaxInt32
)

// StreamKind names a streaming method's kind for error messages.
func StreamKind(sd *grpc.StreamDesc) string {
	switch {
	case sd.ClientStreams && sd.ServerStreams:
		return "bidirectional-streaming"
	case sd.ClientStreams:
		return "client-streaming"
	default:
		return "server-streaming"
	}
}
