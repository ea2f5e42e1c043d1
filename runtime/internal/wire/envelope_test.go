package wire

import (
	"math"
	"strings"
	"testing"
	"time"
)

// TestParseRequestIsStrictJSON: the envelope reader accepts what RFC 8259
// accepts and nothing more, so that what this function reads is what any
// JSON library in another language writes and reads.
func TestParseRequestIsStrictJSON(t *testing.T) {
	const ok = `{"v":1,"method":"/a.B/C","body":""`
	for _, tc := range []struct {
		name, payload string
		valid         bool
	}{
		{"plain", ok + `}`, true},
		{"integer timeout", ok + `,"timeout_ms":1500}`, true},
		{"fraction and exponent", ok + `,"timeout_ms":1.5e3}`, true},
		{"negative zero", ok + `,"timeout_ms":-0}`, true},
		{"leading plus", ok + `,"timeout_ms":+1}`, false},
		{"leading zero", ok + `,"timeout_ms":01}`, false},
		{"bare fraction", ok + `,"timeout_ms":.5}`, false},
		{"trailing dot", ok + `,"timeout_ms":1.}`, false},
		{"empty exponent", ok + `,"timeout_ms":1e}`, false},
		{"hex", ok + `,"timeout_ms":0x10}`, false},
		{"leading plus in an unknown field", ok + `,"x":+1}`, false},
		{"leading zero in v", `{"v":01,"method":"/a.B/C","body":""}`, false},
		{"UTF-8 in a string", `{"v":1,"method":"/a.B/C","metadata":{"k":["é😀"]},"body":""}`, true},
		{"invalid UTF-8 in a string", "{\"v\":1,\"method\":\"/a.B/\xff\",\"body\":\"\"}", false},
		{"invalid UTF-8 in an escaped string", "{\"v\":1,\"method\":\"/a.B/\\n\xc3\",\"body\":\"\"}", false},
		{"NUL after the object", ok + "}\x00", false},
		{"white space after the object", ok + "} \n", true},
		{"invalid UTF-8 in an unknown field", "{\"v\":1,\"x\":\"\xed\xa0\x80\",\"method\":\"/a.B/C\",\"body\":\"\"}", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var env Request
			err := ParseRequest([]byte(tc.payload), &env)
			if (err == nil) != tc.valid {
				t.Errorf("ParseRequest(%q) = %v, want valid %v", tc.payload, err, tc.valid)
			}
		})
	}
}

// TestTimeoutClamp: a deadline about 292 years away is written as the
// largest timeout the envelope carries, not as a negative number, and reads
// back exactly.
func TestTimeoutClamp(t *testing.T) {
	for _, d := range []time.Duration{math.MaxInt64, MaxTimeout + 1, MaxTimeout, MaxTimeout - 1, MaxTimeout - time.Millisecond + 1, time.Until(time.Now().Add(math.MaxInt64))} {
		p := AppendRequest(nil, "/a.B/C", d, nil, nil, false)
		if strings.Contains(string(p), "-") {
			t.Fatalf("timeout %v written as %s", d, p)
		}
		var env Request
		if err := ParseRequest(p, &env); err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		if !env.HasTimeout || env.Timeout != MaxTimeout && env.Timeout != wireTimeout(d) {
			t.Errorf("timeout %v read back as %v", d, env.Timeout)
		}
	}
}
