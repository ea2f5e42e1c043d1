package lambdatest_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"

	"github.com/protoc-gen-go-lambda/protoc-gen-go-lambda/runtime/lambdatest"
)

// recorder is a function that keeps a copy of every event it gets and
// answers each with answer.
type recorder struct {
	answer []byte

	mu     sync.Mutex
	events [][]byte
}

func (rec *recorder) Invoke(_ context.Context, payload []byte) ([]byte, error) {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	rec.events = append(rec.events, bytes.Clone(payload))
	return rec.answer, nil
}

func (rec *recorder) count() int {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return len(rec.events)
}

// last decodes the last event into v (and returns it raw).
func (rec *recorder) last(t *testing.T, v any) map[string]any {
	t.Helper()
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if len(rec.events) == 0 {
		t.Fatal("the function was not invoked")
	}
	ev := rec.events[len(rec.events)-1]
	if err := json.Unmarshal(ev, v); err != nil {
		t.Fatalf("decoding the event: %v\n%s", err, ev)
	}
	var raw map[string]any
	if err := json.Unmarshal(ev, &raw); err != nil {
		t.Fatal(err)
	}
	return raw
}

func answer(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// frontEnd serves NewHTTPHandler(h, fe, opts...) on a real HTTP server.
func frontEnd(t *testing.T, h lambda.Handler, fe lambdatest.FrontEnd, opts ...lambdatest.HTTPOption) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(lambdatest.NewHTTPHandler(h, fe, opts...))
	t.Cleanup(srv.Close)
	return srv
}

// The request most tests send: repeated headers, two Cookie lines, a query
// string with a repeated and an escaped parameter, a client-side
// X-Forwarded-For, and a body that is not UTF-8.
var requestBody = []byte{0x00, 0x01, 0x80, 0xfe, 0xff, 'x'}

const requestQuery = "q=1&q=2&r=a%2Bb&empty="

func newRequest(t *testing.T, srv *httptest.Server, path string) *http.Request {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, srv.URL+path+"?"+requestQuery, bytes.NewReader(requestBody))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/octet-stream")
	req.Header.Set("Accept", "application/octet-stream")
	req.Header.Set("User-Agent", "lambdatest-client/1")
	req.Header.Set("X-Forwarded-For", "10.0.0.1")
	req.Header.Add("X-Rep", "1")
	req.Header.Add("X-Rep", "2")
	req.Header.Add("Cookie", "a=1; b=2")
	req.Header.Add("Cookie", "c=3")
	return req
}

// result is a response as the client saw it.
type result struct {
	status int
	header http.Header
	body   []byte
}

func do(t *testing.T, req *http.Request) result {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return result{resp.StatusCode, resp.Header, body}
}

func get(t *testing.T, srv *httptest.Server, path string) result {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, srv.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	return do(t, req)
}

func post(t *testing.T, srv *httptest.Server, path, contentType string, body []byte) result {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, srv.URL+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	return do(t, req)
}

func serverHostPort(t *testing.T, srv *httptest.Server) (host, port string) {
	t.Helper()
	u, err := url.Parse(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	_, port, err = net.SplitHostPort(u.Host)
	if err != nil {
		t.Fatal(err)
	}
	return u.Host, port
}

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

func decodeB64(t *testing.T, s string) []byte {
	t.Helper()
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		t.Fatalf("body %q is not base64: %v", s, err)
	}
	return b
}

// checkTime checks a requestContext time against its epoch milliseconds.
func checkTime(t *testing.T, clf string, epochMillis int64) {
	t.Helper()
	tm, err := time.Parse("02/Jan/2006:15:04:05 -0700", clf)
	if err != nil {
		t.Errorf("time %q: %v", clf, err)
		return
	}
	if tm.Unix() != epochMillis/1000 || !strings.HasSuffix(clf, " +0000") {
		t.Errorf("time %q and epoch %d disagree (or are not UTC)", clf, epochMillis)
	}
}

// The response the payload format 2.0 tests' function gives: a binary body,
// headers, cookies, and multiValueHeaders, which format 2.0 does not read.
var responseBody = []byte{0xff, 0x00, 'o', 'k', 0x80}

func answerV2(t *testing.T) []byte {
	return answer(t, map[string]any{
		"statusCode":        201,
		"headers":           map[string]string{"Content-Type": "application/octet-stream", "X-Single": "one", "Content-Length": "999"},
		"multiValueHeaders": map[string][]string{"X-Ignored": {"a"}},
		"cookies":           []string{"c1=v1; Path=/", "c2=v2"},
		"body":              b64(responseBody),
		"isBase64Encoded":   true,
	})
}

func checkResponseV2(t *testing.T, got result) {
	t.Helper()
	if got.status != http.StatusCreated || !bytes.Equal(got.body, responseBody) {
		t.Errorf("client got %d %q, want 201 %q", got.status, got.body, responseBody)
	}
	if sc := got.header.Values("Set-Cookie"); !slices.Equal(sc, []string{"c1=v1; Path=/", "c2=v2"}) {
		t.Errorf("Set-Cookie = %q, want each cookie", sc)
	}
	if got.header.Get("X-Single") != "one" || got.header.Get("Content-Type") != "application/octet-stream" {
		t.Errorf("headers %v", got.header)
	}
	if got.header.Get("X-Ignored") != "" {
		t.Error("payload format 2.0 took the response's multiValueHeaders")
	}
	if got.header.Get("Content-Length") != "5" {
		t.Errorf("Content-Length %q: the front end computes it", got.header.Get("Content-Length"))
	}
}

