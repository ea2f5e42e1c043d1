package wire

import (
	"bytes"
	"testing"
)

// BenchmarkParseRequestBody reads a request envelope with a 16 KiB body, whose
// base64 string is most of the work.
func BenchmarkParseRequestBody(b *testing.B) {
	body := bytes.Repeat([]byte{7}, 16<<10)
	payload := AppendRequest(nil, "/a.B/C", 0, nil, body, false)
	b.SetBytes(int64(len(payload)))
	for i := 0; i < b.N; i++ {
		var env Request
		if err := ParseRequest(payload, &env); err != nil {
			b.Fatal(err)
		}
	}
}
