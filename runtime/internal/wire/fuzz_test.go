package wire

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"google.golang.org/grpc/metadata"

	"github.com/protoc-gen-go-lambda/protoc-gen-go-lambda/runtime/internal/alloctest"
)

// FuzzParseRequest checks the request decoder: no panic, bounded
// allocation, and a decoded envelope that, written again, reads back to the
// same envelope: method, timeout, metadata, mode and body. Seeds are in
// testdata/fuzz/FuzzParseRequest; CI runs it with -fuzz.
func FuzzParseRequest(f *testing.F) {
	f.Fuzz(func(t *testing.T, payload []byte) {
		var env Request
		var err error
		alloctest.Bounded(t, "ParseRequest", payload, func() { err = ParseRequest(payload, &env) })
		if err != nil {
			return
		}
		if !json.Valid(payload) {
			t.Fatalf("ParseRequest accepted a payload that is not JSON: %q", payload)
		}
		var body []byte
		if !env.HasJSON {
			if body, err = DecodeBase64(nil, env.Body); err != nil {
				return
			}
		}
		timeout := time.Duration(0)
		if env.HasTimeout {
			timeout = env.Timeout
		}
		again := AppendRequest(nil, env.Method, timeout, env.MD, bodyOrJSON(body, env.JSON, env.HasJSON), env.HasJSON)
		var env2 Request
		if err := ParseRequest(again, &env2); err != nil {
			t.Fatalf("re-encoded envelope does not parse: %v\n%s", err, again)
		}
		if env2.Method != jsonText(env.Method) || !sameMetadata(env.MD, env2.MD) || env2.HasJSON != env.HasJSON {
			t.Fatalf("round trip changed the envelope:\n%+v\n%+v", env, env2)
		}
		if want := wireTimeout(timeout); env2.HasTimeout != (want > 0) || env2.Timeout != want {
			t.Fatalf("timeout %v (present %v) read back as %v (present %v), want %v", env.Timeout, env.HasTimeout, env2.Timeout, env2.HasTimeout, want)
		}
		if env.HasJSON {
			if !bytes.Equal(env2.JSON, env.JSON) {
				t.Fatalf("json body %q read back as %q", env.JSON, env2.JSON)
			}
		} else if body2, err := DecodeBase64(nil, env2.Body); err != nil || !bytes.Equal(body2, body) {
			t.Fatalf("body %x read back as %x (%v)", body, body2, err)
		}
	})
}

// wireTimeout is what a timeout reads back as after AppendRequest: whole
// milliseconds, rounded up, within MaxTimeout; nothing when not positive.
func wireTimeout(d time.Duration) time.Duration {
	if d <= 0 {
		return 0
	}
	if d >= MaxTimeout-time.Millisecond {
		return MaxTimeout
	}
	return (d + time.Millisecond - 1) / time.Millisecond * time.Millisecond
}

func bodyOrJSON(body, jsonText []byte, jsonMode bool) []byte {
	if jsonMode {
		return jsonText
	}
	return body
}

// jsonText is s as it reads back from a JSON string written by
// appendJSONString: each byte of invalid UTF-8 becomes U+FFFD.
func jsonText(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		b.WriteRune(r) // RuneError for an invalid byte
		i += n
	}
	return b.String()
}

// sameMetadata reports whether b is a, written and read back: keys without
// values and reserved keys are not written, text values read back as
// jsonText.
func sameMetadata(a, b metadata.MD) bool {
	n := 0
	for k, va := range a {
		if len(va) == 0 || IsReservedKey(k) {
			continue
		}
		n++
		vb := b[k]
		if len(va) != len(vb) {
			return false
		}
		for i := range va {
			if want := va[i]; !IsBinaryKey(k) && jsonText(want) != vb[i] || IsBinaryKey(k) && want != vb[i] {
				return false
			}
		}
	}
	return n == len(b)
}
