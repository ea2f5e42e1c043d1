package wire

import (
	"errors"
	"fmt"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// The envelope is a handful of known fields, one of which (the body) can be
// megabytes of base64. encoding/json would scan that string twice and copy it
// once more before base64 decoding; this small reader hands out sub-slices of
// the payload instead, so the body is only touched by the base64 decoder.

// maxJSONDepth bounds nesting while skipping values we do not interpret, so a
// hostile payload cannot exhaust the stack or the CPU.
const maxJSONDepth = 64

// jsonReader reads one JSON document from data.
type jsonReader struct {
	data []byte
	pos  int
}

func (r *jsonReader) errorf(format string, args ...any) error {
	return fmt.Errorf("offset %d: %s", r.pos, fmt.Sprintf(format, args...))
}

func (r *jsonReader) skipSpace() {
	for r.pos < len(r.data) {
		switch r.data[r.pos] {
		case ' ', '\t', '\n', '\r':
			r.pos++
		default:
			return
		}
	}
}

// peek returns the next non-space byte without consuming it, or 0 at the end.
func (r *jsonReader) peek() byte {
	r.skipSpace()
	if r.pos >= len(r.data) {
		return 0
	}
	return r.data[r.pos]
}

func (r *jsonReader) expect(c byte) error {
	if r.peek() != c {
		if r.pos >= len(r.data) {
			return r.errorf("unexpected end of input, want %q", c)
		}
		return r.errorf("unexpected %q, want %q", r.data[r.pos], c)
	}
	r.pos++
	return nil
}

// end reports an error unless only white space is left.
func (r *jsonReader) end() error {
	if r.skipSpace(); r.pos < len(r.data) {
		return r.errorf("unexpected %q after the top-level value", r.data[r.pos])
	}
	return nil
}

// object calls field for each member of an object; field must consume the
// member's value.
func (r *jsonReader) object(field func(key []byte) error) error {
	if err := r.expect('{'); err != nil {
		return err
	}
	it := objectIter{r: r}
	for {
		key, ok, err := it.next()
		if err != nil || !ok {
			return err
		}
		if err := field(key); err != nil {
			return err
		}
	}
}

// objectIter walks the members of an object whose '{' has been consumed,
// without the closure object needs: the envelope's own fields are read this
// way on every call.
type objectIter struct {
	r       *jsonReader
	started bool
}

// next returns the next member's key, with the reader at its value, or
// ok false after the closing brace.
func (it *objectIter) next() (key []byte, ok bool, err error) {
	r := it.r
	switch c := r.peek(); {
	case c == '}':
		r.pos++
		return nil, false, nil
	case it.started && c == ',':
		r.pos++
	case it.started && c == 0:
		return nil, false, r.errorf("unexpected end of input in object")
	case it.started:
		return nil, false, r.errorf("unexpected %q in object", c)
	}
	it.started = true
	if key, err = r.str(); err != nil {
		return nil, false, err
	}
	if err := r.expect(':'); err != nil {
		return nil, false, err
	}
	return key, true, nil
}

// topLevel starts reading the document's top-level object.
func (r *jsonReader) topLevel() (objectIter, error) {
	return objectIter{r: r}, r.expect('{')
}

// field returns the next member whose value is not null (null is the same
// as an absent field), with the reader at its value; after the closing
// brace ok is false, and err reports anything but white space after it.
func (it *objectIter) field() (key []byte, ok bool, err error) {
	for {
		if key, ok, err = it.next(); err != nil {
			return nil, false, err
		}
		if !ok {
			return nil, false, it.r.end()
		}
		if !it.r.null() {
			return key, true, nil
		}
	}
}

// array calls elem for each element of an array; elem must consume it.
func (r *jsonReader) array(elem func() error) error {
	if err := r.expect('['); err != nil {
		return err
	}
	if r.peek() == ']' {
		r.pos++
		return nil
	}
	for {
		if err := elem(); err != nil {
			return err
		}
		switch r.peek() {
		case ',':
			r.pos++
		case ']':
			r.pos++
			return nil
		case 0:
			return r.errorf("unexpected end of input in array")
		default:
			return r.errorf("unexpected %q in array", r.data[r.pos])
		}
	}
}

// null consumes a literal null if it is next.
func (r *jsonReader) null() bool {
	if r.peek() == 'n' && len(r.data)-r.pos >= 4 && string(r.data[r.pos:r.pos+4]) == "null" {
		r.pos += 4
		return true
	}
	return false
}

// str reads a string. Without escapes the result aliases the input; with
// escapes it is a new slice. Strings must be valid UTF-8 (RFC 8259).
func (r *jsonReader) str() ([]byte, error) {
	if err := r.expect('"'); err != nil {
		return nil, err
	}
	start := r.pos
	for i := start; i < len(r.data); {
		switch c := r.data[i]; {
		case c == '"':
			r.pos = i + 1
			return r.data[start:i], nil
		case c == '\\':
			return r.unescape(start, i)
		case c < 0x20:
			r.pos = i
			return nil, r.errorf("control character %#x in string", c)
		case c >= utf8.RuneSelf:
			ru, n := utf8.DecodeRune(r.data[i:])
			if ru == utf8.RuneError && n == 1 {
				r.pos = i
				return nil, r.errorf("invalid UTF-8 in string")
			}
			i += n
		default:
			i++
		}
	}
	r.pos = len(r.data)
	return nil, r.errorf("unterminated string")
}

// unescape finishes a string that has escapes; esc is the first backslash.
func (r *jsonReader) unescape(start, esc int) ([]byte, error) {
	out := make([]byte, 0, esc-start+16)
	out = append(out, r.data[start:esc]...)
	i := esc
	for i < len(r.data) {
		c := r.data[i]
		switch {
		case c == '"':
			r.pos = i + 1
			return out, nil
		case c < 0x20:
			r.pos = i
			return nil, r.errorf("control character %#x in string", c)
		case c >= utf8.RuneSelf:
			ru, n := utf8.DecodeRune(r.data[i:])
			if ru == utf8.RuneError && n == 1 {
				r.pos = i
				return nil, r.errorf("invalid UTF-8 in string")
			}
			out = append(out, r.data[i:i+n]...)
			i += n
			continue
		case c != '\\':
			out = append(out, c)
			i++
			continue
		}
		if i+1 >= len(r.data) {
			break
		}
		i++
		switch r.data[i] {
		case '"', '\\', '/':
			out = append(out, r.data[i])
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'u':
			ru, n, ok := r.hex4(i + 1)
			if !ok {
				r.pos = i
				return nil, r.errorf("invalid \\u escape")
			}
			i += n
			if utf16.IsSurrogate(ru) {
				if lo, n2, ok := r.hex4(i + 3); ok && r.data[i+1] == '\\' && r.data[i+2] == 'u' {
					if dec := utf16.DecodeRune(ru, lo); dec != utf8.RuneError {
						ru = dec
						i += 2 + n2
					} else {
						ru = utf8.RuneError
					}
				} else {
					ru = utf8.RuneError
				}
			}
			out = utf8.AppendRune(out, ru)
		default:
			r.pos = i
			return nil, r.errorf("invalid escape %q", r.data[i])
		}
		i++
	}
	r.pos = len(r.data)
	return nil, r.errorf("unterminated string")
}

// hex4 decodes four hex digits at i; n is how many bytes past i were used
// (always 4 on success).
func (r *jsonReader) hex4(i int) (rune, int, bool) {
	if i < 0 || i+4 > len(r.data) {
		return 0, 0, false
	}
	var v rune
	for _, c := range r.data[i : i+4] {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c -= 'a' - 10
		case 'A' <= c && c <= 'F':
			c -= 'A' - 10
		default:
			return 0, 0, false
		}
		v = v<<4 | rune(c)
	}
	return v, 4, true
}

