package runtime

import (
	"context"
	"encoding/base64"
	"encoding/binary"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"

	"github.com/protoc-gen-go-lambda/protoc-gen-go-lambda/runtime/internal/wire"
)

// This file is the Connect protocol's unary calls on the HTTP front end
// (https://connectrpc.com/docs/protocol), as connect-go's handler speaks
// them: POST with application/proto or application/json, GET for methods
// without side effects, gzip, Connect-Timeout-Ms, Connect-Protocol-Version,
// errors as Connect's JSON error body with connect-go's HTTP status, and
// trailers as "trailer-" headers, since no HTTP front end of Lambda passes
// HTTP trailers.

// decodeConnect reads a Connect unary POST's headers and body into hc.
func (hc *httpCall) decodeConnect(body []byte) *status.Status {
	if st := hc.connectHeaders(hc.req.contentEncoding); st != nil {
		return st
	}
	if v := hc.req.connectVersion; v != "" && v != "1" {
		return status.Newf(codes.InvalidArgument, "connect-protocol-version must be %q: got %q", "1", v)
	}
	return hc.setMessage(body, hc.reqGzip)
}

// connectHeaders reads the timeout and negotiates compression.
func (hc *httpCall) connectHeaders(contentEncoding string) *status.Status {
	var st *status.Status
	if hc.reqGzip, st = requestCompression(contentEncoding); st != nil {
		return st
	}
	hc.respGzip = hc.reqGzip || acceptsGzip(hc.req.acceptEncoding)
	if hc.ev.Shape == wire.ShapeV1 && !hc.ev.Base64 {
		// A REST API passes a binary answer only for binaryMediaTypes, and
		// sent this request as text: it has none for it. Do not turn a JSON
		// answer into binary.
		hc.respGzip = false
	}
	if hc.req.hasConnectTimeout {
		d, st := parseConnectTimeout(hc.req.connectTimeout)
		if st != nil {
			return st
		}
		hc.timeout, hc.hasTimeout = d, true
	}
	return nil
}

// setMessage keeps the request message, decompressed, within the limit.
func (hc *httpCall) setMessage(data []byte, gzipped bool) *status.Status {
	limit := hc.srv.opts.maxRecvMsgSize
	if gzipped && len(data) > 0 {
		var st *status.Status
		if data, st = gunzip(data, limit); st != nil {
			return st
		}
	}
	if len(data) > limit {
		return status.Newf(codes.ResourceExhausted, "message size %d is larger than configured max %d", len(data), limit)
	}
	hc.msg = httpMessage{data: data, jsonMode: hc.jsonMode}
	return nil
}

// parseConnectTimeout reads Connect-Timeout-Ms as connect-go does: at most
// ten digits of milliseconds.
func parseConnectTimeout(v string) (time.Duration, *status.Status) {
	if len(v) > 10 {
		return 0, status.Newf(codes.InvalidArgument, "parse timeout: %q has >10 digits", v)
	}
	ms, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return 0, status.Newf(codes.InvalidArgument, "parse timeout: %v", err)
	}
	if ms < 0 {
		return 0, status.Newf(codes.InvalidArgument, "parse timeout: %q is negative", v)
	}
	return time.Duration(ms) * time.Millisecond, nil
}

// serveConnectGet serves a Connect GET request:
// ?encoding=proto|json&message=...&base64=1&compression=gzip&connect=v1,
// allowed only for methods marked idempotency_level = NO_SIDE_EFFECTS, so
// that a CDN may cache the answer.
func (s *Server) serveConnectGet(ctx context.Context, hc *httpCall) {
	hc.protocol = protoConnect
	method, r, st := s.route(hc.ev.Path)
	if st != nil {
		hc.resp = hc.routeError(st)
		return
	}
	hc.method = method
	if r.stream != nil || !noSideEffects(method) {
		hc.resp = methodNotAllowed("POST")
		hc.resp.Body = []byte("lambda: GET is for methods with option idempotency_level = NO_SIDE_EFFECTS; " + method + " takes POST\n")
		return
	}
	if len(hc.ev.Body) > 0 {
		hc.resp = unsupportedMediaType(hc.req.contentType)
		hc.resp.Body = []byte("lambda: a Connect GET request has no body\n")
		return
	}
	q := hc.query()
	switch enc := q.Get("encoding"); enc {
	case "proto", "json":
		hc.jsonMode, hc.contentType = enc == "json", "application/"+enc
	default:
		hc.protocol = protoNone
		hc.resp = unsupportedMediaType("application/" + enc)
		return
	}
	if st := hc.decodeConnectGet(q); st != nil {
		hc.resp = hc.errorResponse(st, nil, nil)
		return
	}
	s.run(ctx, hc)
}