// TestPayloadFormat2Event: function URLs and HTTP APIs build the event of
// payload format 2.0 (urls-invocation; http-api-develop-integrations-lambda):
// header names lower-cased, repeated headers and query parameters
// comma-joined, cookies in their own field and not in headers, a binary
// body base64-encoded.
func TestPayloadFormat2Event(t *testing.T) {
	for _, fe := range []lambdatest.FrontEnd{lambdatest.FunctionURL, lambdatest.HTTPAPI} {
		t.Run(fe.String(), func(t *testing.T) {
			rec := &recorder{answer: answerV2(t)}
			srv := frontEnd(t, rec, fe)
			checkResponseV2(t, do(t, newRequest(t, srv, "/some/path%20x")))

			var ev events.APIGatewayV2HTTPRequest
			raw := rec.last(t, &ev)
			host, port := serverHostPort(t, srv)
			if ev.Version != "2.0" || ev.RouteKey != "$default" || ev.RawPath != "/some/path%20x" || ev.RawQueryString != requestQuery {
				t.Errorf("version %q routeKey %q rawPath %q rawQueryString %q", ev.Version, ev.RouteKey, ev.RawPath, ev.RawQueryString)
			}
			if want := map[string]string{"q": "1,2", "r": "a+b", "empty": ""}; !reflect.DeepEqual(ev.QueryStringParameters, want) {
				t.Errorf("queryStringParameters = %v, want %v", ev.QueryStringParameters, want)
			}
			if want := []string{"a=1", "b=2", "c=3"}; !slices.Equal(ev.Cookies, want) {
				t.Errorf("cookies = %q, want %q", ev.Cookies, want)
			}
			for name := range ev.Headers {
				if name != strings.ToLower(name) {
					t.Errorf("header name %q is not lower-case", name)
				}
			}
			for name, want := range map[string]string{
				"x-rep":             "1,2",
				"content-type":      "application/octet-stream",
				"user-agent":        "lambdatest-client/1",
				"host":              host,
				"x-forwarded-for":   "10.0.0.1, 127.0.0.1",
				"x-forwarded-proto": "http",
				"x-forwarded-port":  port,
				"content-length":    "6",
			} {
				if got := ev.Headers[name]; got != want {
					t.Errorf("headers[%q] = %q, want %q", name, got, want)
				}
			}
			if _, ok := ev.Headers["cookie"]; ok {
				t.Error("the cookie header is in headers too")
			}
			if !strings.HasPrefix(ev.Headers["x-amzn-trace-id"], "Root=1-") {
				t.Errorf("x-amzn-trace-id = %q", ev.Headers["x-amzn-trace-id"])
			}
			rc := ev.RequestContext
			if rc.HTTP.Method != http.MethodPost || rc.HTTP.Path != "/some/path%20x" || rc.HTTP.Protocol != "HTTP/1.1" || rc.HTTP.SourceIP != "127.0.0.1" || rc.HTTP.UserAgent != "lambdatest-client/1" {
				t.Errorf("requestContext.http = %+v", rc.HTTP)
			}
			if rc.RouteKey != "$default" || rc.Stage != "$default" || rc.RequestID == "" || rc.APIID == "" || rc.DomainPrefix == "" || rc.DomainName != host {
				t.Errorf("requestContext = %+v", rc)
			}
			wantAccount := "123456789012"
			if fe == lambdatest.FunctionURL {
				wantAccount = "anonymous" // auth type NONE
			}
			if rc.AccountID != wantAccount {
				t.Errorf("accountId = %q, want %q", rc.AccountID, wantAccount)
			}
			checkTime(t, rc.Time, rc.TimeEpoch)
			if !ev.IsBase64Encoded || !bytes.Equal(decodeB64(t, ev.Body), requestBody) {
				t.Errorf("body %q (isBase64Encoded %v), want %v base64-encoded", ev.Body, ev.IsBase64Encoded, requestBody)
			}
			if _, ok := raw["multiValueHeaders"]; ok {
				t.Error("payload format 2.0 has no multiValueHeaders")
			}

			// aws-lambda-go's type for function URLs reads the same event.
			var furl events.LambdaFunctionURLRequest
			rec.last(t, &furl)
			if furl.RequestContext.HTTP.Path != "/some/path%20x" || furl.Headers["x-rep"] != "1,2" {
				t.Errorf("as a LambdaFunctionURLRequest: %+v", furl)
			}

			// Each request has its own ID.
			do(t, newRequest(t, srv, "/"))
			var second events.APIGatewayV2HTTPRequest
			rec.last(t, &second)
			if second.RequestContext.RequestID == rc.RequestID {
				t.Errorf("two requests share the request ID %q", rc.RequestID)
			}
		})
	}
}

