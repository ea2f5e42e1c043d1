package runtime

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/url"
	"runtime/debug"
	"slices"
	"strings"
	"sync"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/protoc-gen-go-lambda/protoc-gen-go-lambda/runtime/internal/wire"
)

// This file is the HTTP front end: the events of Lambda Function URLs, API
// Gateway (HTTP APIs and REST APIs) and Application Load Balancers in, the
// answer in the shape of the event that asked, out (docs/http.md). Each
// request speaks one protocol, told by its method and content type: the
// Connect protocol's unary calls (protocol_connect.go) or gRPC-Web
// (protocol_grpcweb.go). Whatever the protocol, the call itself goes through
// the dispatch core, as an Invoke envelope's does.

// protocolKind is the wire protocol of one HTTP request.
type protocolKind uint8

const (
	protoNone          protocolKind = iota // not a call: answered in plain HTTP
	protoConnect                           // Connect unary, POST or GET
	protoGRPCWeb                           // gRPC-Web, binary or text
	protoConnectStream                     // Connect streaming: refused in its own framing
)

// httpCall is one call that came as an HTTP event, allocated once.
type httpCall struct {
	call
	ev  wire.HTTPEvent
	req requestHeaders
	msg httpMessage

	protocol    protocolKind
	get         bool   // a Connect GET request
	text        bool   // gRPC-Web text (application/grpc-web-text)
	contentType string // the response's content type
	reqGzip     bool   // the request message is gzip-compressed
	respGzip    bool   // the response message is to be gzip-compressed
	resp        wire.HTTPResponse

	st        *streamer // set under InvokeStream: the answer is streamed
	handedOff bool      // a goroutine streams the answer; hc is its own

	// A unary call's outcome, without its message, until its end is
	// reported (reportEnd) with the status the caller gets: replaced's when
	// encodeHTTP replaced the answer with its size-limit failure.
	ended    outcome
	endDue   bool
	replaced *status.Status
}

// requestHeaders are the request headers the protocols read; every other
// header becomes incoming metadata.
type requestHeaders struct {
	contentType        string
	contentEncoding    string
	acceptEncoding     string
	connectVersion     string
	connectTimeout     string
	connectEncoding    string // Connect-Content-Encoding, of streaming requests
	connectAccept      string // Connect-Accept-Encoding
	hasConnectTimeout  bool
	grpcTimeout        string
	grpcEncoding       string
	grpcAcceptEncoding string
	origin             string
	corsMethod         string // Access-Control-Request-Method
	corsHeaders        string // Access-Control-Request-Headers
}

// serveHTTP answers payload if it is an HTTP event; ok is false when it is
// not one, for the envelope front end to answer. With st set (InvokeStream),
// the answer to any event but a load balancer's is a streamed HTTP answer
// (contentType wire.StreamingHTTPContentType), and a server-streaming
// call's answer goes out through st as it comes, out being nil.
func (s *Server) serveHTTP(ctx context.Context, payload []byte, st *streamer) (out []byte, contentType string, ok bool) {
	hc := &httpCall{}
	isEvent, err := wire.ParseHTTPEvent(payload, &hc.ev)
	if !isEvent {
		return nil, "", false
	}
	if st != nil && hc.ev.Shape != wire.ShapeALB {
		hc.st = st
	}
	defer hc.reportEnd()
	defer func() {
		// A last resort for a bug in this package: the function keeps serving.
		if p := recover(); p != nil {
			log.Printf("protoc-gen-go-lambda: panic while serving an HTTP event: %v\n%s", p, debug.Stack())
			hc.resp = plainResponse(http.StatusInternalServerError, fmt.Sprintf("lambda: internal error: %v", p))
			if hc.st != nil {
				out, contentType = encodeStreamedHTTP(&hc.resp), wire.StreamingHTTPContentType
				return
			}
			out = wire.AppendHTTPResponse(nil, hc.ev.Shape, hc.ev.MultiValue, &hc.resp, http.StatusText(hc.resp.Status))
		}
	}()
	if err != nil {
		hc.resp = plainResponse(http.StatusBadRequest, "lambda: malformed "+shapeName(hc.ev.Shape)+" event: "+err.Error())
	} else {
		s.handleHTTP(ctx, hc, len(payload))
	}
	switch {
	case hc.handedOff:
		return nil, "", true
	case hc.st != nil:
		return encodeStreamedHTTP(&hc.resp), wire.StreamingHTTPContentType, true
	}
	return s.encodeHTTP(hc), contentTypeEnvelope, true
}

