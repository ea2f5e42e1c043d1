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
//
// The emulator has two modes (docs/emulator.md). Classic, its default, runs
// one invocation at a time. Lambda Managed Instances mode, chosen by
// AWS_LAMBDA_MAX_CONCURRENCY=N in its environment, runs N at once in one
// function process, but finds the function only at /var/task/bootstrap (or
// /var/runtime/bootstrap, /opt/bootstrap); the harness gives each managed
// emulator its own /var/task with a private mount namespace (and a PID
// namespace, so that the function dies with the emulator), which needs root
// or CAP_SYS_ADMIN. E2E_EMULATOR_MODE=classic (the default) or managed runs
// the whole suite in that mode; the tests of this file that are about the
// modes run in both whatever it says.
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
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/protoc-gen-go-lambda/protoc-gen-go-lambda/internal/testing/testpb"
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
	if dir := os.Getenv(taskDirEnv); dir != "" {
		runInTaskNamespace(dir, os.Args[1:]) // does not return
	}
	if _, err := suiteMode(); err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		os.Exit(2)
	}
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

// TestManagedModeRunsCallsAtOnce: with AWS_LAMBDA_MAX_CONCURRENCY=N the
// emulator hands N calls to the function at once, and aws-lambda-go runs
// them at once in one process. Each call sleeps until its caller cancels it
// (the handler's only deadline is Lambda's, 30 s away); the test waits until
// the emulator's log shows N invocations started and none ended, and then
// cancels them. Nothing is timed: calls run one at a time would show an
// invocation's END (at its deadline) before the Nth START, and fail then.
func TestManagedModeRunsCallsAtOnce(t *testing.T) {
	t.Parallel()
	const n = 4
	em := startEmulator(t, emulatorConfig{Function: testFunction, Mode: managed, Concurrency: n})
	c := testClient(em)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	errs := make(chan error, n)
	for range n {
		go func() {
			_, err := c.Sleep(ctx, &testpb.SleepRequest{Millis: 600_000})
			errs <- err
		}()
	}
	waitStarted(t, em, n)
	cancel()
	for range n {
		if err := <-errs; status.Code(err) != codes.Canceled {
			t.Errorf("a cancelled call: %v, want Canceled", err)
		}
	}
	if em.Inits() != 1 {
		t.Errorf("the function started %d times, want once: one process serves the %d calls", em.Inits(), n)
	}
}