// TestPayloadFormat2Body: a body is text when its type names text, JSON or
// XML and it is ASCII, base64 otherwise; a request without a body has no
// body field.
func TestPayloadFormat2Body(t *testing.T) {
	for _, fe := range []lambdatest.FrontEnd{lambdatest.FunctionURL, lambdatest.HTTPAPI} {
		t.Run(fe.String(), func(t *testing.T) {
			rec := &recorder{answer: []byte(`{"statusCode":204}`)}
			srv := frontEnd(t, rec, fe)
			for _, tc := range []struct {
				contentType, body string
				base64            bool
			}{
				{"application/json", `{"a":1}`, false},
				{"text/plain; charset=utf-8", "plain", false},
				{"application/xml", "<a/>", false},
				{"application/connect+json", `{"b":2}`, false},
				{"text/plain; charset=utf-8", "h\u00e9llo", true}, // not ASCII
				{"application/grpc-web+proto", "\x00\x00\x00\x00\x00", true},
				{"application/proto", "abc", true},
				{"", "abc", true},
			} {
				if got := post(t, srv, "/", tc.contentType, []byte(tc.body)); got.status != http.StatusNoContent {
					t.Fatalf("%s: status %d %s", tc.contentType, got.status, got.body)
				}
				var ev events.APIGatewayV2HTTPRequest
				rec.last(t, &ev)
				body := ev.Body
				if ev.IsBase64Encoded {
					body = string(decodeB64(t, ev.Body))
				}
				if ev.IsBase64Encoded != tc.base64 || body != tc.body {
					t.Errorf("%q %q: body %q, isBase64Encoded %v; want base64 %v", tc.contentType, tc.body, ev.Body, ev.IsBase64Encoded, tc.base64)
				}
			}
			get(t, srv, "/")
			var ev events.APIGatewayV2HTTPRequest
			raw := rec.last(t, &ev)
			if _, ok := raw["body"]; ok || ev.IsBase64Encoded {
				t.Errorf("a request without a body: body %v, isBase64Encoded %v", raw["body"], ev.IsBase64Encoded)
			}
			if _, ok := raw["queryStringParameters"]; ok {
				t.Error("a request without a query string has queryStringParameters")
			}
		})
	}
}

// TestPayloadFormat2InferredResponse: valid JSON without a statusCode is
// the body of a 200 with Content-Type application/json (a JSON string: its
// value); anything else without a valid statusCode is a 502.
func TestPayloadFormat2InferredResponse(t *testing.T) {
	for _, fe := range []lambdatest.FrontEnd{lambdatest.FunctionURL, lambdatest.HTTPAPI} {
		t.Run(fe.String(), func(t *testing.T) {
			for _, tc := range []struct {
				answer, body string
				status       int
			}{
				{`{"hello":"world"}`, `{"hello":"world"}`, 200},
				{`{"body":"not read"}`, `{"body":"not read"}`, 200},
				{`"Hello from Lambda!"`, "Hello from Lambda!", 200},
				{`[1,2]`, `[1,2]`, 200},
				{`{"statusCode":"202","body":"accepted"}`, "accepted", 202},
				{`not JSON`, "", 502},
				{`{"statusCode":"many"}`, "", 502},
				{`{"statusCode":99}`, "", 502},
				{`{"statusCode":200,"body":"%%%","isBase64Encoded":true}`, "", 502},
				{`{"statusCode":200,"headers":{"x":1}}`, "", 502},
			} {
				srv := frontEnd(t, &recorder{answer: []byte(tc.answer)}, fe)
				got := get(t, srv, "/")
				if got.status != tc.status || (tc.status != 502 && string(got.body) != tc.body) {
					t.Errorf("answer %s: client got %d %q, want %d %q", tc.answer, got.status, got.body, tc.status, tc.body)
				}
				if tc.status == 200 && got.header.Get("Content-Type") != "application/json" {
					t.Errorf("answer %s: Content-Type %q", tc.answer, got.header.Get("Content-Type"))
				}
			}
		})
	}
}