func (hc *httpCall) decodeConnectGet(q url.Values) *status.Status {
	if st := hc.connectHeaders(q.Get("compression")); st != nil {
		return st
	}
	if v := q.Get("connect"); v != "" && v != "v1" {
		return status.Newf(codes.InvalidArgument, "connect must be %q: got %q", "v1", v)
	}
	if !q.Has("message") {
		return status.New(codes.InvalidArgument, "missing message parameter")
	}
	msg := []byte(q.Get("message"))
	if q.Get("base64") == "1" {
		enc := base64.URLEncoding
		if len(msg)%4 != 0 {
			enc = base64.RawURLEncoding
		}
		dec, err := enc.AppendDecode(nil, msg)
		if err != nil {
			return status.Newf(codes.InvalidArgument, "lambda: the message parameter is not valid base64url: %v", err)
		}
		msg = dec
	}
	return hc.setMessage(msg, hc.reqGzip)
}

// query is the request's query parameters, decoded.
func (hc *httpCall) query() url.Values {
	if hc.ev.Shape == wire.ShapeV2 {
		q, _ := url.ParseQuery(hc.ev.RawQuery) // keeps what parses
		return q
	}
	q := make(url.Values, len(hc.ev.Query))
	for _, f := range hc.ev.Query {
		name, value := f.Name, f.Value
		if hc.ev.QueryEncoded {
			// A load balancer passes the query as the client wrote it.
			if n, err := url.QueryUnescape(name); err == nil {
				name = n
			}
			if v, err := url.QueryUnescape(value); err == nil {
				value = v
			}
		}
		q[name] = append(q[name], value)
	}
	return q
}

// noSideEffectsCache holds, per full method name, whether the method is
// marked NO_SIDE_EFFECTS. Only registered methods are looked up, so it is
// bounded by them; each is read from the proto registry once.
var noSideEffectsCache sync.Map

// noSideEffects reports whether a method's descriptor, found in the proto
// registry of the files linked in, says idempotency_level = NO_SIDE_EFFECTS,
// which allows Connect GET. (Reading descriptor options links package
// descriptorpb into the function.)
func noSideEffects(method string) bool {
	if v, ok := noSideEffectsCache.Load(method); ok {
		return v.(bool)
	}
	name := protoreflect.FullName(strings.ReplaceAll(strings.TrimPrefix(method, "/"), "/", "."))
	ok := false
	if d, err := protoregistry.GlobalFiles.FindDescriptorByName(name); err == nil {
		if md, isMethod := d.(protoreflect.MethodDescriptor); isMethod {
			opts, _ := md.Options().(*descriptorpb.MethodOptions)
			ok = opts.GetIdempotencyLevel() == descriptorpb.MethodOptions_NO_SIDE_EFFECTS
		}
	}
	noSideEffectsCache.Store(method, ok)
	return ok
}

// connectHeaderFields starts a Connect answer's headers.
func connectHeaderFields(hc *httpCall, contentType string, n int) []wire.Field {
	h := make([]wire.Field, 0, n+4)
	h = append(h, wire.Field{Name: "content-type", Value: contentType}, wire.Field{Name: "accept-encoding", Value: "gzip"})
	if hc.get {
		// The answer depends on the compression asked for: caches must know.
		h = append(h, wire.Field{Name: "vary", Value: "Accept-Encoding"})
	}
	return h
}

// connectSuccess answers a call that succeeded: the message as the body,
// header metadata as headers, trailer metadata as "trailer-" headers.
func connectSuccess(hc *httpCall, o outcome) wire.HTTPResponse {
	h := connectHeaderFields(hc, hc.contentType, len(o.header)+len(o.trailer)+1)
	body := o.body.B
	if hc.respGzip {
		h = append(h, wire.Field{Name: "content-encoding", Value: "gzip"})
		body = gzipAppend(make([]byte, 0, len(body)/2+64), body)
	} else {
		body = append([]byte(nil), body...) // o.body goes back to its pool
	}
	h = responseHeaders(h, o.header, "")
	h = responseHeaders(h, o.trailer, "trailer-")
	return wire.HTTPResponse{Status: http.StatusOK, Header: h, Body: body, Base64: !hc.jsonMode || hc.respGzip}
}

// connectError answers a call that failed: connect-go's HTTP status for the
// code and Connect's JSON error body, never compressed; metadata as on
// success.
func connectError(hc *httpCall, st *status.Status, header, trailer metadata.MD) wire.HTTPResponse {
	if st.Code() == codes.OK {
		// A handler error whose GRPCStatus says OK: grpc-go's server ends the
		// call OK without a message, which a Connect answer cannot say (an
		// empty body is the empty message); say what grpc-go's client
		// reports for it instead.
		st = errNoResponseMessage
	}
	h := connectHeaderFields(hc, "application/json", len(header)+len(trailer))
	h = responseHeaders(h, header, "")
	h = responseHeaders(h, trailer, "trailer-")
	return wire.HTTPResponse{Status: connectHTTPStatus(st.Code()), Header: h, Body: appendConnectError(nil, st)}
}

