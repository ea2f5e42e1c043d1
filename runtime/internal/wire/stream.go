package wire

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"google.golang.org/grpc/metadata"
)

// A server-streaming call's answer is a sequence of frames (docs/protocol.md,
// "Streamed responses"): a flags byte, a 4-byte big-endian length, and that
// many bytes. It is the same whether Lambda streams it to the caller
// (InvokeWithResponseStream, a function whose handler returns an io.Reader)
// or buffers it (Invoke).
const (
	// FrameMessage carries one response message: protobuf, or protobuf JSON
	// in JSON mode.
	FrameMessage byte = 0x00
	// FrameHeader carries the response header metadata, as a JSON object
	// {"header": {...}}; at most once, before the first message.
	FrameHeader byte = 0x01
	// FrameEnd is the last frame: a response envelope without a message,
	// carrying the status, its details, the trailer metadata, and the header
	// metadata when no header frame was sent.
	FrameEnd byte = 0x02

	// FramePrefixSize is the size of a frame's flags and length.
	FramePrefixSize = 5
)

// AppendFramePrefix appends a frame's flags and length; the caller appends
// the n bytes of data.
func AppendFramePrefix(dst []byte, flags byte, n int) []byte {
	return binary.BigEndian.AppendUint32(append(dst, flags), uint32(n))
}

// AppendHeaderFrame appends a header frame carrying md.
func AppendHeaderFrame(dst []byte, md metadata.MD) []byte {
	start := len(dst)
	dst = AppendFramePrefix(dst, FrameHeader, 0)
	dst = append(dst, `{"header":`...)
	dst = appendMetadata(dst, md)
	dst = append(dst, '}')
	binary.BigEndian.PutUint32(dst[start+1:], uint32(len(dst)-start-FramePrefixSize))
	return dst
}

// AppendEndFrame appends the end frame of a stream that ended with code.
// header is written only when no header frame was sent.
func AppendEndFrame(dst []byte, code uint32, message string, details []byte, header, trailer metadata.MD) []byte {
	start := len(dst)
	dst = AppendFramePrefix(dst, FrameEnd, 0)
	dst = appendStatus(dst, code, message, details, header, trailer)
	dst = append(dst, '}')
	binary.BigEndian.PutUint32(dst[start+1:], uint32(len(dst)-start-FramePrefixSize))
	return dst
}

// ErrTruncatedFrame is returned by ReadFrame for a stream that ends inside a
// frame.
var ErrTruncatedFrame = errors.New("the response stream ends inside a frame")

// FrameTooLargeError is returned by ReadFrame for a message frame longer
// than the reader's limit; its data is not read.
type FrameTooLargeError struct{ Size, Max int }

func (e *FrameTooLargeError) Error() string {
	return fmt.Sprintf("grpc: received message larger than max (%d vs. %d)", e.Size, e.Max)
}

// ReadFrame reads one frame from r into buf (grown as needed) and returns its
// flags and data, which alias buf. It returns io.EOF when r ends before a
// frame starts, ErrTruncatedFrame when it ends inside one, and a
// *FrameTooLargeError when a message frame is longer than maxMessage.
func ReadFrame(r io.Reader, buf []byte, maxMessage int) (flags byte, data []byte, err error) {
	var prefix [FramePrefixSize]byte
	if _, err := io.ReadFull(r, prefix[:]); err != nil {
		if err == io.ErrUnexpectedEOF {
			return 0, nil, ErrTruncatedFrame
		}
		return 0, nil, err
	}
	flags = prefix[0]
	n := int64(binary.BigEndian.Uint32(prefix[1:]))
	if flags == FrameMessage && n > int64(maxMessage) {
		return flags, nil, &FrameTooLargeError{Size: int(n), Max: maxMessage}
	}
	if int64(cap(buf)) >= n || n <= 1<<20 {
		if int64(cap(buf)) < n {
			buf = make([]byte, n)
		}
		data = buf[:n]
		if _, err := io.ReadFull(r, data); err != nil {
			if err == io.EOF || err == io.ErrUnexpectedEOF {
				return flags, nil, ErrTruncatedFrame
			}
			return flags, nil, err
		}
		return flags, data, nil
	}
	// A large frame grows with what arrives, so that a length that the
	// stream does not keep costs no more than the bytes that came.
	var b bytes.Buffer
	m, err := io.CopyN(&b, r, n)
	if m < n {
		if err == nil || err == io.EOF {
			return flags, nil, ErrTruncatedFrame
		}
		return flags, nil, err
	}
	return flags, b.Bytes(), nil
}

// ParseHeaderFrame reads a header frame's data.
func ParseHeaderFrame(data []byte) (metadata.MD, error) {
	var md metadata.MD
	r := &jsonReader{data: data}
	it, err := r.topLevel()
	for err == nil {
		var key []byte
		var ok bool
		if key, ok, err = it.field(); !ok {
			break
		}
		if string(key) == "header" {
			md, err = readMetadata(r)
		} else {
			_, err = r.skip()
		}
	}
	return md, err
}

// ParseFrames reads a whole framed answer (a server-streaming call's, read
// by a unary caller) as one response envelope: the header frame's header,
// the end frame's status, details and trailer, and the last message as the
// body (base64 in binary mode, as an envelope carries it). messages is how
// many message frames there were.
func ParseFrames(payload []byte, jsonMode bool) (env *Response, messages int, err error) {
	var header metadata.MD
	var last []byte
	for {
		if len(payload) < FramePrefixSize {
			return nil, 0, ErrTruncatedFrame
		}
		flags, n := payload[0], uint64(binary.BigEndian.Uint32(payload[1:FramePrefixSize]))
		payload = payload[FramePrefixSize:]
		if uint64(len(payload)) < n {
			return nil, 0, ErrTruncatedFrame
		}
		data := payload[:n]
		payload = payload[n:]
		switch flags {
		case FrameHeader:
			if header, err = ParseHeaderFrame(data); err != nil {
				return nil, 0, err
			}
		case FrameMessage:
			messages++
			last = data
		case FrameEnd:
			if env, err = ParseResponse(data); err != nil {
				return nil, 0, err
			}
			if header != nil {
				env.Header = header
			}
			if env.Code == 0 && messages > 0 {
				if jsonMode {
					env.JSON, env.HasJSON = last, true
				} else {
					env.Body, env.HasBody = base64.StdEncoding.AppendEncode(nil, last), true
				}
			}
			return env, messages, nil
		default:
			return nil, 0, fmt.Errorf("unknown frame flags %#x", flags)
		}
	}
}
