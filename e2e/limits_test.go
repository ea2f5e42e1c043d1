package e2e

import (
	"bytes"
	"context"
	"strconv"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/protoc-gen-go-lambda/protoc-gen-go-lambda/internal/testing/testpb"
	"github.com/protoc-gen-go-lambda/protoc-gen-go-lambda/runtime"
)

// The emulator cuts payloads over Lambda's 6 MB off instead of refusing
// them, so the client and the server must keep to the limit themselves.

// TestRequestOverPayloadLimit: a request whose envelope would exceed the
// Lambda limit fails on the client with RESOURCE_EXHAUSTED naming the limit,
// and nothing is sent.
func TestRequestOverPayloadLimit(t *testing.T) {
	t.Parallel()
	em := startEmulator(t, emulatorConfig{Function: testFunction})
	// 4.8 MB of protobuf is 6.4 MB of base64.
	payload := bytes.Repeat([]byte{0xab}, 4_800_000)
	for _, mode := range modes {
		t.Run(mode.name, func(t *testing.T) {
			_, err := testClient(em, mode.opts...).Echo(context.Background(), &testpb.EchoRequest{Payload: payload})
			st := status.Convert(err)
			if st.Code() != codes.ResourceExhausted || !strings.Contains(st.Message(), strconv.Itoa(runtime.MaxPayloadSize)) || !strings.Contains(st.Message(), "Lambda limit") {
				t.Errorf("got %v %q, want ResourceExhausted naming the Lambda limit of %d bytes", st.Code(), st.Message(), runtime.MaxPayloadSize)
			}
		})
	}
	if em.Requests() != 0 {
		t.Errorf("%d requests reached the emulator, want none", em.Requests())
	}
}

// TestLargeMessagesWithinLimits: a 4 MB message each way (5.3 MB of base64)
// crosses the process boundary intact.
func TestLargeMessagesWithinLimits(t *testing.T) {
	t.Parallel()
	em := startEmulator(t, emulatorConfig{Function: testFunction})
	payload := make([]byte, 4_000_000)
	for i := range payload {
		payload[i] = byte(i * 7)
	}
	resp, err := testClient(em).Echo(context.Background(), &testpb.EchoRequest{Payload: payload})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(resp.GetPayload(), payload) {
		t.Errorf("the payload came back changed: %d bytes", len(resp.GetPayload()))
	}
}

// TestResponseOverLimits: a response too large for Lambda is replaced, in
// the function, by RESOURCE_EXHAUSTED naming the limit (the function keeps
// serving); one within Lambda's limit but over the client's receive limit
// (4 MiB, grpc-go's default) fails on the client as grpc-go's does.
func TestResponseOverLimits(t *testing.T) {
	t.Parallel()
	em := startEmulator(t, emulatorConfig{Function: testFunction})
	c := testClient(em)

	_, err := c.Echo(context.Background(), &testpb.EchoRequest{ResponseSize: 5_000_000})
	st := status.Convert(err)
	if st.Code() != codes.ResourceExhausted || !strings.Contains(st.Message(), "exceeds the Lambda limit of "+strconv.Itoa(runtime.MaxPayloadSize)+" bytes") {
		t.Errorf("response over the Lambda limit: got %v %q, want ResourceExhausted naming the limit", st.Code(), st.Message())
	}

	_, err = c.Echo(context.Background(), &testpb.EchoRequest{ResponseSize: 4_300_000})
	st = status.Convert(err)
	if st.Code() != codes.ResourceExhausted || !strings.HasPrefix(st.Message(), "grpc: received message larger than max (") {
		t.Errorf("response over the receive limit: got %v %q, want ResourceExhausted from the client", st.Code(), st.Message())
	}
	echoOK(t, c, "after the large responses")
	if em.Inits() != 1 {
		t.Errorf("the function started %d times, want once", em.Inits())
	}
}
