// Package conformance runs the Connect conformance suite
// (connectrpc.com/conformance) against the ConformanceService of package
// conformance/service, served by cmd/lambdaconformance. See README.md.
package conformance

import (
	"bufio"
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	goruntime "runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestConformance runs the suite in server mode against the service as a
// Lambda function: a runtime.Server behind lambdatest's stand-in for a
// Function URL (lambdaconformance): HTTP/1.1, Connect (with GET) and
// gRPC-Web, proto and JSON, identity and gzip, unary and server streams.
// The API Gateway and load balancer front ends, whose events and answers
// differ, pass the same cases, but for a load balancer without multi-value
// headers, which passes only the last value of a repeated header
// (known-failing-alb.txt). Each runs the function as lambda.Start(srv),
// its server streams answered buffered; the function URL in
// RESPONSE_STREAM mode and the REST API in STREAM mode (the -STREAM runs)
// run it as lambda.Start(srv.InvokeStream), its server streams streamed.
func TestConformance(t *testing.T) {
	for _, run := range []struct {
		name, frontEnd string
		stream         bool
	}{
		{"FunctionURL", "FunctionURL", false},
		{"FunctionURL-RESPONSE_STREAM", "FunctionURL", true},
		{"HTTPAPI", "HTTPAPI", false},
		{"RESTAPI", "RESTAPI", false},
		{"RESTAPI-STREAM", "RESTAPI", true},
		{"ALB", "ALB", false},
		{"ALBMultiValue", "ALBMultiValue", false},
	} {
		known := "known-failing.txt"
		if run.frontEnd == "ALB" {
			known = "known-failing-alb.txt" // repeated headers: last value only
		}
		args := []string{"-front-end", run.frontEnd}
		if run.stream {
			args = append(args, "-response-stream")
		}
		t.Run(run.name, func(t *testing.T) {
			runSuite(t, "config.yaml", known, args...)
		})
	}
}

// TestConformanceGRPC runs the suite in server mode against the service
// under a plain grpc-go server (lambdaconformance -grpc): HTTP/2, the gRPC
// protocol, unary and server streams. It checks the implementation itself, whatever the
// Lambda runtime does.
func TestConformanceGRPC(t *testing.T) {
	runSuite(t, "config-grpc.yaml", "known-failing-grpc.txt", "-grpc")
}

// runSuite runs connectconformance --mode server with the config and
// known-failing files of this directory against lambdaconformance started
// with args, and fails on any unexpected result: a failure outside the
// known-failing file, or a known failure that passes.
func runSuite(t *testing.T, config, knownFailing string, args ...string) {
	runner := conformanceRunner(t)
	bin := serverBinary(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cmdArgs := []string{"--mode", "server", "--conf", config, "--known-failing", "@" + knownFailing, "--", bin}
	cmd := exec.CommandContext(ctx, runner, append(cmdArgs, args...)...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	err := cmd.Run()
	elapsed := time.Since(start)
	summary := summaryOf(out.String())
	if err != nil {
		t.Fatalf("connectconformance %s: %v, after %v\n%s", strings.Join(cmdArgs, " "), err, elapsed.Round(time.Millisecond), out.String())
	}
	t.Logf("%s in %v", summary, elapsed.Round(time.Millisecond))
}

// summaryOf is the runner's closing summary on one line, e.g.
// "Total cases: 164; 162 passed, 0 failed; (Another 2 failed as expected
// due to being known failures/flakes.)".
func summaryOf(out string) string {
	var lines []string
	found := false
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(line, "Total cases:") {
			found, lines = true, nil
		}
		if found && line != "" {
			lines = append(lines, line)
		}
	}
	if !found {
		return "no summary"
	}
	return strings.Join(lines, "; ")
}

// conformanceRunner finds connectconformance on PATH or in
// $(go env GOPATH)/bin, and checks that it is the version of tools.env.
func conformanceRunner(t *testing.T) string {
	t.Helper()
	want := pinnedVersion(t)
	hint := "run scripts/install-tools, or go install connectrpc.com/conformance/cmd/connectconformance@" + want
	runner, err := exec.LookPath("connectconformance")
	if err != nil {
		gopath, gerr := exec.Command(goTool(), "env", "GOPATH").Output()
		p := filepath.Join(strings.TrimSpace(string(gopath)), "bin", "connectconformance")
		if _, serr := os.Stat(p); gerr != nil || serr != nil {
			t.Fatalf("connectconformance is not on PATH nor in $(go env GOPATH)/bin: %s", hint)
		}
		runner = p
	}
	out, err := exec.Command(runner, "--version").CombinedOutput()
	if err != nil {
		t.Fatalf("%s --version: %v\n%s", runner, err, out)
	}
	if got := strings.TrimSpace(string(out)); !strings.HasSuffix(got, " "+want) {
		t.Fatalf("%s is %q, tools.env pins %s: %s", runner, got, want, hint)
	}
	return runner
}

// pinnedVersion is CONNECT_CONFORMANCE_VERSION of the repository's tools.env.
func pinnedVersion(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "tools.env"))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "CONNECT_CONFORMANCE_VERSION="); ok {
			return strings.Trim(v, `"'`)
		}
	}
	t.Fatal("tools.env has no CONNECT_CONFORMANCE_VERSION")
	return ""
}

var (
	binDir   string // where serverBinary builds; TestMain removes it
	building sync.Mutex
	built    string // the binary, once built
)

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// serverBinary builds cmd/lambdaconformance, once per test binary.
func serverBinary(t *testing.T) string {
	t.Helper()
	building.Lock()
	defer building.Unlock()
	if built != "" {
		return built
	}
	dir, err := os.MkdirTemp("", "lambdaconformance")
	if err != nil {
		t.Fatal(err)
	}
	binDir = dir
	bin := filepath.Join(dir, "lambdaconformance")
	cmd := exec.Command(goTool(), "build", "-buildvcs=false", "-o", bin, "./cmd/lambdaconformance")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/lambdaconformance: %v\n%s", err, out)
	}
	built = bin
	return bin
}

func goTool() string {
	if p, err := exec.LookPath("go"); err == nil {
		return p
	}
	return filepath.Join(goruntime.GOROOT(), "bin", "go")
}