// reportEnd reports a dispatched unary call's end once its answer is
// encoded.
func (hc *httpCall) reportEnd() {
	if hc.endDue {
		hc.endDue = false
		hc.end(hc.ended, hc.replaced)
	}
}

// handleHTTP serves a well-formed event and leaves the answer in hc.resp.
func (s *Server) handleHTTP(ctx context.Context, hc *httpCall, payloadSize int) {
	hc.srv = s
	hc.req = readRequestHeaders(hc.ev.Header)
	cors := s.opts.cors
	switch hc.ev.Method {
	case http.MethodPost:
		s.servePost(ctx, hc, payloadSize)
	case http.MethodGet:
		hc.get = true
		s.serveConnectGet(ctx, hc)
	case http.MethodOptions:
		if cors != nil && hc.req.origin != "" && hc.req.corsMethod != "" {
			hc.resp = cors.preflight(&hc.req)
			return
		}
		hc.resp = methodNotAllowed("GET, POST")
	default:
		hc.resp = methodNotAllowed("GET, POST")
	}
	if cors != nil && hc.req.origin != "" && !hc.handedOff {
		cors.decorate(&hc.resp, hc.req.origin)
	}
}

// servePost serves a POST request in the protocol its content type names.
// As with connect-go behind a router, an unknown path is a 404 before the
// content type is looked at, except for plain gRPC, which is refused
// whatever it calls.
func (s *Server) servePost(ctx context.Context, hc *httpCall, payloadSize int) {
	ct := mediaType(hc.req.contentType)
	switch {
	case ct == "application/proto" || ct == "application/json":
		hc.protocol, hc.jsonMode, hc.contentType = protoConnect, ct == "application/json", canonicalContentType(hc.req.contentType)
	case ct == "application/grpc-web" || ct == "application/grpc-web+proto" || ct == "application/grpc-web+json":
		hc.protocol, hc.jsonMode, hc.contentType = protoGRPCWeb, ct == "application/grpc-web+json", ct
	case ct == "application/grpc-web-text" || ct == "application/grpc-web-text+proto" || ct == "application/grpc-web-text+json":
		hc.protocol, hc.text, hc.jsonMode, hc.contentType = protoGRPCWeb, true, ct == "application/grpc-web-text+json", ct
	case ct == "application/grpc" || strings.HasPrefix(ct, "application/grpc+"):
		hc.resp = plainGRPCRefusal()
		return
	case strings.HasPrefix(ct, "application/connect+"):
		hc.protocol, hc.contentType = protoConnectStream, ct
		hc.jsonMode = ct == "application/connect+json"
	}
	method, r, st := s.route(hc.ev.Path)
	switch {
	case st != nil && hc.protocol == protoNone:
		hc.resp = plainResponse(http.StatusNotFound, st.Message())
		return
	case st != nil:
		hc.resp = hc.routeError(st)
		return
	case hc.protocol == protoNone:
		hc.resp = unsupportedMediaType(hc.req.contentType)
		return
	}
	hc.method = method
	switch {
	case r.stream != nil && !r.serverStreaming():
		hc.resp = hc.errorResponse(streamingRefusal(method, r), nil, nil)
		return
	case hc.protocol == protoConnectStream && r.stream == nil:
		hc.resp = connectStreamRefusal(hc, r)
		return
	case hc.protocol == protoConnect && r.stream != nil:
		// As connect-go: a streaming method takes the streaming content types.
		hc.resp = unsupportedMediaType(hc.req.contentType)
		hc.resp.Body = []byte("lambda: " + method + " is a server-streaming method: call it with application/connect+proto or application/connect+json (Connect streaming), or gRPC-Web\n")
		return
	}
	body, st := hc.requestBody(payloadSize)
	if st == nil {
		switch hc.protocol {
		case protoConnect:
			st = hc.decodeConnect(body)
		case protoConnectStream:
			st = hc.decodeConnectStream(body)
		default:
			st = hc.decodeGRPCWeb(body)
		}
	}
	if st != nil {
		hc.resp = hc.errorResponse(st, nil, nil)
		return
	}
	if r.stream != nil {
		s.runStream(ctx, hc)
		return
	}
	s.run(ctx, hc)
}