// TestRESTAPIEvent: payload format 1.0 as a REST API with a proxy resource
// sends it (set-up-lambda-proxy-integrations): the stage is in the client's
// path and in requestContext.path, not in path; headers and
// queryStringParameters hold the last value of a repeated name, the
// multiValue fields all; with the default binary media type */* the body is
// base64-encoded.
func TestRESTAPIEvent(t *testing.T) {
	rec := &recorder{answer: answer(t, map[string]any{
		"statusCode": 201,
		"headers":    map[string]string{"X-Single": "one", "X-Multi": "replaced"},
		"multiValueHeaders": map[string][]string{
			"X-Multi":      {"a", "b"},
			"Set-Cookie":   {"c1=v1", "c2=v2"},
			"Content-Type": {"application/octet-stream"},
		},
		"body":            b64(responseBody),
		"isBase64Encoded": true,
	})}
	srv := frontEnd(t, rec, lambdatest.RESTAPI)
	got := do(t, newRequest(t, srv, "/prod/some/path%20x"))
	if got.status != http.StatusCreated || !bytes.Equal(got.body, responseBody) {
		t.Errorf("client got %d %q, want 201 and the decoded body", got.status, got.body)
	}
	if v := got.header.Values("X-Multi"); !slices.Equal(v, []string{"a", "b"}) || got.header.Get("X-Single") != "one" {
		t.Errorf("headers %v: want headers and multiValueHeaders merged, multiValueHeaders winning", got.header)
	}
	if v := got.header.Values("Set-Cookie"); len(v) != 2 {
		t.Errorf("Set-Cookie %q", v)
	}

	var ev events.APIGatewayProxyRequest
	raw := rec.last(t, &ev)
	host, _ := serverHostPort(t, srv)
	if ev.Resource != "/{proxy+}" || ev.Path != "/some/path x" || ev.HTTPMethod != http.MethodPost {
		t.Errorf("resource %q path %q method %q", ev.Resource, ev.Path, ev.HTTPMethod)
	}
	if want := map[string]string{"proxy": "some/path x"}; !reflect.DeepEqual(ev.PathParameters, want) {
		t.Errorf("pathParameters = %v, want %v", ev.PathParameters, want)
	}
	for name, want := range map[string]string{"X-Rep": "2", "Cookie": "c=3", "Content-Type": "application/octet-stream", "Host": host, "X-Forwarded-For": "10.0.0.1, 127.0.0.1"} {
		if got := ev.Headers[name]; got != want {
			t.Errorf("headers[%q] = %q, want %q", name, got, want)
		}
	}
	if v := ev.MultiValueHeaders["X-Rep"]; !slices.Equal(v, []string{"1", "2"}) {
		t.Errorf("multiValueHeaders[X-Rep] = %q", v)
	}
	if v := ev.MultiValueHeaders["Cookie"]; !slices.Equal(v, []string{"a=1; b=2", "c=3"}) {
		t.Errorf("multiValueHeaders[Cookie] = %q", v)
	}
	if want := map[string]string{"q": "2", "r": "a+b", "empty": ""}; !reflect.DeepEqual(ev.QueryStringParameters, want) {
		t.Errorf("queryStringParameters = %v, want %v", ev.QueryStringParameters, want)
	}
	if want := map[string][]string{"q": {"1", "2"}, "r": {"a+b"}, "empty": {""}}; !reflect.DeepEqual(ev.MultiValueQueryStringParameters, want) {
		t.Errorf("multiValueQueryStringParameters = %v, want %v", ev.MultiValueQueryStringParameters, want)
	}
	rc := ev.RequestContext
	if rc.Stage != "prod" || rc.Path != "/prod/some/path%20x" || rc.ResourcePath != "/{proxy+}" || rc.HTTPMethod != http.MethodPost ||
		rc.Identity.SourceIP != "127.0.0.1" || rc.Identity.UserAgent != "lambdatest-client/1" || rc.RequestID == "" || rc.AccountID != "123456789012" || rc.Protocol != "HTTP/1.1" {
		t.Errorf("requestContext = %+v", rc)
	}
	checkTime(t, rc.RequestTime, rc.RequestTimeEpoch)
	if !ev.IsBase64Encoded || !bytes.Equal(decodeB64(t, ev.Body), requestBody) {
		t.Errorf("body %q (isBase64Encoded %v)", ev.Body, ev.IsBase64Encoded)
	}
	if v, ok := raw["stageVariables"]; !ok || v != nil {
		t.Errorf("stageVariables = %v, want null", v)
	}

	// No body, no query string: null fields.
	get(t, srv, "/prod")
	raw = rec.last(t, &ev)
	for _, k := range []string{"body", "queryStringParameters", "multiValueQueryStringParameters", "pathParameters"} {
		if v, ok := raw[k]; !ok || v != nil {
			t.Errorf("GET /prod: %s = %v, want null", k, v)
		}
	}
	if ev.Path != "/" || ev.Resource != "/" || ev.RequestContext.Path != "/prod" || ev.IsBase64Encoded {
		t.Errorf("GET /prod: path %q resource %q requestContext.path %q", ev.Path, ev.Resource, ev.RequestContext.Path)
	}
}

// TestRESTAPIStage: the client's path must start with the stage; outside it
// there is nothing (403), and the function is not invoked.
func TestRESTAPIStage(t *testing.T) {
	rec := &recorder{answer: []byte(`{"statusCode":200}`)}
	srv := frontEnd(t, rec, lambdatest.RESTAPI, lambdatest.WithStage("v1"))
	for _, path := range []string{"/prod/x", "/", "/v1x/y"} {
		if got := get(t, srv, path); got.status != http.StatusForbidden || string(got.body) != `{"message":"Forbidden"}` {
			t.Errorf("GET %s: %d %s, want 403", path, got.status, got.body)
		}
	}
	if rec.count() != 0 {
		t.Fatalf("the function was invoked %d times for paths outside the stage", rec.count())
	}
	for path, want := range map[string]string{"/v1": "/", "/v1/": "/", "/v1/a/b": "/a/b"} {
		if got := get(t, srv, path); got.status != http.StatusOK {
			t.Errorf("GET %s: %d", path, got.status)
		}
		var ev events.APIGatewayProxyRequest
		rec.last(t, &ev)
		if ev.Path != want || ev.RequestContext.Path != path || ev.RequestContext.Stage != "v1" {
			t.Errorf("GET %s: path %q (want %q), requestContext.path %q, stage %q", path, ev.Path, want, ev.RequestContext.Path, ev.RequestContext.Stage)
		}
	}
}

