package runtime_test

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/textproto"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/known/anypb"

	ordersv1 "github.com/protoc-gen-go-lambda/protoc-gen-go-lambda/example/gen/orders/v1"
	"github.com/protoc-gen-go-lambda/protoc-gen-go-lambda/example/service"
	"github.com/protoc-gen-go-lambda/protoc-gen-go-lambda/internal/testing/testpb"
	"github.com/protoc-gen-go-lambda/protoc-gen-go-lambda/internal/testing/testserver"
	"github.com/protoc-gen-go-lambda/protoc-gen-go-lambda/runtime"
)

// These tests send the HTTP events of Lambda's HTTP front ends, built as
// each front end builds them (with aws-lambda-go's events types), through
// Server.Invoke, and read the answers as the front end and a Connect or
// gRPC-Web client would: the status, the message, the header and trailer
// metadata and the error details must be what the handler produced.

// httpReq is an HTTP request as a client sends it to a front end.
type httpReq struct {
	method string // POST unless set
	path   string // as the client calls it, without a stage or base path
	query  string // percent-encoded
	header http.Header
	body   []byte
}

// httpAnswer is an HTTP response as the front end gives it to the client.
type httpAnswer struct {
	status int
	header http.Header
	body   []byte
}

// frontEnd builds the event one of Lambda's HTTP front ends sends for a
// request, and reads the function's answer as that front end does.
type frontEnd struct {
	name   string
	event  func(r *httpReq) any
	answer func(t *testing.T, out []byte) httpAnswer
}

// textBody reports whether the front ends pass a request's body as text
// rather than base64: an uncompressed text type.
func textBody(h http.Header) bool {
	ct := strings.ToLower(h.Get("Content-Type"))
	return h.Get("Content-Encoding") == "" && (strings.HasPrefix(ct, "application/json") || strings.HasPrefix(ct, "text/"))
}

func bodyField(body []byte, text bool) (string, bool) {
	if text {
		return string(body), false
	}
	return base64.StdEncoding.EncodeToString(body), true
}

func v2Headers(h http.Header) (map[string]string, []string) {
	out := map[string]string{}
	var cookies []string
	for k, vs := range h {
		k = strings.ToLower(k)
		if k == "cookie" {
			for _, v := range vs {
				cookies = append(cookies, strings.Split(v, "; ")...)
			}
			continue
		}
		out[k] = strings.Join(vs, ",")
	}
	return out, cookies
}

func lastValues(h map[string][]string, lower bool) map[string]string {
	out := map[string]string{}
	for k, vs := range h {
		if lower {
			k = strings.ToLower(k)
		}
		out[k] = vs[len(vs)-1]
	}
	return out
}

func lowerKeys(h http.Header) map[string][]string {
	out := map[string][]string{}
	for k, vs := range h {
		out[strings.ToLower(k)] = vs
	}
	return out
}

func method(r *httpReq) string {
	if r.method == "" {
		return http.MethodPost
	}
	return r.method
}

// functionURL is a Lambda function URL: payload 2.0.
var functionURL = frontEnd{
	name: "FunctionURL",
	event: func(r *httpReq) any {
		h, cookies := v2Headers(r.header)
		body, b64 := bodyField(r.body, textBody(r.header))
		ev := events.LambdaFunctionURLRequest{
			Version: "2.0", RawPath: r.path, RawQueryString: r.query, Headers: h, Cookies: cookies,
			Body: body, IsBase64Encoded: b64,
		}
		ev.RequestContext.HTTP.Method = method(r)
		ev.RequestContext.HTTP.Path = r.path
		ev.RequestContext.DomainName = "abc.lambda-url.eu-west-1.on.aws"
		return ev
	},
	answer: v2Answer,
}

// httpAPI is an API Gateway HTTP API on a named stage: payload 2.0, the
// stage in rawPath.
var httpAPI = frontEnd{
	name: "HTTPAPI",
	event: func(r *httpReq) any {
		h, cookies := v2Headers(r.header)
		body, b64 := bodyField(r.body, textBody(r.header))
		q, _ := url.ParseQuery(r.query)
		qp := map[string]string{}
		for k, vs := range q {
			qp[k] = strings.Join(vs, ",")
		}
		ev := events.APIGatewayV2HTTPRequest{
			Version: "2.0", RouteKey: "ANY /{proxy+}", RawPath: "/prod" + r.path, RawQueryString: r.query,
			Headers: h, Cookies: cookies, QueryStringParameters: qp, Body: body, IsBase64Encoded: b64,
		}
		ev.RequestContext.Stage = "prod"
		ev.RequestContext.HTTP.Method = method(r)
		ev.RequestContext.HTTP.Path = "/prod" + r.path
		return ev
	},
	answer: v2Answer,
}

func v2Answer(t *testing.T, out []byte) httpAnswer {
	t.Helper()
	var resp events.APIGatewayV2HTTPResponse
	if err := json.Unmarshal(out, &resp); err != nil {
		t.Fatalf("answer is not a payload 2.0 response: %v\n%s", err, out)
	}
	if len(resp.MultiValueHeaders) > 0 || len(resp.Cookies) > 0 {
		t.Fatalf("2.0 answer with multiValueHeaders or cookies: %s", out)
	}
	h := http.Header{}
	for k, v := range resp.Headers {
		h.Add(k, v)
	}
	return httpAnswer{status: resp.StatusCode, header: h, body: answerBody(t, resp.Body, resp.IsBase64Encoded)}
}

// restAPI is an API Gateway REST API, proxy integration, binaryMediaTypes
// "*/*" (docs/http.md): payload 1.0, every body base64; the client calls
// /<stage>/..., the event's path has no stage.
var restAPI = frontEnd{
	name: "RESTAPI",
	event: func(r *httpReq) any {
		q, _ := url.ParseQuery(r.query)
		body := base64.StdEncoding.EncodeToString(r.body)
		ev := events.APIGatewayProxyRequest{
			Resource: "/{proxy+}", Path: r.path, HTTPMethod: method(r),
			Headers: lastValues(r.header, false), MultiValueHeaders: r.header,
			QueryStringParameters: lastValues(q, false), MultiValueQueryStringParameters: q,
			PathParameters: map[string]string{"proxy": strings.TrimPrefix(r.path, "/")},
			Body:           body, IsBase64Encoded: true,
		}
		ev.RequestContext.Stage = "prod"
		ev.RequestContext.Path = "/prod" + r.path
		ev.RequestContext.HTTPMethod = method(r)
		return ev
	},
	answer: v1Answer,
}

func v1Answer(t *testing.T, out []byte) httpAnswer {
	t.Helper()
	var resp events.APIGatewayProxyResponse
	if err := json.Unmarshal(out, &resp); err != nil {
		t.Fatalf("answer is not a payload 1.0 response: %v\n%s", err, out)
	}
	h := http.Header{}
	for k, v := range resp.Headers {
		h.Add(k, v)
	}
	for k, vs := range resp.MultiValueHeaders {
		for _, v := range vs {
			h.Add(k, v)
		}
	}
	return httpAnswer{status: resp.StatusCode, header: h, body: answerBody(t, resp.Body, resp.IsBase64Encoded)}
}

// alb is an Application Load Balancer target group (multiValue: with
// lambda.multi_value_headers.enabled): header names lower-cased, the query
// as the client wrote it.
func alb(multiValue bool) frontEnd {
	name := "ALB"
	if multiValue {
		name = "ALBMultiValue"
	}
	return frontEnd{
		name: name,
		event: func(r *httpReq) any {
			body, b64 := bodyField(r.body, textBody(r.header))
			ev := events.ALBTargetGroupRequest{HTTPMethod: method(r), Path: r.path, Body: body, IsBase64Encoded: b64}
			ev.RequestContext.ELB.TargetGroupArn = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/fn/0123456789abcdef"
			raw := map[string][]string{}
			for _, kv := range strings.Split(r.query, "&") {
				if k, v, ok := strings.Cut(kv, "="); ok {
					raw[k] = append(raw[k], v)
				}
			}
			if multiValue {
				ev.MultiValueHeaders = lowerKeys(r.header)
				ev.MultiValueQueryStringParameters = raw
			} else {
				ev.Headers = lastValues(r.header, true)
				ev.QueryStringParameters = lastValues(raw, false)
			}
			return ev
		},
		answer: func(t *testing.T, out []byte) httpAnswer {
			t.Helper()
			var resp events.ALBTargetGroupResponse
			if err := json.Unmarshal(out, &resp); err != nil {
				t.Fatalf("answer is not a load balancer response: %v\n%s", err, out)
			}
			if want := fmt.Sprintf("%d %s", resp.StatusCode, http.StatusText(resp.StatusCode)); resp.StatusDescription != want {
				t.Errorf("statusDescription %q, want %q", resp.StatusDescription, want)
			}
			h := http.Header{}
			if multiValue {
				// The load balancer reads only multiValueHeaders then.
				if len(resp.Headers) > 0 {
					t.Fatalf("multi-value answer with headers: %s", out)
				}
				for k, vs := range resp.MultiValueHeaders {
					for _, v := range vs {
						h.Add(k, v)
					}
				}
			} else {
				if len(resp.MultiValueHeaders) > 0 {
					t.Fatalf("single-value answer with multiValueHeaders: %s", out)
				}
				for k, v := range resp.Headers {
					h.Add(k, v)
				}
			}
			return httpAnswer{status: resp.StatusCode, header: h, body: answerBody(t, resp.Body, resp.IsBase64Encoded)}
		},
	}
}

