package lambdatest_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"go/build"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	goruntime "runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"

	"github.com/protoc-gen-go-lambda/protoc-gen-go-lambda/runtime/lambdatest"
)

// functionEnv, in this test binary's environment, makes it a Lambda
// function instead of running the tests: TestRealEmulator runs it under
// aws-lambda-rie, so that no other binary needs building.
const functionEnv = "LAMBDATEST_ECHO_FUNCTION"

func TestMain(m *testing.M) {
	if os.Getenv(functionEnv) != "" {
		runEchoFunction() // does not return
	}
	os.Exit(m.Run())
}

// runEchoFunction is a function for a function URL that answers with the
// event it got, or fails when the query has fail=…. It exits when the
// emulator that started it is gone.
func runEchoFunction() {
	parent := os.Getppid()
	go func() {
		for os.Getppid() == parent {
			time.Sleep(100 * time.Millisecond)
		}
		os.Exit(0)
	}()
	lambda.Start(func(ev events.LambdaFunctionURLRequest) (events.LambdaFunctionURLResponse, error) {
		if ev.QueryStringParameters["fail"] != "" {
			return events.LambdaFunctionURLResponse{}, errors.New("asked to fail")
		}
		body, err := json.Marshal(ev)
		if err != nil {
			return events.LambdaFunctionURLResponse{}, err
		}
		return events.LambdaFunctionURLResponse{
			StatusCode: http.StatusOK,
			Headers:    map[string]string{"Content-Type": "application/json", "X-Function": "echo"},
			Cookies:    ev.Cookies,
			Body:       string(body),
		}, nil
	})
}

// fakeEmulator imitates the emulator's Invoke API: answer answers each
// invocation after checking it is one.
func fakeEmulator(t *testing.T, answer func(w http.ResponseWriter, r *http.Request, payload []byte)) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != "/2015-03-31/functions/function/invocations" {
			t.Errorf("the emulator got %s %s", r.Method, r.URL.Path)
			http.NotFound(w, r)
			return
		}
		payload, err := io.ReadAll(r.Body)
		if err != nil {
			t.Error(err)
		}
		answer(w, r, payload)
	}))
	t.Cleanup(srv.Close)
	return srv
}

// TestEmulatorHandlerForwards: the payload goes to the emulator's Invoke
// path, and its answer comes back as the function's response.
func TestEmulatorHandlerForwards(t *testing.T) {
	em := fakeEmulator(t, func(w http.ResponseWriter, _ *http.Request, payload []byte) {
		fmt.Fprintf(w, `{"got":%s}`, payload)
	})
	for _, endpoint := range []string{em.URL, em.URL + "/"} {
		out, err := lambdatest.EmulatorHandler(endpoint).Invoke(context.Background(), []byte(`{"n":1}`))
		if err != nil || string(out) != `{"got":{"n":1}}` {
			t.Errorf("endpoint %s: %s, %v", endpoint, out, err)
		}
	}
}

// TestEmulatorHandlerErrors: each of the emulator's ways of saying that an
// invocation failed (docs/emulator.md) is an *EmulatorError.
func TestEmulatorHandlerErrors(t *testing.T) {
	for _, tc := range []struct {
		name        string
		status      int
		header      map[string]string
		body        string
		wantType    string
		wantMessage string
	}{
		{"HandlerError", 200, nil, `{"errorMessage":"boom","errorType":"errorString"}`, "errorString", "boom"},
		{"ClassicTimeout", 200, map[string]string{"Content-Type": "text/plain; charset=utf-8"}, "Task timed out after 1.00 seconds", "Sandbox.Timedout", "Task timed out after 1.00 seconds"},
		{"ManagedTimeout", 200, map[string]string{"Error-Type": "Sandbox.Timedout"}, `{"errorType":"Sandbox.Timedout","errorMessage":"Task timed out after 1.00 seconds"}`, "Sandbox.Timedout", "Task timed out after 1.00 seconds"},
		{"ManagedHandlerError", 200, map[string]string{"Error-Type": "Runtime.Unknown"}, `{"errorMessage":"boom","errorType":"errorString"}`, "Runtime.Unknown", "boom"},
		{"Crash", 502, nil, `{"errorType":"Runtime.ExitError","errorMessage":"RequestId: 1 Error: Runtime exited with error: exit status 2"}`, "Runtime.ExitError", "RequestId: 1 Error: Runtime exited with error: exit status 2"},
		{"ManagedBusy", 400, map[string]string{"Error-Type": "Runtime.Unavailable"}, `{"errorType":"Runtime.Unavailable"}`, "Runtime.Unavailable", ""},
		{"LambdaFunctionError", 200, map[string]string{"X-Amz-Function-Error": "Unhandled"}, `{"errorType":"Sandbox.Timedout","errorMessage":"late"}`, "Sandbox.Timedout", "late"},
		{"NotFound", 404, nil, "404 page not found\n", "", "404 page not found\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			em := fakeEmulator(t, func(w http.ResponseWriter, _ *http.Request, _ []byte) {
				for k, v := range tc.header {
					w.Header().Set(k, v)
				}
				w.WriteHeader(tc.status)
				io.WriteString(w, tc.body)
			})
			out, err := lambdatest.EmulatorHandler(em.URL).Invoke(context.Background(), []byte(`{}`))
			var emErr *lambdatest.EmulatorError
			if !errors.As(err, &emErr) {
				t.Fatalf("got %q, %v; want an *EmulatorError", out, err)
			}
			if emErr.StatusCode != tc.status || emErr.Type != tc.wantType || emErr.Message != tc.wantMessage {
				t.Errorf("got %+v, want status %d type %q message %q", emErr, tc.status, tc.wantType, tc.wantMessage)
			}
		})
	}
	// A response that merely mentions errorType is the function's.
	em := fakeEmulator(t, func(w http.ResponseWriter, _ *http.Request, _ []byte) {
		io.WriteString(w, `{"statusCode":200,"errorType":"x","errorMessage":"y"}`)
	})
	if _, err := lambdatest.EmulatorHandler(em.URL).Invoke(context.Background(), []byte(`{}`)); err != nil {
		t.Errorf("a response with more fields than an error document: %v", err)
	}
	// Nothing listening.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	if _, err := lambdatest.EmulatorHandler("http://"+addr).Invoke(context.Background(), []byte(`{}`)); err == nil {
		t.Error("no emulator listening, and no error")
	}
}