// TestRESTAPIBinaryMediaTypes: a request body is base64 only when its
// Content-Type matches a binary media type, text otherwise (mangled if it
// is not UTF-8); a base64 response is decoded only when the request's first
// Accept media type (or, without Accept, the response's Content-Type)
// matches one.
func TestRESTAPIBinaryMediaTypes(t *testing.T) {
	png := []byte{0x89, 'P', 'N', 'G', 0x00, 0xff}
	rec := &recorder{answer: answer(t, map[string]any{
		"statusCode": 200, "headers": map[string]string{"Content-Type": "image/png"}, "body": b64(png), "isBase64Encoded": true,
	})}
	srv := frontEnd(t, rec, lambdatest.RESTAPI, lambdatest.WithBinaryMediaTypes("image/*", "application/grpc-web+proto"))
	for _, tc := range []struct {
		contentType string
		body        []byte
		base64      bool
		text        string // the event's body when not base64
	}{
		{"image/png", png, true, ""},
		{"application/grpc-web+proto", []byte{0, 0, 0, 0, 1, 0xff}, true, ""},
		{"application/octet-stream", []byte{'a', 0xff, 'b'}, false, "a\uFFFDb"},
		{"application/json", []byte(`{"a":1}`), false, `{"a":1}`},
		{"", []byte(`{"a":1}`), false, `{"a":1}`},
	} {
		post(t, srv, "/prod/", tc.contentType, tc.body)
		var ev events.APIGatewayProxyRequest
		rec.last(t, &ev)
		switch {
		case ev.IsBase64Encoded != tc.base64:
			t.Errorf("%q: isBase64Encoded %v, want %v", tc.contentType, ev.IsBase64Encoded, tc.base64)
		case tc.base64 && !bytes.Equal(decodeB64(t, ev.Body), tc.body):
			t.Errorf("%q: body %q", tc.contentType, ev.Body)
		case !tc.base64 && ev.Body != tc.text:
			t.Errorf("%q: body %q, want %q", tc.contentType, ev.Body, tc.text)
		}
	}
	for _, tc := range []struct {
		accept  string
		decoded bool
	}{
		{"image/png", true},
		{"image/webp,image/*,*/*;q=0.8", true},
		{"text/html, image/png", false}, // only the first counts
		{"", true},                      // the response's image/png
	} {
		req, _ := http.NewRequest(http.MethodGet, srv.URL+"/prod/img", nil)
		if tc.accept != "" {
			req.Header.Set("Accept", tc.accept)
		}
		got := do(t, req)
		want := []byte(b64(png))
		if tc.decoded {
			want = png
		}
		if got.status != http.StatusOK || !bytes.Equal(got.body, want) {
			t.Errorf("Accept %q: %d %q, want %q", tc.accept, got.status, got.body, want)
		}
	}

	// The default, */*, makes every body binary, even JSON without a
	// Content-Type (which API Gateway takes for application/json).
	srv = frontEnd(t, rec, lambdatest.RESTAPI)
	post(t, srv, "/prod/", "", []byte(`{"a":1}`))
	var ev events.APIGatewayProxyRequest
	rec.last(t, &ev)
	if !ev.IsBase64Encoded || string(decodeB64(t, ev.Body)) != `{"a":1}` {
		t.Errorf("default binary media types: body %q, isBase64Encoded %v", ev.Body, ev.IsBase64Encoded)
	}
}

