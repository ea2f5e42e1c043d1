package invoke

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"strconv"
	"time"

	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"
	"github.com/protoc-gen-go-lambda/protoc-gen-go-lambda/runtime/internal/wire"
)

// This file is what each attempt of an Invoke call sends, installed in the
// SDK's middleware stack of every call (retryers.forMethod). The SDK
// serializes the request once and its retryer sends the same request again
// after a backoff; two things must differ per attempt.
//
// The deadline. The envelope's "timeout_ms" is the caller's time left when
// the call began. Sent unchanged after a backoff, it would tell the function
// it has more time than the caller has left: grpc-go computes grpc-timeout
// for each attempt. Each attempt after the first carries the time left at
// the moment it is sent; past the deadline, the attempt is not sent and the
// call ends with the context's error, DEADLINE_EXCEEDED.
//
// The body. smithy-go's Request.Build wraps the payload stream in a closer
// (safeWriteToReadCloser, transport/http/internal/io/safe.go) that the SDK
// closes as soon as http.Client.Do returns, that is when the response
// headers have arrived (aws/smithy-go#218, #226). net/http, after writing
// the Content-Length bytes of a request body, probes it once more for EOF
// with io.Copy, which goes through the body's WriteTo when it has one; once
// closed, that WriteTo returns (0, io.EOF), which io.Copy passes on as an
// error. The transport then takes the probe for a failed body read and
// closes the connection, while the response body is still being read: the
// caller gets "deserialization failed, read tcp ...: use of closed network
// connection" although the function ran (aws/aws-sdk-go-v2#1825, #2737,
// #2935). About one call in a thousand lost its answer that way under
// sustained load, whatever the message size. The stream each attempt sends
// here has only Read and Seek: without WriteTo, the closed body reads as a
// plain EOF and the probe succeeds.
//
// The middleware sits in the Finalize step right after the SDK's retry loop
// ("Retry"), so it runs once per attempt, before the payload hash and the
// signature (ComputePayloadHash, Signing) that cover what it sets. The
// first attempt sends the call's payload (InvokeInput.Payload) without a
// copy; a later one, the rebuilt envelope. The middleware hashes what it
// sends itself (see handleAttempt).

// addAttemptMiddleware installs the call's state and the per-attempt request
// in an Invoke call's middleware stack.
func addAttemptMiddleware(stack *middleware.Stack) error {
	if err := stack.Initialize.Add(callStateMiddleware, middleware.After); err != nil {
		return fmt.Errorf("lambda: installing %s: %w", callStateMiddleware.ID(), err)
	}
	var err error
	if _, ok := stack.Finalize.Get("Retry"); ok {
		err = stack.Finalize.Insert(attemptMiddleware, "Retry", middleware.After)
	} else {
		// A stack without the SDK's retry loop makes one attempt; its body
		// still needs a stream without WriteTo.
		err = stack.Finalize.Add(attemptMiddleware, middleware.Before)
	}
	if err != nil {
		return fmt.Errorf("lambda: installing %s: %w", attemptMiddleware.ID(), err)
	}
	return nil
}

// callState is one Invoke call's state, shared by its attempts, which the
// retry loop runs one after the other.
type callState struct {
	payload  []byte // the first attempt's request envelope
	attempts int
}

type callStateKey struct{}

var callStateMiddleware = middleware.InitializeMiddlewareFunc("protoc-gen-go-lambda/InvokeCall",
	func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
		if p, ok := in.Parameters.(*lambda.InvokeInput); ok {
			ctx = context.WithValue(ctx, callStateKey{}, &callState{payload: p.Payload})
		}
		return next.HandleInitialize(ctx, in)
	})

var attemptMiddleware = middleware.FinalizeMiddlewareFunc("protoc-gen-go-lambda/InvokeAttempt", handleAttempt)

