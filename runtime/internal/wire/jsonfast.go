package wire

import (
	"encoding/binary"
	"math/bits"
	"unicode/utf8"
)

// Faster forms of jsonReader's str, skip and objectIter.next, for the HTTP
// events, which carry a few hundred bytes of headers and request context
// besides the body: strings are scanned 8 bytes at a time, values skipped
// without recursion or closures, and nothing is allocated to skip a string
// with escapes. Each accepts what its model (jsonscan.go) accepts and stops
// at the same place; on anything else it rewinds and calls the model, so
// that every error, with its offset, is the model's. httpevent_test.go
// compares them, and FuzzParseHTTPEvent on any input.

const (
	ones  = 0x0101010101010101
	highs = 0x8080808080808080
)

// special has the high bit set in the first byte of w (in memory order) that
// a string cannot hold as is: '"', '\\', a control character or a byte of a
// multi-byte UTF-8 sequence; bytes after it may be set too. Zero when none.
func special(w uint64) uint64 {
	q := w ^ ('"' * ones)
	b := w ^ ('\\' * ones)
	return ((q-ones)&^q | (b-ones)&^b | (w-0x20*ones)&^w | w) & highs
}

// skipPlain returns the index of the first byte of d from i on that special
// finds, reading 8 bytes at a time; with fewer than 8 bytes left and none
// found, the index of the first of them.
func skipPlain(d []byte, i int) int {
	for i+8 <= len(d) {
		if m := special(binary.LittleEndian.Uint64(d[i:])); m != 0 {
			return i + bits.TrailingZeros64(m)>>3
		}
		i += 8
	}
	return i
}

// peekFast is peek, without a call when no white space comes first.
func (r *jsonReader) peekFast() byte {
	if r.pos < len(r.data) {
		if c := r.data[r.pos]; c > ' ' {
			return c
		}
	}
	return r.peek()
}

// nullFast is null.
func (r *jsonReader) nullFast() bool {
	if r.peekFast() == 'n' && len(r.data)-r.pos >= 4 && string(r.data[r.pos:r.pos+4]) == "null" {
		r.pos += 4
		return true
	}
	return false
}

// strFast is r.str: it reads a string 8 bytes at a time while there is
// nothing to unescape or to check as UTF-8, and leaves escapes and errors
// to r.str.
func (r *jsonReader) strFast() ([]byte, error) {
	r.peekFast()
	d := r.data
	if r.pos >= len(d) || d[r.pos] != '"' {
		return r.str()
	}
	start := r.pos + 1
	i := start
	for {
		i = skipPlain(d, i)
		if i >= len(d) {
			return r.str() // unterminated
		}
		switch c := d[i]; {
		case c == '"':
			r.pos = i + 1
			return d[start:i], nil
		case c == '\\' || c < 0x20:
			return r.str()
		case c >= utf8.RuneSelf:
			ru, n := utf8.DecodeRune(d[i:])
			if ru == utf8.RuneError && n == 1 {
				return r.str()
			}
			i += n
		default: // the last bytes, fewer than 8
			i++
		}
	}
}

// strSkip consumes a string as r.str does, without making its text: escapes
// are checked, not decoded, so a string with escapes costs no allocation.
// plain reports that it had none: its text is then the bytes between its
// quotes.
func (r *jsonReader) strSkip() (plain bool, err error) {
	r.peekFast()
	d := r.data
	if r.pos >= len(d) || d[r.pos] != '"' {
		_, err := r.str()
		return false, err
	}
	plain = true
	i := r.pos + 1
	for {
		i = skipPlain(d, i)
		if i >= len(d) {
			break
		}
		switch c := d[i]; {
		case c == '"':
			r.pos = i + 1
			return plain, nil
		case c == '\\':
			plain = false
			if i+1 >= len(d) {
				break
			}
			switch d[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
				continue
			case 'u':
				if _, _, ok := r.hex4(i + 2); ok {
					i += 6
					continue
				}
			}
		case c < 0x20:
		case c >= utf8.RuneSelf:
			if ru, n := utf8.DecodeRune(d[i:]); ru != utf8.RuneError || n != 1 {
				i += n
				continue
			}
		default: // the last bytes, fewer than 8
			i++
			continue
		}
		break
	}
	_, err = r.str() // its error
	return false, err
}

// strSpan is strFast, with where the string's text is in r.data when the
// result is that text (no escapes): the result is then r.data[start:end].
func (r *jsonReader) strSpan() (s []byte, start int, aliased bool, err error) {
	if s, err = r.strFast(); err != nil {
		return nil, 0, false, err
	}
	start = r.pos - 1 - len(s)
	if len(s) == 0 || &s[0] == &r.data[start] {
		return s, start, true, nil
	}
	return s, 0, false, nil
}