// TestALBEvent: an ALB without multi-value headers lower-cases header
// names, keeps the last value of a repeated header or query parameter,
// does not URL-decode query parameters, base64-encodes a binary body, and
// reads the response's headers but not its multiValueHeaders
// (lambda-functions).
func TestALBEvent(t *testing.T) {
	rec := &recorder{answer: answer(t, map[string]any{
		"statusCode": 201, "statusDescription": "201 Created",
		"headers":           map[string]string{"Content-Type": "application/octet-stream", "Set-Cookie": "c1=v1", "X-Single": "one"},
		"multiValueHeaders": map[string][]string{"X-Ignored": {"x"}},
		"body":              b64(responseBody), "isBase64Encoded": true,
	})}
	srv := frontEnd(t, rec, lambdatest.ALB)
	got := do(t, newRequest(t, srv, "/some/path%20x"))
	if got.status != http.StatusCreated || !bytes.Equal(got.body, responseBody) || got.header.Get("X-Single") != "one" {
		t.Errorf("client got %d %q %v", got.status, got.body, got.header)
	}
	if got.header.Get("X-Ignored") != "" || !slices.Equal(got.header.Values("Set-Cookie"), []string{"c1=v1"}) {
		t.Errorf("headers %v: want only the response's headers", got.header)
	}

	var ev events.ALBTargetGroupRequest
	raw := rec.last(t, &ev)
	host, port := serverHostPort(t, srv)
	if ev.HTTPMethod != http.MethodPost || ev.Path != "/some/path%20x" || !strings.HasPrefix(ev.RequestContext.ELB.TargetGroupArn, "arn:aws:elasticloadbalancing:") {
		t.Errorf("method %q path %q requestContext %+v", ev.HTTPMethod, ev.Path, ev.RequestContext)
	}
	if want := map[string]string{"q": "2", "r": "a%2Bb", "empty": ""}; !reflect.DeepEqual(ev.QueryStringParameters, want) {
		t.Errorf("queryStringParameters = %v, want %v", ev.QueryStringParameters, want)
	}
	for name := range ev.Headers {
		if name != strings.ToLower(name) {
			t.Errorf("header name %q is not lower-case", name)
		}
	}
	for name, want := range map[string]string{"x-rep": "2", "cookie": "c=3", "host": host, "x-forwarded-for": "10.0.0.1, 127.0.0.1", "x-forwarded-port": port, "x-forwarded-proto": "http"} {
		if got := ev.Headers[name]; got != want {
			t.Errorf("headers[%q] = %q, want %q", name, got, want)
		}
	}
	if _, ok := raw["multiValueHeaders"]; ok {
		t.Error("multiValueHeaders in an event with multi-value headers off")
	}
	if !ev.IsBase64Encoded || !bytes.Equal(decodeB64(t, ev.Body), requestBody) {
		t.Errorf("body %q (isBase64Encoded %v)", ev.Body, ev.IsBase64Encoded)
	}

	// The body types the ALB passes as text; an empty body is "".
	for _, tc := range []struct {
		contentType string
		base64      bool
	}{
		{"text/plain; charset=utf-8", false}, {"text/html", false}, {"application/json", false}, {"application/javascript", false}, {"application/xml", false},
		{"application/x-www-form-urlencoded", true}, {"application/connect+json", true}, {"application/grpc-web+proto", true}, {"", true},
	} {
		post(t, srv, "/", tc.contentType, []byte("h\u00e9llo"))
		rec.last(t, &ev)
		if ev.IsBase64Encoded != tc.base64 {
			t.Errorf("%q: isBase64Encoded %v, want %v", tc.contentType, ev.IsBase64Encoded, tc.base64)
		}
	}
	get(t, srv, "/")
	raw = rec.last(t, &ev)
	if v, ok := raw["body"]; !ok || v != "" || ev.IsBase64Encoded {
		t.Errorf("no body: body %v, isBase64Encoded %v; want \"\" and false", v, ev.IsBase64Encoded)
	}
	if v, ok := raw["queryStringParameters"]; !ok || !reflect.DeepEqual(v, map[string]any{}) {
		t.Errorf("no query string: queryStringParameters %v, want {}", v)
	}
}

// TestALBMultiValueEvent: with multi-value headers on, the event has every
// value of a repeated header or query parameter, and the response must use
// multiValueHeaders.
func TestALBMultiValueEvent(t *testing.T) {
	rec := &recorder{answer: answer(t, map[string]any{
		"statusCode":        200,
		"headers":           map[string]string{"X-Ignored": "x"},
		"multiValueHeaders": map[string][]string{"Set-Cookie": {"c1=v1", "c2=v2"}, "Content-Type": {"text/plain"}},
		"body":              "hello",
	})}
	srv := frontEnd(t, rec, lambdatest.ALBMultiValue)
	got := do(t, newRequest(t, srv, "/p"))
	if got.status != http.StatusOK || string(got.body) != "hello" || got.header.Get("X-Ignored") != "" ||
		!slices.Equal(got.header.Values("Set-Cookie"), []string{"c1=v1", "c2=v2"}) || got.header.Get("Content-Type") != "text/plain" {
		t.Errorf("client got %d %q %v", got.status, got.body, got.header)
	}
	var ev events.ALBTargetGroupRequest
	raw := rec.last(t, &ev)
	if want := map[string][]string{"q": {"1", "2"}, "r": {"a%2Bb"}, "empty": {""}}; !reflect.DeepEqual(ev.MultiValueQueryStringParameters, want) {
		t.Errorf("multiValueQueryStringParameters = %v, want %v", ev.MultiValueQueryStringParameters, want)
	}
	if v := ev.MultiValueHeaders["x-rep"]; !slices.Equal(v, []string{"1", "2"}) {
		t.Errorf("multiValueHeaders[x-rep] = %q", v)
	}
	if v := ev.MultiValueHeaders["cookie"]; !slices.Equal(v, []string{"a=1; b=2", "c=3"}) {
		t.Errorf("multiValueHeaders[cookie] = %q", v)
	}
	for _, k := range []string{"headers", "queryStringParameters"} {
		if _, ok := raw[k]; ok {
			t.Errorf("%s in an event with multi-value headers on", k)
		}
	}
}

// errorResponses is each front end's answer for a function that failed:
// status and body.
var errorResponses = map[lambdatest.FrontEnd]struct {
	status int
	body   string
}{
	lambdatest.FunctionURL:   {502, "Internal Server Error"},
	lambdatest.HTTPAPI:       {502, `{"message":"Internal Server Error"}`},
	lambdatest.RESTAPI:       {502, `{"message": "Internal server error"}`},
	lambdatest.ALB:           {502, "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway</h1></center>\r\n</body>\r\n</html>\r\n"},
	lambdatest.ALBMultiValue: {502, "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway</h1></center>\r\n</body>\r\n</html>\r\n"},
}

