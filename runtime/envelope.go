package runtime

import (
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

// requestEnvelope is a decoded request. body and json alias the payload.
type requestEnvelope struct {
	version    int64
	method     string
	timeout    time.Duration
	hasTimeout bool
	md         metadata.MD
	messageFields
}

// responseEnvelope is a decoded response. body and json alias the payload.
type responseEnvelope struct {
	version int64
	code    int64
	message string
	details []byte // base64 text of a google.rpc.Status
	header  metadata.MD
	trailer metadata.MD
	messageFields
	hasCode  bool
	lambdaFn *functionError // set when the payload is a Lambda function error document
}

// messageFields are the envelope fields that carry the message, in either
// mode; body and json alias the payload.
type messageFields struct {
	body    []byte // base64 text of the protobuf message (binary mode)
	json    []byte // protojson text of the message (JSON mode)
	hasBody bool
	hasJSON bool
}

// read reads the "body" (jsonMode false) or "json" field's value; null
// counts as absent.
func (m *messageFields) read(r *jsonReader, jsonMode bool) (err error) {
	switch {
	case r.null():
	case jsonMode:
		m.json, err = r.skip()
		m.hasJSON = true
	default:
		m.body, err = r.str()
		m.hasBody = true
	}
	return err
}

// unmarshal decodes the message into v, enforcing the receive limit.
func (m *messageFields) unmarshal(v any, maxSize int) error {
	return unmarshalBody(m.body, m.json, m.hasJSON, v, maxSize)
}

// functionError is the document Lambda returns when a function fails:
// {"errorMessage": "...", "errorType": "...", "stackTrace": [...]}.
type functionError struct {
	Message string
	Type    string
}

// maxTimeoutMillis keeps a decoded timeout inside time.Duration.
const maxTimeoutMillis = float64(math.MaxInt64 / int64(time.Millisecond))

// appendRequest writes a request envelope. In binary mode body is the
// serialized message; in JSON mode it is its protojson text.
func appendRequest(dst []byte, method string, timeout time.Duration, md metadata.MD, body []byte, jsonMode bool) []byte {
	dst = append(dst, `{"v":1,"method":`...)
	dst = appendJSONString(dst, method)
	if timeout > 0 {
		// Whole milliseconds, rounded up so a short deadline never becomes 0.
		ms := (timeout + time.Millisecond - 1) / time.Millisecond
		dst = append(dst, `,"timeout_ms":`...)
		dst = strconv.AppendInt(dst, int64(ms), 10)
	}
	if len(md) > 0 {
		dst = append(dst, `,"metadata":`...)
		dst = appendMetadata(dst, md)
	}
	if jsonMode {
		dst = append(dst, `,"json":`...)
		dst = append(dst, body...)
	} else {
		dst = append(dst, `,"body":`...)
		dst = appendBase64String(dst, body)
	}
	return append(dst, '}')
}

// requestSize is a capacity hint for appendRequest.
func requestSize(method string, md metadata.MD, bodyLen int, jsonMode bool) int {
	n := 64 + len(method) + metadataSize(md)
	if jsonMode {
		return n + bodyLen
	}
	return n + base64.StdEncoding.EncodedLen(bodyLen)
}

func metadataSize(md metadata.MD) int {
	n := 0
	for k, vs := range md {
		n += len(k) + 6
		for _, v := range vs {
			n += len(v)*4/3 + 8
		}
	}
	return n
}

// parseRequest decodes a request envelope into env. It checks the syntax
// only; the server decides what the fields mean.
func parseRequest(payload []byte, env *requestEnvelope) error {
	r := &jsonReader{data: payload}
	if err := r.expect('{'); err != nil {
		return err
	}
	it := objectIter{r: r}
	for {
		key, ok, err := it.next()
		if err != nil {
			return err
		}
		if !ok {
			return r.end()
		}
		switch string(key) {
		case "v":
			env.version, err = r.int()
		case "method":
			var m []byte
			m, err = r.str()
			env.method = string(m)
		case "timeout_ms":
			if r.null() {
				continue
			}
			var ms float64
			ms, err = r.float()
			if err == nil && (ms < 0 || ms > maxTimeoutMillis || math.IsNaN(ms)) {
				err = fmt.Errorf("timeout_ms %v out of range", ms)
			}
			env.timeout = time.Duration(ms * float64(time.Millisecond))
			env.hasTimeout = true
		case "metadata":
			env.md, err = readMetadata(r)
		case "body", "json":
			err = env.messageFields.read(r, key[0] == 'j')
		default:
			_, err = r.skip()
		}
		if err != nil {
			return err
		}
	}
}

// appendResponse writes a response envelope. details is a serialized
// google.rpc.Status, or nil when the status has no details. body is written
// only for code 0.
func appendResponse(dst []byte, code uint32, message string, details []byte, header, trailer metadata.MD, body []byte, jsonMode bool) []byte {
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
	if code == 0 {
		if jsonMode {
			dst = append(dst, `,"json":`...)
			dst = append(dst, body...)
		} else {
			dst = append(dst, `,"body":`...)
			dst = appendBase64String(dst, body)
		}
	}
	return append(dst, '}')
}

var errNotEnvelope = errors.New("not an envelope")

// parseResponse decodes a response envelope, or recognises Lambda's function
// error document, which comes back in its place when the function failed.
func parseResponse(payload []byte) (*responseEnvelope, error) {
	env := &responseEnvelope{}
	var fnErr functionError
	var isFnErr bool
	if err := readResponse(payload, env, &fnErr, &isFnErr); err != nil {
		return nil, fmt.Errorf("%w: %v", errNotEnvelope, err)
	}
	if env.version == 0 && isFnErr {
		env.lambdaFn = &fnErr
		return env, nil
	}
	if env.version == 0 {
		return nil, fmt.Errorf("%w: no \"v\" field", errNotEnvelope)
	}
	return env, nil
}

func readResponse(payload []byte, env *responseEnvelope, fnErr *functionError, isFnErr *bool) error {
	r := &jsonReader{data: payload}
	if err := r.expect('{'); err != nil {
		return err
	}
	it := objectIter{r: r}
	for {
		key, ok, err := it.next()
		if err != nil {
			return err
		}
		if !ok {
			return r.end()
		}
		switch string(key) {
		case "v":
			env.version, err = r.int()
		case "code":
			env.code, err = r.int()
			env.hasCode = true
		case "message":
			var m []byte
			m, err = r.str()
			env.message = string(m)
		case "details":
			if !r.null() {
				env.details, err = r.str()
			}
		case "header":
			env.header, err = readMetadata(r)
		case "trailer":
			env.trailer, err = readMetadata(r)
		case "body", "json":
			err = env.messageFields.read(r, key[0] == 'j')
		case "errorMessage", "errorType":
			*isFnErr = true
			if r.null() {
				continue
			}
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
		if err != nil {
			return err
		}
	}
}
