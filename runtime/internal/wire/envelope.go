package wire

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"math"
	"strconv"
	"time"

	"google.golang.org/grpc/metadata"
)

// EnvelopeVersion is the version of the JSON envelope this package writes
// and the only one it reads. docs/protocol.md specifies it.
const EnvelopeVersion = 1

// Request is a decoded request envelope. Body and JSON alias the payload
// they were read from: a caller that keeps them past the payload's lifetime
// must copy them.
type Request struct {
	Version    int64
	Method     string
	Timeout    time.Duration
	HasTimeout bool
	MD         metadata.MD
	Payload
}

// Response is a decoded response envelope. Body and JSON alias the payload.
type Response struct {
	Version int64
	Code    int64
	Message string
	Details []byte // base64 text of a google.rpc.Status
	Header  metadata.MD
	Trailer metadata.MD
	Payload
	HasCode       bool
	FunctionError *FunctionError // set when the payload is a Lambda function error document
}

// Payload is the envelope fields that carry the message, in either mode.
type Payload struct {
	Body    []byte // base64 text of the protobuf message (binary mode)
	JSON    []byte // protojson text of the message (JSON mode)
	HasBody bool
	HasJSON bool
}

// read reads the "body" (jsonMode false) or "json" field's value; null
// counts as absent.
func (m *Payload) read(r *jsonReader, jsonMode bool) (err error) {
	switch {
	case r.null():
	case jsonMode:
		m.JSON, err = r.skip()
		m.HasJSON = true
	default:
		m.Body, err = r.strFast()
		m.HasBody = true
	}
	return err
}

// Unmarshal decodes the message into v, enforcing the receive limit.
func (m *Payload) Unmarshal(v any, maxSize int) error {
	return unmarshalBody(m.Body, m.JSON, m.HasJSON, v, maxSize)
}

// FunctionError is the document Lambda returns when a function fails:
// {"errorMessage": "...", "errorType": "...", "stackTrace": [...]}.
type FunctionError struct {
	Message string
	Type    string
}

// MaxTimeout is the longest timeout an envelope carries: a caller's
// deadline further away is sent as this (about 292 years, the range of
// time.Duration in whole milliseconds), so it never overflows.
const MaxTimeout = math.MaxInt64 / time.Millisecond * time.Millisecond

// maxTimeoutMillis keeps a decoded timeout inside time.Duration.
const maxTimeoutMillis = float64(MaxTimeout / time.Millisecond)

// AppendRequest writes a request envelope. In binary mode body is the
// serialized message; in JSON mode it is its protojson text.
func AppendRequest(dst []byte, method string, timeout time.Duration, md metadata.MD, body []byte, jsonMode bool) []byte {
	dst = append(dst, `{"v":1,"method":`...)
	dst = appendJSONString(dst, method)
	if timeout > 0 {
		// Whole milliseconds, rounded up so a short deadline never becomes 0.
		// (Divide, then round: adding before dividing overflows near the top.)
		ms := min(timeout/time.Millisecond, MaxTimeout/time.Millisecond)
		if ms < MaxTimeout/time.Millisecond && timeout%time.Millisecond != 0 {
			ms++
		}
		dst = append(dst, `,"timeout_ms":`...)
		dst = strconv.AppendInt(dst, int64(ms), 10)
	}
	if len(md) > 0 {
		dst = append(dst, `,"metadata":`...)
		dst = appendMetadata(dst, md)
	}
	return append(appendMessage(dst, body, jsonMode), '}')
}

// appendMessage writes an envelope's message field: "json" with the
// protojson text in JSON mode, "body" with the serialized message in
// base64 otherwise.
func appendMessage(dst, body []byte, jsonMode bool) []byte {
	if jsonMode {
		dst = append(dst, `,"json":`...)
		return append(dst, body...)
	}
	dst = append(dst, `,"body":`...)
	return appendBase64String(dst, body)
}

// RequestSize is a capacity hint for AppendRequest.
func RequestSize(method string, md metadata.MD, bodyLen int, jsonMode bool) int {
	n := 64 + len(method) + MetadataSize(md)
	if jsonMode {
		return n + bodyLen
	}
	return n + base64.StdEncoding.EncodedLen(bodyLen)
}

func MetadataSize(md metadata.MD) int {
	n := 0
	for k, vs := range md {
		n += len(k) + 6
		for _, v := range vs {
			n += len(v)*4/3 + 8
		}
	}
	return n
}