var allFrontEnds = []lambdatest.FrontEnd{lambdatest.FunctionURL, lambdatest.HTTPAPI, lambdatest.RESTAPI, lambdatest.ALB, lambdatest.ALBMultiValue}

// pathFor is a path inside the REST API's default stage, and any path for
// the others.
func pathFor(fe lambdatest.FrontEnd) string {
	if fe == lambdatest.RESTAPI {
		return "/prod/x"
	}
	return "/x"
}

func checkFailed(t *testing.T, fe lambdatest.FrontEnd, got result, what string) {
	t.Helper()
	want := errorResponses[fe]
	if got.status != want.status || string(got.body) != want.body {
		t.Errorf("%s: client got %d %q, want %d %q", what, got.status, got.body, want.status, want.body)
	}
}

// TestFunctionErrors: a function that returns an error, answers something
// the front end cannot read, or answers with a body it cannot decode, is
// the front end's 502 (services-apigateway-errors; load-balancer-
// troubleshooting; function URLs as LocalStack answers).
func TestFunctionErrors(t *testing.T) {
	for _, fe := range allFrontEnds {
		t.Run(fe.String(), func(t *testing.T) {
			srv := frontEnd(t, handlerFunc(func(context.Context, []byte) ([]byte, error) {
				return nil, errors.New("boom")
			}), fe)
			checkFailed(t, fe, get(t, srv, pathFor(fe)), "an error")
			for _, bad := range []string{`not JSON`, `{"statusCode":"many"}`, `{"statusCode":200,"body":"%%%","isBase64Encoded":true}`} {
				srv := frontEnd(t, &recorder{answer: []byte(bad)}, fe)
				checkFailed(t, fe, get(t, srv, pathFor(fe)), bad)
			}
		})
	}
	// Payload format 1.0 requires a statusCode; 2.0 infers one.
	for _, fe := range []lambdatest.FrontEnd{lambdatest.RESTAPI, lambdatest.ALB, lambdatest.ALBMultiValue} {
		srv := frontEnd(t, &recorder{answer: []byte(`{"body":"x"}`)}, fe)
		checkFailed(t, fe, get(t, srv, pathFor(fe)), fe.String()+" without statusCode")
	}
}

// TestFunctionTimeout: a function still running at its timeout is a 502
// everywhere: Lambda answers for it with a function error, before API
// Gateway's integration timeout.
func TestFunctionTimeout(t *testing.T) {
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	slow := handlerFunc(func(ctx context.Context, _ []byte) ([]byte, error) {
		<-ctx.Done()
		<-release // and runs on, as a function that ignores its deadline
		return []byte(`{"statusCode":200}`), nil
	})
	for _, fe := range allFrontEnds {
		srv := frontEnd(t, slow, fe, lambdatest.WithFunctionTimeout(20*time.Millisecond))
		checkFailed(t, fe, get(t, srv, pathFor(fe)), fe.String()+" timeout")
	}
}

// TestIntegrationTimeout: API Gateway stops waiting for the function at its
// integration timeout (HTTP API: 503, REST API: 504); a function URL has
// none and waits for the function's own timeout (502).
func TestIntegrationTimeout(t *testing.T) {
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	stuck := handlerFunc(func(context.Context, []byte) ([]byte, error) {
		<-release // past any timeout
		return []byte(`{"statusCode":200}`), nil
	})
	for _, tc := range []struct {
		fe       lambdatest.FrontEnd
		function time.Duration // the function timeout
		status   int
		body     string
	}{
		{lambdatest.HTTPAPI, time.Hour, 503, `{"message":"Service Unavailable"}`},
		{lambdatest.RESTAPI, time.Hour, 504, `{"message": "Endpoint request timed out"}`},
		// These would answer 504 at the integration timeout, which comes
		// first, if they had one.
		{lambdatest.FunctionURL, 100 * time.Millisecond, 502, "Internal Server Error"},
		{lambdatest.ALB, 100 * time.Millisecond, 502, errorResponses[lambdatest.ALB].body},
	} {
		srv := frontEnd(t, stuck, tc.fe, lambdatest.WithIntegrationTimeout(20*time.Millisecond), lambdatest.WithFunctionTimeout(tc.function))
		if got := get(t, srv, pathFor(tc.fe)); got.status != tc.status || string(got.body) != tc.body {
			t.Errorf("%s: %d %q, want %d %q", tc.fe, got.status, got.body, tc.status, tc.body)
		}
	}
}

