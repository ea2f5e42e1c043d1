package wire

import (
	"fmt"
	"slices"
	"strings"

	"google.golang.org/grpc/metadata"
)

// IsReservedKey reports whether grpc-go's HTTP/2 transport keeps key out of
// the metadata it sends and delivers (internal/transport.isReservedHeader).
// The same keys are dropped here, so a handler or caller sees what it would
// see over grpc-go.
func IsReservedKey(key string) bool {
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

func IsBinaryKey(key string) bool { return strings.HasSuffix(key, "-bin") }

// appendMetadata appends md as a JSON object of string arrays, keys sorted so
// that equal metadata gives equal bytes. Values of "-bin" keys are base64.
// Reserved keys and keys without values are left out.
func appendMetadata(dst []byte, md metadata.MD) []byte {
	keys := make([]string, 0, len(md))
	for k, v := range md {
		if len(v) > 0 && !IsReservedKey(k) {
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
		bin := IsBinaryKey(k)
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
		bin := IsBinaryKey(key)
		keep := !IsReservedKey(key)
		read := func() error {
			v, err := r.str()
			if err != nil {
				return err
			}
			if !keep {
				return nil
			}
			if bin {
				dec, err := DecodeBase64(nil, v)
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

// StatusDetailsKey is the trailer in which gRPC carries a status's
// details, a serialized google.rpc.Status.
const StatusDetailsKey = "grpc-status-details-bin"