// waitStarted waits until the emulator's log shows n invocations started
// and none ended, and fails the test if one ends first or the emulator
// exits.
func waitStarted(t *testing.T, em *emulator, n int) {
	t.Helper()
	for {
		started, ended := em.Invocations()
		if ended > 0 {
			t.Fatalf("an invocation ended when %d of %d had started: they did not run at once", started, n)
		}
		if started >= n {
			return
		}
		select {
		case <-em.exited:
			t.Fatalf("the emulator exited when %d of %d invocations had started", started, n)
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// TestCallAfterAbandonedCall, in both modes: a caller's deadline passes
// while the function is still running its call, and the next call, sent at
// once, succeeds; so does one sent after the abandoned invocation has ended,
// in the same process. This is the order of calls that crashes the emulator
// in classic mode (ReserveFailed: AlreadyReserved, then a nil dereference in
// rapidcore.(*Server).Invoke; every later call is refused) and stops it in
// managed mode once the abandoned invocation answers, unless the client
// keeps the invocation's request open until the emulator answers, as
// slotTransport does (docs/emulator.md). In managed mode the next call runs
// beside the abandoned one.
func TestCallAfterAbandonedCall(t *testing.T) {
	t.Parallel()
	for _, mode := range []emulatorMode{classic, managed} {
		t.Run(mode.String(), func(t *testing.T) {
			t.Parallel()
			em := startEmulator(t, emulatorConfig{Function: testFunction, Mode: mode})
			c := testClient(em)

			// Through the client: the deadline travels with the call, and
			// the runtime answers DEADLINE_EXCEEDED at it while the handler,
			// which ignores its context, sleeps on in the function.
			ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
			_, err := c.Sleep(ctx, &testpb.SleepRequest{Millis: 2000, IgnoreContext: true})
			cancel()
			if status.Code(err) != codes.DeadlineExceeded {
				t.Fatalf("Sleep 2 s with a 300 ms deadline: %v; want DeadlineExceeded", err)
			}
			echoOK(t, c, "right after the deadline")

			// Raw, with no deadline in the envelope: the invocation itself
			// runs on, 2 s, after its caller's 300 ms deadline.
			ctx, cancel = context.WithTimeout(context.Background(), 300*time.Millisecond)
			req, err := http.NewRequestWithContext(ctx, http.MethodPost, em.Endpoint+invokePath,
				strings.NewReader(`{"v":1,"method":"/lambdatest.v1.TestService/Sleep","json":{"millis":"2000"}}`))
			if err != nil {
				t.Fatal(err)
			}
			_, err = em.HTTP.Do(req)
			cancel()
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("a raw 2 s Sleep with a 300 ms deadline: %v; want the deadline's error", err)
			}
			echoOK(t, c, "while the abandoned invocation may still run")
			if started, ended := em.Invocations(); mode == managed {
				t.Logf("after the next call: %d invocations started, %d ended (one running means the calls overlapped)", started, ended)
			}
			em.Exclusive(func() {}) // waits until the emulator has answered every request
			echoOK(t, c, "after the abandoned invocation ended")
			if em.Inits() != 1 {
				t.Errorf("the function started %d times, want once", em.Inits())
			}
		})
	}
}

// TestEmulatorFront: scripts/demo's emulatorfront
// (example/client/demo/emulatorfront) lets a plain client, whose HTTP
// requests end with its calls, make its calls in any order against the
// classic emulator: a call whose deadline passed while the function was
// still running it, then calls at once, all succeed in one process. (The
// same client straight to the emulator crashes it: TestCallAfterAbandonedCall
// shows the order, docs/emulator.md the crash.)
func TestEmulatorFront(t *testing.T) {
	t.Parallel()
	em := startEmulator(t, emulatorConfig{Function: testFunction, Mode: classic})

	goTool, err := exec.LookPath("go")
	if err != nil {
		goTool = filepath.Join(goruntime.GOROOT(), "bin", "go")
	}
	frontBin := filepath.Join(t.TempDir(), "emulatorfront")
	build := exec.Command(goTool, "build", "-buildvcs=false", "-o", frontBin, "./example/client/demo/emulatorfront")
	build.Dir = moduleRoot(t)
	if msg, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building emulatorfront: %v\n%s", err, msg)
	}
	var front *exec.Cmd
	var frontLog syncBuffer
	var endpoint string
	for attempt := 0; ; attempt++ {
		ports, err := freePorts(1)
		if err != nil {
			t.Fatal(err)
		}
		endpoint = "http://127.0.0.1:" + strconv.Itoa(ports[0])
		front = exec.Command(frontBin, "-listen", "127.0.0.1:"+strconv.Itoa(ports[0]), "-emulator", em.Endpoint, "-concurrency", "1")
		front.Stdout, front.Stderr = &frontLog, &frontLog
		if err := front.Start(); err != nil {
			t.Fatal(err)
		}
		fe := &emulator{Endpoint: endpoint, exited: make(chan struct{})}
		go func(cmd *exec.Cmd) {
			_ = cmd.Wait()
			close(fe.exited)
		}(front)
		if err = fe.waitReady(10 * time.Second); err == nil {
			t.Cleanup(func() {
				_ = front.Process.Kill()
				<-fe.exited
				if t.Failed() {
					t.Logf("emulatorfront log:\n%s", frontLog.String())
				}
			})
			break
		}
		_ = front.Process.Kill()
		<-fe.exited
		if attempt == 2 {
			t.Fatalf("starting emulatorfront: %v\n%s", err, frontLog.String())
		}
	}

	// A plain SDK client: its requests end when its calls do.
	plain := &http.Client{Transport: &http.Transport{Proxy: nil}}
	defer plain.CloseIdleConnections()
	client := lambda.NewFromConfig(aws.Config{
		Region:      "us-east-1",
		Credentials: credentials.NewStaticCredentialsProvider("e2e", "e2e", ""),
		HTTPClient:  plain,
	}, func(o *lambda.Options) { o.BaseEndpoint = aws.String(endpoint) })
	c := testpb.NewTestServiceLambdaClient(invoke.NewClientConn(client, functionName, invoke.WithRetryPolicy(fastRetries)))

	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	_, err = c.Sleep(ctx, &testpb.SleepRequest{Millis: 2000, IgnoreContext: true})
	cancel()
	if status.Code(err) != codes.DeadlineExceeded {
		t.Fatalf("Sleep 2 s with a 300 ms deadline: %v; want DeadlineExceeded", err)
	}
	echoOK(t, c, "right after the deadline")

	// No deadline in the envelope: the invocation runs on after its caller
	// has gone.
	ctx, cancel = context.WithTimeout(context.Background(), 300*time.Millisecond)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint+invokePath,
		strings.NewReader(`{"v":1,"method":"/lambdatest.v1.TestService/Sleep","json":{"millis":"2000"}}`))
	if err != nil {
		t.Fatal(err)
	}
	if resp, err := plain.Do(req); err == nil {
		resp.Body.Close()
		t.Fatalf("a raw 2 s Sleep with a 300 ms deadline answered %s", resp.Status)
	}
	cancel()
	echoOK(t, c, "while the abandoned invocation may still run")
	echoOK(t, c, "again")
	if em.Inits() != 1 {
		t.Errorf("the function started %d times, want once", em.Inits())
	}
	if strings.Contains(em.Log(), "panic:") {
		t.Error("the emulator panicked")
	}
}

