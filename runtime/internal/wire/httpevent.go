package wire

import (
	"bytes"
	"strconv"
	"strings"
)

// This file reads the HTTP events Lambda's HTTP front ends send a function
// and writes the answers they expect, with the same small JSON reader as the
// envelope: the body, which can be megabytes of base64, is a sub-slice of
// the payload, not a copy.
//
// The shapes (AWS's documentation, and aws-lambda-go's events package):
//
//   - payload 2.0 (Function URLs, API Gateway HTTP APIs): "version":"2.0",
//     "rawPath", "rawQueryString", "headers" (names lower-cased, repeats
//     joined with commas), "cookies", "body", "isBase64Encoded",
//     "requestContext":{"http":{"method":...}};
//   - payload 1.0 (API Gateway REST APIs, HTTP APIs set to 1.0): "httpMethod",
//     "path", "headers" and "multiValueHeaders", "queryStringParameters" and
//     "multiValueQueryStringParameters" (decoded), "body", "isBase64Encoded";
//   - Application Load Balancer: as 1.0, with "requestContext":{"elb":{...}},
//     and either "headers" and "queryStringParameters" or, when the target
//     group enables multi-value headers, only their "multiValue" forms; query
//     values arrive still percent-encoded.

// HTTPShape is the event shape a request came in, which is the shape its
// answer must take.
type HTTPShape uint8

// The event shapes.
const (
	ShapeV2  HTTPShape = iota + 1 // payload 2.0: Function URL, HTTP API
	ShapeV1                       // payload 1.0: REST API (HTTP API set to 1.0)
	ShapeALB                      // Application Load Balancer
)

// Field is one HTTP header or query parameter.
type Field struct {
	Name, Value string
}

// HTTPEvent is a decoded HTTP event. Body aliases the payload when the
// event's body string has no escapes.
type HTTPEvent struct {
	Shape HTTPShape
	// MultiValue is set when an ALB target group sends multi-value headers:
	// the answer must then use "multiValueHeaders" too.
	MultiValue bool
	Method     string // the HTTP method, upper-case as sent
	Path       string // rawPath (2.0) or path (1.0, ALB), as sent
	RawQuery   string // the query string of a 2.0 event, percent-encoded
	// Query is the query parameters of a 1.0 or ALB event, decoded for 1.0
	// and still percent-encoded for ALB (QueryEncoded).
	Query        []Field
	QueryEncoded bool
	// Header has the request's headers with lower-cased names, one Field per
	// value; a 2.0 event's repeated headers arrive joined with commas.
	Header  []Field
	Cookies []string // the "cookies" of a 2.0 event
	Body    []byte   // as sent: base64 text when Base64 is set
	Base64  bool
}

// LooksLikeEnvelope reports whether payload starts as this project's clients
// write a request envelope ({"v":...), so that the envelope path needs no
// other test.
func LooksLikeEnvelope(payload []byte) bool {
	r := jsonReader{data: payload}
	if r.peek() != '{' {
		return false
	}
	r.pos++
	if r.peek() != '"' {
		return false
	}
	return bytes.HasPrefix(payload[r.pos:], []byte(`"v"`))
}

// eventScan collects what ParseHTTPEvent sees before it decides the shape.
type eventScan struct {
	sawV, sawHTTPMethod, sawRawPath, sawCtxHTTP, sawELB bool
	version2                                            bool
	ctxMethod, httpMethod                               string
	single, multi                                       []Field
	hasMulti                                            bool
	query, multiQuery                                   []Field
	hasMultiQuery                                       bool
}

// ParseHTTPEvent decodes payload as an HTTP event. isEvent reports whether
// payload is one: a JSON object without the envelope's "v" that has
// "httpMethod", "rawPath" or a requestContext with "http" or "elb". When it
// is, err reports a syntax error after the point where that was clear; the
// caller answers it with an HTTP error.
func ParseHTTPEvent(payload []byte, ev *HTTPEvent) (isEvent bool, err error) {
	var sc eventScan
	err = scanEvent(payload, ev, &sc)
	isEvent = !sc.sawV && (sc.sawHTTPMethod || sc.sawRawPath || sc.sawCtxHTTP || sc.sawELB)
	if !isEvent {
		return false, err
	}
	switch {
	case sc.sawELB:
		ev.Shape = ShapeALB
		ev.QueryEncoded = true
		ev.MultiValue = sc.hasMulti || sc.hasMultiQuery
	case sc.version2 || sc.sawRawPath || sc.sawCtxHTTP:
		ev.Shape = ShapeV2
	default:
		ev.Shape = ShapeV1
	}
	if ev.Shape == ShapeV2 {
		ev.Method = sc.ctxMethod
		ev.Header = sc.single
		ev.Query = nil
	} else {
		ev.Method = sc.httpMethod
		// Where both forms are present (REST API), the multi-value one has
		// every value.
		ev.Header = sc.single
		if sc.hasMulti {
			ev.Header = sc.multi
		}
		ev.Query = sc.query
		if sc.hasMultiQuery {
			ev.Query = sc.multiQuery
		}
	}
	return true, err
}