// fastIter is objectIter with strFast for the keys, and where each key's
// text is in r.data when it has no escapes.
type fastIter struct {
	r          *jsonReader
	started    bool
	keyStart   int  // the last key is r.data[keyStart:keyStart+len(key)]
	keyAliased bool // when this is set
}

// next is objectIter.next.
func (it *fastIter) next() (key []byte, ok bool, err error) {
	r := it.r
	switch c := r.peekFast(); {
	case c == '}':
		r.pos++
		return nil, false, nil
	case it.started && c == ',':
		r.pos++
	case it.started:
		model := objectIter{r: r, started: true}
		return model.next() // its error
	}
	it.started = true
	if key, it.keyStart, it.keyAliased, err = r.strSpan(); err != nil {
		return nil, false, err
	}
	if r.peekFast() != ':' {
		return nil, false, r.expect(':')
	}
	r.pos++
	return key, true, nil
}

// maxFastDepth is how deep skipFast follows nesting itself; deeper values
// go to skip, which has the limit.
const maxFastDepth = 32

// skipFast is skip without the text: it consumes one value of any kind.
func (r *jsonReader) skipFast() error {
	start := r.pos
	if _, _, ok := r.scanValue(); ok {
		return nil
	}
	r.pos = start
	_, err := r.skip()
	return err
}

// scanValue consumes one well-formed value that nests less than
// maxFastDepth deep, as skip would, and counts the values directly inside
// it (n1: an object's members or an array's elements) and those one level
// further in (n2). ok is false, and r.pos anywhere, for anything else:
// malformed, or deeper.
func (r *jsonReader) scanValue() (n1, n2 int, ok bool) {
	var objects uint64 // bit k: the open container at depth k+1 is an object
	depth := 0         // open containers
value:
	switch depth {
	case 1:
		n1++
	case 2:
		n2++
	}
	switch r.peekFast() {
	case '{':
		if depth == maxFastDepth {
			return 0, 0, false
		}
		r.pos++
		objects |= 1 << depth
		depth++
		if r.peekFast() == '}' {
			r.pos++
			depth--
			goto after
		}
		goto key
	case '[':
		if depth == maxFastDepth {
			return 0, 0, false
		}
		r.pos++
		objects &^= 1 << depth
		depth++
		if r.peekFast() == ']' {
			r.pos++
			depth--
			goto after
		}
		goto value
	case '"':
		if _, err := r.strSkip(); err != nil {
			return 0, 0, false
		}
	case 't':
		if !r.literal("true") {
			return 0, 0, false
		}
	case 'f':
		if !r.literal("false") {
			return 0, 0, false
		}
	case 'n':
		if !r.literal("null") {
			return 0, 0, false
		}
	default:
		if !r.skipNumber() {
			return 0, 0, false
		}
	}
after:
	if depth == 0 {
		return n1, n2, true
	}
	{
		object := objects&(1<<(depth-1)) != 0
		switch c := r.peekFast(); {
		case c == ',':
			r.pos++
			if object {
				goto key
			}
			goto value
		case c == '}' && object, c == ']' && !object:
			r.pos++
			depth--
			goto after
		}
		return 0, 0, false
	}
key:
	if r.peekFast() != '"' {
		return 0, 0, false
	}
	if _, err := r.strSkip(); err != nil || r.peekFast() != ':' {
		return 0, 0, false
	}
	r.pos++
	goto value
}

// skipNumber consumes a number as float does (RFC 8259's grammar, checked
// here as number checks it): with strconv.ParseFloat only where it might
// say the number is out of range, for one with an exponent or hundreds of
// digits.
func (r *jsonReader) skipNumber() bool {
	d, i := r.data, r.pos
	if i < len(d) && d[i] == '-' {
		i++
	}
	switch {
	case i < len(d) && d[i] == '0':
		i++
	case i < len(d) && '1' <= d[i] && d[i] <= '9':
		for i++; i < len(d) && '0' <= d[i] && d[i] <= '9'; i++ {
		}
	default:
		return false
	}
	if i < len(d) && d[i] == '.' {
		i++
		j := i
		for i < len(d) && '0' <= d[i] && d[i] <= '9' {
			i++
		}
		if i == j {
			return false
		}
	}
	if i-r.pos < 300 && (i >= len(d) || d[i] != 'e' && d[i] != 'E') {
		r.pos = i
		return true
	}
	_, err := r.float()
	return err == nil
}

// skipValue is skipFast, with a string skipped at once.
func (r *jsonReader) skipValue() error {
	if r.peekFast() == '"' {
		_, err := r.strSkip()
		return err
	}
	return r.skipFast()
}

// literal consumes lit if it is next.
func (r *jsonReader) literal(lit string) bool {
	if len(r.data)-r.pos >= len(lit) && string(r.data[r.pos:r.pos+len(lit)]) == lit {
		r.pos += len(lit)
		return true
	}
	return false
}