// emulatorMode is how the emulator runs the function.
type emulatorMode int

const (
	// suiteDefault is the mode E2E_EMULATOR_MODE names (classic unless it
	// says managed).
	suiteDefault emulatorMode = iota
	// classic is the emulator's default mode: one invocation at a time, the
	// function restarted after a crash or a timeout.
	classic
	// managed is Lambda Managed Instances mode (AWS_LAMBDA_MAX_CONCURRENCY):
	// several invocations at once in one function process.
	managed
)

func (m emulatorMode) String() string {
	switch m {
	case classic:
		return "classic"
	case managed:
		return "managed"
	}
	return "suite default"
}

// defaultConcurrency is AWS_LAMBDA_MAX_CONCURRENCY in managed mode unless a
// test says otherwise.
const defaultConcurrency = 4

// suiteMode reads E2E_EMULATOR_MODE: "" or "classic", or "managed".
func suiteMode() (emulatorMode, error) {
	switch v := os.Getenv("E2E_EMULATOR_MODE"); v {
	case "", "classic":
		return classic, nil
	case "managed":
		return managed, nil
	default:
		return 0, fmt.Errorf("E2E_EMULATOR_MODE=%q: want classic or managed", v)
	}
}

// classicOnly are the tests, by top-level name, whose subject does not exist
// in managed mode; when E2E_EMULATOR_MODE=managed they are skipped, with the
// reason (docs/emulator.md has the details).
var classicOnly = map[string]string{
	"TestProcessExitMidCall": "in managed mode the emulator stops for good when the function's process exits " +
		"(it answers the call in flight {\"errorType\":\"Runtime.ExitError\"} and shuts down); it never starts a new process",
	"TestLambdaFunctionTimeout": "in managed mode a timed-out invocation is answered " +
		"{\"errorType\":\"Sandbox.Timedout\",...} but the process is not restarted, and when the handler answers later " +
		"the emulator refuses it (410), aws-lambda-go exits and the emulator stops",
}