// TestEmulatorHandlerKeepsTheRequestOpen: as Lambda runs an invocation to
// its end whatever its caller does, the request to the emulator stays open
// after Invoke's context ends, and the next invocation waits for it: the
// emulator crashes on a call that comes while an abandoned one runs
// (docs/emulator.md, "Known crash").
func TestEmulatorHandlerKeepsTheRequestOpen(t *testing.T) {
	var mu sync.Mutex
	inFlight, peak := 0, 0
	var bodies []string
	arrived, release := make(chan struct{}, 10), make(chan struct{})
	var firstOpen error // the first request's context, once released
	em := fakeEmulator(t, func(w http.ResponseWriter, r *http.Request, payload []byte) {
		mu.Lock()
		inFlight++
		peak = max(peak, inFlight)
		bodies = append(bodies, string(payload))
		mu.Unlock()
		arrived <- struct{}{}
		if string(payload) == `"first"` {
			<-release
			mu.Lock()
			firstOpen = r.Context().Err()
			mu.Unlock()
		}
		mu.Lock()
		inFlight--
		mu.Unlock()
		io.WriteString(w, `"done"`)
	})
	h := lambdatest.EmulatorHandler(em.URL)

	// The first caller gives up while the emulator works.
	ctx, cancel := context.WithCancel(context.Background())
	firstErr := make(chan error, 1)
	go func() {
		_, err := h.Invoke(ctx, []byte(`"first"`))
		firstErr <- err
	}()
	<-arrived
	cancel()
	if err := <-firstErr; !errors.Is(err, context.Canceled) {
		t.Errorf("the abandoned invocation: %v, want its context's error", err)
	}
	// A second caller, who gives up too while waiting for the first
	// invocation: its invocation is never sent.
	ctx2, cancel2 := context.WithCancel(context.Background())
	secondErr := make(chan error, 1)
	go func() {
		_, err := h.Invoke(ctx2, []byte(`"second"`))
		secondErr <- err
	}()
	cancel2()
	if err := <-secondErr; !errors.Is(err, context.Canceled) {
		t.Errorf("the second invocation: %v, want its context's error", err)
	}
	close(release)
	// A third waits for the first to finish, then runs.
	if out, err := h.Invoke(context.Background(), []byte(`"third"`)); err != nil || string(out) != `"done"` {
		t.Errorf("the third invocation: %s, %v", out, err)
	}
	em.Close() // waits for every request it has
	mu.Lock()
	defer mu.Unlock()
	if firstOpen != nil {
		t.Errorf("the abandoned invocation's request was closed before the emulator answered: %v", firstOpen)
	}
	if peak != 1 || !slices.Equal(bodies, []string{`"first"`, `"third"`}) {
		t.Errorf("the emulator saw %q, up to %d at once; want the first, then the third, one at a time", bodies, peak)
	}
}

// TestFunctionURLInFrontOfTheEmulator: NewHTTPHandler puts a function URL in
// front of the emulator's function; a failed invocation is the function
// URL's 502.
func TestFunctionURLInFrontOfTheEmulator(t *testing.T) {
	em := fakeEmulator(t, func(w http.ResponseWriter, _ *http.Request, payload []byte) {
		var ev events.LambdaFunctionURLRequest
		if err := json.Unmarshal(payload, &ev); err != nil {
			t.Errorf("the emulator got %s: %v", payload, err)
		}
		if ev.RawPath == "/fail" {
			io.WriteString(w, `{"errorMessage":"boom","errorType":"errorString"}`)
			return
		}
		fmt.Fprintf(w, `{"statusCode":200,"headers":{"Content-Type":"text/plain"},"body":"path %s"}`, ev.RawPath)
	})
	srv := frontEnd(t, lambdatest.EmulatorHandler(em.URL), lambdatest.FunctionURL)
	if got := get(t, srv, "/hello"); got.status != http.StatusOK || string(got.body) != "path /hello" {
		t.Errorf("GET /hello: %d %q", got.status, got.body)
	}
	checkFailed(t, lambdatest.FunctionURL, get(t, srv, "/fail"), "a failed invocation")
}

