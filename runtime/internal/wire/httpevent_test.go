package wire

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"
)

// httpEvents are events of every shape, as AWS writes them (encoding/json
// of aws-lambda-go's types) and as it might (escapes, upper-case names,
// repeated and null fields), and malformed ones.
func httpEvents(t testing.TB) [][]byte {
	headers := map[string]string{
		"accept":                   "application/proto",
		"content-type":             "application/proto",
		"connect-protocol-version": "1",
		"host":                     "abc.lambda-url.eu-west-1.on.aws",
		"user-agent":               "connect-go/1.21 (go1.26)",
		"x-amzn-trace-id":          "Root=1-6926a0b4-3f1c2a7d5e9b8c0a1d2e3f40",
		"x-forwarded-for":          "203.0.113.17",
		"x-custom":                 "a \"quoted\" value\twith escapes, and é",
		"x-request-id-bin":         "AAEC",
		"x-a-header-name-longer-than-thirty-two-bytes": "long",
	}
	multi := map[string][]string{
		"Content-Type":                           {"application/grpc-web-text"},
		"X-Repeated":                             {"one", "two", "three"},
		"X-Empty":                                {},
		"Host":                                   {"example.com"},
		"X-Upper-Case-Name-Longer-Than-32-Bytes": {"v"},
	}
	body := "AAAAAAUKA2FiYw=="
	var out [][]byte
	add := func(v any) {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, b)
	}
	add(events.LambdaFunctionURLRequest{
		Version: "2.0", RawPath: "/a.B/C", RawQueryString: "x=1&y=%20", Cookies: []string{"a=1", "b=2"},
		Headers: headers, QueryStringParameters: map[string]string{"x": "1", "y": " "},
		RequestContext: events.LambdaFunctionURLRequestContext{
			AccountID: "anonymous", RequestID: "4a7f2c1e", TimeEpoch: 1764137580000,
			HTTP: events.LambdaFunctionURLRequestContextHTTPDescription{Method: "POST", Path: "/a.B/C", SourceIP: "203.0.113.17"},
		},
		Body: body, IsBase64Encoded: true,
	})
	add(events.APIGatewayV2HTTPRequest{
		Version: "2.0", RouteKey: "$default", RawPath: "/prod/a.B/C", Headers: headers,
		RequestContext: events.APIGatewayV2HTTPRequestContext{
			Stage: "$default", HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{Method: "GET"},
			Authorizer: &events.APIGatewayV2HTTPRequestContextAuthorizerDescription{
				JWT: &events.APIGatewayV2HTTPRequestContextAuthorizerJWTDescription{Claims: map[string]string{"sub": "x"}, Scopes: []string{"a"}},
			},
		},
		Body: `{"message":"hi"}`,
	})
	add(events.APIGatewayProxyRequest{
		HTTPMethod: "POST", Path: "/prod/a.B/C", Headers: map[string]string{"Content-Type": "application/json", "X-Repeated": "three"},
		MultiValueHeaders:               multi,
		QueryStringParameters:           map[string]string{"q": "1"},
		MultiValueQueryStringParameters: map[string][]string{"q": {"1", "2"}, "r": {"é"}},
		RequestContext:                  events.APIGatewayProxyRequestContext{Stage: "prod", HTTPMethod: "POST"},
		Body:                            body, IsBase64Encoded: true,
	})
	add(events.ALBTargetGroupRequest{
		HTTPMethod: "PUT", Path: "/a.B/C", Headers: map[string]string{"content-type": "application/proto"},
		QueryStringParameters: map[string]string{"a": "%20"},
		RequestContext:        events.ALBTargetGroupRequestContext{ELB: events.ELBContext{TargetGroupArn: "arn:x"}},
		Body:                  body, IsBase64Encoded: true,
	})
	add(events.ALBTargetGroupRequest{
		HTTPMethod: "PATCH", Path: "/a.B/C", MultiValueHeaders: multi,
		MultiValueQueryStringParameters: map[string][]string{"a": {"%20", "b"}},
		RequestContext:                  events.ALBTargetGroupRequestContext{ELB: events.ELBContext{TargetGroupArn: "arn:x"}},
	})
	for _, s := range []string{
		`{"rawPath":"/a","requestContext":{"http":{"method":null}}}`,
		`{"rawPath":"/a","requestContext":{"http":{"method":"post","x":[1,2.5e3,-0,true,false,null,{"y":{}}]}}}`,
		`{"rawPath":"/a","rawPath":"/b","path":"/c","rawPath":"/d\u0041","rawPath":"","headers":{"a":"1"},"headers":{"b":"2","B":"3"}}`,
		`{"path":"/a","rawPath":"/b\n","cookies":["x"],"cookies":[],"cookies":["y","z\/"]}`,
		`{"httpMethod":"GET","path":"/x","headers":null,"multiValueHeaders":null,"queryStringParameters":{"a":null,"b":"c"}}`,
		`{"httpMethod":"GET","headers":{"Ä-Non-ASCII-Name-That-Is-Longer-Than-32":"v","ÄB":"w","x\u0041":"y"}}`,
		`{"httpMethod":"GET","multiValueHeaders":{"A":["1",null]}}`,
		`{"httpMethod":"GET","multiValueHeaders":{"A":"1"}}`,
		`{"httpMethod":"GET","headers":{"A":1}}`,
		`{"httpMethod":"GET","headers":["A"]}`,
		`{"httpMethod":"GET","cookies":"a"}`,
		`{"httpMethod":"GET","cookies":["a",1]}`,
		`{"httpMethod":"GET","cookies":["a",]}`,
		`{"httpMethod":"GET","requestContext":{"elb":{"a":1e999}}}`,
		`{"httpMethod":"GET","requestContext":{"elb":{"a":01}}}`,
		`{"httpMethod":"GET","requestContext":{"elb":{"a":1E400,"b":-2e-400}}}`,
		`{"httpMethod":"GET","requestContext":{"elb":[` + strings.Repeat("9", 299) + `,-` + strings.Repeat("9", 299) + `.5]}}`,
		`{"httpMethod":"GET","requestContext":{"elb":[` + strings.Repeat("9", 309) + `]}}`,
		`{"httpMethod":"GET","requestContext":{"elb":[0.` + strings.Repeat("0", 400) + `1]}}`,
		`{"httpMethod":"GET","requestContext":{"elb":{"a":"\ud800"}}}`,
		"{\"httpMethod\":\"GET\",\"requestContext\":{\"elb\":{\"a\":\"\xff\"}}}",
		"{\"httpMethod\":\"GET\",\"headers\":{\"a\":\"x\x01\"}}",
		`{"httpMethod":"GET","requestContext":{"elb":` + strings.Repeat("[", 70) + strings.Repeat("]", 70) + `}}`,
		`{"httpMethod":"GET","requestContext":{"elb":` + strings.Repeat("[", 40) + strings.Repeat("]", 40) + `}}`,
		`{"httpMethod":"GET","requestContext":{"elb":` + strings.Repeat(`{"a":`, 64) + `{}` + strings.Repeat("}", 64) + `}}`,
		`{"httpMethod":"GET","requestContext":{"elb":` + strings.Repeat(`{"a":`, 65) + `1` + strings.Repeat("}", 65) + `}}`,
		`{"httpMethod":"GET","requestContext":{"elb":{"a":1,}}}`,
		`{"httpMethod":"GET","requestContext":{"elb":{"a" 1}}}`,
		`{"httpMethod":"GET","requestContext":{"elb":[1 2]}}`,
		`{"httpMethod":"GET","requestContext":{"elb":{,}}}`,
		`{"httpMethod":"GET","requestContext":{"elb":nul}}`,
		`{"httpMethod":"GET","requestContext":{"elb":tru}}`,
		`{"httpMethod":"GET","requestContext":"x"}`,
		`{"httpMethod":"GET","requestContext":{"http":"x"}}`,
		`{"httpMethod":"GET","body":"abc`,
		`{"httpMethod":"GET","headers":{"a":"b"`,
		`{"httpMethod":"GET","headers":{"a":"b",`,
		`{"httpMethod":"GET"} x`,
		`{"httpMethod":"GET" "x":1}`,
		`{"v":1,"httpMethod":"GET"}`,
		`{"v":null,"rawPath":"/a"}`,
		` { "rawPath" : "/a" , "headers" : { "a" : "b" , "c" : null } , "cookies" : [ "x" , "y" ] } `,
		`[]`,
		``,
	} {
		out = append(out, []byte(s))
	}
	return out
}

