package runtime

import (
	"fmt"
	"slices"
	"strings"

	"google.golang.org/grpc/metadata"
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