// ParseRequest decodes a request envelope into env. It checks the syntax
// only; the server decides what the fields mean.
func ParseRequest(payload []byte, env *Request) error {
	r := &jsonReader{data: payload}
	it, err := r.topLevel()
	for err == nil {
		var key []byte
		var ok bool
		if key, ok, err = it.field(); !ok {
			return err
		}
		switch string(key) {
		case "v":
			env.Version, err = r.int()
		case "method":
			var m []byte
			m, err = r.str()
			env.Method = string(m)
		case "timeout_ms":
			env.Timeout, err = readTimeout(r)
			env.HasTimeout = true
		case "metadata":
			env.MD, err = readMetadata(r)
		case "body", "json":
			err = env.Payload.read(r, key[0] == 'j')
		default:
			_, err = r.skip()
		}
	}
	return err
}

// readTimeout reads "timeout_ms": a non-negative number of milliseconds,
// exact when it is an integer, up to MaxTimeout.
func readTimeout(r *jsonReader) (time.Duration, error) {
	tok, err := r.number()
	if err != nil {
		return 0, err
	}
	if bytes.IndexAny(tok, ".eE") < 0 {
		ms, err := strconv.ParseInt(string(tok), 10, 64)
		if err != nil || ms < 0 || ms > int64(MaxTimeout/time.Millisecond) {
			return 0, fmt.Errorf("timeout_ms %s out of range", tok)
		}
		return time.Duration(ms) * time.Millisecond, nil
	}
	ms, err := strconv.ParseFloat(string(tok), 64)
	if err != nil || ms < 0 || ms > maxTimeoutMillis {
		return 0, fmt.Errorf("timeout_ms %s out of range", tok)
	}
	return time.Duration(ms * float64(time.Millisecond)), nil
}

// AppendResponse writes a response envelope. details is a serialized
// google.rpc.Status, or nil when the status has no details. body is written
// only for code 0.
func AppendResponse(dst []byte, code uint32, message string, details []byte, header, trailer metadata.MD, body []byte, jsonMode bool) []byte {
	dst = appendStatus(dst, code, message, details, header, trailer)
	if code == 0 {
		dst = appendMessage(dst, body, jsonMode)
	}
	return append(dst, '}')
}

// appendStatus writes a response envelope's opening and its fields other
// than the message; the caller closes the object.
func appendStatus(dst []byte, code uint32, message string, details []byte, header, trailer metadata.MD) []byte {
	dst = append(dst, `{"v":1,"code":`...)
	dst = strconv.AppendUint(dst, uint64(code), 10)
	if message != "" {
		dst = append(dst, `,"message":`...)
		dst = appendJSONString(dst, message)
	}
	if len(details) > 0 {
		dst = append(dst, `,"details":`...)
		dst = appendBase64String(dst, details)
	}
	if len(header) > 0 {
		dst = append(dst, `,"header":`...)
		dst = appendMetadata(dst, header)
	}
	if len(trailer) > 0 {
		dst = append(dst, `,"trailer":`...)
		dst = appendMetadata(dst, trailer)
	}
	return dst
}

var errNotEnvelope = errors.New("not an envelope")

// ParseResponse decodes a response envelope, or recognises Lambda's function
// error document, which comes back in its place when the function failed.
func ParseResponse(payload []byte) (*Response, error) {
	env := &Response{}
	var fnErr FunctionError
	var isFnErr bool
	if err := readResponse(payload, env, &fnErr, &isFnErr); err != nil {
		return nil, fmt.Errorf("%w: %v", errNotEnvelope, err)
	}
	if env.Version == 0 && isFnErr {
		env.FunctionError = &fnErr
		return env, nil
	}
	if env.Version == 0 {
		return nil, fmt.Errorf("%w: no \"v\" field", errNotEnvelope)
	}
	return env, nil
}

func readResponse(payload []byte, env *Response, fnErr *FunctionError, isFnErr *bool) error {
	r := &jsonReader{data: payload}
	it, err := r.topLevel()
	for err == nil {
		var key []byte
		var ok bool
		if key, ok, err = it.field(); !ok {
			return err
		}
		switch string(key) {
		case "v":
			env.Version, err = r.int()
		case "code":
			env.Code, err = r.int()
			env.HasCode = true
		case "message":
			var m []byte
			m, err = r.str()
			env.Message = string(m)
		case "details":
			env.Details, err = r.strFast()
		case "header":
			env.Header, err = readMetadata(r)
		case "trailer":
			env.Trailer, err = readMetadata(r)
		case "body", "json":
			err = env.Payload.read(r, key[0] == 'j')
		case "errorMessage", "errorType":
			*isFnErr = true
			var s []byte
			if s, err = r.str(); err == nil {
				if key[5] == 'M' {
					fnErr.Message = string(s)
				} else {
					fnErr.Type = string(s)
				}
			}
		default:
			_, err = r.skip()
		}
	}
	return err
}
