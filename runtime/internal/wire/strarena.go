package wire

import "strings"

// stringArena copies strings read from a payload into one allocation:
// grow b by their total size first, then each copy is a part of b's text.
// (b never changes what it has written; were the size short, b would move
// to a larger buffer, and the strings already made would keep the old one.)
type stringArena struct {
	b strings.Builder
}

// copy returns p as a string.
func (a *stringArena) copy(p []byte) string {
	if len(p) == 0 {
		return ""
	}
	a.b.Write(p)
	s := a.b.String()
	return s[len(s)-len(p):]
}

// lower returns p as a string, A-Z lowered.
func (a *stringArena) lower(p []byte) string {
	for _, c := range p {
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		a.b.WriteByte(c)
	}
	s := a.b.String()
	return s[len(s)-len(p):]
}

// read reads a string that is known to be well-formed from r.
func (a *stringArena) read(r *jsonReader) string {
	s, _ := r.strFast()
	return a.copy(s)
}
