package runtime

import (
	"fmt"
	"strings"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/protoc-gen-go-lambda/protoc-gen-go-lambda/runtime/internal/wire"
)

// checkIncomingMetadata applies what grpc-go's HTTP/2 server does with
// request headers that are not metadata, and returns the status its client
// then sees: a "connection" header makes the request malformed and the
// stream is reset; "host" is discarded because :authority is present (gRFC
// A41), and more than one is refused.
func checkIncomingMetadata(md metadata.MD) *status.Status {
	if len(md) == 0 {
		return nil
	}
	if _, ok := md["connection"]; ok {
		return status.New(codes.Internal, "stream terminated by RST_STREAM with error code: PROTOCOL_ERROR")
	}
	if host, ok := md["host"]; ok {
		if len(host) > 1 {
			return status.Newf(codes.Internal, "num values of :authority: 1, num values of host: %d, both must only have 1 value as per HTTP/2 spec", len(host))
		}
		delete(md, "host")
	}
	return nil
}

// invalidWireMetadata returns the error grpc-go's client reports when
// response metadata breaks HTTP/2's rules, or "" when md is fine. grpc-go's
// grpc.SetHeader and grpc.SetTrailer do not validate, its server writes such
// a key or value as it is, and the client's HTTP/2 framer rejects the frame,
// failing the call with INTERNAL. Reserved keys and keys without values are
// never written, and "-bin" values are always base64, so they pass.
func invalidWireMetadata(md metadata.MD) string {
	for k, vs := range md {
		if len(vs) == 0 || wire.IsReservedKey(k) {
			continue
		}
		if !validWireKey(k) {
			return fmt.Sprintf("invalid header field name %q", k)
		}
		if wire.IsBinaryKey(k) {
			continue
		}
		for _, v := range vs {
			for i := 0; i < len(v); i++ {
				// httpguts.ValidHeaderFieldValue: no control characters but tab.
				if c := v[i]; (c < ' ' && c != '\t') || c == 0x7f {
					return fmt.Sprintf("invalid header field value for %q", k)
				}
			}
		}
	}
	return ""
}

// validWireKey reports whether key is a valid HTTP/2 header field name: a
// non-empty RFC 7230 token without upper-case letters.
func validWireKey(key string) bool {
	if key == "" {
		return false
	}
	for i := 0; i < len(key); i++ {
		c := key[i]
		switch {
		case 'a' <= c && c <= 'z', '0' <= c && c <= '9':
		case strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0:
		default:
			return false
		}
	}
	return true
}