func answerBody(t *testing.T, body string, b64 bool) []byte {
	t.Helper()
	if !b64 {
		return []byte(body)
	}
	b, err := base64.StdEncoding.DecodeString(body)
	if err != nil {
		t.Fatalf("answer body is not base64: %v", err)
	}
	return b
}

var frontEnds = []frontEnd{functionURL, httpAPI, restAPI, alb(false), alb(true)}

// roundTrip sends r through fe to srv and returns the client's answer.
func roundTrip(t *testing.T, srv *runtime.Server, fe frontEnd, r *httpReq) httpAnswer {
	t.Helper()
	payload, err := json.Marshal(fe.event(addFrontEndHeaders(r)))
	if err != nil {
		t.Fatal(err)
	}
	return invokeHTTP(t, srv, fe, payload)
}

// addFrontEndHeaders adds the headers every front end adds.
func addFrontEndHeaders(r *httpReq) *httpReq {
	if r.header == nil {
		r.header = http.Header{}
	}
	r.header.Set("Host", "fn.example.com")
	r.header.Set("X-Forwarded-For", "203.0.113.7")
	r.header.Set("X-Forwarded-Proto", "https")
	r.header.Set("X-Amzn-Trace-Id", "Root=1-67891233-abcdef012345678912345678")
	return r
}

func invokeHTTP(t *testing.T, srv *runtime.Server, fe frontEnd, payload []byte) httpAnswer {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute) // the function's timeout
	defer cancel()
	out, err := srv.Invoke(ctx, payload)
	if err != nil {
		t.Fatalf("Invoke returned a Go error: %v", err)
	}
	if !json.Valid(out) {
		t.Fatalf("answer is not JSON: %q", out)
	}
	return fe.answer(t, out)
}

// The test server: TestService, and QueryService, whose Get is marked
// NO_SIDE_EFFECTS (Connect GET) and whose Put is not. Its descriptor is
// registered here, as generated code would register it.

const queryService = "runtimehttptest.v1.QueryService"

func init() {
	level := descriptorpb.MethodOptions_NO_SIDE_EFFECTS
	fdp := &descriptorpb.FileDescriptorProto{
		Name:       proto.String("runtimehttptest/v1/query.proto"),
		Package:    proto.String("runtimehttptest.v1"),
		Dependency: []string{testpb.File_lambdatest_v1_test_proto.Path()},
		Syntax:     proto.String("proto3"),
		Service: []*descriptorpb.ServiceDescriptorProto{{
			Name: proto.String("QueryService"),
			Method: []*descriptorpb.MethodDescriptorProto{
				{Name: proto.String("Get"), InputType: proto.String(".lambdatest.v1.EchoRequest"), OutputType: proto.String(".lambdatest.v1.EchoResponse"), Options: &descriptorpb.MethodOptions{IdempotencyLevel: &level}},
				{Name: proto.String("Put"), InputType: proto.String(".lambdatest.v1.EchoRequest"), OutputType: proto.String(".lambdatest.v1.EchoResponse")},
			},
		}},
	}
	fd, err := protodesc.NewFile(fdp, protoregistry.GlobalFiles)
	if err != nil {
		panic(err)
	}
	if err := protoregistry.GlobalFiles.RegisterFile(fd); err != nil {
		panic(err)
	}
}

func echoHandler(name string) grpc.MethodHandler {
	return func(srv any, ctx context.Context, dec func(any) error, interceptor grpc.UnaryServerInterceptor) (any, error) {
		in := new(testpb.EchoRequest)
		if err := dec(in); err != nil {
			return nil, err
		}
		echo := srv.(*testserver.Server).Echo
		if interceptor == nil {
			return echo(ctx, in)
		}
		info := &grpc.UnaryServerInfo{Server: srv, FullMethod: "/" + queryService + "/" + name}
		return interceptor(ctx, in, info, func(ctx context.Context, req any) (any, error) { return echo(ctx, req.(*testpb.EchoRequest)) })
	}
}

var queryServiceDesc = grpc.ServiceDesc{
	ServiceName: queryService,
	HandlerType: (*any)(nil),
	Methods: []grpc.MethodDesc{
		{MethodName: "Get", Handler: echoHandler("Get")},
		{MethodName: "Put", Handler: echoHandler("Put")},
	},
}

func newHTTPServer(opts ...runtime.ServerOption) *runtime.Server {
	srv := testpb.NewTestServiceLambdaHandler(&testserver.Server{}, opts...)
	srv.RegisterService(&queryServiceDesc, &testserver.Server{})
	return srv
}

const echoPath = "/lambdatest.v1.TestService/Echo"

// rpc is what a client makes of an answer.
type rpc struct {
	httpAnswer
	st      *status.Status
	resp    *testpb.EchoResponse
	header  metadata.MD
	trailer metadata.MD
}

// connectOpts are a Connect client's choices.
type connectOpts struct {
	json, gzipRequest, acceptGzip bool
	header                        http.Header // more request headers
}

// connectRequest builds a Connect unary POST.
func connectRequest(t *testing.T, path string, req proto.Message, o connectOpts) *httpReq {
	t.Helper()
	body, ct := marshal(t, req, o.json), "application/proto"
	if o.json {
		ct = "application/json"
	}
	h := http.Header{"Content-Type": {ct}, "Connect-Protocol-Version": {"1"}}
	if o.gzipRequest {
		body = gzipBytes(t, body)
		h.Set("Content-Encoding", "gzip")
	}
	if o.acceptGzip {
		h.Set("Accept-Encoding", "gzip")
	}
	for k, vs := range o.header {
		h[k] = append(h[k], vs...)
	}
	return &httpReq{path: path, header: h, body: body}
}

func marshal(t *testing.T, m proto.Message, jsonMode bool) []byte {
	t.Helper()
	var b []byte
	var err error
	if jsonMode {
		b, err = protojson.Marshal(m)
	} else {
		b, err = proto.Marshal(m)
	}
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func gzipBytes(t *testing.T, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	if _, err := w.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func gunzipBytes(t *testing.T, b []byte) []byte {
	t.Helper()
	r, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("gunzip: %v", err)
	}
	out, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("gunzip: %v", err)
	}
	return out
}

// connectCodes are the Connect protocol's code names.
var connectCodes = map[string]codes.Code{
	"canceled": codes.Canceled, "unknown": codes.Unknown, "invalid_argument": codes.InvalidArgument,
	"deadline_exceeded": codes.DeadlineExceeded, "not_found": codes.NotFound, "already_exists": codes.AlreadyExists,
	"permission_denied": codes.PermissionDenied, "resource_exhausted": codes.ResourceExhausted,
	"failed_precondition": codes.FailedPrecondition, "aborted": codes.Aborted, "out_of_range": codes.OutOfRange,
	"unimplemented": codes.Unimplemented, "internal": codes.Internal, "unavailable": codes.Unavailable,
	"data_loss": codes.DataLoss, "unauthenticated": codes.Unauthenticated,
}

// readConnect reads a Connect unary answer as a Connect client does.
func readConnect(t *testing.T, a httpAnswer, jsonMode bool) rpc {
	t.Helper()
	r := rpc{httpAnswer: a, header: metadata.MD{}, trailer: metadata.MD{}}
	for k, vs := range a.header {
		k = strings.ToLower(k)
		switch k {
		case "content-type", "content-encoding", "accept-encoding", "vary", "content-length":
			continue
		}
		if strings.HasPrefix(k, "access-control-") {
			continue
		}
		md := r.header
		if name, ok := strings.CutPrefix(k, "trailer-"); ok {
			md, k = r.trailer, name
		}
		for _, v := range vs {
			md[k] = append(md[k], decodeMDValue(t, k, v)...)
		}
	}
	ct := a.header.Get("Content-Type")
	if a.status != http.StatusOK {
		if ct != "application/json" {
			t.Fatalf("error answer %d with content type %q: %s", a.status, ct, a.body)
		}
		r.st = decodeConnectError(t, a.body)
		return r
	}
	want := "application/proto"
	if jsonMode {
		want = "application/json"
	}
	if ct != want {
		t.Fatalf("answer content type %q, want %q", ct, want)
	}
	body := a.body
	if a.header.Get("Content-Encoding") == "gzip" {
		body = gunzipBytes(t, body)
	}
	r.resp = &testpb.EchoResponse{}
	var err error
	if jsonMode {
		err = protojson.Unmarshal(body, r.resp)
	} else {
		err = proto.Unmarshal(body, r.resp)
	}
	if err != nil {
		t.Fatalf("answer body: %v", err)
	}
	r.st = status.New(codes.OK, "")
	return r
}

func decodeMDValue(t *testing.T, k, v string) []string {
	t.Helper()
	if !strings.HasSuffix(k, "-bin") {
		return []string{v}
	}
	var out []string
	for _, part := range strings.Split(v, ",") {
		b, err := base64.RawStdEncoding.DecodeString(strings.TrimSpace(part))
		if err != nil {
			t.Fatalf("binary header %s: %q is not unpadded base64: %v", k, part, err)
		}
		out = append(out, string(b))
	}
	return out
}