// TestRealEmulator: a function URL in front of a function (this test
// binary, as runEchoFunction) running under the real aws-lambda-rie, in
// its default classic mode, which runs one invocation at a time.
func TestRealEmulator(t *testing.T) {
	endpoint := startEmulator(t)
	srv := frontEnd(t, lambdatest.EmulatorHandler(endpoint), lambdatest.FunctionURL)

	req, err := http.NewRequest(http.MethodPost, srv.URL+"/hello/world?x=1&x=2", strings.NewReader(`{"a":1}`))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Add("Cookie", "a=1; b=2")
	got := do(t, req)
	if got.status != http.StatusOK || got.header.Get("X-Function") != "echo" || !slices.Equal(got.header.Values("Set-Cookie"), []string{"a=1", "b=2"}) {
		t.Fatalf("client got %d %v %s", got.status, got.header, got.body)
	}
	var ev events.LambdaFunctionURLRequest
	if err := json.Unmarshal(got.body, &ev); err != nil {
		t.Fatalf("%s: %v", got.body, err)
	}
	if ev.RawPath != "/hello/world" || ev.QueryStringParameters["x"] != "1,2" || ev.Body != `{"a":1}` || ev.IsBase64Encoded || ev.RequestContext.HTTP.Method != http.MethodPost {
		t.Errorf("the function got %+v", ev)
	}

	// Several clients at once: the classic emulator crashes on a second
	// invocation while one runs, unless they are sent one at a time.
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := http.Get(srv.URL + "/n" + strconv.Itoa(i))
			if err != nil {
				t.Errorf("concurrent request %d: %v", i, err)
				return
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Errorf("concurrent request %d: %d %s", i, resp.StatusCode, body)
			}
		}()
	}
	wg.Wait()

	checkFailed(t, lambdatest.FunctionURL, get(t, srv, "/?fail=1"), "a function error")
}

// startEmulator starts aws-lambda-rie, classic mode, with this test binary
// as its function, and returns its endpoint; it skips the test where the
// emulator cannot run.
func startEmulator(t *testing.T) string {
	t.Helper()
	if goruntime.GOOS != "linux" {
		t.Skipf("aws-lambda-rie runs linux functions; GOOS is %s", goruntime.GOOS)
	}
	rie, err := exec.LookPath("aws-lambda-rie")
	if err != nil {
		rie = filepath.Join(build.Default.GOPATH, "bin", "aws-lambda-rie")
		if _, err := os.Stat(rie); err != nil {
			t.Skip("aws-lambda-rie is not on PATH nor in $(go env GOPATH)/bin: run scripts/install-tools")
		}
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	// Two free ports, for the Invoke API and the runtime API (whose default,
	// 9001, any other emulator on the machine shares); they are free again
	// once the listeners close, just before the emulator starts.
	ports, listeners := make([]string, 2), make([]net.Listener, 2)
	for i := range ports {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ports[i], listeners[i] = ln.Addr().String(), ln
	}
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch k {
		case "AWS_LAMBDA_MAX_CONCURRENCY", "AWS_LAMBDA_FUNCTION_TIMEOUT", "LOG_LEVEL":
			continue // another mode, another timeout, other logs
		}
		env = append(env, kv)
	}
	cmd := exec.Command(rie, "--runtime-interface-emulator-address", ports[0], "--runtime-api-address", ports[1], self)
	cmd.Env = append(env, functionEnv+"=1", "AWS_LAMBDA_FUNCTION_TIMEOUT=30")
	var log syncBuffer
	cmd.Stdout, cmd.Stderr = &log, &log
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("aws-lambda-rie log:\n%s", log.String())
		}
	})
	for _, ln := range listeners {
		ln.Close()
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(exited)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill() // the function exits with it (runEchoFunction)
		<-exited
	})
	endpoint := "http://" + ports[0]
	client := &http.Client{Timeout: time.Second, Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true}}
	for deadline := time.Now().Add(10 * time.Second); ; {
		select {
		case <-exited:
			t.Fatalf("aws-lambda-rie exited:\n%s", log.String())
		default:
		}
		// Its root path is a 404 and invokes nothing.
		if resp, err := client.Get(endpoint + "/"); err == nil {
			resp.Body.Close()
			return endpoint
		}
		if time.Now().After(deadline) {
			t.Fatalf("aws-lambda-rie did not start listening:\n%s", log.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// syncBuffer is a bytes.Buffer safe for the emulator's two output streams
// and the test reading them.
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
