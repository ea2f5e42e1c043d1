package bridge

import (
	"google.golang.org/grpc/encoding"
	"google.golang.org/grpc/mem"

	_ "google.golang.org/grpc/encoding/proto" // registers the codec rawCodec defers to

	"github.com/protoc-gen-go-lambda/protoc-gen-go-lambda/runtime/invoke"
)

// rawCodec is the bridge server's codec: grpc-go's proto codec, except
// that a forwarded message is carried as its bytes: a response
// (*invoke.RawMessage) is sent without being copied, a request (*request)
// is kept in grpc-go's buffer. The bridge's own services (reflection,
// health) use the proto codec.
type rawCodec struct{ proto encoding.CodecV2 }

func newRawCodec() rawCodec { return rawCodec{proto: encoding.GetCodecV2("proto")} }

// Name is the proto codec's: callers send application/grpc (+proto).
func (rawCodec) Name() string { return "proto" }

// Marshal hands a forwarded message's bytes to the transport as they are:
// the message is not modified once sent. Bytes from the message's Pool
// (responseMessage's) go back to it once written, so the message lets go of
// them here: the bridge does not look at a response after sending it, and a
// stats handler added through Config.ServerOptions sees its OutPayload's
// Payload empty (Length and WireLength are the transport's, and right)
// rather than bytes the pool has handed on.
func (c rawCodec) Marshal(v any) (mem.BufferSlice, error) {
	if m, ok := v.(*invoke.RawMessage); ok {
		if m.Pool != nil && m.Bytes != nil {
			b := m.Bytes
			m.Bytes = nil
			return mem.BufferSlice{mem.NewBuffer(&b, m.Pool)}, nil
		}
		return mem.BufferSlice{mem.SliceBuffer(m.Bytes)}, nil
	}
	return c.proto.Marshal(v)
}

// responseMessage returns a message for a function's response: its bytes
// are decoded into a buffer of grpc-go's pool, which the transport returns
// once it has written them (Marshal), one allocation of the message's size
// less per call.
func responseMessage() *invoke.RawMessage {
	return &invoke.RawMessage{Pool: mem.DefaultBufferPool()}
}

// Unmarshal keeps a request's bytes in the transport's buffer, which the
// request holds a reference to (a message that arrived in several pieces is
// first gathered into one pooled buffer), and copies any other forwarded
// message's bytes out of the transport's buffers, which are reused once it
// returns.
func (c rawCodec) Unmarshal(data mem.BufferSlice, v any) error {
	switch m := v.(type) {
	case *request:
		m.release()
		m.buf = data.MaterializeToBuffer(mem.DefaultBufferPool())
		m.Bytes = m.buf.ReadOnlyData()
		return nil
	case *invoke.RawMessage:
		m.Bytes = data.Materialize()
		return nil
	}
	return c.proto.Unmarshal(data, v)
}

// request is a forwarded call's request message. Its bytes are read only
// while the function is invoked with them (the envelope copies them), so
// they stay in grpc-go's pooled buffer instead of a copy of their own, one
// allocation of the message's size less per call; release returns the
// buffer once the invocation has been sent.
type request struct {
	invoke.RawMessage
	buf mem.Buffer
}

// release returns the request's buffer to its pool; Bytes is then empty.
func (r *request) release() {
	if r.buf != nil {
		r.buf.Free()
		r.buf = nil
	}
	r.Bytes = nil
}
