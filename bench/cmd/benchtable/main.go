// Command benchtable reads `go test -bench 'BenchmarkUnary|BenchmarkHTTPParts'
// -benchmem` output on stdin and prints markdown tables: one of
// BenchmarkUnary results (whole calls) and, when the input has them, one of
// BenchmarkHTTPParts' part=invoke-<path> results (the function alone:
// request bytes in, the function's handler, response bytes out), each with
// ratios against the floor, lambda, gateway and connect rows of the same
// size and table, and the allocations over floor's. When a benchmark
// appears more than once (-count>1, or several rounds) each metric is the
// median of its runs, and each ratio is the ratio of the medians.
//
// The raw protobuf size a wire ratio is taken against is derived from the
// floor row: its wire-B/op is the base64 text of the request plus that of
// the response, so the protobuf bytes are about 3/4 of it.
package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

var nameRE = regexp.MustCompile(`^Benchmark(Unary|HTTPParts)/size=([^/]+)/(?:path|part=invoke)[=-](.+?)(?:-\d+)?$`)

// The tables, in the order they are printed.
var tables = []struct{ family, title string }{
	{"Unary", ""},
	{"HTTPParts", "The function alone (BenchmarkHTTPParts, part=invoke-<path>): request bytes in, the function's handler, response bytes out."},
}

type key struct{ family, size, path string }

func main() {
	if err := run(os.Stdin, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "benchtable:", err)
		os.Exit(1)
	}
}

func run(r io.Reader, w io.Writer) error {
	samples := map[key]map[string][]float64{}
	var sizes, paths []string
	seen := map[string]bool{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 4 {
			continue
		}
		m := nameRE.FindStringSubmatch(f[0])
		if m == nil {
			continue
		}
		k := key{m[1], m[2], m[3]}
		if !seen["s"+k.size] {
			seen["s"+k.size] = true
			sizes = append(sizes, k.size)
		}
		if !seen["p"+k.path] {
			seen["p"+k.path] = true
			paths = append(paths, k.path)
		}
		if samples[k] == nil {
			samples[k] = map[string][]float64{}
		}
		// f[1] is the iteration count; then value/unit pairs.
		for i := 2; i+1 < len(f); i += 2 {
			v, err := strconv.ParseFloat(f[i], 64)
			if err != nil {
				continue
			}
			samples[k][f[i+1]] = append(samples[k][f[i+1]], v)
		}
	}
	if err := sc.Err(); err != nil {
		return err
	}
	if len(samples) == 0 {
		return fmt.Errorf("no BenchmarkUnary or BenchmarkHTTPParts part=invoke-* results on stdin")
	}
	get := func(k key, unit string) (float64, bool) {
		vs := samples[k][unit]
		if len(vs) == 0 {
			return 0, false
		}
		return median(vs), true
	}
	first := true
	for _, t := range tables {
		has := false
		for k := range samples {
			has = has || k.family == t.family
		}
		if !has {
			continue
		}
		if !first {
			fmt.Fprintln(w)
		}
		first = false
		if t.title != "" {
			fmt.Fprintln(w, t.title)
			fmt.Fprintln(w)
		}
		fmt.Fprintln(w, "| size | path | ns/op | B/op | allocs/op | wire-B/op | CPU ×floor | CPU ×lambda | allocs ×floor | allocs −floor | CPU gateway÷path | CPU connect÷path | wire ÷ raw proto |")
		fmt.Fprintln(w, "| ---- | ---- | ----: | ---: | --------: | --------: | ---------: | ----------: | ------------: | ------------: | ---------------: | ---------------: | ---------------: |")
		for _, s := range sizes {
			floorNs, okFN := get(key{t.family, s, "floor"}, "ns/op")
			floorAllocs, okFA := get(key{t.family, s, "floor"}, "allocs/op")
			floorWire, okFW := get(key{t.family, s, "floor"}, "wire-B/op")
			lambdaNs, okL := get(key{t.family, s, "lambda"}, "ns/op")
			gwNs, okG := get(key{t.family, s, "gateway"}, "ns/op")
			connNs, okC := get(key{t.family, s, "connect"}, "ns/op")
			for _, p := range paths {
				k := key{t.family, s, p}
				if samples[k] == nil {
					continue
				}
				ns, okN := get(k, "ns/op")
				bop, okB := get(k, "B/op")
				allocs, okA := get(k, "allocs/op")
				wire, okW := get(k, "wire-B/op")
				fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", s, p,
					num(ns, okN), num(bop, okB), num(allocs, okA), num(wire, okW),
					ratio(ns, floorNs, okN && okFN), ratio(ns, lambdaNs, okN && okL),
					ratio(allocs, floorAllocs, okA && okFA), diff(allocs, floorAllocs, okA && okFA),
					ratio(gwNs, ns, okN && okG), ratio(connNs, ns, okN && okC),
					ratio(wire, floorWire*3/4, okW && okFW))
			}
		}
	}
	return nil
}

func median(vs []float64) float64 {
	s := append([]float64(nil), vs...)
	sort.Float64s(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

func num(v float64, ok bool) string {
	if !ok {
		return "–"
	}
	if v == float64(int64(v)) {
		return strconv.FormatInt(int64(v), 10)
	}
	return strconv.FormatFloat(v, 'f', 1, 64)
}

// diff formats a-b with its sign.
func diff(a, b float64, ok bool) string {
	if !ok {
		return "–"
	}
	d := a - b
	if d >= 0 {
		return "+" + num(d, true)
	}
	return "−" + num(-d, true)
}

func ratio(a, b float64, ok bool) string {
	if !ok || b == 0 {
		return "–"
	}
	r := a / b
	if r >= 100 {
		return fmt.Sprintf("%.0f×", r)
	}
	return fmt.Sprintf("%.2f×", r)
}
