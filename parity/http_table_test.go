package parity

import (
	"fmt"
	"strings"
	"testing"

	"github.com/protoc-gen-go-lambda/protoc-gen-go-lambda/runtime/lambdatest"
)

// The HTTP section of docs/compatibility.md: the keys removed before
// comparing, and one row per case with a cell per protocol and codec that
// says, for the five front ends, "=" or which documented difference.

const (
	httpKeysBegin  = "<!-- BEGIN GENERATED HTTP KEYS -->\n"
	httpKeysEnd    = "<!-- END GENERATED HTTP KEYS -->\n"
	httpCasesBegin = "<!-- BEGIN GENERATED HTTP CASES (go test ./parity -run TestHTTPParity -update) -->\n"
	httpCasesEnd   = "<!-- END GENERATED HTTP CASES -->\n"
)

// feShort names the front ends in the table's cells.
var feShort = map[lambdatest.FrontEnd]string{
	lambdatest.FunctionURL:   "URL",
	lambdatest.HTTPAPI:       "HTTP API",
	lambdatest.RESTAPI:       "REST",
	lambdatest.ALB:           "ALB",
	lambdatest.ALBMultiValue: "ALB multi",
}

// checkHTTPDoc compares the HTTP section of the document with the run, or
// rewrites it with -update.
func checkHTTPDoc(t *testing.T, gs []group, rows [][]httpRow) {
	checkGenerated(t, docPath, "TestHTTPParity",
		generatedPart{httpKeysBegin, httpKeysEnd, httpKeysTable()},
		generatedPart{httpCasesBegin, httpCasesEnd, httpCasesTable(gs, rows)})
}

func httpKeysTable() string {
	var b strings.Builder
	b.WriteString("\n| Where | Shown by | Key | Value (whole, a regular expression) | Why |\n|---|---|---|---|---|\n")
	for _, k := range httpKeys {
		fmt.Fprintf(&b, "| %s | %s | `%s` | `%s` | %s |\n", k.Where, k.Protocols, k.Key, cell(k.Value), cell(k.Reason))
	}
	b.WriteString("\n")
	return b.String()
}

// footnotes numbers the differences in the order the table first shows
// them.
type footnotes struct {
	reasons []string
	bug     []bool
	index   map[string]int
}

func (f *footnotes) ref(d *httpDiff) int {
	if f.index == nil {
		f.index = map[string]int{}
	}
	if n, ok := f.index[d.Reason]; ok {
		return n
	}
	f.reasons = append(f.reasons, d.Reason)
	f.bug = append(f.bug, d.Bug)
	f.index[d.Reason] = len(f.reasons)
	return len(f.reasons)
}

// httpCellText sums up one protocol's five front ends: "=" when all are
// equal, "(n)" when all differ as footnote n, otherwise each verdict with
// the front ends it holds for.
func httpCellText(r httpRow, p wireProtocol, notes *footnotes) string {
	var order []string
	fronts := map[string][]string{}
	for _, fe := range httpFrontEnds {
		v := "="
		if d := r.Cells[combo{P: p, FE: fe}].diff; d != nil {
			v = fmt.Sprintf("(%d)", notes.ref(d))
		}
		if _, ok := fronts[v]; !ok {
			order = append(order, v)
		}
		fronts[v] = append(fronts[v], feShort[fe])
	}
	if len(order) == 1 {
		return order[0]
	}
	parts := make([]string, len(order))
	for i, v := range order {
		parts[i] = v + " " + strings.Join(fronts[v], ", ")
	}
	return strings.Join(parts, "; ")
}

func httpCasesTable(gs []group, rows [][]httpRow) string {
	var b, tables strings.Builder
	notes := &footnotes{}
	var ran, excluded, equal, differ, bugs, timing int
	var excl []struct{ name, reason string }
	n := 0
	for i, g := range gs {
		fmt.Fprintf(&tables, "\n### %s over HTTP\n\n", g.Name)
		tables.WriteString("| # | Case | gRPC to grpc-go (baseline) |")
		for _, p := range httpProtocols {
			fmt.Fprintf(&tables, " %s |", p.Title())
		}
		tables.WriteString("\n|---|---|---|---|---|---|---|\n")
		for _, r := range rows[i] {
			n++
			if r.Excluded != "" {
				excluded++
				excl = append(excl, struct{ name, reason string }{fmt.Sprintf("%d, %s", n, r.Case), r.Excluded})
				continue
			}
			ran++
			fmt.Fprintf(&tables, "| %d | %s | %s |", n, cell(r.Case), cell(r.Baseline))
			for _, p := range httpProtocols {
				fmt.Fprintf(&tables, " %s |", cell(httpCellText(r, p, notes)))
				for _, fe := range httpFrontEnds {
					switch d := r.Cells[combo{P: p, FE: fe}].diff; {
					case d == nil:
						equal++
					default:
						differ++
						if d.Bug {
							bugs++
						}
						if d.MayBeEqual {
							timing++
						}
					}
				}
			}
			tables.WriteString("\n")
		}
	}
	combos := len(httpProtocols) * len(httpFrontEnds)
	fmt.Fprintf(&b, "\n%d cases run over HTTP (%d more are not, below), each in %d combinations (%d protocols and codecs, %d front ends): %d runs, %d equal to the baseline, %d documented differences",
		ran, excluded, combos, len(httpProtocols), len(httpFrontEnds), ran*combos, equal, differ)
	if timing > 0 {
		fmt.Fprintf(&b, " (%d of them equal or not by timing)", timing)
	}
	fmt.Fprintf(&b, ", of which %d are runtime bugs to fix. A cell sums up the five front ends (URL: function URL, HTTP API, REST: REST API, ALB and ALB multi: a load balancer with multi-value headers off and on): \"=\" is equal to the baseline, \"(n)\" differs as note n says, and a cell whose front ends disagree names them.\n", bugs)
	b.WriteString(tables.String())
	b.WriteString("\n### Notes\n\n")
	for i, r := range notes.reasons {
		prefix := ""
		if notes.bug[i] {
			prefix = "**Runtime bug.** "
			r = strings.TrimPrefix(r, "runtime bug: ")
		}
		fmt.Fprintf(&b, "%d. %s%s\n", i+1, prefix, capitalize(r))
	}
	b.WriteString("\n### Cases not run over HTTP\n\n")
	var reasons []string
	byReason := map[string][]string{}
	for _, e := range excl {
		if _, ok := byReason[e.reason]; !ok {
			reasons = append(reasons, e.reason)
		}
		byReason[e.reason] = append(byReason[e.reason], e.name)
	}
	for _, r := range reasons {
		fmt.Fprintf(&b, "- %s: %s.\n", strings.Join(byReason[r], "; "), capitalize(r))
	}
	b.WriteString("\n")
	return b.String()
}

// capitalize makes a reason a sentence.
func capitalize(s string) string {
	if s == "" || s[0] < 'a' || s[0] > 'z' {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
