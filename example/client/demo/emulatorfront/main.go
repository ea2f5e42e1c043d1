// Command emulatorfront stands in front of the AWS Lambda Runtime Interface
// Emulator (aws-lambda-rie) and gives it two behaviours of the real Lambda
// Invoke API that the emulator lacks, so that a client may make its calls in
// any order (docs/emulator.md):
//
//   - An invocation runs to its end even when its caller hangs up (a call
//     whose deadline passed). The emulator does not keep to that: in its
//     classic mode the next invocation sent while the abandoned one still
//     runs crashes it; in its managed mode it refuses the abandoned
//     invocation's answer, aws-lambda-go exits on that and the emulator
//     stops. emulatorfront sends each invocation to the emulator detached
//     from its caller and reads the whole answer, whether or not the caller
//     is still there to get it.
//   - Invocations beyond what the function can run at once wait for their
//     turn instead of failing (classic mode: one at a time; managed mode:
//     AWS_LAMBDA_MAX_CONCURRENCY). -concurrency says how many it sends at
//     once.
//
// Everything else (paths, headers, status codes, bodies) passes through
// unchanged. scripts/demo runs it between the example client and the
// emulator:
//
//	emulatorfront -listen 127.0.0.1:8081 -emulator http://127.0.0.1:8080
package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"strings"
	"time"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:8081", "address to serve the Invoke API on")
	emulator := flag.String("emulator", "http://127.0.0.1:8080", "the emulator's endpoint")
	concurrency := flag.Int("concurrency", 1, "invocations sent to the emulator at once: 1 for its classic mode, AWS_LAMBDA_MAX_CONCURRENCY for its managed mode")
	flag.Parse()
	if *concurrency < 1 {
		fmt.Fprintln(os.Stderr, "emulatorfront: -concurrency must be at least 1")
		os.Exit(2)
	}
	l, err := net.Listen("tcp", *listen)
	if err != nil {
		fmt.Fprintln(os.Stderr, "emulatorfront:", err)
		os.Exit(1)
	}
	f := &front{
		target: strings.TrimSuffix(*emulator, "/"),
		slots:  make(chan struct{}, *concurrency),
		client: &http.Client{Transport: &http.Transport{Proxy: nil, MaxIdleConnsPerHost: *concurrency}},
	}
	log.Printf("emulatorfront: http://%s -> %s, %d invocation(s) at once", l.Addr(), f.target, *concurrency)
	log.Fatal(http.Serve(l, f))
}

type front struct {
	target string
	slots  chan struct{}
	client *http.Client
}

// hopHeaders are not passed on (RFC 9110, section 7.6.1).
var hopHeaders = map[string]bool{
	"Connection": true, "Keep-Alive": true, "Proxy-Connection": true, "Te": true,
	"Trailer": true, "Transfer-Encoding": true, "Upgrade": true,
}

func (f *front) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, "emulatorfront: reading the request: "+err.Error(), http.StatusBadRequest)
		return
	}
	select {
	case f.slots <- struct{}{}:
	case <-r.Context().Done():
		return // the caller left before its turn: nothing was sent
	}
	// From here on the invocation runs to its end, caller or not.
	status, header, respBody, err := f.forward(r, body)
	<-f.slots
	if err != nil {
		http.Error(w, "emulatorfront: "+err.Error(), http.StatusBadGateway)
		return
	}
	for k, vs := range header {
		if !hopHeaders[k] {
			w.Header()[k] = vs
		}
	}
	w.WriteHeader(status)
	_, _ = w.Write(respBody) // the caller may be gone
}

// forward sends one invocation to the emulator and reads its whole answer.
// In managed mode the emulator refuses an invocation at once (HTTP 400,
// Error-Type: Runtime.Unavailable, nothing run) when a worker that has just
// answered has not yet asked for the next one; forward sends it again.
func (f *front) forward(r *http.Request, body []byte) (int, http.Header, []byte, error) {
	for attempt := 1; ; attempt++ {
		req, err := http.NewRequestWithContext(context.WithoutCancel(r.Context()), r.Method, f.target+r.URL.RequestURI(), bytes.NewReader(body))
		if err != nil {
			return 0, nil, nil, err
		}
		for k, vs := range r.Header {
			if !hopHeaders[k] {
				req.Header[k] = vs
			}
		}
		resp, err := f.client.Do(req)
		if err != nil {
			return 0, nil, nil, err
		}
		respBody, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			return 0, nil, nil, err
		}
		if resp.StatusCode == http.StatusBadRequest && resp.Header.Get("Error-Type") == "Runtime.Unavailable" && attempt < 1000 {
			time.Sleep(time.Millisecond)
			continue
		}
		return resp.StatusCode, resp.Header, respBody, nil
	}
}
