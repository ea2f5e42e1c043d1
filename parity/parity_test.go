package parity

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/proto"
)

var update = flag.Bool("update", false, "rewrite the generated tables of "+docPath)

// docPath is the compatibility document whose tables this suite generates
// and checks.
const docPath = "../docs/compatibility.md"

// group is a named list of cases.
type group struct {
	Name  string
	Cases []Case
}

// groups returns every case of the suite, in the order of the document.
func groups() []group {
	return []group{
		{"messages", messageCases()},
		{"status", statusCases()},
		{"metadata", metadataCases()},
		{"deadlines", deadlineCases()},
		{"routing", routingCases()},
		{"interceptors", interceptorCases()},
		{"call options", callOptionCases()},
		{"limits", limitCases()},
		{"panics", panicCases()},
	}
}

// TestParity runs every case on both paths and compares the outcomes; when
// the whole suite ran and passed, it checks (or with -update rewrites) the
// generated tables of docs/compatibility.md.
func TestParity(t *testing.T) {
	gs := groups()
	markJSON(t, gs)
	rows := make([][]row, len(gs))
	names := map[string]bool{}
	total := 0
	for _, g := range gs {
		for _, c := range g.Cases {
			if names[c.Name] {
				t.Fatalf("duplicate case name %q", c.Name)
			}
			names[c.Name] = true
			total++
		}
	}
	ran := 0
	t.Run("cases", func(t *testing.T) {
		for i, g := range gs {
			rows[i] = make([]row, len(g.Cases))
			t.Run(g.Name, func(t *testing.T) {
				t.Parallel()
				for j := range g.Cases {
					c := &g.Cases[j]
					t.Run(c.Name, func(t *testing.T) {
						rows[i][j] = runCase(t, c)
					})
				}
			})
		}
	})
	for i := range rows {
		for _, r := range rows[i] {
			if r.Case != "" {
				ran++
			}
		}
	}
	if ran != total || t.Failed() {
		t.Logf("%d of %d cases ran; %s not checked", ran, total, docPath)
		return
	}
	checkDoc(t, gs, rows)
}

const (
	casesBegin = "<!-- BEGIN GENERATED CASES (go test ./parity -run TestParity -update) -->\n"
	casesEnd   = "<!-- END GENERATED CASES -->\n"
	keysBegin  = "<!-- BEGIN GENERATED TRANSPORT KEYS -->\n"
	keysEnd    = "<!-- END GENERATED TRANSPORT KEYS -->\n"
)

// checkDoc compares the generated parts of the document with the run.
func checkDoc(t *testing.T, gs []group, rows [][]row) {
	names := make([]string, len(gs))
	for i, g := range gs {
		names[i] = g.Name
	}
	checkGenerated(t, docPath, "TestParity",
		generatedPart{casesBegin, casesEnd, casesTable(names, rows, "cases", "", "")},
		generatedPart{keysBegin, keysEnd, keysTable()})
}

// generatedPart is the text a test writes between two markers of a
// document.
type generatedPart struct{ begin, end, text string }

// checkGenerated compares the generated parts of the document at path with
// the run, or rewrites them with -update; rerun names the test that writes
// them.
func checkGenerated(t *testing.T, path, rerun string, parts ...generatedPart) {
	t.Helper()
	doc, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read %s: %v", path, err)
	}
	got := doc
	for _, part := range parts {
		got, err = replaceBetween(got, part.begin, part.end, part.text)
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
	}
	if bytes.Equal(got, doc) {
		return
	}
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("updated %s", path)
		return
	}
	gl, dl := strings.Split(string(got), "\n"), strings.Split(string(doc), "\n")
	for i := 0; i < len(gl) && i < len(dl); i++ {
		if gl[i] != dl[i] {
			t.Errorf("line %d:\n  document: %s\n  suite:    %s", i+1, dl[i], gl[i])
			break
		}
	}
	t.Errorf("%s is out of date with the suite; run go test ./parity -run %s -update and review the diff", path, rerun)
}