func scanEvent(payload []byte, ev *HTTPEvent, sc *eventScan) error {
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
		if r.null() {
			if string(key) == "v" {
				sc.sawV = true
			}
			continue // null is the same as an absent field
		}
		switch string(key) {
		case "v":
			sc.sawV = true
			_, err = r.skip()
		case "version":
			var s []byte
			if s, err = r.str(); err == nil {
				sc.version2 = string(s) == "2.0"
			}
		case "rawPath":
			sc.sawRawPath = true
			ev.Path, err = readString(r)
		case "path":
			if !sc.sawRawPath {
				ev.Path, err = readString(r)
			} else {
				_, err = r.skip()
			}
		case "rawQueryString":
			ev.RawQuery, err = readString(r)
		case "httpMethod":
			sc.sawHTTPMethod = true
			sc.httpMethod, err = readString(r)
		case "headers":
			sc.single, err = readFields(r, sc.single[:0], true)
		case "multiValueHeaders":
			sc.hasMulti = true
			sc.multi, err = readMultiFields(r, sc.multi[:0], true)
		case "queryStringParameters":
			sc.query, err = readFields(r, sc.query[:0], false)
		case "multiValueQueryStringParameters":
			sc.hasMultiQuery = true
			sc.multiQuery, err = readMultiFields(r, sc.multiQuery[:0], false)
		case "cookies":
			ev.Cookies = ev.Cookies[:0]
			err = r.array(func() error {
				s, err := readString(r)
				ev.Cookies = append(ev.Cookies, s)
				return err
			})
		case "body":
			ev.Body, err = r.str()
		case "isBase64Encoded":
			ev.Base64, err = readBool(r)
		case "requestContext":
			err = scanRequestContext(r, sc)
		default:
			_, err = r.skip()
		}
		if err != nil {
			return err
		}
	}
}

// scanRequestContext reads what the shape and method need from
// "requestContext" and skips the rest.
func scanRequestContext(r *jsonReader, sc *eventScan) error {
	if r.peek() != '{' {
		_, err := r.skip()
		return err
	}
	return r.object(func(key []byte) error {
		switch string(key) {
		case "elb":
			if !r.null() {
				sc.sawELB = true
				_, err := r.skip()
				return err
			}
			return nil
		case "http":
			if r.null() {
				return nil
			}
			sc.sawCtxHTTP = true
			if r.peek() != '{' {
				_, err := r.skip()
				return err
			}
			return r.object(func(key []byte) error {
				if string(key) == "method" && !r.null() {
					var err error
					sc.ctxMethod, err = readString(r)
					return err
				}
				_, err := r.skip()
				return err
			})
		}
		_, err := r.skip()
		return err
	})
}

func readString(r *jsonReader) (string, error) {
	s, err := r.str()
	return string(s), err
}

func readBool(r *jsonReader) (bool, error) {
	switch r.peek() {
	case 't':
		if bytes.HasPrefix(r.data[r.pos:], []byte("true")) {
			r.pos += 4
			return true, nil
		}
	case 'f':
		if bytes.HasPrefix(r.data[r.pos:], []byte("false")) {
			r.pos += 5
			return false, nil
		}
	}
	return false, r.errorf("want true or false")
}

// readFields reads an object of strings (null values are skipped).
func readFields(r *jsonReader, dst []Field, lower bool) ([]Field, error) {
	err := r.object(func(key []byte) error {
		if r.null() {
			return nil
		}
		v, err := readString(r)
		dst = append(dst, Field{Name: fieldName(key, lower), Value: v})
		return err
	})
	return dst, err
}

// readMultiFields reads an object of string arrays.
func readMultiFields(r *jsonReader, dst []Field, lower bool) ([]Field, error) {
	err := r.object(func(key []byte) error {
		if r.null() {
			return nil
		}
		name := fieldName(key, lower)
		return r.array(func() error {
			v, err := readString(r)
			dst = append(dst, Field{Name: name, Value: v})
			return err
		})
	})
	return dst, err
}

// fieldName is a header name lower-cased (lower) or a query parameter's
// name; the usual header names cost no allocation.
func fieldName(key []byte, lower bool) string {
	if !lower {
		return string(key)
	}
	var buf [32]byte
	if len(key) > len(buf) {
		return strings.ToLower(string(key))
	}
	b := buf[:len(key)]
	for i, c := range key {
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		b[i] = c
	}
	if name := commonHeader(b); name != "" {
		return name
	}
	return string(b)
}