// streamingRefusal is the status of a call to a client-streaming or
// bidirectional method.
func streamingRefusal(method string, r *route) *status.Status {
	return status.Newf(codes.Unimplemented, "lambda: %s is a %s method; a Lambda invocation takes its whole request before the function starts, so only unary and server-streaming methods are carried", method, wire.StreamKind(r.stream))
}

// prepare gives a decoded call its incoming metadata and request message;
// false when the headers cannot be metadata, the error answer then set.
func (hc *httpCall) prepare() bool {
	md, st := incomingMetadata(hc.ev.Header, hc.ev.Cookies)
	if st != nil {
		hc.resp = hc.errorResponse(st, nil, nil)
		return false
	}
	hc.md = md
	hc.body = &hc.msg
	return true
}

// run dispatches a decoded call and encodes its outcome.
func (s *Server) run(ctx context.Context, hc *httpCall) {
	if !hc.prepare() {
		return
	}
	hc.endLater = true
	o := hc.dispatch(ctx)
	hc.ended, hc.endDue = outcome{st: o.st, details: o.details, header: o.header, trailer: o.trailer}, true
	// A handler left running past its deadline must not read the request
	// after this (its buffers go back to the pools below).
	hc.abandon(errCallEnded)
	if o.st != nil {
		hc.resp = hc.errorResponse(o.st, o.header, o.trailer)
		return
	}
	hc.resp = hc.successResponse(o)
	o.body.Free()
}

var errCallEnded = status.Error(codes.Canceled, "lambda: the call has already been answered")

// requestBody returns the event's body, base64-decoded when it came so,
// within the front end's limit.
func (hc *httpCall) requestBody(payloadSize int) ([]byte, *status.Status) {
	if payloadSize > MaxPayloadSize {
		return nil, status.Newf(codes.ResourceExhausted, "lambda: request payload of %d bytes exceeds the Lambda limit of %d bytes", payloadSize, MaxPayloadSize)
	}
	body := hc.ev.Body
	if hc.ev.Base64 {
		dec, err := wire.DecodeBase64(make([]byte, 0, base64.StdEncoding.DecodedLen(len(body))), body)
		if err != nil {
			return nil, status.Newf(codes.InvalidArgument, "lambda: malformed %s event: the body is not valid base64: %v", shapeName(hc.ev.Shape), err)
		}
		body = dec
	}
	if hc.ev.Shape == wire.ShapeALB && len(body) > wire.MaxALBPayloadSize {
		return nil, status.Newf(codes.ResourceExhausted, "lambda: request body of %d bytes exceeds the load balancer's limit of %d bytes", len(body), wire.MaxALBPayloadSize)
	}
	return body, nil
}

// route finds the method a request path names: its last two segments,
// "/<package>.<Service>/<Method>", after any stage or base path.
func (s *Server) route(path string) (string, *route, *status.Status) {
	if strings.IndexByte(path, '%') >= 0 {
		if p, err := url.PathUnescape(path); err == nil {
			path = p
		}
	}
	method := path
	if last := strings.LastIndexByte(path, '/'); last > 0 {
		if prev := strings.LastIndexByte(path[:last], '/'); prev >= 0 {
			method = path[prev:]
		}
	}
	if r, ok := s.routes.Load().methods[method]; ok {
		return method, r, nil
	}
	_, st := s.lookup(method)
	return method, nil, st
}