func decodeConnectError(t *testing.T, body []byte) *status.Status {
	t.Helper()
	var wire struct {
		Code    string
		Message string
		Details []struct {
			Type  string
			Value string
			Debug json.RawMessage
		}
	}
	if err := json.Unmarshal(body, &wire); err != nil {
		t.Fatalf("error body is not Connect's JSON error: %v\n%s", err, body)
	}
	code, ok := connectCodes[wire.Code]
	if !ok {
		t.Fatalf("error code %q is not a Connect code: %s", wire.Code, body)
	}
	p := &spb.Status{Code: int32(code), Message: wire.Message}
	for _, d := range wire.Details {
		v, err := base64.RawStdEncoding.DecodeString(d.Value)
		if err != nil {
			t.Fatalf("detail value %q is not unpadded base64: %v", d.Value, err)
		}
		a := &anypb.Any{TypeUrl: "type.googleapis.com/" + d.Type, Value: v}
		p.Details = append(p.Details, a)
		if m, err := a.UnmarshalNew(); err == nil {
			want, _ := protojson.Marshal(m)
			if !jsonEqual(t, d.Debug, want) {
				t.Errorf("detail debug %s, want %s", d.Debug, want)
			}
		}
	}
	return status.FromProto(p)
}

func jsonEqual(t *testing.T, a, b []byte) bool {
	t.Helper()
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return false
	}
	return fmt.Sprint(x) == fmt.Sprint(y)
}

// gRPC-Web.

type grpcWebOpts struct {
	text, json, gzipRequest, acceptGzip bool
	header                              http.Header
}

func grpcWebRequest(t *testing.T, path string, req proto.Message, o grpcWebOpts) *httpReq {
	t.Helper()
	msg := marshal(t, req, o.json)
	flags := byte(0)
	h := http.Header{"X-Grpc-Web": {"1"}, "X-User-Agent": {"grpc-web-javascript/0.1"}}
	if o.gzipRequest {
		msg, flags = gzipBytes(t, msg), 1
		h.Set("Grpc-Encoding", "gzip")
	}
	if o.acceptGzip {
		h.Set("Grpc-Accept-Encoding", "gzip")
	}
	body := frame(flags, msg)
	switch {
	case o.text:
		h.Set("Content-Type", "application/grpc-web-text")
		body = []byte(base64.StdEncoding.EncodeToString(body))
	case o.json:
		h.Set("Content-Type", "application/grpc-web+json")
	default:
		h.Set("Content-Type", "application/grpc-web+proto")
	}
	for k, vs := range o.header {
		h[k] = append(h[k], vs...)
	}
	return &httpReq{path: path, header: h, body: body}
}

func frame(flags byte, data []byte) []byte {
	b := make([]byte, 5, 5+len(data))
	b[0] = flags
	binary.BigEndian.PutUint32(b[1:], uint32(len(data)))
	return append(b, data...)
}

// readGRPCWeb reads a gRPC-Web answer as a gRPC-Web client does.
func readGRPCWeb(t *testing.T, a httpAnswer, o grpcWebOpts) rpc {
	t.Helper()
	r := rpc{httpAnswer: a, header: metadata.MD{}, trailer: metadata.MD{}}
	if a.status != http.StatusOK {
		t.Fatalf("gRPC-Web answer with HTTP status %d: %s", a.status, a.body)
	}
	body := a.body
	if o.text {
		if ct := a.header.Get("Content-Type"); ct != "application/grpc-web-text" {
			t.Fatalf("content type %q, want application/grpc-web-text", ct)
		}
		var err error
		if body, err = base64.StdEncoding.DecodeString(string(body)); err != nil {
			t.Fatalf("text-mode body is not base64: %v", err)
		}
	}
	var trailer http.Header
	for len(body) > 0 {
		if len(body) < 5 {
			t.Fatalf("truncated frame: %x", body)
		}
		flags, n := body[0], binary.BigEndian.Uint32(body[1:5])
		data := body[5 : 5+n]
		body = body[5+n:]
		switch {
		case flags&0x80 != 0:
			tr, err := textproto.NewReader(bufio.NewReader(bytes.NewReader(append(data, '\r', '\n')))).ReadMIMEHeader()
			if err != nil {
				t.Fatalf("trailer frame %q: %v", data, err)
			}
			trailer = http.Header(tr)
			if len(body) > 0 {
				t.Fatalf("frames after the trailer frame")
			}
		case r.resp != nil:
			t.Fatalf("two message frames")
		default:
			if flags&1 != 0 {
				if a.header.Get("Grpc-Encoding") != "gzip" {
					t.Fatalf("compressed frame without grpc-encoding")
				}
				data = gunzipBytes(t, data)
			}
			r.resp = &testpb.EchoResponse{}
			var err error
			if o.json {
				err = protojson.Unmarshal(data, r.resp)
			} else {
				err = proto.Unmarshal(data, r.resp)
			}
			if err != nil {
				t.Fatalf("message frame: %v", err)
			}
		}
	}
	if trailer == nil {
		// Trailers-only: the status is in the headers.
		if r.resp != nil || a.header.Get("Grpc-Status") == "" {
			t.Fatalf("answer has neither a trailer frame nor a trailers-only status: %v", a.header)
		}
		trailer = a.header
	} else {
		for k, vs := range a.header {
			if lk := strings.ToLower(k); !grpcWebProtocolHeader(lk) {
				for _, v := range vs {
					r.header[lk] = append(r.header[lk], decodeMDValue(t, lk, v)...)
				}
			}
		}
	}
	code, err := strconv.Atoi(trailer.Get("Grpc-Status"))
	if err != nil {
		t.Fatalf("grpc-status %q", trailer.Get("Grpc-Status"))
	}
	msg, err := url.PathUnescape(trailer.Get("Grpc-Message"))
	if err != nil {
		t.Fatalf("grpc-message %q: %v", trailer.Get("Grpc-Message"), err)
	}
	p := &spb.Status{Code: int32(code), Message: msg}
	if d := trailer.Get("Grpc-Status-Details-Bin"); d != "" {
		b, err := base64.RawStdEncoding.DecodeString(d)
		if err != nil {
			t.Fatalf("grpc-status-details-bin: %v", err)
		}
		if err := proto.Unmarshal(b, p); err != nil {
			t.Fatal(err)
		}
		if p.Code != int32(code) || p.Message != msg {
			t.Fatalf("details status %v disagrees with grpc-status %d %q", p, code, msg)
		}
	}
	r.st = status.FromProto(p)
	for k, vs := range trailer {
		if lk := strings.ToLower(k); !grpcWebProtocolHeader(lk) {
			for _, v := range vs {
				r.trailer[lk] = append(r.trailer[lk], decodeMDValue(t, lk, v)...)
			}
		}
	}
	return r
}

func grpcWebProtocolHeader(k string) bool {
	switch k {
	case "content-type", "grpc-status", "grpc-message", "grpc-status-details-bin", "grpc-encoding", "grpc-accept-encoding", "vary":
		return true
	}
	return strings.HasPrefix(k, "access-control-")
}

// echoRequest sets a header (one text, one binary), a trailer with two
// values, and carries metadata in the request.
func echoRequest() *testpb.EchoRequest {
	return &testpb.EchoRequest{
		Message:    "héllo, 世界",
		Payload:    []byte{0, 1, 2, 255},
		Header:     []*testpb.Pair{{Key: "x-set", Value: []byte("set")}, {Key: "x-set-bin", Value: []byte{0, 1, 0xff}}},
		SendHeader: []*testpb.Pair{{Key: "x-sent", Value: []byte("sent")}},
		Trailer:    []*testpb.Pair{{Key: "x-trailer", Value: []byte("t1")}, {Key: "x-trailer-bin", Value: []byte{9, 8}}},
	}
}

// requestMetadata is sent with every call; the handler must see it.
func requestMetadata() http.Header {
	return http.Header{
		"Authorization": {"Bearer t0ken"},
		"Trace-Bin":     {base64.StdEncoding.EncodeToString([]byte{0, 0xff, 'x'})}, // padded: accepted
		"Connection":    {"keep-alive"},                                            // hop-by-hop: not metadata
	}
}

func checkEcho(t *testing.T, r rpc, path string, req *testpb.EchoRequest) {
	t.Helper()
	if r.st.Code() != codes.OK {
		t.Fatalf("status %v, want OK", r.st)
	}
	if r.resp.GetMessage() != req.GetMessage() || !bytes.Equal(r.resp.GetPayload(), req.GetPayload()) {
		t.Errorf("response %v, want the request's message and payload", r.resp)
	}
	if r.resp.GetMethod() != path {
		t.Errorf("grpc.Method in the handler = %q, want %q", r.resp.GetMethod(), path)
	}
	incoming := metadata.MD{}
	for _, p := range r.resp.GetIncoming() {
		incoming.Append(p.GetKey(), string(p.GetValue()))
	}
	if got := incoming.Get("authorization"); len(got) != 1 || got[0] != "Bearer t0ken" {
		t.Errorf("incoming authorization = %q", got)
	}
	if got := incoming.Get("trace-bin"); len(got) != 1 || got[0] != "\x00\xffx" {
		t.Errorf("incoming trace-bin = %q", got)
	}
	if got := incoming.Get("x-forwarded-for"); len(got) != 1 || got[0] != "203.0.113.7" {
		t.Errorf("incoming x-forwarded-for = %q", got)
	}
	for _, k := range []string{"content-type", "connection", "connect-protocol-version", "grpc-encoding", "content-encoding", "host"} {
		if v, ok := incoming[k]; ok {
			t.Errorf("protocol header %s reached the handler as metadata: %q", k, v)
		}
	}
	for k, want := range map[string]string{"x-set": "set", "x-set-bin": "\x00\x01\xff", "x-sent": "sent"} {
		if got := r.header.Get(k); len(got) != 1 || got[0] != want {
			t.Errorf("header %s = %q, want %q", k, got, want)
		}
	}
	for k, want := range map[string]string{"x-trailer": "t1", "x-trailer-bin": "\x09\x08"} {
		if got := r.trailer.Get(k); len(got) != 1 || got[0] != want {
			t.Errorf("trailer %s = %q, want %q", k, got, want)
		}
	}
}

