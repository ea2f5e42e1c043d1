// Package e2e tests protoc-gen-go-lambda across the real process boundary,
// with no AWS account: the real bootstrap binaries of the example function
// and of the test function (internal/testing/testfunction) run under the AWS
// Lambda Runtime Interface Emulator (aws-lambda-rie), and the generated
// clients reach them through invoke.ClientConn and the real AWS SDK for Go
// v2 Lambda client.
//
// This file is the harness: it builds the bootstraps once per test binary
// run, starts one emulator per test on free loopback ports and stops it,
// whatever happens, when the test ends.
package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	goruntime "runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/protoc-gen-go-lambda/protoc-gen-go-lambda/runtime/invoke"
)

// Bootstraps the tests run, by name: the package each is built from.
const (
	exampleFunction = "example"
	testFunction    = "test"
)

var bootstrapPackages = map[string]string{
	exampleFunction: "./example/function",
	testFunction:    "./internal/testing/testfunction",
}

// functionName is the name the emulator serves its one function under.
const functionName = "function"

// invokePath is the emulator's Invoke URL path.
const invokePath = "/2015-03-31/functions/" + functionName + "/invocations"

// fastRetries keeps the retry policy's attempt count but makes its backoff
// short, so that a retry shows up as an extra request without slowing tests.
var fastRetries = invoke.RetryPolicy{MaxAttempts: 3, MaxBackoff: 10 * time.Millisecond}

var (
	// workDir holds the bootstrap binaries; TestMain makes and removes it.
	workDir string
	builds  sync.Map // bootstrap name → *build
)

// build is one bootstrap binary, built at most once per test binary run.
type build struct {
	once sync.Once
	path string
	err  error
}

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "protoc-gen-go-lambda-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		os.Exit(2)
	}
	workDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// moduleRoot is the repository root: tests run in the e2e directory.
func moduleRoot(t testing.TB) string {
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	return root
}

// bootstrap returns the path of the named function's bootstrap binary,
// building it on first use as Lambda's provided.al2023 runtime needs it:
// GOOS=linux, CGO_ENABLED=0, -tags lambda.norpc.
func bootstrap(t testing.TB, name string) string {
	t.Helper()
	pkg, ok := bootstrapPackages[name]
	if !ok {
		t.Fatalf("no bootstrap named %q", name)
	}
	v, _ := builds.LoadOrStore(name, &build{})
	b := v.(*build)
	b.once.Do(func() {
		goTool, err := exec.LookPath("go")
		if err != nil {
			goTool = filepath.Join(goruntime.GOROOT(), "bin", "go")
		}
		out := filepath.Join(workDir, name, "bootstrap")
		cmd := exec.Command(goTool, "build", "-tags", "lambda.norpc", "-buildvcs=false", "-o", out, pkg)
		cmd.Dir = moduleRoot(t)
		cmd.Env = append(os.Environ(), "GOOS=linux", "GOARCH="+goruntime.GOARCH, "CGO_ENABLED=0")
		if msg, err := cmd.CombinedOutput(); err != nil {
			b.err = fmt.Errorf("building %s: %v\n%s", pkg, err, msg)
			return
		}
		b.path = out
	})
	if b.err != nil {
		t.Fatal(b.err)
	}
	return b.path
}

// rieBinary finds aws-lambda-rie on PATH or in $(go env GOPATH)/bin.
func rieBinary(t testing.TB) string {
	t.Helper()
	if goruntime.GOOS != "linux" {
		t.Fatalf("the end-to-end tests run linux bootstrap binaries under aws-lambda-rie: run them on linux (GOOS is %s)", goruntime.GOOS)
	}
	if p, err := exec.LookPath("aws-lambda-rie"); err == nil {
		return p
	}
	gopath, err := exec.Command("go", "env", "GOPATH").Output()
	if err == nil {
		for _, dir := range filepath.SplitList(strings.TrimSpace(string(gopath))) {
			p := filepath.Join(dir, "bin", "aws-lambda-rie")
			if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() {
				return p
			}
		}
	}
	t.Fatal("aws-lambda-rie is not on PATH nor in $(go env GOPATH)/bin: run scripts/install-tools")
	return ""
}

// emulatorConfig says how to run a function under the emulator.
type emulatorConfig struct {
	// Function is the bootstrap to run: exampleFunction or testFunction.
	Function string
	// TimeoutSeconds is AWS_LAMBDA_FUNCTION_TIMEOUT; 0 means 30.
	TimeoutSeconds int
	// Env holds more KEY=value variables for the emulator and the function.
	Env []string
}

