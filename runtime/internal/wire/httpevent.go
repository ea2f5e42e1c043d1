package wire

import (
	"bytes"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"
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
	// The strings, checked and found while scanning, and copied at the
	// end into one allocation (stringArena); of the objects of headers and
	// query parameters, only those the shape says the answer uses.
	path, rawQuery                   textAt
	cookies                          cookiesAt
	single, multi, query, multiQuery fieldsAt
	headerSpans                      fieldSpans // single's
}

// ParseHTTPEvent decodes payload as an HTTP event. isEvent reports whether
// payload is one: a JSON object without the envelope's "v" that has
// "httpMethod", "rawPath" or a requestContext with "http" or "elb". When it
// is, err reports a syntax error after the point where that was clear; the
// caller answers it with an HTTP error.
//
// The strings of ev (path, query, headers, cookies; not Body) are copies,
// not parts of payload: a handler may keep its incoming metadata after the
// call, when the Lambda runtime reuses the payload's buffer. They share one
// allocation (stringArena), but for names with escapes or long non-ASCII
// ones.
func ParseHTTPEvent(payload []byte, ev *HTTPEvent) (isEvent bool, err error) {
	var sc eventScan
	err = scanEvent(payload, ev, &sc)
	isEvent = !sc.sawV && (sc.sawHTTPMethod || sc.sawRawPath || sc.sawCtxHTTP || sc.sawELB)
	var header, query *fieldsAt
	if isEvent {
		switch {
		case sc.sawELB:
			ev.Shape = ShapeALB
			ev.QueryEncoded = true
			ev.MultiValue = sc.multi.present || sc.multiQuery.present
		case sc.version2 || sc.sawRawPath || sc.sawCtxHTTP:
			ev.Shape = ShapeV2
		default:
			ev.Shape = ShapeV1
		}
		header = &sc.single
		if ev.Shape == ShapeV2 {
			ev.Method = sc.ctxMethod
		} else {
			ev.Method = sc.httpMethod
			// Where both forms are present (REST API), the multi-value one
			// has every value.
			if sc.multi.present {
				header = &sc.multi
			}
			query = &sc.query
			if sc.multiQuery.present {
				query = &sc.multiQuery
			}
		}
	}
	var strs stringArena
	size := sc.path.size() + sc.rawQuery.size() + sc.cookies.size
	if header != nil {
		size += header.size
	}
	if query != nil {
		size += query.size
	}
	strs.b.Grow(size)
	sc.path.read(payload, &strs, &ev.Path)
	sc.rawQuery.read(payload, &strs, &ev.RawQuery)
	sc.cookies.read(payload, &strs, ev)
	if !isEvent {
		return false, err
	}
	ev.Header = header.read(payload, &strs, true, header == &sc.multi, &sc.headerSpans)
	ev.Query = nil
	if query != nil {
		ev.Query = query.read(payload, &strs, false, query == &sc.multiQuery, nil)
	}
	return true, err
}

func scanEvent(payload []byte, ev *HTTPEvent, sc *eventScan) error {
	r := &jsonReader{data: payload}
	if err := r.expect('{'); err != nil {
		return err
	}
	it := fastIter{r: r}
	for {
		key, ok, err := it.next()
		if err != nil {
			return err
		}
		if !ok {
			return r.end()
		}
		if r.nullFast() {
			if string(key) == "v" {
				sc.sawV = true
			}
			continue // null is the same as an absent field
		}
		switch string(key) {
		case "v":
			sc.sawV = true
			err = r.skipFast()
		case "version":
			var s []byte
			if s, err = r.strFast(); err == nil {
				sc.version2 = string(s) == "2.0"
			}
		case "rawPath":
			sc.sawRawPath = true
			err = sc.path.scan(r)
		case "path":
			if !sc.sawRawPath {
				err = sc.path.scan(r)
			} else {
				err = r.skipFast()
			}
		case "rawQueryString":
			err = sc.rawQuery.scan(r)
		case "httpMethod":
			sc.sawHTTPMethod = true
			sc.httpMethod, err = readMethod(r)
		case "headers":
			err = sc.single.scan(r, true, false, &sc.headerSpans)
		case "multiValueHeaders":
			err = sc.multi.scan(r, true, true, nil)
		case "queryStringParameters":
			err = sc.query.scan(r, false, false, nil)
		case "multiValueQueryStringParameters":
			err = sc.multiQuery.scan(r, false, true, nil)
		case "cookies":
			err = sc.cookies.scan(r)
		case "body":
			ev.Body, err = r.strFast()
		case "isBase64Encoded":
			ev.Base64, err = readBool(r)
		case "requestContext":
			err = scanRequestContext(r, sc)
		default:
			err = r.skipValue()
		}
		if err != nil {
			return err
		}
	}
}