// commonHeader returns name as a constant string when it is a header most
// requests carry, or "".
func commonHeader(name []byte) string {
	switch string(name) { // no allocation: the compiler compares the bytes
	case "accept":
		return "accept"
	case "accept-encoding":
		return "accept-encoding"
	case "accept-language":
		return "accept-language"
	case "authorization":
		return "authorization"
	case "connect-protocol-version":
		return "connect-protocol-version"
	case "connect-timeout-ms":
		return "connect-timeout-ms"
	case "content-encoding":
		return "content-encoding"
	case "content-length":
		return "content-length"
	case "content-type":
		return "content-type"
	case "cookie":
		return "cookie"
	case "grpc-accept-encoding":
		return "grpc-accept-encoding"
	case "grpc-encoding":
		return "grpc-encoding"
	case "grpc-timeout":
		return "grpc-timeout"
	case "host":
		return "host"
	case "origin":
		return "origin"
	case "referer":
		return "referer"
	case "user-agent":
		return "user-agent"
	case "x-amzn-tls-cipher-suite":
		return "x-amzn-tls-cipher-suite"
	case "x-amzn-tls-version":
		return "x-amzn-tls-version"
	case "x-amzn-trace-id":
		return "x-amzn-trace-id"
	case "x-forwarded-for":
		return "x-forwarded-for"
	case "x-forwarded-port":
		return "x-forwarded-port"
	case "x-forwarded-proto":
		return "x-forwarded-proto"
	case "x-grpc-web":
		return "x-grpc-web"
	case "x-user-agent":
		return "x-user-agent"
	}
	return ""
}

// MaxALBPayloadSize is an Application Load Balancer's limit on a Lambda
// target's request and response: 1 MB (1,048,576 bytes).
const MaxALBPayloadSize = 1 << 20

// HTTPResponse is an answer to an HTTP event.
type HTTPResponse struct {
	Status int
	// Header has one Field per value; the values of one name must be
	// adjacent. Names are written as given.
	Header []Field
	Body   []byte
	// Base64 sends Body base64-encoded, for the front end to decode: needed
	// for any body that is not UTF-8 text.
	Base64 bool
}

// AppendHTTPResponse writes resp in the shape the event that asked for it
// expects. statusText is the reason phrase an ALB needs ("OK").
func AppendHTTPResponse(dst []byte, shape HTTPShape, multiValue bool, resp *HTTPResponse, statusText string) []byte {
	dst = append(dst, `{"statusCode":`...)
	dst = strconv.AppendInt(dst, int64(resp.Status), 10)
	if shape == ShapeALB {
		dst = append(dst, `,"statusDescription":`...)
		dst = appendJSONString(dst, strconv.Itoa(resp.Status)+" "+statusText)
	}
	switch {
	case shape == ShapeALB && multiValue:
		dst = append(dst, `,"multiValueHeaders":`...)
		dst = appendHeaders(dst, resp.Header, 0)
	case shape == ShapeV1:
		// Single values in "headers", repeated ones in "multiValueHeaders":
		// API Gateway merges the two.
		dst = append(dst, `,"headers":`...)
		dst = appendHeaders(dst, resp.Header, 1)
		dst = append(dst, `,"multiValueHeaders":`...)
		dst = appendHeaders(dst, resp.Header, 2)
	default:
		// 2.0 and single-value ALB: repeats joined with commas, as HTTP
		// allows for any header but Set-Cookie.
		dst = append(dst, `,"headers":`...)
		dst = appendHeaders(dst, resp.Header, 3)
	}
	dst = append(dst, `,"body":`...)
	if resp.Base64 {
		dst = appendBase64String(dst, resp.Body)
	} else {
		dst = AppendJSONBytes(dst, resp.Body)
	}
	if resp.Base64 {
		dst = append(dst, `,"isBase64Encoded":true}`...)
	} else {
		dst = append(dst, `,"isBase64Encoded":false}`...)
	}
	return dst
}

// appendHeaders writes h as a JSON object. mode 0: every name as an array;
// 1: names with one value only, as strings; 2: names with several values
// only, as arrays; 3: every name as a string, repeats joined.
func appendHeaders(dst []byte, h []Field, mode int) []byte {
	dst = append(dst, '{')
	first := true
	for i := 0; i < len(h); {
		j := i + 1
		for j < len(h) && h[j].Name == h[i].Name {
			j++
		}
		n := j - i
		if mode == 1 && n != 1 || mode == 2 && n == 1 {
			i = j
			continue
		}
		if !first {
			dst = append(dst, ',')
		}
		first = false
		dst = appendJSONString(dst, h[i].Name)
		dst = append(dst, ':')
		switch mode {
		case 0, 2:
			dst = append(dst, '[')
			for k := i; k < j; k++ {
				if k > i {
					dst = append(dst, ',')
				}
				dst = appendJSONString(dst, h[k].Value)
			}
			dst = append(dst, ']')
		case 1:
			dst = appendJSONString(dst, h[i].Value)
		default:
			if n == 1 {
				dst = appendJSONString(dst, h[i].Value)
				break
			}
			sep := ", "
			if IsBinaryKey(h[i].Name) {
				sep = "," // base64 values: split on commas, never trimmed
			}
			var b strings.Builder
			for k := i; k < j; k++ {
				if k > i {
					b.WriteString(sep)
				}
				b.WriteString(h[k].Value)
			}
			dst = appendJSONString(dst, b.String())
		}
		i = j
	}
	return append(dst, '}')
}