// routeError answers a path that names no method: 404 for Connect, as a
// router would, with Connect's error body; gRPC-Web's UNIMPLEMENTED.
func (hc *httpCall) routeError(st *status.Status) wire.HTTPResponse {
	resp := hc.errorResponse(st, nil, nil)
	if hc.protocol == protoConnect {
		resp.Status = http.StatusNotFound
	}
	return resp
}

// errorResponse answers a call that failed with st, in its protocol.
func (hc *httpCall) errorResponse(st *status.Status, header, trailer metadata.MD) wire.HTTPResponse {
	switch hc.protocol {
	case protoConnect:
		return connectError(hc, st, header, trailer)
	case protoGRPCWeb:
		return grpcWebError(hc, st, header, trailer)
	case protoConnectStream:
		return connectStreamError(hc, st)
	}
	return plainResponse(http.StatusInternalServerError, st.Message())
}

// successResponse answers a call that succeeded, in its protocol.
func (hc *httpCall) successResponse(o outcome) wire.HTTPResponse {
	if hc.protocol == protoConnect {
		return connectSuccess(hc, o)
	}
	return grpcWebSuccess(hc, o)
}

// encodeHTTP writes the answer as the event's front end expects it, within
// that front end's limit on the response.
func (s *Server) encodeHTTP(hc *httpCall) []byte {
	resp := &hc.resp
	out := wire.AppendHTTPResponse(make([]byte, 0, responseCap(resp)), hc.ev.Shape, hc.ev.MultiValue, resp, http.StatusText(resp.Status))
	limit, what := MaxPayloadSize, "the Lambda limit"
	if hc.ev.Shape == wire.ShapeALB {
		limit, what = wire.MaxALBPayloadSize, "the load balancer's limit"
	}
	if len(out) <= limit {
		return out
	}
	st := status.Newf(codes.ResourceExhausted, "lambda: response of %d bytes exceeds %s of %d bytes", len(out), what, limit)
	hc.replaced = st
	origin := hc.req.origin
	hc.resp = hc.errorResponse(st, nil, nil)
	if cors := s.opts.cors; cors != nil && origin != "" {
		cors.decorate(&hc.resp, origin)
	}
	return wire.AppendHTTPResponse(nil, hc.ev.Shape, hc.ev.MultiValue, &hc.resp, http.StatusText(hc.resp.Status))
}

func responseCap(resp *wire.HTTPResponse) int {
	n := 128
	for _, f := range resp.Header {
		n += len(f.Name) + len(f.Value) + 8
	}
	if resp.Base64 {
		return n + base64.StdEncoding.EncodedLen(len(resp.Body))
	}
	return n + len(resp.Body) + len(resp.Body)/8
}

// readRequestHeaders picks out the headers the protocols read.
func readRequestHeaders(h []wire.Field) requestHeaders {
	var r requestHeaders
	for _, f := range h {
		var dst *string
		switch f.Name {
		case "content-type":
			dst = &r.contentType
		case "content-encoding":
			dst = &r.contentEncoding
		case "accept-encoding":
			dst = &r.acceptEncoding
		case "connect-protocol-version":
			dst = &r.connectVersion
		case "connect-timeout-ms":
			dst, r.hasConnectTimeout = &r.connectTimeout, true
		case "connect-content-encoding":
			dst = &r.connectEncoding
		case "connect-accept-encoding":
			dst = &r.connectAccept
		case "grpc-timeout":
			dst = &r.grpcTimeout
		case "grpc-encoding":
			dst = &r.grpcEncoding
		case "grpc-accept-encoding":
			dst = &r.grpcAcceptEncoding
		case "origin":
			dst = &r.origin
		case "access-control-request-method":
			dst = &r.corsMethod
		case "access-control-request-headers":
			dst = &r.corsHeaders
		default:
			continue
		}
		if *dst == "" {
			*dst = f.Value
		}
	}
	return r
}