// scanRequestContext reads what the shape and method need from
// "requestContext" and skips the rest.
func scanRequestContext(r *jsonReader, sc *eventScan) error {
	if r.peekFast() != '{' {
		return r.skipFast()
	}
	r.pos++
	it := fastIter{r: r}
	for {
		key, ok, err := it.next()
		if err != nil || !ok {
			return err
		}
		switch string(key) {
		case "elb":
			if !r.nullFast() {
				sc.sawELB = true
				err = r.skipFast()
			}
		case "http":
			if !r.nullFast() {
				sc.sawCtxHTTP = true
				err = scanContextHTTP(r, sc)
			}
		default:
			err = r.skipValue()
		}
		if err != nil {
			return err
		}
	}
}

// scanContextHTTP reads requestContext.http's method.
func scanContextHTTP(r *jsonReader, sc *eventScan) error {
	if r.peekFast() != '{' {
		return r.skipFast()
	}
	r.pos++
	it := fastIter{r: r}
	for {
		key, ok, err := it.next()
		if err != nil || !ok {
			return err
		}
		switch {
		case string(key) != "method":
			err = r.skipValue()
		case !r.nullFast():
			sc.ctxMethod, err = readMethod(r)
		}
		if err != nil {
			return err
		}
	}
}

// readMethod reads an HTTP method; the usual ones cost no allocation.
func readMethod(r *jsonReader) (string, error) {
	s, err := r.strFast()
	if err != nil {
		return "", err
	}
	switch string(s) {
	case "GET":
		return "GET", nil
	case "POST":
		return "POST", nil
	case "OPTIONS":
		return "OPTIONS", nil
	case "HEAD":
		return "HEAD", nil
	case "PUT":
		return "PUT", nil
	case "DELETE":
		return "DELETE", nil
	case "PATCH":
		return "PATCH", nil
	}
	return string(s), nil
}

// textAt is a string of the event found while scanning: the last one of
// its field.
type textAt struct {
	set        bool
	start, end int    // where its text is in the payload, when unescaped is nil
	unescaped  []byte // its text when it has escapes
}

func (t *textAt) scan(r *jsonReader) error {
	s, start, aliased, err := r.strSpan()
	*t = textAt{set: true} // as the model, "" after an error
	switch {
	case err != nil:
		return err
	case aliased:
		t.start, t.end = start, start+len(s)
	default:
		t.unescaped = s
	}
	return nil
}

func (t *textAt) size() int { return t.end - t.start + len(t.unescaped) }

func (t *textAt) read(payload []byte, strs *stringArena, dst *string) {
	switch {
	case !t.set:
	case t.unescaped != nil:
		*dst = strs.copy(t.unescaped)
	default:
		*dst = strs.copy(payload[t.start:t.end])
	}
}

// cookiesAt is a 2.0 event's "cookies", an array of strings: the last one.
// An array that checkStrings does not pass is read at once by the model
// reader, for its error.
type cookiesAt struct {
	set       bool
	pos, n    int
	size      int // bytes of text at most
	model     bool
	modelRead []string
}

func (c *cookiesAt) scan(r *jsonReader) error {
	*c = cookiesAt{set: true, pos: r.pos}
	var ok bool
	if c.n, c.size, ok = checkStrings(r); ok {
		return nil
	}
	r.pos = c.pos
	c.model, c.size = true, 0
	return r.array(func() error {
		s, err := readString(r)
		c.modelRead = append(c.modelRead, s)
		return err
	})
}