// emulatorConfig says how to run a function under the emulator.
type emulatorConfig struct {
	// Function is the bootstrap to run: exampleFunction or testFunction.
	Function string
	// TimeoutSeconds is AWS_LAMBDA_FUNCTION_TIMEOUT; 0 means 30.
	TimeoutSeconds int
	// Env holds more KEY=value variables for the emulator and the function.
	Env []string
	// Mode is the emulator's mode; the zero value is E2E_EMULATOR_MODE's.
	Mode emulatorMode
	// Concurrency is AWS_LAMBDA_MAX_CONCURRENCY in managed mode; 0 means
	// defaultConcurrency.
	Concurrency int
}

// emulator is one aws-lambda-rie process serving one function, with an AWS
// SDK Lambda client pointed at it.
type emulator struct {
	t        testing.TB
	cfg      emulatorConfig
	Endpoint string         // http://127.0.0.1:PORT
	Lambda   *lambda.Client // the real SDK client, BaseEndpoint = Endpoint
	HTTP     *http.Client   // for raw requests; shares the slotted transport
	log      syncBuffer
	tr       *slotTransport
	cmd      *exec.Cmd
	exited   chan struct{}
	stop     func()
}

// startEmulator starts aws-lambda-rie with cfg's function on free loopback
// ports, waits until it accepts requests and registers its cleanup: the
// emulator and the function are killed when the test ends, and the
// emulator's log (with the function's) is printed if the test failed.
func startEmulator(t testing.TB, cfg emulatorConfig) *emulator {
	t.Helper()
	if cfg.Mode == suiteDefault {
		cfg.Mode, _ = suiteMode() // TestMain checked it
		if reason, ok := classicOnly[strings.SplitN(t.Name(), "/", 2)[0]]; ok && cfg.Mode == managed {
			t.Skipf("E2E_EMULATOR_MODE=managed: %s", reason)
		}
	}
	if cfg.Mode == managed && cfg.Concurrency == 0 {
		cfg.Concurrency = defaultConcurrency
	}
	if cfg.Mode == classic {
		cfg.Concurrency = 1
	}
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
		if errors.Is(err, syscall.EPERM) {
			t.Skipf("managed mode needs a private mount namespace for /var/task (root or CAP_SYS_ADMIN): %v", err)
		}
		lastErr = err
	}
	t.Fatalf("starting aws-lambda-rie (%s mode): %v", cfg.Mode, lastErr)
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
	args := []string{
		"--runtime-interface-emulator-address", "127.0.0.1:" + strconv.Itoa(ports[0]),
		"--runtime-api-address", "127.0.0.1:" + strconv.Itoa(ports[1]),
	}
	env := append(emulatorEnviron(), "AWS_LAMBDA_FUNCTION_TIMEOUT="+strconv.Itoa(cfg.TimeoutSeconds))
	// Its own process group, so that a kill reaches the emulator's helpers
	// too. The emulator starts the function in a process group of its own;
	// stop kills that one as well.
	attr := &syscall.SysProcAttr{Setpgid: true}
	switch cfg.Mode {
	case classic:
		e.cmd = exec.Command(rie, append(args, "./bootstrap")...)
		e.cmd.Dir = filepath.Dir(bin)
	case managed:
		// The emulator runs /var/task/bootstrap, whatever its arguments
		// say: this test binary starts it in new mount and PID namespaces
		// with the bootstrap's directory on /var/task
		// (runInTaskNamespace).
		self, err := os.Executable()
		if err != nil {
			return nil, err
		}
		e.cmd = exec.Command(self, append([]string{rie}, args...)...)
		env = append(env, "AWS_LAMBDA_MAX_CONCURRENCY="+strconv.Itoa(cfg.Concurrency), taskDirEnv+"="+filepath.Dir(bin))
		attr.Cloneflags = syscall.CLONE_NEWNS | syscall.CLONE_NEWPID
	default:
		return nil, fmt.Errorf("unknown emulator mode %d", cfg.Mode)
	}
	e.cmd.Env = append(env, cfg.Env...)
	e.cmd.Stdout = &e.log
	e.cmd.Stderr = &e.log
	e.cmd.SysProcAttr = attr
	if err := e.cmd.Start(); err != nil {
		return nil, err
	}
	go func() {
		_ = e.cmd.Wait()
		close(e.exited)
	}()
	e.stop = func() {
		killTree(e.cmd.Process.Pid)
		<-e.exited
	}
	if err := e.waitReady(10 * time.Second); err != nil {
		e.stop()
		return nil, fmt.Errorf("%v\nemulator log:\n%s", err, e.log.String())
	}

	base := &http.Transport{Proxy: nil, MaxIdleConnsPerHost: cfg.Concurrency, IdleConnTimeout: 30 * time.Second}
	e.tr = &slotTransport{base: base, slot: make(chan struct{}, cfg.Concurrency), retryUnavailable: cfg.Mode == managed}
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
			t.Logf("aws-lambda-rie (%s, %s mode, AWS_LAMBDA_FUNCTION_TIMEOUT=%d %s) log:\n%s", cfg.Function, cfg.Mode, cfg.TimeoutSeconds, strings.Join(cfg.Env, " "), e.log.String())
		}
	})
	return e, nil
}