// incomingMetadata turns request headers into the handler's incoming
// metadata, as grpc-go's server and connect-go's handlers hand them over:
// names lower-cased, "-bin" values base64-decoded (padded or not, several
// joined with commas split), cookies of a 2.0 event joined back into one
// "cookie". Left out are the headers that belong to HTTP or to the
// protocols rather than to the application (isProtocolHeader).
func incomingMetadata(h []wire.Field, cookies []string) (metadata.MD, *status.Status) {
	md := make(metadata.MD, len(h)+1)
	// One backing array for the usual single values; a repeated name's
	// append copies out of it (the slices' capacity is their length).
	values := make([]string, 0, len(h))
	for _, f := range h {
		if isProtocolHeader(f.Name) {
			continue
		}
		if !wire.IsBinaryKey(f.Name) {
			if vs, ok := md[f.Name]; ok {
				md[f.Name] = append(vs, f.Value)
				continue
			}
			values = append(values, f.Value)
			md[f.Name] = values[len(values)-1 : len(values) : len(values)]
			continue
		}
		for _, v := range strings.Split(f.Value, ",") {
			v = strings.TrimSpace(v)
			dec, err := wire.DecodeBase64(nil, []byte(v))
			if err != nil {
				// grpc-go's server refuses the call the same way.
				return nil, status.Newf(codes.Internal, "malformed binary metadata %q in header %q: %v", v, f.Name, err)
			}
			md[f.Name] = append(md[f.Name], string(dec))
		}
	}
	if len(cookies) > 0 {
		md["cookie"] = append(md["cookie"], strings.Join(cookies, "; "))
	}
	return md, nil
}

// isProtocolHeader reports whether a request header belongs to HTTP or to
// the protocols, so is not metadata: hop-by-hop headers, the message's
// framing and encoding, and what grpc-go keeps out of metadata (content-type,
// grpc-*, te). The rest (user-agent, authorization, x-forwarded-*,
// x-amzn-trace-id, ...) reaches the handler, as a grpc-go server behind a
// proxy would see it.
func isProtocolHeader(name string) bool {
	switch name {
	case "content-type", "content-length", "content-encoding", "accept-encoding",
		"transfer-encoding", "te", "trailer", "connection", "keep-alive",
		"proxy-connection", "upgrade", "host":
		return true
	}
	return strings.HasPrefix(name, "connect-") || strings.HasPrefix(name, "grpc-") && !wire.IsBinaryKey(name) || wire.IsReservedKey(name) && name != "user-agent"
}