// TestSizeLimits: each front end's request and response limits. A request
// over a limit never reaches the function.
func TestSizeLimits(t *testing.T) {
	alb := "<html>\r\n<head><title>413 Request Entity Too Large</title></head>\r\n<body>\r\n<center><h1>413 Request Entity Too Large</h1></center>\r\n</body>\r\n</html>\r\n"
	furl := `{"Message":"Request must be smaller than 6291456 bytes for the InvokeFunction operation"}`
	for _, tc := range []struct {
		fe      lambdatest.FrontEnd
		size    int
		invoked bool
		body    string // the 413's body, when not invoked
	}{
		// ALB: 1 MB of request body (lambda-functions, "Limits").
		{lambdatest.ALB, lambdatest.MaxALBBodySize, true, ""},
		{lambdatest.ALB, lambdatest.MaxALBBodySize + 1, false, alb},
		{lambdatest.ALBMultiValue, lambdatest.MaxALBBodySize + 1, false, alb},
		// Function URL: the event within Lambda's 6 MB; a binary body grows
		// by a third in base64.
		{lambdatest.FunctionURL, 4 << 20, true, ""},
		{lambdatest.FunctionURL, 5 << 20, false, furl},
		// API Gateway: 10 MB of body, and the event within Lambda's 6 MB.
		{lambdatest.HTTPAPI, 4 << 20, true, ""},
		{lambdatest.HTTPAPI, 5 << 20, false, `{"message":"Request Entity Too Large"}`},
		{lambdatest.HTTPAPI, lambdatest.MaxAPIGatewayPayloadSize + 1, false, `{"message":"Request Entity Too Large"}`},
		{lambdatest.RESTAPI, 5 << 20, false, `{"message":"Request Too Long"}`},
		{lambdatest.RESTAPI, lambdatest.MaxAPIGatewayPayloadSize + 1, false, `{"message":"Request Too Long"}`},
	} {
		rec := &recorder{answer: []byte(`{"statusCode":200}`)}
		srv := frontEnd(t, rec, tc.fe)
		got := post(t, srv, pathFor(tc.fe), "application/octet-stream", make([]byte, tc.size))
		if tc.invoked {
			if got.status != http.StatusOK || rec.count() != 1 {
				t.Errorf("%s, %d bytes: %d %q, invoked %d times; want 200", tc.fe, tc.size, got.status, got.body, rec.count())
			}
			continue
		}
		if got.status != http.StatusRequestEntityTooLarge || string(got.body) != tc.body || rec.count() != 0 {
			t.Errorf("%s, %d bytes: %d %q, invoked %d times; want 413 %q, not invoked", tc.fe, tc.size, got.status, got.body, rec.count(), tc.body)
		}
	}

	// Responses: the ALB's 1 MB of response JSON, Lambda's 6 MB elsewhere.
	bigAnswer := func(n int) []byte {
		return answer(t, map[string]any{"statusCode": 200, "body": strings.Repeat("a", n)})
	}
	for _, tc := range []struct {
		fe lambdatest.FrontEnd
		n  int
		ok bool
	}{
		{lambdatest.ALB, lambdatest.MaxALBBodySize - 100, true},
		{lambdatest.ALB, lambdatest.MaxALBBodySize, false},
		{lambdatest.ALBMultiValue, lambdatest.MaxALBBodySize, false},
		{lambdatest.FunctionURL, lambdatest.MaxALBBodySize, true},
		{lambdatest.FunctionURL, lambdatest.MaxPayloadSize, false},
		{lambdatest.HTTPAPI, lambdatest.MaxPayloadSize, false},
		{lambdatest.RESTAPI, lambdatest.MaxPayloadSize, false},
	} {
		srv := frontEnd(t, &recorder{answer: bigAnswer(tc.n)}, tc.fe)
		got := get(t, srv, pathFor(tc.fe))
		if tc.ok {
			if got.status != http.StatusOK || len(got.body) != tc.n {
				t.Errorf("%s, a %d-byte body: %d, %d bytes", tc.fe, tc.n, got.status, len(got.body))
			}
			continue
		}
		checkFailed(t, tc.fe, got, tc.fe.String()+" response too large")
	}
}

// TestHTTPHandlerRunsTheFunctionAsLambdaDoes: the function runs as
// NewInvoker runs it, with the options given to NewHTTPHandler: a fresh
// context whose deadline is the function timeout, with a Lambda context,
// which the client's cancellation does not reach.
func TestHTTPHandlerRunsTheFunctionAsLambdaDoes(t *testing.T) {
	type seen struct {
		deadline time.Time
		lc       *lambdacontext.LambdaContext
		err      error
	}
	seenc := make(chan seen, 1)
	started, release := make(chan struct{}), make(chan struct{})
	srv := frontEnd(t, handlerFunc(func(ctx context.Context, p []byte) ([]byte, error) {
		close(started)
		<-release
		d, _ := ctx.Deadline()
		lc, _ := lambdacontext.FromContext(ctx)
		seenc <- seen{d, lc, ctx.Err()}
		return []byte(`{"statusCode":200}`), nil
	}), lambdatest.FunctionURL, lambdatest.WithFunctionTimeout(time.Hour))
	ctx, cancel := context.WithCancel(context.Background())
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+"/", nil)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	errc := make(chan error, 1)
	go func() {
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
		}
		errc <- err
	}()
	<-started
	cancel() // the client hangs up
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Errorf("client: %v, want its cancellation", err)
	}
	close(release)
	s := <-seenc
	if s.err != nil {
		t.Errorf("the client's cancellation reached the function: %v", s.err)
	}
	if s.deadline.Before(start.Add(59*time.Minute)) || s.deadline.After(time.Now().Add(time.Hour)) {
		t.Errorf("function deadline %v from the start, want the one-hour function timeout", s.deadline.Sub(start))
	}
	if s.lc == nil || s.lc.AwsRequestID == "" || !strings.HasSuffix(s.lc.InvokedFunctionArn, ":function:function") {
		t.Errorf("lambdacontext = %+v", s.lc)
	}
}