// taskDirEnv, in this test binary's environment, makes it runInTaskNamespace.
const taskDirEnv = "E2E_TASK_DIR"

// runInTaskNamespace is this test binary started by launch for a managed
// emulator, as the first process of new mount and PID namespaces: it makes
// the mount namespace private, mounts dir (the bootstrap's directory) on
// /var/task, hides /var/runtime (searched before /var/task) if it exists,
// and executes the emulator, args[0], with the rest of args. /var/task is
// created, empty, on the machine if it does not exist: it is where the
// mount goes. Being the namespace's first process, the emulator takes every
// process it starts with it when it is killed.
func runInTaskNamespace(dir string, args []string) {
	fail := func(err error) {
		fmt.Fprintln(os.Stderr, "e2e: managed-mode emulator:", err)
		os.Exit(127)
	}
	if len(args) == 0 {
		fail(errors.New("no emulator to run"))
	}
	if err := syscall.Mount("none", "/", "", syscall.MS_REC|syscall.MS_PRIVATE, ""); err != nil {
		fail(fmt.Errorf("making the mount namespace private: %w", err))
	}
	if err := os.MkdirAll("/var/task", 0o755); err != nil {
		fail(err)
	}
	if err := syscall.Mount(dir, "/var/task", "", syscall.MS_BIND, ""); err != nil {
		fail(fmt.Errorf("mounting %s on /var/task: %w", dir, err))
	}
	if fi, err := os.Stat("/var/runtime"); err == nil && fi.IsDir() {
		if err := syscall.Mount("tmpfs", "/var/runtime", "tmpfs", 0, "size=1k"); err != nil {
			fail(fmt.Errorf("hiding /var/runtime: %w", err))
		}
	}
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, taskDirEnv+"=") {
			env = append(env, kv)
		}
	}
	fail(syscall.Exec(args[0], args, env))
}

// killTree kills the process group of pid and the process groups of its
// children: the emulator starts the function in a group of its own.
func killTree(pid int) {
	children := childrenOf(pid)
	_ = syscall.Kill(-pid, syscall.SIGKILL)
	for _, c := range children {
		_ = syscall.Kill(-c, syscall.SIGKILL)
		_ = syscall.Kill(c, syscall.SIGKILL)
	}
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
		// "pid (comm) state ppid …", where comm may hold spaces and ")".
		i := bytes.LastIndexByte(stat, ')')
		if i < 0 {
			continue
		}
		if f := strings.Fields(string(stat[i+1:])); len(f) > 1 && f[1] == strconv.Itoa(pid) {
			out = append(out, p)
		}
	}
	return out
}

