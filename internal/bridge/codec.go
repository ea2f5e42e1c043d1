package bridge

import (
	"google.golang.org/grpc/encoding"
	"google.golang.org/grpc/mem"

	_ "google.golang.org/grpc/encoding/proto" // registers the codec rawCodec defers to

	"github.com/protoc-gen-go-lambda/protoc-gen-go-lambda/runtime/invoke"
)

// rawCodec is the bridge server's codec: grpc-go's proto codec, except
// that a forwarded message (*invoke.RawMessage) is sent without being
// copied and received with one copy. The bridge's own services (reflection,
// health) use the proto codec.
type rawCodec struct{ proto encoding.CodecV2 }

func newRawCodec() rawCodec { return rawCodec{proto: encoding.GetCodecV2("proto")} }

// Name is the proto codec's: callers send application/grpc (+proto).
func (rawCodec) Name() string { return "proto" }

// Marshal hands a forwarded message's bytes to the transport as they are:
// the message is not modified once sent.
func (c rawCodec) Marshal(v any) (mem.BufferSlice, error) {
	if m, ok := v.(*invoke.RawMessage); ok {
		return mem.BufferSlice{mem.SliceBuffer(m.Bytes)}, nil
	}
	return c.proto.Marshal(v)
}

// Unmarshal copies a forwarded message's bytes out of the transport's
// buffers, which are reused once it returns.
func (c rawCodec) Unmarshal(data mem.BufferSlice, v any) error {
	if m, ok := v.(*invoke.RawMessage); ok {
		m.Bytes = data.Materialize()
		return nil
	}
	return c.proto.Unmarshal(data, v)
}