// number reads a JSON number token, by RFC 8259's grammar
// (-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?), and returns its text.
func (r *jsonReader) number() ([]byte, error) {
	r.skipSpace()
	start := r.pos
	d := r.data
	i := start
	digits := func() bool {
		j := i
		for i < len(d) && '0' <= d[i] && d[i] <= '9' {
			i++
		}
		return i > j
	}
	if i < len(d) && d[i] == '-' {
		i++
	}
	switch {
	case i < len(d) && d[i] == '0':
		i++
	case !digits():
		return nil, r.numberError(i)
	}
	if i < len(d) && d[i] == '.' {
		i++
		if !digits() {
			return nil, r.numberError(i)
		}
	}
	if i < len(d) && (d[i] == 'e' || d[i] == 'E') {
		i++
		if i < len(d) && (d[i] == '+' || d[i] == '-') {
			i++
		}
		if !digits() {
			return nil, r.numberError(i)
		}
	}
	r.pos = i
	return d[start:i], nil
}

func (r *jsonReader) numberError(i int) error {
	r.pos = i
	if i >= len(r.data) {
		return r.errorf("unexpected end of input in a number")
	}
	return r.errorf("unexpected %q in a number", r.data[i])
}

// int reads a JSON number that must be an integer fitting in int32.
func (r *jsonReader) int() (int64, error) {
	tok, err := r.number()
	if err != nil {
		return 0, err
	}
	v, err := strconv.ParseInt(string(tok), 10, 32)
	if err != nil {
		return 0, r.errorf("invalid integer %q", tok)
	}
	return v, nil
}

// float reads any JSON number.
func (r *jsonReader) float() (float64, error) {
	tok, err := r.number()
	if err != nil {
		return 0, err
	}
	v, err := strconv.ParseFloat(string(tok), 64)
	if err != nil {
		return 0, r.errorf("invalid number %q", tok)
	}
	return v, nil
}

var errTooDeep = errors.New("value nested too deeply")

// skip consumes one value of any kind and returns its raw text.
func (r *jsonReader) skip() ([]byte, error) {
	r.skipSpace()
	start := r.pos
	if err := r.skipDepth(0); err != nil {
		return nil, err
	}
	return r.data[start:r.pos], nil
}

func (r *jsonReader) skipDepth(depth int) error {
	if depth > maxJSONDepth {
		return r.errorf("%v", errTooDeep)
	}
	switch c := r.peek(); c {
	case '{':
		return r.object(func([]byte) error { return r.skipDepth(depth + 1) })
	case '[':
		return r.array(func() error { return r.skipDepth(depth + 1) })
	case '"':
		_, err := r.str()
		return err
	case 't', 'f', 'n':
		for _, lit := range [...]string{"true", "false", "null"} {
			if len(r.data)-r.pos >= len(lit) && string(r.data[r.pos:r.pos+len(lit)]) == lit {
				r.pos += len(lit)
				return nil
			}
		}
		return r.errorf("invalid literal")
	case 0:
		return r.errorf("unexpected end of input, want a value")
	default:
		_, err := r.float()
		return err
	}
}
