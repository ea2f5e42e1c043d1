package runtime

import (
	"fmt"
	"slices"
	"strings"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// isReservedKey reports whether grpc-go's HTTP/2 transport keeps key out of
// the metadata it sends and delivers (internal/transport.isReservedHeader).
// The same keys are dropped here, so a handler or caller sees what it would
// see over grpc-go.
func isReservedKey(key string) bool {
	if key != "" && key[0] == ':' {
		return true
	}
	switch key {
	case "content-type", "user-agent", "grpc-message-type", "grpc-encoding",
		"grpc-message", "grpc-status", "grpc-timeout", "te":
		return true
	}
	return false
}

func isBinaryKey(key string) bool { return strings.HasSuffix(key, "-bin") }

// validateMetadata applies grpc-go's rules for outgoing metadata
// (internal/metadata.ValidatePair) and returns grpc-go's message.
func validateMetadata(md metadata.MD) error {
	for k, vals := range md {
		if err := validatePair(k, vals...); err != nil {
			return err
		}
	}
	return nil
}

func validatePair(key string, vals ...string) error {
	if key == "" {
		return fmt.Errorf("there is an empty key in the header")
	}
	if key[0] == ':' {
		return nil
	}
	for i := 0; i < len(key); i++ {
		r := key[i]
		if !(r >= 'a' && r <= 'z') && !(r >= '0' && r <= '9') && r != '.' && r != '-' && r != '_' {
			return fmt.Errorf("header key %q contains illegal characters not in [0-9a-z-_.]", key)
		}
	}
	if isBinaryKey(key) {
		return nil
	}
	for _, v := range vals {
		for i := 0; i < len(v); i++ {
			if v[i] < 0x20 || v[i] > 0x7E {
				return fmt.Errorf("header key %q contains value with non-printable ASCII characters", key)
			}
		}
	}
	return nil
}

// appendMetadata appends md as a JSON object of string arrays, keys sorted so
// that equal metadata gives equal bytes. Values of "-bin" keys are base64.
// Reserved keys and keys without values are left out.
func appendMetadata(dst []byte, md metadata.MD) []byte {
	keys := make([]string, 0, len(md))
	for k, v := range md {
		if len(v) > 0 && !isReservedKey(k) {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	dst = append(dst, '{')
	for i, k := range keys {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendJSONString(dst, k)
		dst = append(dst, ':', '[')
		bin := isBinaryKey(k)
		for j, v := range md[k] {
			if j > 0 {
				dst = append(dst, ',')
			}
			if bin {
				dst = appendBase64String(dst, []byte(v))
			} else {
				dst = appendJSONString(dst, v)
			}
		}
		dst = append(dst, ']')
	}
	return append(dst, '}')
}

// readMetadata reads a metadata object. Keys are lower-cased, as HTTP/2 does;
// "-bin" values are base64-decoded; reserved keys are dropped.
func readMetadata(r *jsonReader) (metadata.MD, error) {
	if r.null() {
		return nil, nil
	}
	md := metadata.MD{}
	err := r.object(func(rawKey []byte) error {
		key := strings.ToLower(string(rawKey))
		bin := isBinaryKey(key)
		keep := !isReservedKey(key)
		read := func() error {
			v, err := r.str()
			if err != nil {
				return err
			}
			if !keep {
				return nil
			}
			if bin {
				dec, err := decodeBase64(nil, v)
				if err != nil {
					return fmt.Errorf("malformed binary metadata %q in header %q: %v", v, key, err)
				}
				v = dec
			}
			md[key] = append(md[key], string(v))
			return nil
		}
		if r.peek() == '"' { // a lone string is accepted for a single value
			return read()
		}
		return r.array(read)
	})
	if err != nil {
		return nil, err
	}
	return md, nil
}

// grpcStatusDetailsKey is the trailer in which gRPC carries a status's
// details, a serialized google.rpc.Status.
const grpcStatusDetailsKey = "grpc-status-details-bin"

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
		if len(vs) == 0 || isReservedKey(k) {
			continue
		}
		if !validWireKey(k) {
			return fmt.Sprintf("invalid header field name %q", k)
		}
		if isBinaryKey(k) {
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