func TestHTTPConnectUnary(t *testing.T) {
	srv := newHTTPServer()
	for _, fe := range frontEnds {
		for _, jsonMode := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/json=%v", fe.name, jsonMode), func(t *testing.T) {
				req := echoRequest()
				a := roundTrip(t, srv, fe, connectRequest(t, echoPath, req, connectOpts{json: jsonMode, header: requestMetadata()}))
				r := readConnect(t, a, jsonMode)
				checkEcho(t, r, echoPath, req)
				if r.resp.GetHasDeadline() != true {
					// The function's own deadline, less the margin, bounds every call.
					t.Errorf("handler has no deadline")
				}
			})
		}
	}
}

func statusWithDetails(t *testing.T, code codes.Code) *testpb.Status {
	t.Helper()
	return &testpb.Status{Code: int32(code), Message: "failed: " + code.String() + " \r\n\t ünïcode 😀 100%", Details: []*anypb.Any{
		mustAny(t, &errdetails.ResourceInfo{ResourceType: "book", ResourceName: "b-1"}),
		mustAny(t, &errdetails.BadRequest{FieldViolations: []*errdetails.BadRequest_FieldViolation{{Field: "name", Description: "required"}}}),
	}}
}

func checkStatus(t *testing.T, got *status.Status, want *testpb.Status) {
	t.Helper()
	g := &testpb.Status{Code: int32(got.Code()), Message: got.Message(), Details: got.Proto().GetDetails()}
	if !proto.Equal(g, want) {
		t.Errorf("status = %v, want %v", g, want)
	}
}

// connectHTTPStatus is connect-go's code → HTTP status table.
var connectHTTPStatus = map[codes.Code]int{
	codes.Canceled: 499, codes.Unknown: 500, codes.InvalidArgument: 400, codes.DeadlineExceeded: 504,
	codes.NotFound: 404, codes.AlreadyExists: 409, codes.PermissionDenied: 403, codes.ResourceExhausted: 429,
	codes.FailedPrecondition: 400, codes.Aborted: 409, codes.OutOfRange: 400, codes.Unimplemented: 501,
	codes.Internal: 500, codes.Unavailable: 503, codes.DataLoss: 500, codes.Unauthenticated: 401,
}

func TestHTTPConnectError(t *testing.T) {
	srv := newHTTPServer()
	for _, fe := range frontEnds {
		for _, jsonMode := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/json=%v", fe.name, jsonMode), func(t *testing.T) {
				want := statusWithDetails(t, codes.NotFound)
				req := &testpb.EchoRequest{Fail: want, Header: echoRequest().Header, Trailer: echoRequest().Trailer}
				r := readConnect(t, roundTrip(t, srv, fe, connectRequest(t, echoPath, req, connectOpts{json: jsonMode, acceptGzip: true})), jsonMode)
				if r.status != http.StatusNotFound {
					t.Errorf("HTTP status %d, want 404", r.status)
				}
				if r.httpAnswer.header.Get("Content-Encoding") != "" {
					t.Errorf("error body compressed")
				}
				checkStatus(t, r.st, want)
				// Metadata travels with errors too, as with grpc-go.
				if got := r.header.Get("x-set"); len(got) != 1 || got[0] != "set" {
					t.Errorf("header x-set = %q", got)
				}
				if got := r.trailer.Get("x-trailer"); len(got) != 1 || got[0] != "t1" {
					t.Errorf("trailer x-trailer = %q", got)
				}
			})
		}
	}
	t.Run("every code", func(t *testing.T) {
		for code := codes.Canceled; code <= codes.Unauthenticated; code++ {
			want := &testpb.Status{Code: int32(code), Message: "m"}
			r := readConnect(t, roundTrip(t, srv, functionURL, connectRequest(t, echoPath, &testpb.EchoRequest{Fail: want}, connectOpts{})), false)
			if r.status != connectHTTPStatus[code] {
				t.Errorf("%v: HTTP status %d, want %d", code, r.status, connectHTTPStatus[code])
			}
			checkStatus(t, r.st, want)
		}
	})
	t.Run("code beyond the table", func(t *testing.T) {
		a := roundTrip(t, srv, functionURL, connectRequest(t, echoPath, &testpb.EchoRequest{Fail: &testpb.Status{Code: 42, Message: "m"}}, connectOpts{}))
		if a.status != 500 || !strings.Contains(string(a.body), `"code":"code_42"`) {
			t.Errorf("answer %d %s, want 500 with code_42 (connect-go's name for it)", a.status, a.body)
		}
	})
	t.Run("panic", func(t *testing.T) {
		r := readConnect(t, roundTrip(t, srv, functionURL, connectRequest(t, "/lambdatest.v1.TestService/Panic", &testpb.EchoRequest{Message: "boom"}, connectOpts{})), false)
		if r.st.Code() != codes.Internal || r.st.Message() != "panic in handler: boom" || r.status != 500 {
			t.Errorf("panic: %d %v", r.status, r.st)
		}
	})
}

func TestHTTPConnectCompression(t *testing.T) {
	srv := newHTTPServer()
	for _, fe := range frontEnds {
		t.Run(fe.name, func(t *testing.T) {
			req := echoRequest()
			for _, o := range []connectOpts{
				{gzipRequest: true, acceptGzip: true},
				{acceptGzip: true},
				{gzipRequest: true, json: true},
			} {
				o.header = requestMetadata()
				a := roundTrip(t, srv, fe, connectRequest(t, echoPath, req, o))
				if got, want := a.header.Get("Content-Encoding"), "gzip"; got != want {
					// connect-go answers a compressed request compressed.
					t.Errorf("%+v: content-encoding %q, want %q", o, got, want)
				}
				checkEcho(t, readConnect(t, a, o.json), echoPath, req)
			}
			a := roundTrip(t, srv, fe, connectRequest(t, echoPath, req, connectOpts{header: http.Header{"Content-Encoding": {"br"}}}))
			r := readConnect(t, a, false)
			if r.status != 501 || r.st.Code() != codes.Unimplemented || !strings.Contains(r.st.Message(), `unknown compression "br"`) {
				t.Errorf("unknown compression: %d %v", r.status, r.st)
			}
		})
	}
	t.Run("not gzip", func(t *testing.T) {
		h := connectRequest(t, echoPath, &testpb.EchoRequest{}, connectOpts{})
		h.header.Set("Content-Encoding", "gzip")
		h.body = []byte("not gzip at all")
		r := readConnect(t, roundTrip(t, srv, functionURL, h), false)
		if r.st.Code() != codes.InvalidArgument {
			t.Errorf("corrupt gzip: %v", r.st)
		}
	})
}

// TestHTTPRESTWithoutBinaryMediaTypes: a REST API without binaryMediaTypes
// passes a JSON request as text, and would pass a base64 answer as the
// base64 text itself; the answer to a JSON call stays text even when the
// client accepts gzip.
func TestHTTPRESTWithoutBinaryMediaTypes(t *testing.T) {
	srv := newHTTPServer()
	req := connectRequest(t, echoPath, echoRequest(), connectOpts{json: true, acceptGzip: true, header: requestMetadata()})
	ev := restAPI.event(addFrontEndHeaders(req)).(events.APIGatewayProxyRequest)
	ev.Body, ev.IsBase64Encoded = string(req.body), false
	payload, _ := json.Marshal(ev)
	out, err := srv.Invoke(context.Background(), payload)
	if err != nil {
		t.Fatal(err)
	}
	var resp events.APIGatewayProxyResponse
	if err := json.Unmarshal(out, &resp); err != nil {
		t.Fatal(err)
	}
	if resp.IsBase64Encoded || resp.Headers["content-encoding"] != "" {
		t.Fatalf("binary answer to a text request on a REST API: %s", out)
	}
	checkEcho(t, readConnect(t, v1Answer(t, out), true), echoPath, echoRequest())
}

func getRequest(t *testing.T, path string, req proto.Message, jsonMode, gzipped bool) *httpReq {
	t.Helper()
	msg := marshal(t, req, jsonMode)
	q := url.Values{"connect": {"v1"}}
	if gzipped {
		msg = gzipBytes(t, msg)
		q.Set("compression", "gzip")
	}
	if jsonMode && !gzipped {
		q.Set("encoding", "json")
		q.Set("message", string(msg))
	} else {
		q.Set("encoding", "proto")
		if jsonMode {
			q.Set("encoding", "json")
		}
		q.Set("base64", "1")
		q.Set("message", base64.RawURLEncoding.EncodeToString(msg))
	}
	return &httpReq{method: http.MethodGet, path: path, query: q.Encode(), header: requestMetadata()}
}