// TestParseHTTPEventMatchesModel: ParseHTTPEvent reads every event as the
// model reader does (httpevent_model_test.go): the same fields, the same
// errors at the same offsets.
func TestParseHTTPEventMatchesModel(t *testing.T) {
	for i, payload := range append(httpEvents(t), fuzzSeeds(t)...) {
		t.Run(strconv.Itoa(i), func(t *testing.T) {
			checkAgainstModel(t, payload)
		})
	}
}

// FuzzParseHTTPEvent compares ParseHTTPEvent with the model reader, and the
// fast JSON readers with theirs, on any input. Seeds: httpEvents and the
// runtime's FuzzHTTPEvent corpus.
func FuzzParseHTTPEvent(f *testing.F) {
	for _, p := range append(httpEvents(f), fuzzSeeds(f)...) {
		f.Add(p)
	}
	f.Fuzz(checkAgainstModel)
}

func checkAgainstModel(t *testing.T, payload []byte) {
	var got, want HTTPEvent
	isEvent, err := ParseHTTPEvent(payload, &got)
	wantIsEvent, wantErr := refParseHTTPEvent(payload, &want)
	if isEvent != wantIsEvent || errString(err) != errString(wantErr) {
		t.Fatalf("%q:\nParseHTTPEvent = %v, %v\nmodel          = %v, %v", payload, isEvent, err, wantIsEvent, wantErr)
	}
	if !reflect.DeepEqual(emptyIsNil(got), emptyIsNil(want)) {
		t.Fatalf("%q:\nParseHTTPEvent read %+v\nmodel read     %+v", payload, got, want)
	}
	// The fast readers on their own, from the start of the input.
	r, model := &jsonReader{data: payload}, &jsonReader{data: payload}
	err, wantErr = r.skipFast(), func() error { _, err := model.skip(); return err }()
	if errString(err) != errString(wantErr) || err == nil && r.pos != model.pos {
		t.Fatalf("%q: skipFast: %v at %d, skip: %v at %d", payload, err, r.pos, wantErr, model.pos)
	}
	checkStr(t, payload)
}

