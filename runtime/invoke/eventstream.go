package invoke

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"io"
	"math"

	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/schemas"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
	"github.com/aws/smithy-go/transport/http/protocol/restjson1"
)

// StreamProtocol is the SDK option with which this package's
// server-streaming calls read InvokeWithResponseStream's events; pass it to
// each InvokeWithResponseStream call of a *lambda.Client used without this
// package to read its events the same way.
//
// It gives the call a protocol of its own, so that concurrent streams of
// one client share no event stream decoder (smithy-go keeps per-call state
// in the client's protocol: aws/smithy-go#714). That protocol is the SDK's
// default (restjson1), except that it decodes PayloadChunk events itself:
// one allocation of the event's exact size (smithy-go v1.28 grows each
// payload from an empty buffer, about four times the payload's size; see
// docs/performance-streaming.md), both CRCs checked. Every other event, and
// any message it does not find well formed, goes to the default protocol
// over the same bytes, so errors and other events are the SDK's own.
//
// A client whose protocol is not the default is left as it is.
func StreamProtocol(o *lambda.Options) {
	switch o.Protocol.(type) {
	case *restjson1.Protocol, *chunkProtocol:
		o.Protocol = &chunkProtocol{restjson1.New(nil)}
	}
}

// chunkProtocol decodes the PayloadChunk events of InvokeWithResponseStream
// and hands everything else to the wrapped protocol.
type chunkProtocol struct{ smithyhttp.ClientProtocol }

// The event stream message format (smithy-go's eventstream package): a
// prelude of the total length, the headers' length and the CRC32 of those
// 8 bytes; the headers; the payload; the CRC32 of all that precedes it.
const (
	preludeLen    = 12
	minMessageLen = preludeLen + 4

	// eagerMessageLen is the longest message read into a buffer of its
	// declared length at once; a longer one grows by doubling as its bytes
	// arrive (at most four times the bytes read), so that a declared length
	// alone cannot make the decoder allocate.
	eagerMessageLen = 256 << 10
)

// Header value types (smithy-go's eventstream valueType) and the lengths
// of their values; bytes and string values are a 2-byte length and that
// many bytes.
const (
	headerBytes  = 6
	headerString = 7
)

var headerValueLen = [...]int{0, 0, 1, 2, 4, 8, -1, -1, 8, 16}

// DeserializeEventMessage implements smithyhttp.ClientProtocol.
func (p *chunkProtocol) DeserializeEventMessage(schema *smithy.Schema, reg *smithy.TypeRegistry, r io.Reader) (smithy.Deserializable, error) {
	if schema != schemas.InvokeWithResponseStreamResponseEvent {
		return p.ClientProtocol.DeserializeEventMessage(schema, reg, r)
	}
	prelude := make([]byte, preludeLen)
	if n, err := io.ReadFull(r, prelude); err != nil {
		if n == 0 && err == io.EOF {
			return nil, io.EOF
		}
		return p.replay(schema, reg, prelude[:n], err)
	}
	total, hlen := binary.BigEndian.Uint32(prelude), binary.BigEndian.Uint32(prelude[4:])
	if crc32.ChecksumIEEE(prelude[:8]) != binary.BigEndian.Uint32(prelude[8:]) ||
		total < minMessageLen || hlen > total-minMessageLen || uint64(total) > math.MaxInt/2 {
		return p.fallback(schema, reg, prelude, r)
	}
	size := int(total)
	msg := make([]byte, min(size, eagerMessageLen))
	copy(msg, prelude)
	n, err := io.ReadFull(r, msg[preludeLen:])
	got := preludeLen + n
	for err == nil && len(msg) < size {
		next := 2 * len(msg)
		if next > size/2 { // the last step: straight to the message's size
			next = size
		}
		grown := make([]byte, next)
		copy(grown, msg)
		n, err = io.ReadFull(r, grown[len(msg):])
		got = len(msg) + n
		msg = grown
	}
	if err != nil {
		return p.replay(schema, reg, msg[:got], err)
	}
	crcAt := size - 4
	if crc32.ChecksumIEEE(msg[:crcAt]) != binary.BigEndian.Uint32(msg[crcAt:]) {
		return p.fallback(schema, reg, msg, r)
	}
	payloadAt := preludeLen + int(hlen)
	evType, msgType, ok := eventHeaders(msg[preludeLen:payloadAt])
	if !ok || string(msgType) != "event" || string(evType) != "PayloadChunk" {
		return p.fallback(schema, reg, msg, r)
	}
	ev := &types.InvokeResponseStreamUpdate{}
	if payloadAt < crcAt {
		ev.Payload = msg[payloadAt:crcAt:crcAt]
	}
	return ev, nil
}

// eventHeaders returns the values of the :event-type and :message-type
// headers (the last of each, as smithy-go's Headers.Set keeps), skipping
// the others by their types' lengths. It is not ok for a header block
// smithy-go would not decode, or with either header not a string.
func eventHeaders(h []byte) (evType, msgType []byte, ok bool) {
	for len(h) > 0 {
		nameLen := int(h[0])
		if len(h) < 1+nameLen+1 {
			return nil, nil, false
		}
		name, typ := h[1:1+nameLen], h[1+nameLen]
		h = h[1+nameLen+1:]
		if int(typ) >= len(headerValueLen) {
			return nil, nil, false
		}
		vlen, skip := headerValueLen[typ], 0
		if typ == headerBytes || typ == headerString {
			if len(h) < 2 {
				return nil, nil, false
			}
			vlen, skip = int(binary.BigEndian.Uint16(h)), 2
		}
		if len(h) < skip+vlen {
			return nil, nil, false
		}
		v := h[skip : skip+vlen]
		h = h[skip+vlen:]
		switch string(name) {
		case ":event-type", ":message-type":
			if typ != headerString {
				return nil, nil, false
			}
			if name[1] == 'e' {
				evType = v
			} else {
				msgType = v
			}
		}
	}
	return evType, msgType, true
}

// fallback has the wrapped protocol decode a message of which read are
// the bytes already read from r.
func (p *chunkProtocol) fallback(schema *smithy.Schema, reg *smithy.TypeRegistry, read []byte, r io.Reader) (smithy.Deserializable, error) {
	return p.ClientProtocol.DeserializeEventMessage(schema, reg, io.MultiReader(bytes.NewReader(read), r))
}

// replay has the wrapped protocol decode the bytes read before r failed
// with err (io.ErrUnexpectedEOF from io.ReadFull standing for io.EOF from
// r), so that it sees the stream r was and errs as it would have.
func (p *chunkProtocol) replay(schema *smithy.Schema, reg *smithy.TypeRegistry, read []byte, err error) (smithy.Deserializable, error) {
	if err == io.ErrUnexpectedEOF {
		err = io.EOF
	}
	return p.fallback(schema, reg, read, errReader{err})
}

type errReader struct{ err error }

func (r errReader) Read([]byte) (int, error) { return 0, r.err }
