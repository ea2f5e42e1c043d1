package e2e

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
)

// These tests send raw invocation payloads to the functions under the
// emulator, as a person, curl or a program in another language would: the
// examples of docs/protocol.md, and payloads that are not what a client
// would write.

// protocolExamples are the request and response files in testdata, the
// examples docs/protocol.md shows; each response is compared as JSON (white
// space aside: protojson varies it on purpose).
var protocolExamples = []struct {
	name, request, response string
}{
	{"JSON mode (console)", "console-request.json", "console-response.json"},
	{"error with details (binary mode)", "notfound-request.json", "notfound-response.json"},
	{"unknown method", "unknown-method-request.json", "unknown-method-response.json"},
}

// TestProtocolExamplesWithCurl posts the examples of docs/protocol.md to the
// example function with curl, exactly as the page shows
// (curl -s URL -d @request.json), and gets the documented responses.
func TestProtocolExamplesWithCurl(t *testing.T) {
	t.Parallel()
	curl, err := exec.LookPath("curl")
	if err != nil {
		t.Fatal("curl is not on PATH: install Debian's curl (APT=1 scripts/install-tools installs the packages of tools.env)")
	}
	em := startEmulator(t, emulatorConfig{Function: exampleFunction})
	for _, ex := range protocolExamples {
		t.Run(ex.name, func(t *testing.T) {
			want, err := os.ReadFile(filepath.Join("testdata", ex.response))
			if err != nil {
				t.Fatal(err)
			}
			var out, stderr bytes.Buffer
			cmd := exec.Command(curl, "-s", em.Endpoint+invokePath, "-d", "@"+ex.request)
			cmd.Dir = "testdata"
			cmd.Stdout, cmd.Stderr = &out, &stderr
			em.Exclusive(func() { err = cmd.Run() })
			if err != nil {
				t.Fatalf("curl: %v\n%s", err, stderr.String())
			}
			if !sameJSON(t, out.Bytes(), want) {
				t.Errorf("response to %s:\n got %s\nwant %s", ex.request, bytes.TrimSpace(out.Bytes()), bytes.TrimSpace(want))
			}
		})
	}
}

// sameJSON says whether two JSON texts hold the same value.
func sameJSON(t *testing.T, a, b []byte) bool {
	t.Helper()
	var va, vb any
	if err := json.Unmarshal(a, &va); err != nil {
		t.Errorf("not JSON: %v: %s", err, a)
		return false
	}
	if err := json.Unmarshal(b, &vb); err != nil {
		t.Fatalf("testdata is not JSON: %v: %s", err, b)
	}
	return reflect.DeepEqual(va, vb)
}

// responseEnvelope is what the tests read of a response envelope.
type responseEnvelope struct {
	V       *int            `json:"v"`
	Code    *int            `json:"code"`
	Message string          `json:"message"`
	Body    *string         `json:"body"`
	JSON    json.RawMessage `json:"json"`
}