// appendConnectError writes Connect's JSON error object:
// {"code":"not_found","message":"...","details":[{"type":"google.rpc.ResourceInfo",
// "value":"<base64, unpadded>","debug":{...}}]}. debug, the detail in
// protojson, is there when its type is linked in.
func appendConnectError(dst []byte, st *status.Status) []byte {
	dst = append(dst, `{"code":`...)
	dst = wire.AppendJSONString(dst, connectCodeName(st.Code()))
	if msg := st.Message(); msg != "" {
		dst = append(dst, `,"message":`...)
		dst = wire.AppendJSONString(dst, msg)
	}
	if details := st.Proto().GetDetails(); len(details) > 0 {
		dst = append(dst, `,"details":[`...)
		for i, d := range details {
			if i > 0 {
				dst = append(dst, ',')
			}
			typeURL := d.GetTypeUrl()
			dst = append(dst, `{"type":`...)
			dst = wire.AppendJSONString(dst, typeURL[strings.LastIndexByte(typeURL, '/')+1:])
			dst = append(dst, `,"value":"`...)
			dst = base64.RawStdEncoding.AppendEncode(dst, d.GetValue())
			dst = append(dst, '"')
			if m, err := d.UnmarshalNew(); err == nil {
				if debug, err := protojson.Marshal(m); err == nil {
					dst = append(dst, `,"debug":`...)
					dst = append(dst, debug...)
				}
			}
			dst = append(dst, '}')
		}
		dst = append(dst, ']')
	}
	return append(dst, '}')
}

// connectCodeName is a code's name in the Connect protocol.
func connectCodeName(c codes.Code) string {
	switch c {
	case codes.Canceled:
		return "canceled"
	case codes.Unknown:
		return "unknown"
	case codes.InvalidArgument:
		return "invalid_argument"
	case codes.DeadlineExceeded:
		return "deadline_exceeded"
	case codes.NotFound:
		return "not_found"
	case codes.AlreadyExists:
		return "already_exists"
	case codes.PermissionDenied:
		return "permission_denied"
	case codes.ResourceExhausted:
		return "resource_exhausted"
	case codes.FailedPrecondition:
		return "failed_precondition"
	case codes.Aborted:
		return "aborted"
	case codes.OutOfRange:
		return "out_of_range"
	case codes.Unimplemented:
		return "unimplemented"
	case codes.Internal:
		return "internal"
	case codes.Unavailable:
		return "unavailable"
	case codes.DataLoss:
		return "data_loss"
	case codes.Unauthenticated:
		return "unauthenticated"
	}
	return "code_" + strconv.FormatUint(uint64(c), 10)
}

// connectHTTPStatus is connect-go's HTTP status for an error code
// (connectCodeToHTTP, from the Connect protocol's table).
func connectHTTPStatus(c codes.Code) int {
	switch c {
	case codes.Canceled:
		return 499
	case codes.InvalidArgument, codes.FailedPrecondition, codes.OutOfRange:
		return 400
	case codes.DeadlineExceeded:
		return 504
	case codes.NotFound:
		return 404
	case codes.AlreadyExists, codes.Aborted:
		return 409
	case codes.PermissionDenied:
		return 403
	case codes.ResourceExhausted:
		return 429
	case codes.Unimplemented:
		return 501
	case codes.Unavailable:
		return 503
	case codes.Unauthenticated:
		return 401
	}
	return 500 // Unknown, Internal, DataLoss and codes beyond the table
}

// connectStreamRefusal answers a Connect streaming request
// (application/connect+proto|json): the methods reachable here are unary,
// and the streaming transport (Function URL response streaming) is not
// served yet. The answer is a Connect stream that ends at once with
// UNIMPLEMENTED, so a Connect client reports that.
func connectStreamRefusal(hc *httpCall, r *route) wire.HTTPResponse {
	if r.stream == nil {
		return connectStreamError(hc, status.Newf(codes.Unimplemented, "lambda: %s is a unary method: call it with application/proto or application/json, not %s", hc.method, hc.contentType))
	}
	return connectStreamError(hc, streamingRefusal(hc.method, r))
}

// connectStreamError is a Connect streaming answer that is only its
// end-of-stream message, carrying st.
func connectStreamError(hc *httpCall, st *status.Status) wire.HTTPResponse {
	end := appendConnectError([]byte(`{"error":`), st)
	end = append(end, '}')
	body := make([]byte, 5, 5+len(end))
	body[0] = 0x02 // end of stream
	binary.BigEndian.PutUint32(body[1:], uint32(len(end)))
	body = append(body, end...)
	return wire.HTTPResponse{
		Status: http.StatusOK,
		Header: []wire.Field{{Name: "content-type", Value: hc.contentType}},
		Body:   body,
		Base64: true,
	}
}