func TestHTTPConnectGet(t *testing.T) {
	srv := newHTTPServer()
	getPath := "/" + queryService + "/Get"
	for _, fe := range frontEnds {
		t.Run(fe.name, func(t *testing.T) {
			req := echoRequest()
			for _, c := range []struct{ json, gzip bool }{{false, false}, {true, false}, {false, true}, {true, true}} {
				a := roundTrip(t, srv, fe, getRequest(t, getPath, req, c.json, c.gzip))
				if !strings.Contains(a.header.Get("Vary"), "Accept-Encoding") {
					t.Errorf("%+v: GET answer without Vary: Accept-Encoding: %v", c, a.header)
				}
				checkEcho(t, readConnect(t, a, c.json), getPath, req)
			}
		})
	}
	t.Run("generated code", func(t *testing.T) {
		// The example's GetOrder is NO_SIDE_EFFECTS in its generated,
		// registered descriptor; CreateOrder is not.
		orders := ordersv1.NewOrderServiceLambdaHandler(service.New())
		for _, fe := range frontEnds {
			q := url.Values{"encoding": {"json"}, "message": {`{"id":"o-1001"}`}}
			a := roundTrip(t, orders, fe, &httpReq{method: http.MethodGet, path: "/example.orders.v1.OrderService/GetOrder", query: q.Encode()})
			var order ordersv1.Order
			if a.status != http.StatusOK || protojson.Unmarshal(a.body, &order) != nil || order.GetId() != "o-1001" {
				t.Errorf("%s GET GetOrder: %d %s", fe.name, a.status, a.body)
			}
			a = roundTrip(t, orders, fe, &httpReq{method: http.MethodGet, path: "/example.orders.v1.OrderService/CreateOrder", query: q.Encode()})
			if a.status != http.StatusMethodNotAllowed {
				t.Errorf("%s GET CreateOrder: %d %s", fe.name, a.status, a.body)
			}
		}
	})
	t.Run("refused", func(t *testing.T) {
		for _, path := range []string{echoPath, "/" + queryService + "/Put"} {
			a := roundTrip(t, srv, functionURL, getRequest(t, path, &testpb.EchoRequest{}, false, false))
			if a.status != http.StatusMethodNotAllowed || a.header.Get("Allow") != "POST" {
				t.Errorf("GET %s: %d %v, want 405 with Allow: POST", path, a.status, a.header)
			}
		}
	})
	t.Run("bad query", func(t *testing.T) {
		for _, tc := range []struct {
			query      string
			wantStatus int
			wantCode   codes.Code
		}{
			{"encoding=proto", 400, codes.InvalidArgument},                         // no message
			{"encoding=xml&message=x", 415, 0},                                     // unknown encoding
			{"message=x", 415, 0},                                                  // no encoding
			{"encoding=proto&message=%25%25&base64=1", 400, codes.InvalidArgument}, // not base64url
			{"encoding=json&message=%7B%7D&connect=v2", 400, codes.InvalidArgument},
			{"encoding=json&message=%7B%7D&compression=br", 501, codes.Unimplemented},
		} {
			a := roundTrip(t, srv, functionURL, &httpReq{method: http.MethodGet, path: getPath, query: tc.query})
			if a.status != tc.wantStatus {
				t.Errorf("?%s: HTTP %d, want %d: %s", tc.query, a.status, tc.wantStatus, a.body)
				continue
			}
			if tc.wantCode != 0 {
				if r := readConnect(t, a, false); r.st.Code() != tc.wantCode {
					t.Errorf("?%s: %v, want %v", tc.query, r.st, tc.wantCode)
				}
			}
		}
	})
}

func TestHTTPConnectTimeout(t *testing.T) {
	srv := newHTTPServer()
	for _, fe := range frontEnds {
		t.Run(fe.name, func(t *testing.T) {
			// A handler that would sleep for an hour ends at the client's timeout.
			req := connectRequest(t, "/lambdatest.v1.TestService/Sleep", &testpb.SleepRequest{Millis: time.Hour.Milliseconds()}, connectOpts{header: http.Header{"Connect-Timeout-Ms": {"20"}}})
			r := readConnect(t, roundTrip(t, srv, fe, req), false)
			if r.status != 504 || r.st.Code() != codes.DeadlineExceeded {
				t.Errorf("answer %d %v, want 504 deadline_exceeded", r.status, r.st)
			}
			// The handler's deadline is the client's timeout, not the function's.
			req = connectRequest(t, echoPath, &testpb.EchoRequest{}, connectOpts{header: http.Header{"Connect-Timeout-Ms": {"60000"}}})
			r = readConnect(t, roundTrip(t, srv, fe, req), false)
			if !r.resp.GetHasDeadline() || r.resp.GetDeadlineMs() > 60000 {
				t.Errorf("handler deadline %v %dms, want at most 60000ms", r.resp.GetHasDeadline(), r.resp.GetDeadlineMs())
			}
		})
	}
	t.Run("function deadline first", func(t *testing.T) {
		// A function timeout of 2 s, less the margin, comes before the
		// client's minute.
		req := connectRequest(t, echoPath, &testpb.EchoRequest{}, connectOpts{header: http.Header{"Connect-Timeout-Ms": {"60000"}}})
		payload, _ := json.Marshal(functionURL.event(addFrontEndHeaders(req)))
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		out, err := srv.Invoke(ctx, payload)
		if err != nil {
			t.Fatal(err)
		}
		r := readConnect(t, v2Answer(t, out), false)
		if limit := (2*time.Second - runtime.DefaultDeadlineMargin).Milliseconds(); !r.resp.GetHasDeadline() || r.resp.GetDeadlineMs() > limit {
			t.Errorf("handler deadline %v %dms, want at most %dms", r.resp.GetHasDeadline(), r.resp.GetDeadlineMs(), limit)
		}
	})
	for _, v := range []string{"-1", "12345678901", "soon"} {
		req := connectRequest(t, echoPath, &testpb.EchoRequest{}, connectOpts{header: http.Header{"Connect-Timeout-Ms": {v}}})
		if r := readConnect(t, roundTrip(t, srv, functionURL, req), false); r.status != 400 || r.st.Code() != codes.InvalidArgument {
			t.Errorf("Connect-Timeout-Ms %q: %d %v, want 400 invalid_argument", v, r.status, r.st)
		}
	}
	req := connectRequest(t, echoPath, &testpb.EchoRequest{}, connectOpts{})
	req.header.Set("Connect-Protocol-Version", "2")
	if r := readConnect(t, roundTrip(t, srv, functionURL, req), false); r.st.Code() != codes.InvalidArgument {
		t.Errorf("Connect-Protocol-Version 2: %v, want invalid_argument", r.st)
	}
}

