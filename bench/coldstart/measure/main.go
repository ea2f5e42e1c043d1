// Command measure times Lambda cold starts under the AWS Lambda Runtime
// Interface Emulator. For each of -n trials it starts the emulator with the
// given bootstrap binary on a free loopback port, retries one invocation
// until it answers 200 with a body starting with -expect, records the time
// from starting the emulator process to that answer, and stops the emulator
// (and the function process, which shares its process group). It prints
// each trial in milliseconds and then "median <ms>".
//
//	measure -rie ~/go/bin/aws-lambda-rie -bootstrap ./bootstrap \
//	    -payload '{"v":1,...}' -expect '{"v":1,"code":0' -n 11
package main

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"
)

var (
	mu      sync.Mutex
	running *exec.Cmd
)

func main() {
	rie := flag.String("rie", os.ExpandEnv("$HOME/go/bin/aws-lambda-rie"), "emulator binary")
	bootstrap := flag.String("bootstrap", "./bootstrap", "function binary")
	payload := flag.String("payload", `{"v":1,"method":"/example.orders.v1.OrderService/GetOrder","json":{"id":"o-1001"}}`, "invocation payload")
	expect := flag.String("expect", `{"v":1,"code":0`, "prefix a successful response body starts with")
	n := flag.Int("n", 11, "trials")
	timeout := flag.Duration("timeout", 20*time.Second, "give up on a trial after this long")
	flag.Parse()

	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	go func() {
		<-sig
		stop()
		os.Exit(1)
	}()
	defer stop()

	var ms []float64
	for i := 0; i < *n; i++ {
		d, err := trial(*rie, *bootstrap, *payload, *expect, *timeout)
		stop()
		if err != nil {
			fmt.Fprintf(os.Stderr, "measure: trial %d: %v\n", i+1, err)
			stop()
			os.Exit(1)
		}
		v := float64(d.Microseconds()) / 1000
		ms = append(ms, v)
		fmt.Printf("trial %d %.1f ms\n", i+1, v)
	}
	sort.Float64s(ms)
	fmt.Printf("median %.1f\n", ms[len(ms)/2])
}

// trial runs one cold start and returns the time to the first good answer.
func trial(rie, bootstrap, payload, expect string, timeout time.Duration) (time.Duration, error) {
	port, err := freePort()
	if err != nil {
		return 0, err
	}
	url := fmt.Sprintf("http://127.0.0.1:%d/2015-03-31/functions/function/invocations", port)
	cmd := exec.Command(rie, "--runtime-interface-emulator-address", fmt.Sprintf("127.0.0.1:%d", port), bootstrap)
	cmd.Env = append(os.Environ(), "AWS_LAMBDA_FUNCTION_TIMEOUT=10")
	cmd.Stdout = io.Discard
	cmd.Stderr = io.Discard
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	client := &http.Client{Timeout: timeout}

	start := time.Now()
	mu.Lock()
	err = cmd.Start()
	if err == nil {
		running = cmd
	}
	mu.Unlock()
	if err != nil {
		return 0, err
	}
	deadline := start.Add(timeout)
	var last string
	for time.Now().Before(deadline) {
		resp, err := client.Post(url, "application/json", strings.NewReader(payload))
		if err != nil {
			last = err.Error()
			time.Sleep(time.Millisecond)
			continue
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK && bytes.HasPrefix(body, []byte(expect)) {
			return time.Since(start), nil
		}
		last = fmt.Sprintf("status %d body %.200q", resp.StatusCode, body)
		time.Sleep(time.Millisecond)
	}
	return 0, fmt.Errorf("no good answer within %v; last: %s", timeout, last)
}

// stop kills the running emulator's process group and waits for it.
func stop() {
	mu.Lock()
	defer mu.Unlock()
	if running == nil || running.Process == nil {
		return
	}
	_ = syscall.Kill(-running.Process.Pid, syscall.SIGKILL)
	_ = running.Wait()
	running = nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