// checkStr compares strFast and strSkip with str at the start of in.
func checkStr(t *testing.T, in []byte) {
	r, model := &jsonReader{data: in}, &jsonReader{data: in}
	s, err := r.strFast()
	wantS, wantErr := model.str()
	if errString(err) != errString(wantErr) || string(s) != string(wantS) || r.pos != model.pos {
		t.Fatalf("%q: strFast: %q, %v at %d, str: %q, %v at %d", in, s, err, r.pos, wantS, wantErr, model.pos)
	}
	r = &jsonReader{data: in}
	plain, err := r.strSkip()
	if errString(err) != errString(wantErr) || r.pos != model.pos {
		t.Fatalf("%q: strSkip: %v at %d, str: %v at %d", in, err, r.pos, wantErr, model.pos)
	}
	// An escape is longer than what it stands for.
	if wantPlain := wantErr == nil && len(wantS) == model.pos-strings.IndexByte(string(in), '"')-2; plain != wantPlain {
		t.Fatalf("%q: strSkip: plain %v, want %v", in, plain, wantPlain)
	}
}

// emptyIsNil is ev with its empty lists nil: the model leaves an empty
// list where it read "cookies" twice and the second is malformed.
func emptyIsNil(ev HTTPEvent) HTTPEvent {
	if len(ev.Cookies) == 0 {
		ev.Cookies = nil
	}
	if len(ev.Header) == 0 {
		ev.Header = nil
	}
	if len(ev.Query) == 0 {
		ev.Query = nil
	}
	return ev
}

