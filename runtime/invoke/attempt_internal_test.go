package invoke

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"math"
	"testing"
	"time"

	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"
	"google.golang.org/grpc/metadata"

	"github.com/protoc-gen-go-lambda/protoc-gen-go-lambda/runtime/internal/wire"
)

// TestEnvelopeWithTimeout holds the retry's rewrite of "timeout_ms" to
// wire.AppendRequest: the rewritten envelope is byte for byte the one
// AppendRequest writes with the new timeout, for methods, metadata and
// bodies that need escaping, in both modes, and for timeouts at the edges of
// the rounding and the clamp.
func TestEnvelopeWithTimeout(t *testing.T) {
	timeouts := []time.Duration{1, time.Millisecond - 1, time.Millisecond, time.Millisecond + 1, 1500 * time.Millisecond,
		time.Hour, wire.MaxTimeout - time.Millisecond - 1, wire.MaxTimeout - time.Millisecond, wire.MaxTimeout - time.Millisecond + 1,
		wire.MaxTimeout - 1, wire.MaxTimeout, wire.MaxTimeout + 1, math.MaxInt64}
	methods := []string{"/pkg.Svc/Method", `/p"k\g.Svc/M"`, `/\"/\\"`, "/ünï/cødé\u2028", `/pkg.Svc/","timeout_ms":1,"x":"`}
	mds := []metadata.MD{nil, metadata.Pairs("k", `v","timeout_ms":5`, "b-bin", "\x00\"\\"), metadata.Pairs("timeout_ms", "7")}
	bodies := [][]byte{nil, []byte("\x00\x01binary\"}"), []byte(`{"timeout_ms":"3"}`)}
	n := 0
	for _, method := range methods {
		for _, md := range mds {
			for _, body := range bodies {
				for _, jsonMode := range []bool{false, true} {
					if jsonMode && len(body) > 0 && body[0] != '{' {
						continue
					}
					if jsonMode && body == nil {
						body = []byte("{}")
					}
					for _, from := range timeouts {
						for _, to := range timeouts {
							payload := wire.AppendRequest(nil, method, sendable(from), md, body, jsonMode)
							got := envelopeWithTimeout(payload, to)
							want := wire.AppendRequest(nil, method, sendable(to), md, body, jsonMode)
							if !bytes.Equal(got, want) {
								t.Fatalf("timeout %v → %v:\n got %s\nwant %s", from, to, got, want)
							}
							n++
						}
					}
				}
			}
		}
	}
	t.Logf("%d envelopes rewritten", n)
	for _, payload := range []string{``, `{}`, `{"v":1,"method":"/a/b","body":""}`, `{"v":1,"method":"/a/b","timeout_ms":"5"}`, `{"v":1,"method":"/a/b`, `{"v":2,"method":"/a/b","timeout_ms":5}`} {
		if got := envelopeWithTimeout([]byte(payload), time.Second); got != nil {
			t.Errorf("%s: rewritten as %s, want left alone", payload, got)
		}
	}
}

// sendable is a timeout as ClientConn.invoke hands it to wire.AppendRequest,
// whose rounding overflows within 1 ms below wire.MaxTimeout.
func sendable(d time.Duration) time.Duration {
	if d > wire.MaxTimeout-time.Millisecond {
		return wire.MaxTimeout
	}
	return d
}

// TestAttemptPastDeadline: an attempt whose deadline passed during the
// backoff is not sent; it fails with the context's error, as an SDK
// cancellation, which no retryer retries.
func TestAttemptPastDeadline(t *testing.T) {
	ctx, cancel := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
	defer cancel()
	ctx = context.WithValue(ctx, callStateKey{}, &callState{payload: wire.AppendRequest(nil, "/a/b", time.Second, nil, nil, false), attempts: 1})
	req := smithyhttp.NewStackRequest().(*smithyhttp.Request)
	req, err := req.SetStream(bytes.NewReader([]byte("{}")))
	if err != nil {
		t.Fatal(err)
	}
	sent := false
	next := middleware.FinalizeHandlerFunc(func(context.Context, middleware.FinalizeInput) (middleware.FinalizeOutput, middleware.Metadata, error) {
		sent = true
		return middleware.FinalizeOutput{}, middleware.Metadata{}, nil
	})
	_, _, err = handleAttempt(ctx, middleware.FinalizeInput{Request: req}, next)
	var canceled *smithy.CanceledError
	if sent || !errors.As(err, &canceled) || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("sent %v, error %v; want nothing sent and a canceled error for the deadline", sent, err)
	}
}

// TestAttemptBodyHasNoWriteTo: whatever the attempt, the request body the
// SDK hands net/http has no WriteTo (see attempt.go), it holds the whole
// envelope, and the payload hash the signature will cover is that body's.
func TestAttemptBodyHasNoWriteTo(t *testing.T) {
	payload := wire.AppendRequest(nil, "/a/b", time.Minute, nil, []byte("body"), false)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	ctx = context.WithValue(ctx, callStateKey{}, &callState{payload: payload})
	for attempt := 1; attempt <= 2; attempt++ {
		req := smithyhttp.NewStackRequest().(*smithyhttp.Request)
		req, err := req.SetStream(bytes.NewReader(payload))
		if err != nil {
			t.Fatal(err)
		}
		next := middleware.FinalizeHandlerFunc(func(ctx context.Context, in middleware.FinalizeInput) (middleware.FinalizeOutput, middleware.Metadata, error) {
			r := in.Request.(*smithyhttp.Request)
			built := r.Build(ctx)
			if _, ok := built.Body.(io.WriterTo); ok {
				t.Errorf("attempt %d: the body has WriteTo", attempt)
			}
			b, err := io.ReadAll(built.Body)
			var env wire.Request
			if err != nil || int64(len(b)) != built.ContentLength || wire.ParseRequest(b, &env) != nil || env.Method != "/a/b" {
				t.Errorf("attempt %d: body %q (%v), Content-Length %d", attempt, b, err, built.ContentLength)
			}
			if sum := sha256.Sum256(b); v4.GetPayloadHash(ctx) != hex.EncodeToString(sum[:]) {
				t.Errorf("attempt %d: payload hash %q for body %q", attempt, v4.GetPayloadHash(ctx), b)
			}
			return middleware.FinalizeOutput{}, middleware.Metadata{}, nil
		})
		if _, _, err := handleAttempt(ctx, middleware.FinalizeInput{Request: req}, next); err != nil {
			t.Fatal(err)
		}
	}
}