func TestHTTPGRPCWeb(t *testing.T) {
	srv := newHTTPServer()
	modes := []grpcWebOpts{{}, {json: true}, {text: true}, {gzipRequest: true, acceptGzip: true}, {text: true, acceptGzip: true}}
	for _, fe := range frontEnds {
		for _, mode := range modes {
			t.Run(fmt.Sprintf("%s/%+v", fe.name, mode), func(t *testing.T) {
				o := mode
				o.header = requestMetadata()
				req := echoRequest()
				a := roundTrip(t, srv, fe, grpcWebRequest(t, echoPath, req, o))
				r := readGRPCWeb(t, a, o)
				checkEcho(t, r, echoPath, req)
				if o.acceptGzip != (a.header.Get("Grpc-Encoding") == "gzip") {
					t.Errorf("grpc-encoding %q with grpc-accept-encoding gzip %v", a.header.Get("Grpc-Encoding"), o.acceptGzip)
				}

				// An error with header metadata: the status in the trailer frame.
				want := statusWithDetails(t, codes.PermissionDenied)
				req = &testpb.EchoRequest{Fail: want, Header: echoRequest().Header, Trailer: echoRequest().Trailer}
				r = readGRPCWeb(t, roundTrip(t, srv, fe, grpcWebRequest(t, echoPath, req, o)), o)
				checkStatus(t, r.st, want)
				if got := r.header.Get("x-set"); len(got) != 1 || got[0] != "set" {
					t.Errorf("header x-set = %q", got)
				}
				if got := r.trailer.Get("x-trailer"); len(got) != 1 || got[0] != "t1" {
					t.Errorf("trailer x-trailer = %q", got)
				}

				// An error without header metadata: trailers-only.
				req = &testpb.EchoRequest{Fail: want, Trailer: echoRequest().Trailer}
				a = roundTrip(t, srv, fe, grpcWebRequest(t, echoPath, req, o))
				if len(a.body) != 0 || a.header.Get("Grpc-Status") != "7" {
					t.Errorf("trailers-only answer: body %q, headers %v", a.body, a.header)
				}
				r = readGRPCWeb(t, a, o)
				checkStatus(t, r.st, want)
				if got := r.trailer.Get("x-trailer"); len(got) != 1 || got[0] != "t1" {
					t.Errorf("trailer x-trailer = %q", got)
				}
			})
		}
	}
	t.Run("grpc-timeout", func(t *testing.T) {
		for _, fe := range frontEnds {
			o := grpcWebOpts{text: true, header: http.Header{"Grpc-Timeout": {"20m"}}}
			r := readGRPCWeb(t, roundTrip(t, srv, fe, grpcWebRequest(t, "/lambdatest.v1.TestService/Sleep", &testpb.SleepRequest{Millis: time.Hour.Milliseconds()}, o)), o)
			if r.st.Code() != codes.DeadlineExceeded {
				t.Errorf("%s: %v, want DeadlineExceeded", fe.name, r.st)
			}
			o.header.Set("Grpc-Timeout", "60S")
			r = readGRPCWeb(t, roundTrip(t, srv, fe, grpcWebRequest(t, echoPath, &testpb.EchoRequest{}, o)), o)
			if !r.resp.GetHasDeadline() || r.resp.GetDeadlineMs() > 60000 {
				t.Errorf("%s: handler deadline %v %dms, want at most 60000ms", fe.name, r.resp.GetHasDeadline(), r.resp.GetDeadlineMs())
			}
		}
		for _, v := range []string{"1x", "123456789S", "-1m", "m"} {
			o := grpcWebOpts{header: http.Header{"Grpc-Timeout": {v}}}
			if r := readGRPCWeb(t, roundTrip(t, srv, functionURL, grpcWebRequest(t, echoPath, &testpb.EchoRequest{}, o)), o); r.st.Code() != codes.InvalidArgument {
				t.Errorf("grpc-timeout %q: %v, want InvalidArgument", v, r.st)
			}
		}
	})
	t.Run("panic", func(t *testing.T) {
		o := grpcWebOpts{text: true}
		r := readGRPCWeb(t, roundTrip(t, srv, functionURL, grpcWebRequest(t, "/lambdatest.v1.TestService/Panic", &testpb.EchoRequest{Message: "boom"}, o)), o)
		if r.st.Code() != codes.Internal || r.st.Message() != "panic in handler: boom" {
			t.Errorf("panic: %v", r.st)
		}
	})
	t.Run("text in base64", func(t *testing.T) {
		// A front end that does not take grpc-web-text for text sends it
		// base64-encoded once more.
		o := grpcWebOpts{text: true, header: requestMetadata()}
		req := grpcWebRequest(t, echoPath, echoRequest(), o)
		ev := functionURL.event(addFrontEndHeaders(req)).(events.LambdaFunctionURLRequest)
		ev.Body, ev.IsBase64Encoded = base64.StdEncoding.EncodeToString(req.body), true
		payload, _ := json.Marshal(ev)
		checkEcho(t, readGRPCWeb(t, invokeHTTP(t, srv, functionURL, payload), o), echoPath, echoRequest())
	})
	t.Run("text in chunks", func(t *testing.T) {
		// Several padded base64 chunks, one per write of the client.
		o := grpcWebOpts{text: true, header: requestMetadata()}
		req := grpcWebRequest(t, echoPath, echoRequest(), o)
		raw, _ := base64.StdEncoding.DecodeString(string(req.body))
		req.body = []byte(base64.StdEncoding.EncodeToString(raw[:4]) + base64.StdEncoding.EncodeToString(raw[4:]))
		checkEcho(t, readGRPCWeb(t, roundTrip(t, srv, functionURL, req), o), echoPath, echoRequest())
	})
}

// TestHTTPPlainGRPC: a plain gRPC request is refused with an HTTP status a
// gRPC client cannot take for success, and a text naming what works.
func TestHTTPPlainGRPC(t *testing.T) {
	srv := newHTTPServer()
	for _, fe := range frontEnds {
		for _, ct := range []string{"application/grpc", "application/grpc+proto"} {
			body := frame(0, marshal(t, &testpb.EchoRequest{}, false))
			a := roundTrip(t, srv, fe, &httpReq{path: echoPath, header: http.Header{"Content-Type": {ct}, "Te": {"trailers"}}, body: body})
			if a.status != http.StatusUnsupportedMediaType || strings.HasPrefix(a.header.Get("Content-Type"), "application/grpc") {
				t.Errorf("%s %s: %d %v", fe.name, ct, a.status, a.header)
			}
			for _, want := range []string{"Connect", "gRPC-Web", "Invoke"} {
				if !bytes.Contains(a.body, []byte(want)) {
					t.Errorf("%s %s: answer %q does not name %s", fe.name, ct, a.body, want)
				}
			}
		}
	}
}

func TestHTTPUnsupportedMediaType(t *testing.T) {
	srv := newHTTPServer()
	for _, fe := range frontEnds {
		for _, ct := range []string{"", "text/plain", "application/xml", "application/connect"} {
			h := http.Header{}
			if ct != "" {
				h.Set("Content-Type", ct)
			}
			a := roundTrip(t, srv, fe, &httpReq{path: echoPath, header: h, body: []byte("x")})
			if a.status != http.StatusUnsupportedMediaType || !strings.Contains(a.header.Get("Accept-Post"), "application/proto") {
				t.Errorf("%s %q: %d %v", fe.name, ct, a.status, a.header)
			}
		}
		a := roundTrip(t, srv, fe, &httpReq{method: http.MethodPut, path: echoPath, header: http.Header{"Content-Type": {"application/json"}}})
		if a.status != http.StatusMethodNotAllowed {
			t.Errorf("%s PUT: %d, want 405", fe.name, a.status)
		}
	}
}

func TestHTTPUnknownPath(t *testing.T) {
	srv := newHTTPServer()
	for _, fe := range frontEnds {
		for _, tc := range []struct{ path, msg string }{
			{"/lambdatest.v1.TestService/Nope", "unknown method Nope for service lambdatest.v1.TestService"},
			{"/lambdatest.v1.Nope/Echo", "unknown service lambdatest.v1.Nope"},
			{"/", ""},
			{"/favicon.ico", ""},
		} {
			r := readConnect(t, roundTrip(t, srv, fe, connectRequest(t, tc.path, &testpb.EchoRequest{}, connectOpts{})), false)
			if r.status != http.StatusNotFound || r.st.Code() != codes.Unimplemented || !strings.Contains(r.st.Message(), tc.msg) {
				t.Errorf("%s Connect %s: %d %v", fe.name, tc.path, r.status, r.st)
			}
			o := grpcWebOpts{text: true}
			r = readGRPCWeb(t, roundTrip(t, srv, fe, grpcWebRequest(t, tc.path, &testpb.EchoRequest{}, o)), o)
			if r.st.Code() != codes.Unimplemented || !strings.Contains(r.st.Message(), tc.msg) {
				t.Errorf("%s gRPC-Web %s: %v", fe.name, tc.path, r.st)
			}
			a := roundTrip(t, srv, fe, &httpReq{path: tc.path, header: http.Header{"Content-Type": {"text/html"}}})
			if a.status != http.StatusNotFound {
				t.Errorf("%s text/html %s: %d, want 404", fe.name, tc.path, a.status)
			}
		}
	}
}

func TestHTTPStreamingMethod(t *testing.T) {
	srv := newHTTPServer()
	const path = "/lambdatest.v1.TestService/Stream"
	// Connect's unary content types are refused for a streaming method, as
	// connect-go refuses them: 415.
	a := roundTrip(t, srv, functionURL, connectRequest(t, path, &testpb.EchoRequest{}, connectOpts{}))
	if a.status != http.StatusUnsupportedMediaType || !strings.Contains(string(a.body), "server-streaming") {
		t.Errorf("Connect unary to a streaming method: %d %s", a.status, a.body)
	}
	// gRPC-Web carries it: one message here, then OK.
	o := grpcWebOpts{}
	r := readGRPCWeb(t, roundTrip(t, srv, functionURL, grpcWebRequest(t, path, &testpb.EchoRequest{Message: "m", Count: 1}, o)), o)
	if r.st.Code() != codes.OK {
		t.Errorf("gRPC-Web to a streaming method: %v", r.st)
	}
	// Client-streaming methods are refused by both.
	r = readGRPCWeb(t, roundTrip(t, srv, functionURL, grpcWebRequest(t, "/lambdatest.v1.TestService/Collect", &testpb.EchoRequest{}, o)), o)
	if r.st.Code() != codes.Unimplemented || !strings.Contains(r.st.Message(), "client-streaming") {
		t.Errorf("gRPC-Web to a client-streaming method: %v", r.st)
	}
	// Connect streaming: to the unary Echo, a stream that ends with
	// UNIMPLEMENTED; to Stream, the messages and an end without error.
	for _, tc := range []struct {
		path string
		code codes.Code
	}{{echoPath, codes.Unimplemented}, {"/lambdatest.v1.TestService/Collect", codes.Unimplemented}, {path, codes.OK}} {
		a := roundTrip(t, srv, functionURL, &httpReq{path: tc.path, header: http.Header{"Content-Type": {"application/connect+proto"}}, body: frame(0, marshal(t, &testpb.EchoRequest{Message: "m", Count: 2}, false))})
		if a.status != 200 || a.header.Get("Content-Type") != "application/connect+proto" {
			t.Fatalf("Connect streaming %s: %d %v %x", tc.path, a.status, a.header, a.body)
		}
		body, messages := a.body, 0
		for len(body) >= 5 && body[0] == 0 {
			n := int(binary.BigEndian.Uint32(body[1:5]))
			body = body[5+n:]
			messages++
		}
		if len(body) < 5 || body[0] != 2 {
			t.Fatalf("Connect streaming %s: no end of stream in %x", tc.path, a.body)
		}
		var end struct{ Error json.RawMessage }
		if err := json.Unmarshal(body[5:], &end); err != nil {
			t.Fatal(err)
		}
		code := codes.OK
		if end.Error != nil {
			code = decodeConnectError(t, end.Error).Code()
		}
		if want := map[bool]int{true: 2, false: 0}[tc.code == codes.OK]; code != tc.code || messages != want {
			t.Errorf("Connect streaming %s: %v after %d messages, want %v after %d", tc.path, code, messages, tc.code, want)
		}
	}
}