func (c *cookiesAt) read(payload []byte, strs *stringArena, ev *HTTPEvent) {
	switch {
	case !c.set:
		return
	case c.model || c.n == 0:
		ev.Cookies = c.modelRead
		return
	}
	cookies := make([]string, c.n)
	r := &jsonReader{data: payload, pos: c.pos}
	for i := range cookies {
		r.peekFast()
		r.pos++ // '[' or ','
		cookies[i] = strs.read(r)
	}
	ev.Cookies = cookies
}

// checkStrings consumes an array of strings, as the model reader of
// "cookies" would, and counts them and their bytes (at most: escapes are
// counted as written); ok is false, and r.pos anywhere, for anything else.
func checkStrings(r *jsonReader) (n, size int, ok bool) {
	if r.peekFast() != '[' {
		return 0, 0, false
	}
	r.pos++
	if r.peekFast() == ']' {
		r.pos++
		return 0, 0, true
	}
	for {
		m, _, ok := checkString(r)
		if !ok {
			return 0, 0, false
		}
		n++
		size += m
		switch r.peekFast() {
		case ',':
			r.pos++
		case ']':
			r.pos++
			return n, size, true
		default:
			return 0, 0, false
		}
	}
}

// checkString consumes a string and returns its length as written, less
// the quotes, and whether it has escapes; ok is false for anything else.
func checkString(r *jsonReader) (n int, plain, ok bool) {
	if r.peekFast() != '"' {
		return 0, false, false
	}
	start := r.pos
	plain, err := r.strSkip()
	if err != nil {
		return 0, false, false
	}
	return r.pos - start - 2, plain, true
}

// fieldsAt is an object of headers or query parameters: "name":"value"
// (single) or "name":["value",...] (multi), null values skipped; the last
// one of its field. scan checks it where it is and counts its values;
// read makes the Fields. An object that the check does not pass is read at
// once by the model reader (readFields, readMultiFields), for its error.
type fieldsAt struct {
	present   bool // a non-null object was seen
	pos       int  // where it starts in the payload
	n         int  // values
	size      int  // bytes of names and values at most
	model     bool
	modelRead []Field
	// The check noted where each field is (in the fieldSpans it was
	// given), for read not to go over the object again.
	noted bool
}

// fieldSpans is where the names and values of an object of single fields
// are in the payload, when none has escapes and there are at most
// maxFieldSpans of them.
type fieldSpans struct {
	ok    bool
	upper bool // a name has A-Z
	n     int
	at    [maxFieldSpans]struct{ name, value span }
}

// text is where the fields are in the payload, from the first name to the
// last value.
func (s *fieldSpans) text() span {
	return span{s.at[0].name.start, s.at[s.n-1].value.end}
}

const maxFieldSpans = 32

type span struct{ start, end int32 }

func (s span) of(b []byte) []byte { return b[s.start:s.end] }

// scan checks the object at r, noting its fields in spans if not nil.
func (f *fieldsAt) scan(r *jsonReader, lower, multi bool, spans *fieldSpans) error {
	*f = fieldsAt{present: true, pos: r.pos}
	var ok bool
	if f.n, f.size, ok = checkFields(r, multi, spans); ok {
		f.noted = spans != nil && spans.ok
		if f.noted && !spans.upper && spans.n > 0 {
			t := spans.text()
			f.size = int(t.end - t.start) // read copies it whole
		}
		return nil
	}
	r.pos = f.pos
	f.model, f.size = true, 0
	var err error
	if multi {
		f.modelRead, err = readMultiFields(r, nil, lower)
	} else {
		f.modelRead, err = readFields(r, nil, lower)
	}
	return err
}

