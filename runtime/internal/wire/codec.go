package wire

import (
	"fmt"
	"sync"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/mem"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
)

// JSON mode reads unknown fields leniently, as binary protobuf does, so an
// old function accepts requests from a newer client.
var (
	jsonMarshal   = protojson.MarshalOptions{}
	jsonUnmarshal = protojson.UnmarshalOptions{DiscardUnknown: true}
)

// Buffer is a scratch Buffer for a serialized message, which lives only
// until it is base64-encoded into an envelope or unmarshalled. Binary-mode
// buffers come from a pool; the holder is pooled with the bytes so that
// returning one does not allocate.
type Buffer struct {
	B      []byte
	pooled bool
}

var bufPool = sync.Pool{New: func() any { return &Buffer{pooled: true} }}

// maxPooledBuffer keeps rare huge buffers from being pinned in the pool.
const maxPooledBuffer = 1 << 20

func getBuffer() *Buffer {
	buf := bufPool.Get().(*Buffer)
	buf.B = buf.B[:0]
	return buf
}

// free returns a pooled Buffer; buf must not be used afterwards.
func (buf *Buffer) Free() {
	if !buf.pooled || cap(buf.B) > maxPooledBuffer {
		return
	}
	bufPool.Put(buf)
}

func asMessage(v any) (proto.Message, error) {
	m, ok := v.(proto.Message)
	if !ok {
		// grpc-go's proto codec says the same (encoding/proto).
		return nil, fmt.Errorf("proto: failed to marshal, message is %T, want proto.Message", v)
	}
	return m, nil
}

// MarshalMessage serializes v; in binary mode into a pooled Buffer. A nil v
// is an empty message, as grpc-go's encode makes it (a handler or an
// interceptor returning nil, nil succeeds with an empty response).
func MarshalMessage(v any, jsonMode bool) (*Buffer, error) {
	if v == nil {
		if jsonMode {
			return &Buffer{B: []byte("{}")}, nil
		}
		return getBuffer(), nil
	}
	m, err := asMessage(v)
	if err != nil {
		return nil, err
	}
	if jsonMode {
		b, err := jsonMarshal.Marshal(m)
		return &Buffer{B: b}, err
	}
	buf := getBuffer()
	buf.B, err = proto.MarshalOptions{}.MarshalAppend(buf.B, m)
	if err != nil {
		buf.Free()
		return nil, err
	}
	return buf, nil
}

// Base64DecodedLen is the exact decoded length of well-formed base64 text,
// padded or not; it lets the size limit be checked before decoding.
func Base64DecodedLen(b []byte) int {
	n := len(b)
	for i := 0; i < 2 && n > 0 && b[n-1] == '='; i++ {
		n--
	}
	return n * 6 / 8
}

// DecodeRaw returns a binary-mode message's serialized bytes in a slice of
// their own (nil for an empty message), enforcing the receive limit, for a
// caller that keeps them unparsed: what Unmarshal into such a message gives,
// without decoding into a buffer first and copying from it. With a pool, the
// slice is a prefix of a buffer from pool.Get.
func (m *Payload) DecodeRaw(maxSize int, pool mem.BufferPool) ([]byte, error) {
	n := Base64DecodedLen(m.Body)
	if n > maxSize {
		return nil, status.Errorf(codes.ResourceExhausted, "grpc: received message larger than max (%d vs. %d)", n, maxSize)
	}
	if len(m.Body) == 0 {
		return nil, nil
	}
	var dst []byte
	if pool != nil {
		dst = (*pool.Get(n))[:0]
	} else {
		dst = make([]byte, 0, n)
	}
	b, err := DecodeBase64(dst, m.Body)
	if err != nil {
		if pool != nil {
			pool.Put(&dst)
		}
		return nil, status.Errorf(codes.Internal, "grpc: failed to unmarshal the received message: body is not valid base64: %v", err)
	}
	return b, nil
}

// unmarshalBody decodes a body written in either mode into v, enforcing the
// receive limit on the message size as grpc-go does.
func unmarshalBody(b64, jsonText []byte, jsonMode bool, v any, maxSize int) error {
	m, ok := v.(proto.Message)
	if !ok {
		return status.Errorf(codes.Internal, "grpc: failed to unmarshal the received message: failed to unmarshal, message is %T, want proto.Message", v)
	}
	if jsonMode {
		if len(jsonText) > maxSize {
			return status.Errorf(codes.ResourceExhausted, "grpc: received message larger than max (%d vs. %d)", len(jsonText), maxSize)
		}
		if err := jsonUnmarshal.Unmarshal(jsonText, m); err != nil {
			return status.Errorf(codes.Internal, "grpc: failed to unmarshal the received message: %v", err)
		}
		return nil
	}
	if n := Base64DecodedLen(b64); n > maxSize {
		return status.Errorf(codes.ResourceExhausted, "grpc: received message larger than max (%d vs. %d)", n, maxSize)
	}
	buf := getBuffer()
	defer buf.Free()
	var err error
	if buf.B, err = DecodeBase64(buf.B, b64); err != nil {
		return status.Errorf(codes.Internal, "grpc: failed to unmarshal the received message: body is not valid base64: %v", err)
	}
	err = proto.Unmarshal(buf.B, m)
	if err != nil {
		return status.Errorf(codes.Internal, "grpc: failed to unmarshal the received message: %v", err)
	}
	return nil
}

// StatusDetails serializes st as a google.rpc.Status when it has details;
// that is what grpc-go sends as the grpc-status-details-bin trailer. It fails
// when the status cannot be serialized (a message in invalid UTF-8, say).
func StatusDetails(st *status.Status) ([]byte, error) {
	p := st.Proto()
	if len(p.GetDetails()) == 0 {
		return nil, nil
	}
	b, err := proto.Marshal(p)
	if err != nil {
		return nil, fmt.Errorf("marshal rpc status: %w", err)
	}
	return b, nil
}