// TestHTTPPathPrefix: a stage or a custom domain's base path before
// /<package>.<Service>/<Method> is ignored.
func TestHTTPPathPrefix(t *testing.T) {
	srv := newHTTPServer()
	for _, prefix := range []string{"/prod", "/api/v1", "/v1/orders/x", ""} {
		for _, fe := range frontEnds {
			req := echoRequest()
			a := roundTrip(t, srv, fe, connectRequest(t, prefix+echoPath, req, connectOpts{header: requestMetadata()}))
			checkEcho(t, readConnect(t, a, false), echoPath, req)
		}
	}
	// Percent-encoded paths are decoded.
	a := roundTrip(t, srv, functionURL, connectRequest(t, "/prod/lambdatest.v1.TestService%2FEcho", echoRequest(), connectOpts{header: requestMetadata()}))
	checkEcho(t, readConnect(t, a, false), echoPath, echoRequest())
}

func TestHTTPMalformed(t *testing.T) {
	srv := newHTTPServer(runtime.MaxRecvMsgSize(1024))
	msg := marshal(t, &testpb.EchoRequest{Message: "m"}, false)
	t.Run("event", func(t *testing.T) {
		for _, payload := range []string{
			`{"version":"2.0","rawPath":"/a.B/C","requestContext":{"http":{"method":"POST"}},"headers":{"content-type":1}}`,
			`{"httpMethod":"POST","path":"/a.B/C","headers":{"content-type":"application/json"},"body":"{}"`,
			`{"httpMethod":"POST","path":"/a.B/C","isBase64Encoded":"yes"}`,
			`{"requestContext":{"elb":{"targetGroupArn":"arn"}},"httpMethod":"POST","path":"/a.B/C","multiValueHeaders":{"a":"b"}}`,
		} {
			out, err := srv.Invoke(context.Background(), []byte(payload))
			if err != nil {
				t.Fatal(err)
			}
			var resp struct {
				StatusCode int
				Body       string
			}
			if err := json.Unmarshal(out, &resp); err != nil || resp.StatusCode != 400 || !strings.Contains(resp.Body, "malformed") {
				t.Errorf("%s: answer %s", payload, out)
			}
		}
	})
	t.Run("base64", func(t *testing.T) {
		for _, fe := range []frontEnd{functionURL, restAPI, alb(true)} {
			req := connectRequest(t, echoPath, &testpb.EchoRequest{Message: "m"}, connectOpts{})
			payload, _ := json.Marshal(fe.event(req))
			payload = bytes.Replace(payload, []byte(`"body":"`), []byte(`"body":"*`), 1)
			r := readConnect(t, invokeHTTP(t, srv, fe, payload), false)
			if r.st.Code() != codes.InvalidArgument || !strings.Contains(r.st.Message(), "base64") {
				t.Errorf("%s: %v", fe.name, r.st)
			}
		}
		o := grpcWebOpts{text: true}
		req := grpcWebRequest(t, echoPath, &testpb.EchoRequest{}, o)
		req.body = append(req.body, "!!"...)
		if r := readGRPCWeb(t, roundTrip(t, srv, functionURL, req), o); r.st.Code() != codes.InvalidArgument {
			t.Errorf("grpc-web-text: %v", r.st)
		}
	})
	t.Run("frames", func(t *testing.T) {
		for _, tc := range []struct {
			name string
			body []byte
			code codes.Code
		}{
			{"empty", nil, codes.Unimplemented},
			{"short prefix", []byte{0, 0, 0}, codes.Internal},
			{"truncated", frame(0, msg)[:7], codes.Internal},
			{"oversized", frame(0, make([]byte, 2048)), codes.ResourceExhausted},
			{"huge length", []byte{0, 0xff, 0xff, 0xff, 0xff}, codes.ResourceExhausted},
			{"two messages", append(frame(0, msg), frame(0, msg)...), codes.Unimplemented},
			{"trailer flag", frame(0x80, msg), codes.Internal},
			{"compressed without grpc-encoding", frame(1, msg), codes.Internal},
			{"garbage message", frame(0, []byte{0xff, 0xff}), codes.InvalidArgument},
		} {
			for _, text := range []bool{false, true} {
				o := grpcWebOpts{text: text}
				req := grpcWebRequest(t, echoPath, &testpb.EchoRequest{}, o)
				req.body = tc.body
				if text {
					req.body = []byte(base64.StdEncoding.EncodeToString(tc.body))
				}
				if r := readGRPCWeb(t, roundTrip(t, srv, functionURL, req), o); r.st.Code() != tc.code {
					t.Errorf("%s (text %v): %v, want %v", tc.name, text, r.st, tc.code)
				}
			}
		}
	})
	t.Run("connect body", func(t *testing.T) {
		for _, tc := range []struct {
			name     string
			body     []byte
			jsonMode bool
			code     codes.Code
		}{
			{"garbage proto", []byte{0xff, 0xff}, false, codes.InvalidArgument},
			{"garbage json", []byte(`{"message":`), true, codes.InvalidArgument},
			{"empty json", nil, true, codes.InvalidArgument},
			{"oversized", marshal(t, &testpb.EchoRequest{Payload: make([]byte, 2048)}, false), false, codes.ResourceExhausted},
			{"gzip bomb", gzipBytes(t, make([]byte, 1<<20)), false, codes.ResourceExhausted},
		} {
			req := connectRequest(t, echoPath, &testpb.EchoRequest{}, connectOpts{json: tc.jsonMode})
			req.body = tc.body
			if tc.name == "gzip bomb" {
				req.header.Set("Content-Encoding", "gzip")
			}
			r := readConnect(t, roundTrip(t, srv, functionURL, req), tc.jsonMode)
			if r.st.Code() != tc.code || r.status != connectHTTPStatus[tc.code] {
				t.Errorf("%s: %d %v, want %v", tc.name, r.status, r.st, tc.code)
			}
		}
	})
	t.Run("binary metadata", func(t *testing.T) {
		req := connectRequest(t, echoPath, &testpb.EchoRequest{}, connectOpts{header: http.Header{"X-Bad-Bin": {"%%%"}}})
		if r := readConnect(t, roundTrip(t, srv, functionURL, req), false); r.st.Code() != codes.Internal || !strings.Contains(r.st.Message(), "malformed binary metadata") {
			t.Errorf("bad -bin header: %v", r.st)
		}
	})
}

func TestHTTPLimits(t *testing.T) {
	srv := newHTTPServer()
	t.Run("load balancer request", func(t *testing.T) {
		for _, fe := range []frontEnd{alb(false), alb(true)} {
			req := connectRequest(t, echoPath, &testpb.EchoRequest{Payload: make([]byte, 1<<20)}, connectOpts{})
			r := readConnect(t, roundTrip(t, srv, fe, req), false)
			if r.st.Code() != codes.ResourceExhausted || !strings.Contains(r.st.Message(), "load balancer") {
				t.Errorf("%s: %v", fe.name, r.st)
			}
		}
	})
	t.Run("load balancer response", func(t *testing.T) {
		// 900 kB of message is 1.2 MB of base64: over the load balancer's
		// 1 MB, well within the others' 6 MB.
		req := &testpb.EchoRequest{ResponseSize: 900 << 10}
		for _, fe := range frontEnds {
			isALB := strings.HasPrefix(fe.name, "ALB")
			r := readConnect(t, roundTrip(t, srv, fe, connectRequest(t, echoPath, req, connectOpts{})), false)
			if got := r.st.Code(); isALB && (got != codes.ResourceExhausted || r.status != 429) || !isALB && got != codes.OK {
				t.Errorf("%s: %d %v", fe.name, r.status, r.st)
			}
			o := grpcWebOpts{}
			r = readGRPCWeb(t, roundTrip(t, srv, fe, grpcWebRequest(t, echoPath, req, o)), o)
			if got := r.st.Code(); isALB && got != codes.ResourceExhausted || !isALB && got != codes.OK {
				t.Errorf("%s gRPC-Web: %v", fe.name, r.st)
			}
		}
	})
	t.Run("lambda response", func(t *testing.T) {
		req := &testpb.EchoRequest{ResponseSize: 5 << 20}
		r := readConnect(t, roundTrip(t, srv, functionURL, connectRequest(t, echoPath, req, connectOpts{})), false)
		if r.st.Code() != codes.ResourceExhausted || !strings.Contains(r.st.Message(), "Lambda limit") {
			t.Errorf("%v", r.st)
		}
		// Compressed, the same message fits.
		r = readConnect(t, roundTrip(t, srv, functionURL, connectRequest(t, echoPath, req, connectOpts{acceptGzip: true})), false)
		if r.st.Code() != codes.OK || len(r.resp.GetPayload()) != 5<<20 {
			t.Errorf("compressed: %v", r.st)
		}
	})
	t.Run("message size", func(t *testing.T) {
		small := newHTTPServer(runtime.MaxSendMsgSize(100))
		r := readConnect(t, roundTrip(t, small, functionURL, connectRequest(t, echoPath, &testpb.EchoRequest{ResponseSize: 200}, connectOpts{})), false)
		if r.st.Code() != codes.ResourceExhausted {
			t.Errorf("MaxSendMsgSize: %v", r.st)
		}
	})
}

