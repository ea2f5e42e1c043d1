// Command measure compares Lambda functions' binary size, cold start under
// the AWS Lambda Runtime Interface Emulator and package initialisation time,
// side by side, in interleaved rounds.
//
// Each round visits every function once, in an order rotated by one each
// round (so no function is always first after a pause), and for each:
//
//   - cold start: starts the emulator with the function's bootstrap on free
//     loopback ports (its HTTP port and its runtime API port), retries one
//     invocation every millisecond until it answers 200 with a body that
//     contains -expect, records the time from starting the emulator process
//     to that answer, and kills the emulator and the function;
//     It also reads, from the emulator's log, the REPORT line's Duration
//     of that first invocation: how long the function took to answer it,
//     lazy initialisation on first use included;
//   - init: runs the bootstrap by itself with GODEBUG=inittrace=1 and
//     AWS_LAMBDA_RUNTIME_API pointing at a closed port (the package
//     initialisation runs before main, main then fails to reach the runtime
//     API and exits), and sums the "@… ms, N ms clock" figures of its
//     "init <package> @…" lines: the wall-clock time of all package init.
//
// It prints every trial, then a table of medians, with ratios to -baseline
// (the ratio of the medians, and the median of each round's ratio, which
// load that drifts between rounds disturbs less), and each function's
// packages with the largest median init clock time.
//
//	measure -rie ~/go/bin/aws-lambda-rie -n 15 -baseline grpcfloor \
//	    -fn example=./example/bootstrap -payload 'example={"v":1,...}' -expect 'example={"v":1,"code":0' \
//	    -fn bare=./bare/bootstrap ...
package main