// emulator is one aws-lambda-rie process serving one function, with an AWS
// SDK Lambda client pointed at it.
type emulator struct {
	t        testing.TB
	cfg      emulatorConfig
	Endpoint string         // http://127.0.0.1:PORT
	Lambda   *lambda.Client // the real SDK client, BaseEndpoint = Endpoint
	HTTP     *http.Client   // for raw requests; shares the serialised transport
	log      syncBuffer
	tr       *serialTransport
	cmd      *exec.Cmd
	exited   chan struct{}
	stop     func()
}

// startEmulator starts aws-lambda-rie with cfg's function on free loopback
// ports, waits until it accepts requests and registers its cleanup: the
// process group is killed when the test ends, and the emulator's log (with
// the function's) is printed if the test failed.
func startEmulator(t testing.TB, cfg emulatorConfig) *emulator {
	t.Helper()
	rie := rieBinary(t)
	bin := bootstrap(t, cfg.Function)
	if cfg.TimeoutSeconds == 0 {
		cfg.TimeoutSeconds = 30
	}
	var lastErr error
	// A free port can be taken by someone else before the emulator binds it;
	// try again with other ports in that case.
	for attempt := 0; attempt < 3; attempt++ {
		e, err := launch(t, rie, bin, cfg)
		if err == nil {
			return e
		}
		lastErr = err
	}
	t.Fatalf("starting aws-lambda-rie: %v", lastErr)
	return nil
}

// launch makes one attempt at starting the emulator.
func launch(t testing.TB, rie, bin string, cfg emulatorConfig) (*emulator, error) {
	ports, err := freePorts(2)
	if err != nil {
		return nil, err
	}
	e := &emulator{t: t, cfg: cfg, Endpoint: "http://127.0.0.1:" + strconv.Itoa(ports[0]), exited: make(chan struct{})}
	// The runtime API port must be free too: its default, 9001, is shared by
	// every emulator on the machine.
	e.cmd = exec.Command(rie,
		"--runtime-interface-emulator-address", "127.0.0.1:"+strconv.Itoa(ports[0]),
		"--runtime-api-address", "127.0.0.1:"+strconv.Itoa(ports[1]),
		"./bootstrap")
	e.cmd.Dir = filepath.Dir(bin)
	e.cmd.Env = append(emulatorEnviron(), "AWS_LAMBDA_FUNCTION_TIMEOUT="+strconv.Itoa(cfg.TimeoutSeconds))
	e.cmd.Env = append(e.cmd.Env, cfg.Env...)
	e.cmd.Stdout = &e.log
	e.cmd.Stderr = &e.log
	// Its own process group, so that the function's process, the emulator's
	// child, is killed with it.
	e.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := e.cmd.Start(); err != nil {
		return nil, err
	}
	go func() {
		_ = e.cmd.Wait()
		close(e.exited)
	}()
	e.stop = func() {
		_ = syscall.Kill(-e.cmd.Process.Pid, syscall.SIGKILL)
		<-e.exited
	}
	if err := e.waitReady(10 * time.Second); err != nil {
		e.stop()
		return nil, fmt.Errorf("%v\nemulator log:\n%s", err, e.log.String())
	}

	base := &http.Transport{Proxy: nil, MaxIdleConnsPerHost: 1, IdleConnTimeout: 30 * time.Second}
	e.tr = &serialTransport{base: base, slot: make(chan struct{}, 1)}
	e.HTTP = &http.Client{Transport: e.tr}
	e.Lambda = lambda.NewFromConfig(aws.Config{
		Region:      "us-east-1",
		Credentials: credentials.NewStaticCredentialsProvider("e2e", "e2e", ""),
		HTTPClient:  e.HTTP,
	}, func(o *lambda.Options) {
		o.BaseEndpoint = aws.String(e.Endpoint)
	})
	t.Cleanup(func() {
		e.stop()
		base.CloseIdleConnections()
		if t.Failed() {
			t.Logf("aws-lambda-rie (%s, AWS_LAMBDA_FUNCTION_TIMEOUT=%d %s) log:\n%s", cfg.Function, cfg.TimeoutSeconds, strings.Join(cfg.Env, " "), e.log.String())
		}
	})
	return e, nil
}