func TestHTTPCORS(t *testing.T) {
	preflight := func(origin string) *httpReq {
		return &httpReq{method: http.MethodOptions, path: echoPath, header: http.Header{
			"Origin": {origin}, "Access-Control-Request-Method": {"POST"},
			"Access-Control-Request-Headers": {"content-type,connect-protocol-version,authorization"},
		}}
	}
	srv := newHTTPServer(runtime.CORS("https://app.example.com", "https://*.preview.example.com"))
	for _, fe := range frontEnds {
		t.Run(fe.name, func(t *testing.T) {
			for _, origin := range []string{"https://app.example.com", "https://pr-1.preview.example.com"} {
				a := roundTrip(t, srv, fe, preflight(origin))
				if a.status != http.StatusNoContent || a.header.Get("Access-Control-Allow-Origin") != origin {
					t.Fatalf("preflight from %s: %d %v", origin, a.status, a.header)
				}
				allowed := strings.ToLower(a.header.Get("Access-Control-Allow-Headers"))
				for _, h := range []string{"content-type", "connect-protocol-version", "connect-timeout-ms", "grpc-timeout", "x-grpc-web", "x-user-agent", "authorization"} {
					if !strings.Contains(allowed, h) {
						t.Errorf("Access-Control-Allow-Headers %q lacks %s", allowed, h)
					}
				}
				if m := a.header.Get("Access-Control-Allow-Methods"); !strings.Contains(m, "POST") || !strings.Contains(m, "GET") {
					t.Errorf("Access-Control-Allow-Methods %q", m)
				}
				if a.header.Get("Access-Control-Max-Age") == "" {
					t.Errorf("no Access-Control-Max-Age")
				}
			}
			for _, origin := range []string{"https://evil.example.com", "https://preview.example.com"} {
				a := roundTrip(t, srv, fe, preflight(origin))
				if a.header.Get("Access-Control-Allow-Origin") != "" {
					t.Errorf("preflight from %s allowed: %v", origin, a.header)
				}
			}
			// The call itself: the page may read the headers and trailers.
			req := connectRequest(t, echoPath, echoRequest(), connectOpts{header: requestMetadata()})
			req.header.Set("Origin", "https://app.example.com")
			a := roundTrip(t, srv, fe, req)
			if a.header.Get("Access-Control-Allow-Origin") != "https://app.example.com" {
				t.Errorf("answer without Access-Control-Allow-Origin: %v", a.header)
			}
			exposed := strings.ToLower(a.header.Get("Access-Control-Expose-Headers"))
			for _, h := range []string{"x-set", "x-set-bin", "trailer-x-trailer", "grpc-status", "grpc-message"} {
				if !strings.Contains(exposed, h) {
					t.Errorf("Access-Control-Expose-Headers %q lacks %s", exposed, h)
				}
			}
			checkEcho(t, readConnect(t, a, false), echoPath, echoRequest())
			req.header.Set("Origin", "https://evil.example.com")
			if a := roundTrip(t, srv, fe, req); a.header.Get("Access-Control-Allow-Origin") != "" {
				t.Errorf("answer to a disallowed origin allows it: %v", a.header)
			}
		})
	}
	t.Run("any origin", func(t *testing.T) {
		a := roundTrip(t, newHTTPServer(runtime.CORS("*")), functionURL, preflight("https://x.test"))
		if a.header.Get("Access-Control-Allow-Origin") != "*" {
			t.Errorf("%v", a.header)
		}
	})
	t.Run("off", func(t *testing.T) {
		a := roundTrip(t, newHTTPServer(), functionURL, preflight("https://app.example.com"))
		if a.status != http.StatusMethodNotAllowed || a.header.Get("Access-Control-Allow-Origin") != "" {
			t.Errorf("preflight without the CORS option: %d %v", a.status, a.header)
		}
	})
}

func TestHTTPInterceptor(t *testing.T) {
	var seen []string
	srv := newHTTPServer(runtime.UnaryInterceptor(func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		md, _ := metadata.FromIncomingContext(ctx)
		seen = append(seen, info.FullMethod+" "+strings.Join(md.Get("authorization"), ""))
		if strings.Join(md.Get("authorization"), "") == "" {
			return nil, status.Error(codes.Unauthenticated, "no token")
		}
		return handler(ctx, req)
	}))
	checkEcho(t, readConnect(t, roundTrip(t, srv, restAPI, connectRequest(t, echoPath, echoRequest(), connectOpts{header: requestMetadata()})), false), echoPath, echoRequest())
	r := readConnect(t, roundTrip(t, srv, restAPI, connectRequest(t, echoPath, echoRequest(), connectOpts{})), false)
	if r.status != 401 || r.st.Code() != codes.Unauthenticated {
		t.Errorf("%d %v", r.status, r.st)
	}
	if want := []string{echoPath + " Bearer t0ken", echoPath + " "}; fmt.Sprint(seen) != fmt.Sprint(want) {
		t.Errorf("interceptor saw %q, want %q", seen, want)
	}
}

// TestEventDetection: envelopes are envelopes whatever the order of their
// fields; events are events; anything else is a malformed envelope.
func TestEventDetection(t *testing.T) {
	srv := newHTTPServer()
	for _, tc := range []struct {
		payload string
		event   bool
	}{
		{`{"method":"/lambdatest.v1.TestService/Echo","body":"","v":1}`, false},
		{` { "v" : 1, "method":"/lambdatest.v1.TestService/Echo","body":""}`, false},
		{`{"httpMethod":"POST","v":1,"method":"/lambdatest.v1.TestService/Echo","body":""}`, false},
		{`{"rawPath":"/x","requestContext":{"http":{"method":"GET"}}}`, true},
		{`{"requestContext":{"elb":{}},"httpMethod":"GET","path":"/x"}`, true},
		{`{"httpMethod":"GET","path":"/x"}`, true},
		{`{"foo":1}`, false},
		{`[1,2]`, false},
		{`garbage`, false},
	} {
		out, err := srv.Invoke(context.Background(), []byte(tc.payload))
		if err != nil {
			t.Fatal(err)
		}
		var probe map[string]any
		if err := json.Unmarshal(out, &probe); err != nil {
			t.Fatalf("%s: answer %q", tc.payload, out)
		}
		if _, isHTTP := probe["statusCode"]; isHTTP != tc.event {
			t.Errorf("%s: answered as an HTTP event %v, want %v: %s", tc.payload, isHTTP, tc.event, out)
		}
	}
}

// TestHTTPPlainGRPCClient: a grpc-go client calling the function through an
// HTTP/2 front end (here a TLS test server that turns each request into a
// Function URL event, as Lambda's does) gets an error that says what to use
// instead, never a success.
func TestHTTPPlainGRPCClient(t *testing.T) {
	fn := newHTTPServer()
	front := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, err := io.ReadAll(req.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		r := &httpReq{method: req.Method, path: req.URL.Path, query: req.URL.RawQuery, header: req.Header.Clone(), body: body}
		payload, err := json.Marshal(functionURL.event(r))
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		out, err := fn.Invoke(req.Context(), payload)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		var resp events.APIGatewayV2HTTPResponse
		if err := json.Unmarshal(out, &resp); err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		for k, v := range resp.Headers {
			w.Header().Set(k, v)
		}
		w.WriteHeader(resp.StatusCode)
		b := []byte(resp.Body)
		if resp.IsBase64Encoded {
			b, _ = base64.StdEncoding.DecodeString(resp.Body)
		}
		_, _ = w.Write(b)
	}))
	front.EnableHTTP2 = true
	front.StartTLS()
	defer front.Close()

	tlsConfig := front.Client().Transport.(*http.Transport).TLSClientConfig
	conn, err := grpc.NewClient("passthrough:///"+front.Listener.Addr().String(), grpc.WithTransportCredentials(credentials.NewTLS(tlsConfig)))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_, err = testpb.NewTestServiceClient(conn).Echo(ctx, &testpb.EchoRequest{Message: "hi"})
	st := status.Convert(err)
	if err == nil || st.Code() == codes.OK {
		t.Fatal("a plain gRPC call through an HTTP front end succeeded")
	}
	for _, want := range []string{"415", "Connect", "gRPC-Web", "Invoke"} {
		if !strings.Contains(st.Message(), want) {
			t.Errorf("grpc-go reports %v; the message does not name %q", st, want)
		}
	}
	t.Logf("grpc-go reports: %v", st)
}
