package runtime

import (
	"sync"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// errIllegalHeaderWrite is grpc-go's error for a header written after it was
// sent (internal/transport.ErrIllegalHeaderWrite).
var errIllegalHeaderWrite = status.Error(codes.Internal, "transport: SendHeader called multiple times")

// serverStream is the grpc.ServerTransportStream of one invocation, so that
// grpc.SetHeader, grpc.SendHeader, grpc.SetTrailer and grpc.Method work in a
// handler exactly as they do under a grpc.Server.
type serverStream struct {
	method string

	mu         sync.Mutex
	header     metadata.MD
	trailer    metadata.MD
	headerSent bool // SendHeader was called, or the response was written
	done       bool // the response was written; nothing more can be set

	// A server-streaming call's output (streaming.go); nil for unary calls.
	sink          streamSink
	headerWritten bool           // the header went to the sink
	failed        *status.Status // a write failed: the call ends with it
	endErr        error          // what SendMsg returns once the call ended
}

var _ grpc.ServerTransportStream = (*serverStream)(nil)

func (s *serverStream) Method() string { return s.method }

func (s *serverStream) SetHeader(md metadata.MD) error {
	if md.Len() == 0 {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.headerSent || s.done {
		return errIllegalHeaderWrite
	}
	s.header = metadata.Join(s.header, md)
	return nil
}

func (s *serverStream) SendHeader(md metadata.MD) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.headerSent || s.done {
		return errIllegalHeaderWrite
	}
	s.header = metadata.Join(s.header, md)
	s.headerSent = true
	if s.sink != nil {
		// A stream's header goes out now, as on grpc-go.
		return s.writeHeaderLocked(false)
	}
	return nil
}

func (s *serverStream) SetTrailer(md metadata.MD) error {
	if md.Len() == 0 {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.done {
		return errIllegalHeaderWrite
	}
	s.trailer = metadata.Join(s.trailer, md)
	return nil
}

// finish closes the stream to further writes and returns what the response
// carries. When the handler did not finish (deadline), only a header that was
// explicitly sent went out, and no trailer, as on grpc-go.
func (s *serverStream) finish(handlerDone bool) (header, trailer metadata.MD) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.done = true
	if !handlerDone {
		if s.headerSent {
			return s.header, nil
		}
		return nil, nil
	}
	return s.header, s.trailer
}