// handleAttempt sets the attempt's request body: the envelope with the time
// left on the caller's deadline, behind a stream without WriteTo. The first
// attempt sends the serialized payload itself; only later ones, which come
// after a backoff, are rebuilt.
func handleAttempt(ctx context.Context, in middleware.FinalizeInput, next middleware.FinalizeHandler) (out middleware.FinalizeOutput, md middleware.Metadata, err error) {
	req, ok := in.Request.(*smithyhttp.Request)
	if !ok {
		return next.HandleFinalize(ctx, in)
	}
	var body []byte // the attempt's payload, when the call's is known
	attempt := 1
	if call, _ := ctx.Value(callStateKey{}).(*callState); call != nil {
		call.attempts++
		attempt = call.attempts
		body = call.payload
		if d, ok := ctx.Deadline(); ok && attempt > 1 {
			left := time.Until(d)
			if left <= 0 {
				// The deadline passed during the backoff; its timer fires
				// now, if it has not yet. The SDK retries no canceled error.
				<-ctx.Done()
				return out, md, &smithy.CanceledError{Err: ctx.Err()}
			}
			if rebuilt := envelopeWithTimeout(call.payload, left); rebuilt != nil {
				body = rebuilt
			}
		}
	}
	var stream io.Reader
	switch s := req.GetStream().(type) {
	case nil:
		return next.HandleFinalize(ctx, in)
	case io.ReadSeeker:
		stream = readSeeker{s}
	default:
		stream = reader{s}
	}
	if body != nil {
		stream = readSeeker{bytes.NewReader(body)}
		// The payload hash the signature covers, computed here as
		// ComputePayloadHash would, which then leaves it alone: it reads the
		// stream with io.Copy, which without WriteTo allocates a 32 KB
		// buffer per attempt.
		sum := sha256.Sum256(body)
		ctx = v4.SetPayloadHash(ctx, hex.EncodeToString(sum[:]))
	}
	r, err := req.SetStream(stream)
	if err != nil {
		return out, md, fmt.Errorf("lambda: setting the request body of attempt %d: %w", attempt, err)
	}
	if body != nil {
		// Build sends ContentLength bytes; a rebuilt envelope's length
		// differs when the number of digits does.
		r.ContentLength = int64(len(body))
	}
	in.Request = r
	return next.HandleFinalize(ctx, in)
}

// readSeeker and reader have only the methods of the interface they embed:
// no WriteTo (see the top of this file).
type (
	readSeeker struct{ io.ReadSeeker }
	reader     struct{ io.Reader }
)

// envelopeWithTimeout returns a copy of payload, a request envelope written
// by wire.AppendRequest with a "timeout_ms", with timeout in its place; or
// nil when payload is not such an envelope. AppendRequest writes "v", then
// "method", then "timeout_ms"; TestEnvelopeWithTimeout holds the two to the
// same output.
func envelopeWithTimeout(payload []byte, timeout time.Duration) []byte {
	const head = `{"v":1,"method":"`
	if !bytes.HasPrefix(payload, []byte(head)) {
		return nil
	}
	// The end of the method string: a quote that no backslash escapes.
	i := len(head)
	for ; i < len(payload) && payload[i] != '"'; i++ {
		if payload[i] == '\\' {
			i++
		}
	}
	const field = `","timeout_ms":`
	if !bytes.HasPrefix(payload[i:], []byte(field)) {
		return nil
	}
	start := i + len(field)
	end := start
	for end < len(payload) && '0' <= payload[end] && payload[end] <= '9' {
		end++
	}
	if end == start {
		return nil
	}
	out := make([]byte, 0, len(payload)+20)
	out = append(out, payload[:start]...)
	out = strconv.AppendInt(out, timeoutMillis(timeout), 10)
	return append(out, payload[end:]...)
}

// timeoutMillis is timeout as "timeout_ms" carries it, as AppendRequest
// writes it: whole milliseconds rounded up (a short deadline never becomes
// 0), at most wire.MaxTimeout.
func timeoutMillis(timeout time.Duration) int64 {
	ms := timeout / time.Millisecond
	if timeout%time.Millisecond > 0 {
		ms++
	}
	return int64(min(ms, wire.MaxTimeout/time.Millisecond))
}
