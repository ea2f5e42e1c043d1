package main

import (
	"strings"
	"testing"
)

// TestRun: medians of repeated runs, ratios against the rows of the same
// size and table, and a second table for BenchmarkHTTPParts' invoke parts.
func TestRun(t *testing.T) {
	in := `goos: linux
BenchmarkUnary/size=small/path=floor-2    	 1000	      100 ns/op	 288.0 wire-B/op	 10 B/op	 10 allocs/op
BenchmarkUnary/size=small/path=floor-2    	 1000	      300 ns/op	 288.0 wire-B/op	 10 B/op	 10 allocs/op
BenchmarkUnary/size=small/path=floor-2    	 1000	      200 ns/op	 288.0 wire-B/op	 10 B/op	 10 allocs/op
BenchmarkUnary/size=small/path=connect-2  	 1000	     1000 ns/op	 300 wire-B/op	 10 B/op	 25 allocs/op
BenchmarkHTTPParts/size=small/part=invoke-floor-2   	 1000	 50 ns/op	 288.0 wire-B/op	 5 B/op	 5 allocs/op
BenchmarkHTTPParts/size=small/part=invoke-connect-2 	 1000	 500 ns/op	 300 wire-B/op	 5 B/op	 20 allocs/op
BenchmarkHTTPParts/size=small/part=event-encode-2   	 1000	 70 ns/op	 5 B/op	 1 allocs/op
`
	var out strings.Builder
	if err := run(strings.NewReader(in), &out); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"| small | floor | 200 | 10 | 10 | 288 | 1.00× |",
		"| small | connect | 1000 | 10 | 25 | 300 | 5.00× | – | 2.50× | +15 | – | 1.00× | 1.39× |",
		"The function alone",
		"| small | floor | 50 | 5 | 5 | 288 | 1.00× | – | 1.00× | +0 | – | 10.00× | 1.33× |",
		"| small | connect | 500 | 5 | 20 | 300 | 10.00× | – | 4.00× | +15 | – | 1.00× | 1.39× |",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
	if strings.Contains(out.String(), "event-encode") {
		t.Errorf("output has a part that is not invoke-*:\n%s", out.String())
	}
}