// checkFields consumes an object of fields as the model readers accept it
// and counts its values and bytes (at most); ok is false, and r.pos
// anywhere, for anything else. spans, if not nil, is set for single
// fields.
func checkFields(r *jsonReader, multi bool, spans *fieldSpans) (n, size int, ok bool) {
	if r.peekFast() != '{' {
		return 0, 0, false
	}
	r.pos++
	if spans != nil {
		spans.ok, spans.upper, spans.n = !multi && len(r.data) <= math.MaxInt32, false, 0
	}
	it := fastIter{r: r}
	for {
		key, more, err := it.next()
		if err != nil {
			return 0, 0, false
		}
		if !more {
			return n, size, true
		}
		if r.nullFast() {
			continue
		}
		var m, k int
		if multi {
			k, m, ok = checkStrings(r)
		} else {
			k = 1
			var plain bool
			m, plain, ok = checkString(r)
			if spans != nil && spans.ok {
				if spans.ok = plain && it.keyAliased && spans.n < maxFieldSpans; spans.ok {
					at := &spans.at[spans.n]
					at.name = span{int32(it.keyStart), int32(it.keyStart + len(key))}
					at.value = span{int32(r.pos - 1 - m), int32(r.pos - 1)}
					spans.upper = spans.upper || hasUpper(key)
					spans.n++
				}
			}
		}
		if !ok {
			return 0, 0, false
		}
		n += k
		size += m + len(key)
	}
}

// read returns the fields of the object scan checked, their strings in
// strs; spans is what scan was given.
func (f *fieldsAt) read(payload []byte, strs *stringArena, lower, multi bool, spans *fieldSpans) []Field {
	if f.model || f.n == 0 {
		return f.modelRead
	}
	if f.noted {
		dst := make([]Field, spans.n)
		if !spans.upper {
			// The names need no lowering: one copy of the text from the
			// first name to the last value holds them all.
			t := spans.text()
			all := strs.copy(t.of(payload))
			for i, at := range spans.at[:spans.n] {
				dst[i] = Field{Name: all[at.name.start-t.start : at.name.end-t.start], Value: all[at.value.start-t.start : at.value.end-t.start]}
			}
			return dst
		}
		for i, at := range spans.at[:spans.n] {
			dst[i] = Field{Name: fieldNameIn(strs, at.name.of(payload), true, lower), Value: strs.copy(at.value.of(payload))}
		}
		return dst
	}
	dst := make([]Field, 0, f.n)
	r := &jsonReader{data: payload, pos: f.pos}
	r.peekFast()
	r.pos++ // '{'
	it := fastIter{r: r}
	for {
		key, ok, _ := it.next()
		if !ok {
			return dst
		}
		if r.nullFast() {
			continue
		}
		name := fieldNameIn(strs, key, it.keyAliased, lower)
		if !multi {
			dst = append(dst, Field{Name: name, Value: strs.read(r)})
			continue
		}
		r.peekFast()
		r.pos++ // '['
		if r.peekFast() == ']' {
			r.pos++
			continue
		}
		for {
			dst = append(dst, Field{Name: name, Value: strs.read(r)})
			if r.peekFast() == ']' {
				r.pos++
				break
			}
			r.pos++ // ','
		}
	}
}

// fieldNameIn is fieldName(key, lower), made in strs when key is the
// payload's text (aliased): copying a name costs less than looking it up
// among the common ones.
func fieldNameIn(strs *stringArena, key []byte, aliased, lower bool) string {
	switch {
	case !aliased:
		return fieldName(key, lower)
	case !lower || !hasUpper(key):
		return strs.copy(key)
	case lowersAsASCII(key):
		return strs.lower(key)
	}
	return fieldName(key, lower)
}

func hasUpper(b []byte) bool {
	for _, c := range b {
		if 'A' <= c && c <= 'Z' {
			return true
		}
	}
	return false
}

// lowersAsASCII reports whether fieldName lowers key as stringArena.lower
// does, A-Z only: always but for a long name with non-ASCII bytes, which
// it lowers with strings.ToLower.
func lowersAsASCII(key []byte) bool {
	if len(key) <= 32 {
		return true
	}
	for _, c := range key {
		if c >= utf8.RuneSelf {
			return false
		}
	}
	return true
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
