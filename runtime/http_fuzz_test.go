package runtime

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"google.golang.org/grpc/codes"

	"github.com/protoc-gen-go-lambda/protoc-gen-go-lambda/runtime/internal/alloctest"
	"github.com/protoc-gen-go-lambda/protoc-gen-go-lambda/runtime/internal/wire"
)

// FuzzHTTPEvent feeds arbitrary bytes, seeded with the HTTP events of every
// front end (testdata/fuzz/FuzzHTTPEvent), to the function's entry point.
// For a payload taken for an HTTP event, Server.Invoke must not panic or
// return a Go error, must allocate no more than the input warrants, and must
// answer in the event's response shape, in valid JSON, with a body that is
// what its protocol allows: a Connect error is Connect's JSON error with a
// known code, a gRPC-Web answer carries a grpc-status, and no answer reports
// a panic of the runtime itself. FuzzServerInvoke covers envelopes.
func FuzzHTTPEvent(f *testing.F) {
	srv := fuzzServer()
	srv.opts.maxRecvMsgSize = 64 << 10 // a gzip bomb stays within the allocation bound
	srv.opts.cors = newCORSPolicy([]string{"https://*.example.com"})
	f.Fuzz(func(t *testing.T, payload []byte) {
		var out []byte
		var err error
		alloctest.Bounded(t, "Server.Invoke", payload, func() { out, err = srv.Invoke(context.Background(), payload) })
		if err != nil {
			t.Fatalf("Invoke returned a Go error: %v", err)
		}
		if !isHTTPEvent(payload) {
			return
		}
		if !json.Valid(out) || !utf8.Valid(out) {
			t.Fatalf("answer is not valid JSON: %q", out)
		}
		var ev wire.HTTPEvent
		wire.ParseHTTPEvent(payload, &ev)
		var resp struct {
			StatusCode        *int
			StatusDescription *string
			Headers           map[string]string
			MultiValueHeaders map[string][]string
			Body              *string
			IsBase64Encoded   *bool
		}
		if err := json.Unmarshal(out, &resp); err != nil || resp.StatusCode == nil || resp.Body == nil || resp.IsBase64Encoded == nil {
			t.Fatalf("answer is not an HTTP response (%v): %s", err, out)
		}
		if c := *resp.StatusCode; c < 200 || c > 599 {
			t.Fatalf("HTTP status %d: %s", c, out)
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
		switch {
		case ev.Shape == wire.ShapeALB && resp.StatusDescription == nil:
			t.Fatalf("load balancer answer without statusDescription: %s", out)
		case ev.Shape == wire.ShapeALB && ev.MultiValue && len(resp.Headers) > 0:
			t.Fatalf("multi-value load balancer answer with headers: %s", out)
		case ev.Shape == wire.ShapeV2 && len(resp.MultiValueHeaders) > 0:
			t.Fatalf("2.0 answer with multiValueHeaders: %s", out)
		}
		body := []byte(*resp.Body)
		if *resp.IsBase64Encoded {
			if body, err = base64.StdEncoding.DecodeString(*resp.Body); err != nil {
				t.Fatalf("base64 body does not decode: %s", out)
			}
		}
		if bytes.Contains(body, []byte("lambda: internal error")) {
			t.Fatalf("the runtime panicked: %s", out)
		}
		ct := h.Get("Content-Type")
		switch {
		case ct == "application/json" && *resp.StatusCode != http.StatusOK:
			checkFuzzConnectError(t, body, out)
		case strings.HasPrefix(ct, "application/grpc-web"):
			checkFuzzGRPCWeb(t, ct, h, body, out)
		}
	})
}

// isHTTPEvent is Server.Invoke's choice of front end.
func isHTTPEvent(payload []byte) bool {
	if wire.LooksLikeEnvelope(payload) {
		return false
	}
	isEvent, _ := wire.ParseHTTPEvent(payload, &wire.HTTPEvent{})
	return isEvent
}

func checkFuzzConnectError(t *testing.T, body, out []byte) {
	var e struct {
		Code    string
		Message string
		Details []struct{ Type, Value string }
	}
	if err := json.Unmarshal(body, &e); err != nil {
		t.Fatalf("Connect error body is not JSON: %s", out)
	}
	if connectCodeName(connectCodeFromName(e.Code)) != e.Code || e.Code == "code_0" {
		t.Fatalf("Connect error code %q: %s", e.Code, out)
	}
	if strings.HasPrefix(e.Message, "panic in handler: ") && e.Message != "panic in handler: "+fuzzPanic {
		t.Fatalf("unexpected panic: %s", out)
	}
	for _, d := range e.Details {
		if _, err := base64.RawStdEncoding.DecodeString(d.Value); err != nil || d.Type == "" {
			t.Fatalf("Connect error detail: %s", out)
		}
	}
}

func connectCodeFromName(name string) codes.Code {
	for c := codes.Canceled; c <= codes.Unauthenticated; c++ {
		if connectCodeName(c) == name {
			return c
		}
	}
	if n, err := strconv.ParseUint(strings.TrimPrefix(name, "code_"), 10, 32); err == nil {
		return codes.Code(n)
	}
	return 0
}

func checkFuzzGRPCWeb(t *testing.T, ct string, h http.Header, body, out []byte) {
	if h.Get("Grpc-Status") != "" {
		if len(body) > 0 {
			t.Fatalf("trailers-only gRPC-Web answer with a body: %s", out)
		}
		return
	}
	if strings.HasPrefix(ct, "application/grpc-web-text") {
		var err error
		if body, err = base64.StdEncoding.DecodeString(string(body)); err != nil {
			t.Fatalf("grpc-web-text body is not base64: %s", out)
		}
	}
	sawTrailer := false
	for len(body) > 0 {
		if len(body) < 5 || uint64(len(body)-5) < uint64(binary.BigEndian.Uint32(body[1:5])) {
			t.Fatalf("truncated gRPC-Web frame: %s", out)
		}
		n := binary.BigEndian.Uint32(body[1:5])
		if body[0]&0x80 != 0 {
			if !bytes.HasPrefix(body[5:5+n], []byte("grpc-status: ")) {
				t.Fatalf("trailer frame without grpc-status first: %s", out)
			}
			sawTrailer = true
		}
		body = body[5+n:]
	}
	if !sawTrailer {
		t.Fatalf("gRPC-Web answer without a status: %s", out)
	}
}
