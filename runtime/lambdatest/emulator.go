package lambdatest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"

	"github.com/aws/aws-lambda-go/lambda"
)

// emulatorInvokePath is where the AWS Lambda Runtime Interface Emulator
// serves the Invoke API: its one function is named "function".
const emulatorInvokePath = "/2015-03-31/functions/function/invocations"

// EmulatorError is a failed invocation as the AWS Lambda Runtime Interface
// Emulator reports it. The emulator never sets X-Amz-Function-Error, and
// says "failed" in a different way for each failure (docs/emulator.md): a
// handler's error is a 200 whose body is the error document, a timeout a
// 200 with plain text (classic mode) or an Error-Type header (managed
// mode), a crashed function process a 502 with the error document. An
// EmulatorHandler turns each into an EmulatorError, so that what is in
// front of it (an Invoker, NewHTTPHandler) sees a function error, as it
// would from Lambda.
type EmulatorError struct {
	// StatusCode is the emulator's HTTP status.
	StatusCode int
	// Type is the error document's errorType (or the Error-Type header);
	// "Sandbox.Timedout" for the classic-mode timeout text, which has none.
	Type string
	// Message is the error document's errorMessage, or the body when it is
	// not an error document.
	Message string
}

// Error describes the failure with the emulator's status, the error's type
// and its message.
func (e *EmulatorError) Error() string {
	if e.Type == "" {
		return fmt.Sprintf("lambdatest: emulator answered HTTP %d: %s", e.StatusCode, e.Message)
	}
	return fmt.Sprintf("lambdatest: emulator answered HTTP %d, %s: %s", e.StatusCode, e.Type, e.Message)
}

// emulatorHandler is the lambda.Handler EmulatorHandler returns.
type emulatorHandler struct {
	url    string
	client *http.Client
	slot   chan struct{} // one invocation at a time
}

// EmulatorHandler returns a lambda.Handler whose Invoke sends the payload
// to the Invoke API of the AWS Lambda Runtime Interface Emulator at
// endpoint (such as "http://127.0.0.1:8080", see docs/emulator.md) and
// returns the function's response; an invocation that failed is an
// *EmulatorError. It puts the real function binary, running under the
// emulator, behind anything that takes a lambda.Handler: with
//
//	http.ListenAndServe("127.0.0.1:8081", lambdatest.NewHTTPHandler(lambdatest.EmulatorHandler("http://127.0.0.1:8080"), lambdatest.FunctionURL))
//
// a browser or `buf curl` reaches the function through a stand-in for its
// function URL.
//
// It works around the emulator's known crash the way Lambda itself behaves
// (docs/emulator.md, "Known crash"): an invocation's request to the
// emulator stays open until the emulator answers, even when Invoke's
// context ends first (Invoke then returns the context's error at once), and
// invocations are sent one at a time, as classic mode (the emulator's
// default) runs them; more would crash it. A managed-mode emulator
// (AWS_LAMBDA_MAX_CONCURRENCY=N) still runs them correctly, one at a time.
func EmulatorHandler(endpoint string) lambda.Handler {
	return &emulatorHandler{
		url: strings.TrimSuffix(endpoint, "/") + emulatorInvokePath,
		// No proxy from the environment: the emulator is local. No timeout:
		// the emulator answers every invocation, at the latest at its
		// function timeout.
		client: &http.Client{Transport: &http.Transport{Proxy: nil}},
		slot:   make(chan struct{}, 1),
	}
}

// Invoke implements lambda.Handler.
func (e *emulatorHandler) Invoke(ctx context.Context, payload []byte) ([]byte, error) {
	select {
	case e.slot <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	// The payload belongs to the caller only until Invoke returns, and the
	// request may outlive Invoke.
	req, err := http.NewRequestWithContext(context.WithoutCancel(ctx), http.MethodPost, e.url, bytes.NewReader(bytes.Clone(payload)))
	if err != nil {
		<-e.slot
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	type result struct {
		out []byte
		err error
	}
	done := make(chan result, 1)
	go func() {
		defer func() { <-e.slot }()
		out, err := e.roundTrip(req)
		done <- result{out, err}
	}()
	select {
	case res := <-done:
		return res.out, res.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// roundTrip sends one invocation and reads the emulator's answer in its
// dialect (the EmulatorError comment).
func (e *emulatorHandler) roundTrip(req *http.Request) ([]byte, error) {
	resp, err := e.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("lambdatest: invoking the emulator: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("lambdatest: reading the emulator's answer: %w", err)
	}
	typ, msg, isDoc := errorDocument(body)
	if !isDoc {
		msg = string(body)
	}
	fail := func(t string) error {
		if t == "" {
			t = typ
		}
		return &EmulatorError{StatusCode: resp.StatusCode, Type: t, Message: msg}
	}
	switch {
	case resp.StatusCode != http.StatusOK:
		return nil, fail(resp.Header.Get("Error-Type"))
	case resp.Header.Get("X-Amz-Function-Error") != "":
		return nil, fail("")
	case resp.Header.Get("Error-Type") != "":
		return nil, fail(resp.Header.Get("Error-Type"))
	case isDoc:
		return nil, fail("")
	}
	if mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type")); mt == "text/plain" && bytes.HasPrefix(body, []byte("Task timed out after ")) {
		return nil, fail("Sandbox.Timedout")
	}
	return body, nil
}

// errorDocument reports whether body is a Lambda error document, a JSON
// object of errorType and errorMessage (and perhaps stackTrace) only, and
// returns its fields. A function's own response is never one when it
// answers an HTTP front end, whose responses have a statusCode.
func errorDocument(body []byte) (typ, msg string, ok bool) {
	var doc map[string]json.RawMessage
	if json.Unmarshal(body, &doc) != nil || doc["errorType"] == nil {
		return "", "", false
	}
	for k := range doc {
		switch k {
		case "errorType", "errorMessage", "stackTrace":
		default:
			return "", "", false
		}
	}
	if json.Unmarshal(doc["errorType"], &typ) != nil {
		return "", "", false
	}
	if m := doc["errorMessage"]; m != nil && json.Unmarshal(m, &msg) != nil {
		return "", "", false
	}
	return typ, msg, true
}