func errString(err error) string {
	if err == nil {
		return "<nil>"
	}
	return err.Error()
}

// fuzzSeeds returns the inputs of the runtime's FuzzHTTPEvent corpus.
func fuzzSeeds(t testing.TB) [][]byte {
	files, err := filepath.Glob("../../testdata/fuzz/FuzzHTTPEvent/*")
	if err != nil || len(files) == 0 {
		t.Fatalf("the runtime's FuzzHTTPEvent corpus: %v (%d files)", err, len(files))
	}
	var out [][]byte
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(string(b), "\n") {
			if q, ok := strings.CutPrefix(line, "[]byte("); ok {
				s, err := strconv.Unquote(strings.TrimSuffix(q, ")"))
				if err != nil {
					t.Fatalf("%s: %v", name, err)
				}
				out = append(out, []byte(s))
			}
		}
	}
	return out
}

// TestStrFast: strings of every length around the 8-byte steps, with each
// kind of byte that stops the fast scan at each position.
func TestStrFast(t *testing.T) {
	for n := 0; n <= 20; n++ {
		for at := 0; at <= n; at++ {
			for _, c := range []string{`"`, `\n`, `\u00e9`, `\ud83d\ude00`, `\ud83d`, `\u12`, `\x`, `\`, "\x01", "\x7f", "é", "😀", "\xff", "\xc3", "\xed\xa0\x80"} {
				text := strings.Repeat("a", at) + c + strings.Repeat("b", n-at)
				for _, tail := range []string{`"`, `",`, ``, `"` + strings.Repeat(" ", 9)} {
					checkStr(t, []byte(`"`+text+tail))
				}
			}
		}
	}
}

// TestParseHTTPEventAllocations: the strings of a Function URL event cost
// one allocation, its headers and its cookies one each, whatever their
// number; with escapes in its strings, one more for each of those.
func TestParseHTTPEventAllocations(t *testing.T) {
	headers := map[string]string{
		"accept":          "application/proto",
		"content-type":    "application/proto",
		"host":            "abc.lambda-url.eu-west-1.on.aws",
		"user-agent":      "connect-go/1.21 (go1.26)",
		"x-forwarded-for": "203.0.113.17",
		"x-unusual-name":  "1",
	}
	for i := range 20 {
		headers["x-custom-"+strconv.Itoa(i)] = strconv.Itoa(i)
	}
	ev := events.LambdaFunctionURLRequest{
		Version: "2.0", RawPath: "/a.B/C", RawQueryString: "x=1", Cookies: []string{"a=1", "b=2"}, Headers: headers,
		RequestContext: events.LambdaFunctionURLRequestContext{
			AccountID: "anonymous", RequestID: "4a7f2c1e", TimeEpoch: 1764137580000,
			HTTP: events.LambdaFunctionURLRequestContextHTTPDescription{Method: "POST", Path: "/a.B/C", SourceIP: "203.0.113.17"},
		},
		Body: "AAAAAAUKA2FiYw==", IsBase64Encoded: true,
	}
	for _, tc := range []struct {
		name    string
		escaped string
		want    float64
	}{{"plain", "", 3}, {"escapes", `a "quoted" value`, 4}} {
		headers["x-escaped"] = tc.escaped
		payload, err := json.Marshal(ev)
		if err != nil {
			t.Fatal(err)
		}
		n := testing.AllocsPerRun(100, func() {
			var ev HTTPEvent
			if _, err := ParseHTTPEvent(payload, &ev); err != nil {
				t.Fatal(err)
			}
		})
		if n > tc.want {
			t.Errorf("%s: ParseHTTPEvent: %v allocations, want at most %v", tc.name, n, tc.want)
		}
		if testing.Verbose() {
			t.Logf("%s: %v allocations", tc.name, n)
		}
	}
}