// responseHeaders appends response metadata as HTTP headers, names sorted
// (prefix is "trailer-" for a Connect unary call's trailers): "-bin" values
// base64 without padding, as grpc-go and connect-go send them. Keys a
// protocol owns are left out.
func responseHeaders(dst []wire.Field, md metadata.MD, prefix string) []wire.Field {
	if len(md) == 0 {
		return dst
	}
	keys := make([]string, 0, len(md))
	for k, vs := range md {
		if len(vs) > 0 && !isProtocolResponseHeader(k) {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	for _, k := range keys {
		name := k
		if prefix != "" {
			name = prefix + k
		}
		bin := wire.IsBinaryKey(k)
		for _, v := range md[k] {
			if bin {
				v = base64.RawStdEncoding.EncodeToString([]byte(v))
			}
			dst = append(dst, wire.Field{Name: name, Value: v})
		}
	}
	return dst
}

// isProtocolResponseHeader reports whether a metadata key names a header
// the front end writes itself.
func isProtocolResponseHeader(key string) bool {
	switch key {
	case "content-length", "content-encoding", "accept-encoding", "transfer-encoding",
		"connection", "keep-alive", "trailer", "upgrade", "vary", "grpc-status-details-bin":
		return true
	}
	return wire.IsReservedKey(key) || strings.HasPrefix(key, "connect-") || strings.HasPrefix(key, "grpc-") ||
		strings.HasPrefix(key, "access-control-")
}

// mediaType is a content type without its parameters, lower-cased.
func mediaType(ct string) string {
	if i := strings.IndexByte(ct, ';'); i >= 0 {
		ct = ct[:i]
	}
	ct = strings.TrimSpace(ct)
	for i := 0; i < len(ct); i++ {
		if c := ct[i]; 'A' <= c && c <= 'Z' {
			return strings.ToLower(ct)
		}
	}
	return ct
}

// canonicalContentType is the Connect response's content type: the
// request's, as connect-go echoes it ("application/json; charset=utf-8"
// stays so).
func canonicalContentType(ct string) string {
	mt := mediaType(ct)
	if mt == "application/json" && strings.Contains(strings.ToLower(ct), "charset=utf-8") {
		return "application/json; charset=utf-8"
	}
	return mt
}

func plainResponse(code int, msg string) wire.HTTPResponse {
	return wire.HTTPResponse{
		Status: code,
		Header: []wire.Field{{Name: "content-type", Value: "text/plain; charset=utf-8"}},
		Body:   []byte(msg + "\n"),
	}
}

func methodNotAllowed(allow string) wire.HTTPResponse {
	resp := plainResponse(http.StatusMethodNotAllowed, "lambda: method not allowed; calls are POST (Connect, gRPC-Web) or GET (Connect, methods without side effects)")
	resp.Header = append(resp.Header, wire.Field{Name: "allow", Value: allow})
	return resp
}

// acceptPost lists the content types a POST may have (RFC 9110 Accept-Post).
const acceptPost = "application/proto, application/json, application/grpc-web, application/grpc-web+proto, application/grpc-web+json, application/grpc-web-text, application/grpc-web-text+proto"

func unsupportedMediaType(ct string) wire.HTTPResponse {
	msg := fmt.Sprintf("lambda: unsupported content type %q: calls take the Connect protocol (application/proto, application/json) or gRPC-Web (application/grpc-web[+proto|+json], application/grpc-web-text)", ct)
	if ct == "" {
		msg = "lambda: the request has no content type: calls take the Connect protocol (application/proto, application/json) or gRPC-Web (application/grpc-web[+proto|+json], application/grpc-web-text)"
	}
	resp := plainResponse(http.StatusUnsupportedMediaType, msg)
	resp.Header = append(resp.Header, wire.Field{Name: "accept-post", Value: acceptPost})
	return resp
}

// plainGRPCMessage is what a plain gRPC client is told.
const plainGRPCMessage = "lambda: plain gRPC (application/grpc) cannot reach a Lambda function through Function URLs, API Gateway or load balancers, " +
	"which carry neither HTTP/2 trailers nor streams to it; call this function with the Connect protocol (application/proto, application/json), " +
	"gRPC-Web (application/grpc-web, application/grpc-web-text), or the Lambda Invoke API (protoc-gen-go-lambda's generated client, runtime/invoke)"

// plainGRPCRefusal answers a plain gRPC request. A gRPC client reads the
// status from HTTP/2 trailers, which no HTTP front end of Lambda can send,
// so a gRPC answer could not be read reliably; a plain HTTP 415 with a text
// body is: grpc-go reports the HTTP status, the unexpected content type and
// the body, which says what to use instead. It is never taken for success.
func plainGRPCRefusal() wire.HTTPResponse {
	return plainResponse(http.StatusUnsupportedMediaType, plainGRPCMessage)
}

func shapeName(s wire.HTTPShape) string {
	switch s {
	case wire.ShapeV2:
		return "payload 2.0 (Function URL, HTTP API)"
	case wire.ShapeV1:
		return "payload 1.0 (REST API)"
	case wire.ShapeALB:
		return "load balancer"
	}
	return "HTTP"
}

// Both protocols compress with gzip, the one compression every Connect and
// gRPC-Web implementation has. Compressors are pooled: a new one allocates
// hundreds of kilobytes.
var (
	gzipWriters = sync.Pool{New: func() any { return gzip.NewWriter(nil) }}
	gzipReaders sync.Pool
)

// gzipAppend appends src, gzip-compressed, to dst.
func gzipAppend(dst, src []byte) []byte {
	w := gzipWriters.Get().(*gzip.Writer)
	buf := bytes.NewBuffer(dst)
	w.Reset(buf)
	// Writes to a bytes.Buffer cannot fail.
	_, _ = w.Write(src)
	_ = w.Close()
	gzipWriters.Put(w)
	return buf.Bytes()
}

// gunzip decompresses src, refusing to produce more than maxSize bytes, with
// connect-go's codes: INVALID_ARGUMENT for data that is not gzip,
// RESOURCE_EXHAUSTED beyond the limit.
func gunzip(src []byte, maxSize int) ([]byte, *status.Status) {
	var zr *gzip.Reader
	var err error
	if r, ok := gzipReaders.Get().(*gzip.Reader); ok {
		zr, err = r, r.Reset(bytes.NewReader(src))
	} else {
		zr, err = gzip.NewReader(bytes.NewReader(src))
	}
	if err != nil {
		return nil, status.Newf(codes.InvalidArgument, "get decompressor: %v", err)
	}
	var buf bytes.Buffer
	n, err := buf.ReadFrom(io.LimitReader(zr, int64(maxSize)+1))
	if err != nil {
		return nil, status.Newf(codes.InvalidArgument, "decompress: %v", err)
	}
	gzipReaders.Put(zr)
	if n > int64(maxSize) {
		return nil, status.Newf(codes.ResourceExhausted, "message is larger than configured max %d", maxSize)
	}
	return buf.Bytes(), nil
}

// acceptsGzip reports whether an accept-encoding list names gzip (split on
// commas and spaces, as connect-go negotiates).
func acceptsGzip(accept string) bool {
	for _, name := range strings.FieldsFunc(accept, func(r rune) bool { return r == ',' || r == ' ' }) {
		if name == "gzip" {
			return true
		}
	}
	return false
}

// requestCompression reads a request's content encoding: gzip, or none.
func requestCompression(enc string) (gzipped bool, st *status.Status) {
	switch enc {
	case "", "identity":
		return false, nil
	case "gzip":
		return true, nil
	}
	return false, status.Newf(codes.Unimplemented, "unknown compression %q: supported encodings are gzip", enc)
}

// httpMessage is the request message of an HTTP call, already unframed and
// decompressed. It decodes as connect-go's codecs do, with its codes.
type httpMessage struct {
	data     []byte
	jsonMode bool
}

func (m *httpMessage) Unmarshal(v any, maxSize int) error {
	pm, ok := v.(proto.Message)
	if !ok {
		return status.Errorf(codes.Internal, "unmarshal message: %T is not a proto.Message", v)
	}
	if len(m.data) > maxSize {
		return status.Errorf(codes.ResourceExhausted, "message size %d is larger than configured max %d", len(m.data), maxSize)
	}
	if m.jsonMode {
		if len(m.data) == 0 {
			return status.Error(codes.InvalidArgument, "unmarshal message: zero-length payload is not a valid JSON object")
		}
		if err := httpJSONUnmarshal.Unmarshal(m.data, pm); err != nil {
			return status.Errorf(codes.InvalidArgument, "unmarshal message: unmarshal into %T: %v", v, err)
		}
		return nil
	}
	if err := proto.Unmarshal(m.data, pm); err != nil {
		return status.Errorf(codes.InvalidArgument, "unmarshal message: unmarshal into %T: %v", v, err)
	}
	return nil
}

// httpJSONUnmarshal reads JSON messages as connect-go's JSON codec does:
// unknown fields are ignored.
var httpJSONUnmarshal = protojson.UnmarshalOptions{DiscardUnknown: true}