import (
	"bufio"
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// function is one function under test.
type function struct {
	name, bootstrap, payload, expect string
	size                             int64
	cold, init, initEnd, first       []float64            // ms per trial
	pkgInit                          map[string][]float64 // package → clock ms per trial
}

// namedValues is a repeatable NAME=VALUE flag.
type namedValues struct {
	order []string
	m     map[string]string
}

func (n *namedValues) String() string { return "" }

func (n *namedValues) Set(s string) error {
	k, v, ok := strings.Cut(s, "=")
	if !ok || k == "" {
		return fmt.Errorf("want NAME=VALUE, got %q", s)
	}
	if n.m == nil {
		n.m = map[string]string{}
	}
	if _, dup := n.m[k]; !dup {
		n.order = append(n.order, k)
	}
	n.m[k] = v
	return nil
}

var (
	mu      sync.Mutex
	running *exec.Cmd
)

func main() {
	rie := flag.String("rie", os.ExpandEnv("$HOME/go/bin/aws-lambda-rie"), "emulator binary")
	var fns, payloads, expects namedValues
	flag.Var(&fns, "fn", "NAME=PATH of a bootstrap binary (repeat)")
	flag.Var(&payloads, "payload", "NAME=JSON invocation payload for that function")
	flag.Var(&expects, "expect", "NAME=TEXT a successful response body contains")
	baseline := flag.String("baseline", "", "function the ratios are relative to (default: the first)")
	n := flag.Int("n", 15, "rounds")
	timeout := flag.Duration("timeout", 20*time.Second, "give up on a trial after this long")
	flag.Parse()
	if len(fns.order) == 0 {
		fail(errors.New("no -fn given"))
	}
	if *baseline == "" {
		*baseline = fns.order[0]
	}
	if _, ok := fns.m[*baseline]; !ok {
		fail(fmt.Errorf("baseline %q is not a -fn", *baseline))
	}

	var list []*function
	for _, name := range fns.order {
		path, err := filepath.Abs(fns.m[name])
		if err != nil {
			fail(err)
		}
		fi, err := os.Stat(path)
		if err != nil {
			fail(err)
		}
		f := &function{name: name, bootstrap: path, payload: payloads.m[name], expect: expects.m[name],
			size: fi.Size(), pkgInit: map[string][]float64{}}
		if f.payload == "" || f.expect == "" {
			fail(fmt.Errorf("%s: -payload and -expect are needed", name))
		}
		list = append(list, f)
	}

	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	go func() {
		<-sig
		stop()
		os.Exit(1)
	}()
	defer stop()

	for round := 0; round < *n; round++ {
		for i := range list {
			f := list[(round+i)%len(list)]
			d, first, err := coldStart(*rie, f, *timeout)
			stop()
			if err != nil {
				fail(fmt.Errorf("%s: round %d: cold start: %v", f.name, round+1, err))
			}
			total, end, pkgs, err := initTrace(f.bootstrap, *timeout)
			if err != nil {
				fail(fmt.Errorf("%s: round %d: inittrace: %v", f.name, round+1, err))
			}
			ms := float64(d.Microseconds()) / 1000
			f.cold = append(f.cold, ms)
			f.first = append(f.first, first)
			f.init = append(f.init, total)
			f.initEnd = append(f.initEnd, end)
			for p, v := range pkgs {
				f.pkgInit[p] = append(f.pkgInit[p], v)
			}
			fmt.Printf("round %d %s cold %.1f ms (first invocation %.2f ms) init %.2f ms (done @%.1f ms)\n", round+1, f.name, ms, first, total, end)
		}
	}

	var base *function
	for _, f := range list {
		if f.name == *baseline {
			base = f
		}
	}
	fmt.Printf("\nmedians of %d rounds; ratios to %s\n", *n, base.name)
	fmt.Printf("%-11s %10s %6s %8s %6s %7s %13s %8s %9s %6s %7s %9s\n", "function", "size B", "×size", "cold ms", "×cold", "paired", "cold min–max", "1st inv", "init ms", "×init", "paired", "init done")
	for _, f := range list {
		fmt.Printf("%-11s %10d %6.3f %8.1f %6.3f %7.3f %6.1f–%-6.1f %8.2f %9.2f %6.3f %7.3f %7.1fms\n", f.name, f.size,
			float64(f.size)/float64(base.size), median(f.cold), median(f.cold)/median(base.cold), pairedRatio(f.cold, base.cold),
			minOf(f.cold), maxOf(f.cold), median(f.first), median(f.init), median(f.init)/median(base.init), pairedRatio(f.init, base.init), median(f.initEnd))
	}
	for _, f := range list {
		fmt.Printf("\n%s: largest package inits (median clock ms, present in every round)\n", f.name)
		type pkg struct {
			name string
			ms   float64
		}
		var ps []pkg
		for p, v := range f.pkgInit {
			if len(v) == len(f.init) {
				ps = append(ps, pkg{p, median(v)})
			}
		}
		sort.Slice(ps, func(i, j int) bool { return ps[i].ms > ps[j].ms || ps[i].ms == ps[j].ms && ps[i].name < ps[j].name })
		for i, p := range ps {
			if i == 8 {
				break
			}
			fmt.Printf("  %-70s %6.2f\n", p.name, p.ms)
		}
		if f == base {
			continue
		}
		// What it initialises that the baseline does not.
		var extra []pkg
		var sum float64
		for _, p := range ps {
			if _, ok := base.pkgInit[p.name]; !ok {
				extra = append(extra, p)
				sum += p.ms
			}
		}
		fmt.Printf("  packages %s does not initialise: %d, %.2f ms in all (sum of medians)", base.name, len(extra), sum)
		for i, p := range extra {
			if i == 6 {
				fmt.Printf(", …")
				break
			}
			fmt.Printf(", %s %.2f", p.name, p.ms)
		}
		fmt.Println()
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "measure:", err)
	stop()
	os.Exit(1)
}

// reportDuration is the Duration of an emulator REPORT line.
var reportDuration = regexp.MustCompile(`(?m)^REPORT RequestId: .*\tDuration: ([0-9.]+) ms`)

// lockedBuffer is a bytes.Buffer for the emulator's two output streams.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// coldStart runs one cold start and returns the time to the first good
// answer and the emulator's Duration for the invocation that gave it.
func coldStart(rie string, f *function, timeout time.Duration) (time.Duration, float64, error) {
	d, log, err := coldStartRun(rie, f, timeout)
	if err != nil {
		return 0, 0, err
	}
	// The REPORT line may follow the answer by a moment.
	for wait := 0; ; wait++ {
		if m := reportDuration.FindAllStringSubmatch(log.String(), -1); len(m) > 0 {
			v, err := strconv.ParseFloat(m[len(m)-1][1], 64)
			return d, v, err
		}
		if wait == 1000 {
			return 0, 0, fmt.Errorf("no REPORT line in the emulator's log: %.500q", log.String())
		}
		time.Sleep(time.Millisecond)
	}
}

func coldStartRun(rie string, f *function, timeout time.Duration) (time.Duration, *lockedBuffer, error) {
	ports, err := freePorts(2)
	if err != nil {
		return 0, nil, err
	}
	url := fmt.Sprintf("http://127.0.0.1:%d/2015-03-31/functions/function/invocations", ports[0])
	// The runtime API gets a free port too: its default, 9001, is shared by
	// every emulator on the machine.
	cmd := exec.Command(rie,
		"--runtime-interface-emulator-address", fmt.Sprintf("127.0.0.1:%d", ports[0]),
		"--runtime-api-address", fmt.Sprintf("127.0.0.1:%d", ports[1]),
		"./bootstrap")
	cmd.Dir = filepath.Dir(f.bootstrap)
	if filepath.Base(f.bootstrap) != "bootstrap" {
		cmd.Args[len(cmd.Args)-1] = f.bootstrap
	}
	cmd.Env = append(cleanEnviron(), "AWS_LAMBDA_FUNCTION_TIMEOUT=10")
	log := new(lockedBuffer)
	cmd.Stdout = log
	cmd.Stderr = log
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	client := &http.Client{Timeout: timeout, Transport: &http.Transport{Proxy: nil}}
	defer client.CloseIdleConnections()

	start := time.Now()
	mu.Lock()
	err = cmd.Start()
	if err == nil {
		running = cmd
	}
	mu.Unlock()
	if err != nil {
		return 0, nil, err
	}
	deadline := start.Add(timeout)
	var last string
	for time.Now().Before(deadline) {
		resp, err := client.Post(url, "application/json", strings.NewReader(f.payload))
		if err != nil {
			last = err.Error()
			time.Sleep(time.Millisecond)
			continue
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK && bytes.Contains(body, []byte(f.expect)) {
			return time.Since(start), log, nil
		}
		last = fmt.Sprintf("status %d body %.300q", resp.StatusCode, body)
		time.Sleep(time.Millisecond)
	}
	return 0, nil, fmt.Errorf("no good answer within %v; last: %s", timeout, last)
}

// initLine is one line of GODEBUG=inittrace=1 output:
// "init internal/bytealg @0.008 ms, 0 ms clock, 0 bytes, 0 allocs".
var initLine = regexp.MustCompile(`^init (\S+) @([0-9.]+) ms, ([0-9.]+) ms clock`)

// initTrace runs bootstrap with GODEBUG=inittrace=1 and no reachable
// runtime API, and returns the sum of its packages' init clock times, when
// the last init ended (its @ time, from the start of the Go runtime, plus
// its clock time) and each package's clock time.
func initTrace(bootstrap string, timeout time.Duration) (total, end float64, pkgs map[string]float64, err error) {
	ports, err := freePorts(1) // free, hence closed: main fails at once
	if err != nil {
		return 0, 0, nil, err
	}
	cmd := exec.Command(bootstrap)
	cmd.Dir = filepath.Dir(bootstrap)
	cmd.Env = append(cleanEnviron(), "GODEBUG=inittrace=1", "AWS_LAMBDA_RUNTIME_API=127.0.0.1:"+strconv.Itoa(ports[0]))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	cmd.Stdout = io.Discard
	if err := cmd.Start(); err != nil {
		return 0, 0, nil, err
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-done: // it exits with an error: it cannot reach the runtime API
	case <-time.After(timeout):
		_ = cmd.Process.Kill()
		<-done
		return 0, 0, nil, fmt.Errorf("did not exit within %v", timeout)
	}
	pkgs = map[string]float64{}
	sc := bufio.NewScanner(&stderr)
	for sc.Scan() {
		m := initLine.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		at, err1 := strconv.ParseFloat(m[2], 64)
		v, err2 := strconv.ParseFloat(m[3], 64)
		if err := errors.Join(err1, err2); err != nil {
			return 0, 0, nil, fmt.Errorf("%q: %v", sc.Text(), err)
		}
		total += v
		end = max(end, at+v)
		pkgs[m[1]] += v
	}
	if len(pkgs) == 0 {
		return 0, 0, nil, fmt.Errorf("no inittrace lines in its output: %.300q", stderr.String())
	}
	return total, end, pkgs, nil
}

// cleanEnviron is the environment without what would change the emulator's
// mode or the functions' behaviour.
func cleanEnviron() []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch k {
		case "AWS_LAMBDA_MAX_CONCURRENCY", "AWS_LAMBDA_FUNCTION_TIMEOUT", "AWS_LAMBDA_RUNTIME_API", "GODEBUG", "LOG_LEVEL":
			continue
		}
		env = append(env, kv)
	}
	return env
}

