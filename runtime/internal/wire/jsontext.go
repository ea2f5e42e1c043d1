package wire

// AppendJSONString appends s as a JSON string; invalid UTF-8 becomes U+FFFD,
// as encoding/json does.
func AppendJSONString(dst []byte, s string) []byte { return appendJSONString(dst, s) }

// AppendJSONBytes appends b as a JSON string, as AppendJSONString does,
// without first copying b into a string: b can be a megabyte-sized body.
func AppendJSONBytes(dst, b []byte) []byte { return appendJSONString(dst, b) }