// TestMalformedPayloads posts payloads no client would write to the test
// function. Each gets a response envelope (HTTP 200, never a failed
// invocation) with a clear gRPC status, the one docs/protocol.md lists;
// nothing crashes the function, which then serves a good call in the same
// process.
func TestMalformedPayloads(t *testing.T) {
	t.Parallel()
	em := startEmulator(t, emulatorConfig{Function: testFunction})
	const echo = `"/lambdatest.v1.TestService/Echo"`
	for _, tc := range []struct {
		name    string
		payload string
		code    codes.Code
		prefix  string // the status message starts with it
	}{
		{"not JSON", `hello`, codes.Internal, "lambda: malformed request envelope:"},
		{"empty", ``, codes.Internal, "lambda: malformed request envelope:"},
		{"JSON array", `[1,2]`, codes.Internal, "lambda: malformed request envelope:"},
		{"JSON string", `"v"`, codes.Internal, "lambda: malformed request envelope:"},
		{"trailing data", `{"v":1,"method":` + echo + `,"body":""}{}`, codes.Internal, "lambda: malformed request envelope:"},
		{"truncated", `{"v":1,"method":` + echo + `,"body":"CgJo`, codes.Internal, "lambda: malformed request envelope:"},
		{"empty object", `{}`, codes.Internal, `lambda: malformed request envelope: missing "v"`},
		{"missing v", `{"method":` + echo + `,"body":""}`, codes.Internal, `lambda: malformed request envelope: missing "v"`},
		{"v not a number", `{"v":"1","method":` + echo + `,"body":""}`, codes.Internal, "lambda: malformed request envelope:"},
		{"unknown version", `{"v":2,"method":` + echo + `,"body":""}`, codes.Unimplemented, "lambda: envelope version 2 is not supported"},
		{"missing method", `{"v":1,"body":""}`, codes.Unimplemented, "malformed method name:"},
		{"method without slash", `{"v":1,"method":"lambdatest.v1.TestService.Echo","body":""}`, codes.Unimplemented, "malformed method name:"},
		{"unknown service", `{"v":1,"method":"/nope.v1.Nope/Echo","body":""}`, codes.Unimplemented, "unknown service nope.v1.Nope"},
		{"unknown method", `{"v":1,"method":"/lambdatest.v1.TestService/Nope","body":""}`, codes.Unimplemented, "unknown method Nope for service lambdatest.v1.TestService"},
		{"client-streaming method", `{"v":1,"method":"/lambdatest.v1.TestService/Collect","body":""}`, codes.Unimplemented, "lambda: /lambdatest.v1.TestService/Collect is a client-streaming method"},
		{"neither body nor json", `{"v":1,"method":` + echo + `}`, codes.Internal, "lambda: malformed request envelope:"},
		{"both body and json", `{"v":1,"method":` + echo + `,"body":"","json":{}}`, codes.Internal, "lambda: malformed request envelope:"},
		{"body not base64", `{"v":1,"method":` + echo + `,"body":"%%%not base64%%%"}`, codes.Internal, "grpc: failed to unmarshal the received message:"},
		{"body not the message", `{"v":1,"method":` + echo + `,"body":"/////w=="}`, codes.Internal, "grpc: failed to unmarshal the received message:"},
		{"json of the wrong type", `{"v":1,"method":` + echo + `,"json":{"message":42}}`, codes.Internal, "grpc: failed to unmarshal the received message:"},
		{"json not an object", `{"v":1,"method":` + echo + `,"json":"hello"}`, codes.Internal, "grpc: failed to unmarshal the received message:"},
		{"negative timeout", `{"v":1,"method":` + echo + `,"timeout_ms":-5,"body":""}`, codes.Internal, "lambda: malformed request envelope:"},
		{"metadata not an object", `{"v":1,"method":` + echo + `,"metadata":["a"],"body":""}`, codes.Internal, "lambda: malformed request envelope:"},
		{"metadata value not a string", `{"v":1,"method":` + echo + `,"metadata":{"x-a":[1]},"body":""}`, codes.Internal, "lambda: malformed request envelope:"},
		{"binary metadata not base64", `{"v":1,"method":` + echo + `,"metadata":{"x-a-bin":["%%%"]},"body":""}`, codes.Internal, "lambda: malformed request envelope:"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			httpStatus, body := em.Post(t, []byte(tc.payload))
			if httpStatus != 200 {
				t.Fatalf("HTTP %d, want 200: %s", httpStatus, body)
			}
			var env responseEnvelope
			if err := json.Unmarshal(body, &env); err != nil {
				t.Fatalf("the response is not a JSON envelope: %v: %s", err, body)
			}
			if env.V == nil || *env.V != 1 || env.Code == nil {
				t.Fatalf("the response is not a version 1 envelope with a code: %s", body)
			}
			if codes.Code(*env.Code) != tc.code || !strings.HasPrefix(env.Message, tc.prefix) {
				t.Errorf("got %v %q, want %v starting %q", codes.Code(*env.Code), env.Message, tc.code, tc.prefix)
			}
			if env.Body != nil || env.JSON != nil {
				t.Errorf("a failed call's envelope carries a body: %s", body)
			}
		})
	}

	// A good request, raw too, in the same process: nothing above crashed it.
	httpStatus, body := em.Post(t, []byte(`{"v":1,"method":`+echo+`,"json":{"message":"still here"}}`))
	var env responseEnvelope
	if err := json.Unmarshal(body, &env); httpStatus != 200 || err != nil || env.Code == nil || *env.Code != 0 || !strings.Contains(string(env.JSON), "still here") {
		t.Errorf("a good request after the bad ones: HTTP %d %s", httpStatus, body)
	}
	echoOK(t, testClient(em), "and through the client")
	if em.Inits() != 1 {
		t.Errorf("the function started %d times, want once: no payload may crash it", em.Inits())
	}
}