// stop kills the running emulator's process group and the function's, and
// waits for the emulator. The emulator starts the function in a process
// group of its own, so killing the emulator's group does not reach it.
func stop() {
	mu.Lock()
	defer mu.Unlock()
	if running == nil || running.Process == nil {
		return
	}
	pid := running.Process.Pid
	children := childrenOf(pid)
	_ = syscall.Kill(-pid, syscall.SIGKILL)
	for _, c := range children {
		_ = syscall.Kill(-c, syscall.SIGKILL)
		_ = syscall.Kill(c, syscall.SIGKILL)
	}
	_ = running.Wait()
	running = nil
}

// childrenOf lists the processes whose parent is pid, from /proc.
func childrenOf(pid int) []int {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	var out []int
	for _, e := range entries {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...: comm may hold spaces and parentheses.
		i := bytes.LastIndexByte(stat, ')')
		if i < 0 {
			continue
		}
		fields := strings.Fields(string(stat[i+1:]))
		if len(fields) > 1 && fields[1] == strconv.Itoa(pid) {
			out = append(out, p)
		}
	}
	return out
}

func freePorts(n int) ([]int, error) {
	var ports []int
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		defer l.Close()
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

func median(v []float64) float64 {
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// pairedRatio is the median over rounds of v[i]/base[i].
func pairedRatio(v, base []float64) float64 {
	r := make([]float64, len(v))
	for i := range v {
		r[i] = v[i] / base[i]
	}
	return median(r)
}

func minOf(v []float64) float64 {
	m := v[0]
	for _, x := range v {
		m = min(m, x)
	}
	return m
}

func maxOf(v []float64) float64 {
	m := v[0]
	for _, x := range v {
		m = max(m, x)
	}
	return m
}