// emulatorEnviron is the test's environment without what would change the
// emulator's behaviour: AWS_LAMBDA_MAX_CONCURRENCY switches it to another
// mode, and the function timeout is set per emulator.
func emulatorEnviron() []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch k {
		case "AWS_LAMBDA_MAX_CONCURRENCY", "AWS_LAMBDA_FUNCTION_TIMEOUT", "LOG_LEVEL":
			continue
		}
		env = append(env, kv)
	}
	return env
}

// freePorts returns n distinct loopback ports that were free a moment ago.
func freePorts(n int) ([]int, error) {
	var ports []int
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// waitReady waits until the emulator answers HTTP (its root path is a 404;
// asking it does not invoke the function).
func (e *emulator) waitReady(timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	client := &http.Client{Timeout: time.Second, Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true}}
	for {
		select {
		case <-e.exited:
			return errors.New("aws-lambda-rie exited before it was ready")
		default:
		}
		resp, err := client.Get(e.Endpoint + "/")
		if err == nil {
			resp.Body.Close()
			select {
			case <-e.exited:
				return errors.New("aws-lambda-rie exited before it was ready (was the port taken?)")
			default:
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("aws-lambda-rie did not answer on %s within %v: %v", e.Endpoint, timeout, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Stop kills the emulator and its function now; later requests find no one
// listening. Cleanup stops it anyway.
func (e *emulator) Stop() { e.stop() }

// conn returns a ClientConn to the emulator's function through the real SDK
// client, with fastRetries unless opts say otherwise.
func (e *emulator) conn(opts ...invoke.Option) *invoke.ClientConn {
	return invoke.NewClientConn(e.Lambda, functionName, append([]invoke.Option{invoke.WithRetryPolicy(fastRetries)}, opts...)...)
}

// Requests is how many HTTP requests have reached the emulator so far: one
// per invocation attempt.
func (e *emulator) Requests() int64 { return e.tr.requests.Load() }

// Log returns what the emulator and the function have written so far.
func (e *emulator) Log() string { return e.log.String() }

// Inits counts the function's cold starts so far: a process that crashed or
// was killed is started again on the next invocation.
func (e *emulator) Inits() int { return strings.Count(e.Log(), "INIT START") }

// Exclusive runs f while no SDK or raw request is in flight, for requests
// sent by other programs (curl).
func (e *emulator) Exclusive(f func()) {
	e.tr.slot <- struct{}{}
	defer func() { <-e.tr.slot }()
	e.tr.requests.Add(1)
	f()
}

// Post sends a raw invocation payload and returns the HTTP status and body.
func (e *emulator) Post(t testing.TB, payload []byte) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, e.Endpoint+invokePath, bytes.NewReader(payload))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := e.HTTP.Do(req)
	if err != nil {
		t.Fatalf("POST %s: %v", invokePath, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, body
}

// serialTransport sends the requests of one emulator one at a time, and
// counts them. The emulator takes one invocation at a time: a second
// concurrent one crashes it, and so does a new one sent while an invocation
// whose caller gave up is still running. So each request is sent detached
// from its caller's cancellation and keeps the emulator's one slot until the
// emulator has answered; a caller whose context ends first gets the context's
// error right away, as from any HTTP transport.
type serialTransport struct {
	base     http.RoundTripper
	slot     chan struct{} // capacity 1: holding it means a request is in flight
	requests atomic.Int64
}

func (s *serialTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx := req.Context()
	select {
	case s.slot <- struct{}{}:
	case <-ctx.Done():
		if req.Body != nil {
			req.Body.Close()
		}
		return nil, ctx.Err()
	}
	s.requests.Add(1)
	type result struct {
		resp *http.Response
		err  error
	}
	done := make(chan result, 1)
	go func() {
		defer func() { <-s.slot }()
		resp, err := s.base.RoundTrip(req.Clone(context.WithoutCancel(ctx)))
		if err == nil {
			// The emulator has finished the invocation once the whole
			// response is in.
			var body []byte
			body, err = io.ReadAll(resp.Body)
			resp.Body.Close()
			resp.Body = io.NopCloser(bytes.NewReader(body))
		}
		done <- result{resp, err}
	}()
	select {
	case r := <-done:
		return r.resp, r.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// syncBuffer is a bytes.Buffer safe for the emulator's two output streams
// and the test reading it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