func replaceBetween(doc []byte, begin, end, text string) ([]byte, error) {
	i := bytes.Index(doc, []byte(begin))
	j := bytes.Index(doc, []byte(end))
	if i < 0 || j < i {
		return nil, fmt.Errorf("markers %q and %q not found in order", strings.TrimSpace(begin), strings.TrimSpace(end))
	}
	out := slices.Clone(doc[:i+len(begin)])
	out = append(out, text...)
	return append(out, doc[j:]...), nil
}

// casesTable writes a table per group of cases (names[i] is rows[i]'s),
// after a line that counts them: what names the cases ("cases", "streaming
// cases"), heading prefixes each group's heading and number each case's
// number.
func casesTable(names []string, rows [][]row, what, heading, number string) string {
	var b strings.Builder
	n, equal, jsonSame := 0, 0, 0
	for i := range names {
		for _, r := range rows[i] {
			n++
			if r.Verdict == "equal" {
				equal++
			}
			if r.JSON == "same" {
				jsonSame++
			}
		}
	}
	fmt.Fprintf(&b, "\n%d %s: %d equal, %d documented differences. Each case runs on the Lambda path twice, in binary mode (the Lambda column) and in JSON mode (invoke.WithJSON); %d come out the same in both modes, %d differ as documented in the JSON mode column.\n", n, what, equal, n-equal, jsonSame, n-jsonSame)
	n = 0
	for i, name := range names {
		fmt.Fprintf(&b, "\n### %s%s\n\n", heading, name)
		b.WriteString("| # | Case | grpc-go | Lambda | Equal, or why not | JSON mode |\n|---|---|---|---|---|---|\n")
		for _, r := range rows[i] {
			n++
			v := r.Verdict
			if v != "equal" {
				v = "**differs:** " + v
			}
			fmt.Fprintf(&b, "| %s%d | %s | %s | %s | %s | %s |\n", number, n, cell(r.Case), cell(r.GRPC), cell(r.Lambda), cell(v), cell(r.JSON))
		}
	}
	b.WriteString("\n")
	return b.String()
}

func keysTable() string {
	var b strings.Builder
	b.WriteString("\n| Key | Where grpc-go shows it | Value | Why the Lambda path has none |\n|---|---|---|---|\n")
	for _, k := range transportKeys {
		fmt.Fprintf(&b, "| `%s` | %s | `%s` | %s |\n", k.Key, cell(k.Where), k.Value, cell(k.Reason))
	}
	b.WriteString("\n")
	return b.String()
}

// cell escapes text for a Markdown table cell.
func cell(s string) string {
	s = strings.ReplaceAll(s, "|", `\|`)
	return strings.ReplaceAll(s, "\n", " ")
}

// summary describes an outcome in a few words for the table.
func summary(o Outcome) string {
	if o.Note != "" {
		return o.Note
	}
	var b strings.Builder
	b.WriteString(codeName(o.Code()))
	if o.MessageIgnored {
		b.WriteString(" (message not compared)")
	}
	if m := o.Status.GetMessage(); m != "" {
		fmt.Fprintf(&b, " %q", cutRunes(m, 70))
	}
	if n := len(o.Status.GetDetails()); n > 0 {
		fmt.Fprintf(&b, ", %d details", n)
	}
	if o.Resp != nil {
		fmt.Fprintf(&b, ", response %s", size(proto.Size(o.Resp)))
	}
	for _, md := range []struct {
		name string
		md   metadata.MD
	}{{"header", o.Header}, {"trailer", o.Trailer}} {
		if len(md.md) > 0 {
			fmt.Fprintf(&b, "; %s %s", md.name, mdKeys(md.md))
		}
	}
	return b.String()
}

func codeName(c codes.Code) string {
	if c > codes.Unauthenticated {
		return fmt.Sprintf("code %d", uint32(c))
	}
	var b strings.Builder
	for i, r := range c.String() {
		if i > 0 && 'A' <= r && r <= 'Z' && c != codes.OK {
			b.WriteByte('_')
		}
		b.WriteRune(r)
	}
	return strings.ToUpper(b.String())
}

func size(n int) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

func mdKeys(md metadata.MD) string {
	keys := slices.Sorted(func(yield func(string) bool) {
		for k := range md {
			if !yield(k) {
				return
			}
		}
	})
	s := strings.Join(keys, ", ")
	return cutRunes(s, 60)
}

func cutRunes(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n]) + "…"
}