// TestHTTPEventStringsAreCopies: no string ParseHTTPEvent returns aliases
// the payload, which the Lambda runtime reuses for the next invocation.
func TestHTTPEventStringsAreCopies(t *testing.T) {
	for _, payload := range httpEvents(t)[:5] {
		var ev HTTPEvent
		if _, err := ParseHTTPEvent(payload, &ev); err != nil {
			t.Fatal(err)
		}
		want := fmtEvent(ev)
		for i := range payload {
			payload[i] = 'X'
		}
		if got := fmtEvent(ev); got != want {
			t.Fatalf("the event changed with its payload:\n%s\n%s", want, got)
		}
	}
}

// fmtEvent is ev without its body, which aliases the payload by design.
func fmtEvent(ev HTTPEvent) string {
	ev.Body = nil
	b, _ := json.Marshal(ev)
	return string(b)
}

// BenchmarkParseHTTPEvent reads a Function URL event for a small Connect
// call, as bench/'s http-connect path sends it, with ParseHTTPEvent and
// with the model reader it replaced.
func BenchmarkParseHTTPEvent(b *testing.B) {
	payload := benchPayload(b)
	for _, bc := range []struct {
		name  string
		parse func([]byte, *HTTPEvent) (bool, error)
	}{{"reader=fast", ParseHTTPEvent}, {"reader=model", refParseHTTPEvent}} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(payload)))
			for b.Loop() {
				var ev HTTPEvent
				if _, err := bc.parse(payload, &ev); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// benchPayload is the event of BenchmarkParseHTTPEvent.
func benchPayload(b *testing.B) []byte {
	payload, err := json.Marshal(events.LambdaFunctionURLRequest{
		Version: "2.0", RawPath: "/bench.v1.BenchService/Echo",
		Headers: map[string]string{
			"accept":                   "application/proto",
			"connect-protocol-version": "1",
			"content-length":           "98",
			"content-type":             "application/proto",
			"host":                     "k5zqj3b7x2n4w6v8c0d9f1g3h5j7l9m2.lambda-url.eu-west-1.on.aws",
			"user-agent":               "bench-client/1.0",
			"x-amzn-trace-id":          "Root=1-6926a0b4-3f1c2a7d5e9b8c0a1d2e3f40",
			"x-forwarded-for":          "203.0.113.17",
			"x-forwarded-port":         "443",
			"x-forwarded-proto":        "https",
		},
		RequestContext: events.LambdaFunctionURLRequestContext{
			AccountID: "anonymous", RequestID: "4a7f2c1e-9b3d-4e8a-b6f0-2d5c8e1a3b7f",
			APIID: "k5zqj3b7x2n4w6v8c0d9f1g3h5j7l9m2", DomainName: "k5zqj3b7x2n4w6v8c0d9f1g3h5j7l9m2.lambda-url.eu-west-1.on.aws",
			DomainPrefix: "k5zqj3b7x2n4w6v8c0d9f1g3h5j7l9m2", Time: "26/Nov/2025:06:13:00 +0000", TimeEpoch: 1764137580000,
			HTTP: events.LambdaFunctionURLRequestContextHTTPDescription{
				Method: "POST", Path: "/bench.v1.BenchService/Echo", Protocol: "HTTP/1.1", SourceIP: "203.0.113.17", UserAgent: "bench-client/1.0",
			},
		},
		Body:            strings.Repeat("CgVoZWxsbxIF", 11),
		IsBase64Encoded: true,
	})
	if err != nil {
		b.Fatal(err)
	}
	return payload
}