// emulatorEnviron is the test's environment without what would change the
// emulator's behaviour: AWS_LAMBDA_MAX_CONCURRENCY switches it to another
// mode, and the function timeout is set per emulator.
func emulatorEnviron() []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch k {
		case "AWS_LAMBDA_MAX_CONCURRENCY", "AWS_LAMBDA_FUNCTION_TIMEOUT", "LOG_LEVEL", taskDirEnv:
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

// Inits counts the function's process starts so far. In classic mode a
// process that crashed, was killed or timed out is started again on the next
// invocation; in managed mode there is only ever one.
func (e *emulator) Inits() int {
	if e.cfg.Mode == managed {
		return strings.Count(e.Log(), "msg=LocalProcessSupervisor.Exec ")
	}
	return strings.Count(e.Log(), "INIT START")
}

// Invocations counts the invocations the emulator has started and ended so
// far, from its log: each has a "START RequestId:" and an "END RequestId:"
// line, in both modes.
func (e *emulator) Invocations() (started, ended int) {
	log := e.Log()
	return strings.Count(log, "START RequestId: "), strings.Count(log, "END RequestId: ")
}

// Exclusive runs f while no SDK or raw request is in flight, for requests
// sent by other programs (curl).
func (e *emulator) Exclusive(f func()) {
	for range cap(e.tr.slot) {
		e.tr.slot <- struct{}{}
	}
	defer func() {
		for range cap(e.tr.slot) {
			<-e.tr.slot
		}
	}()
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

// slotTransport sends an emulator's requests, at most as many at once as it
// runs invocations at once (its slots: one in classic mode,
// AWS_LAMBDA_MAX_CONCURRENCY in managed mode), and counts them.
//
// Each request is sent detached from its caller's cancellation and keeps
// its slot until the emulator has answered; a caller whose context ends
// first gets the context's error right away, as from any HTTP transport.
// Real Lambda runs an invocation to its end when the caller goes away; the
// emulator does not, and each mode breaks differently on it
// (docs/emulator.md): in classic mode a new invocation sent while one whose
// caller gave up is still running crashes the emulator; in managed mode the
// emulator forgets an invocation whose caller hung up, refuses its answer
// when the function sends it, aws-lambda-go exits on that refusal and the
// emulator stops with it. Keeping the request open until the answer avoids
// both, whatever the order of the calls.
//
// In managed mode a request that finds every function worker busy (one has
// answered but not yet asked for the next invocation) gets HTTP 400
// Runtime.Unavailable at once, without running; the transport sends it
// again (retryUnavailable), once the emulator has a worker for it.
type slotTransport struct {
	base             http.RoundTripper
	slot             chan struct{} // holding one means a request is in flight
	requests         atomic.Int64
	retryUnavailable bool
}

func (s *slotTransport) RoundTrip(req *http.Request) (*http.Response, error) {
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
		var payload []byte
		if req.Body != nil {
			var err error
			payload, err = io.ReadAll(req.Body)
			req.Body.Close()
			if err != nil {
				done <- result{nil, err}
				return
			}
		}
		for attempt := 1; ; attempt++ {
			r := req.Clone(context.WithoutCancel(ctx))
			r.Body = io.NopCloser(bytes.NewReader(payload))
			r.ContentLength = int64(len(payload))
			resp, err := s.base.RoundTrip(r)
			var body []byte
			if err == nil {
				// The emulator has finished the invocation once the whole
				// response is in.
				body, err = io.ReadAll(resp.Body)
				resp.Body.Close()
				resp.Body = io.NopCloser(bytes.NewReader(body))
			}
			if err == nil && s.retryUnavailable && attempt < 1000 && resp.StatusCode == http.StatusBadRequest &&
				resp.Header.Get("Error-Type") == "Runtime.Unavailable" {
				time.Sleep(time.Millisecond)
				continue
			}
			done <- result{resp, err}
			return
		}
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
