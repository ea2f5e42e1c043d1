package bridge_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"testing"

	"github.com/protoc-gen-go-lambda/protoc-gen-go-lambda/internal/bridge"
	"github.com/protoc-gen-go-lambda/protoc-gen-go-lambda/internal/testing/testpb"
	"github.com/protoc-gen-go-lambda/protoc-gen-go-lambda/runtime/lambdatest"
)

// TestConcurrentCallsKeepTheirBytes: the bridge keeps a request in
// grpc-go's buffer until the function has it and decodes each response
// into a pooled buffer that the transport returns once written (codec.go).
// Many calls at once, of sizes on both sides of the pool's tiers and of the
// HTTP/2 frame size, unary and server-streaming, each with bytes of its own:
// every caller gets back exactly its own bytes, so no buffer is returned
// while still in use (run under -race in scripts/test too).
func TestConcurrentCallsKeepTheirBytes(t *testing.T) {
	inv := lambdatest.NewInvoker(testFunction(), lambdatest.WithMaxConcurrency(16))
	t.Cleanup(inv.Close)
	s := startBridge(t, bridge.Config{Invoker: inv, Function: "test-function"})
	client := testpb.NewTestServiceClient(s.conn)
	sizes := []int{0, 1, 255, 4096, 16 << 10, 16<<10 + 7, 40 << 10, 300 << 10}

	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for g := range 32 {
		wg.Go(func() {
			for i := range 12 {
				size := sizes[(g+i)%len(sizes)]
				payload := make([]byte, size)
				for j := range payload {
					payload[j] = byte(g*31 + i*7 + j)
				}
				msg := fmt.Sprintf("caller %d call %d", g, i)
				req := &testpb.EchoRequest{Message: msg, Payload: payload}
				if i%3 == 2 {
					req.Count = 3
					if err := checkStream(client, req); err != nil {
						errs <- err
						return
					}
					continue
				}
				resp, err := client.Echo(context.Background(), req)
				if err != nil {
					errs <- fmt.Errorf("%s (%d bytes): %v", msg, size, err)
					return
				}
				if resp.GetMessage() != msg || !bytes.Equal(resp.GetPayload(), payload) {
					errs <- fmt.Errorf("%s (%d bytes): got message %q and %d bytes that differ from the request's", msg, size, resp.GetMessage(), len(resp.GetPayload()))
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// checkStream makes a server-streaming call and checks that each message
// carries the request's payload.
func checkStream(client testpb.TestServiceClient, req *testpb.EchoRequest) error {
	stream, err := client.Stream(context.Background(), req)
	if err != nil {
		return err
	}
	n := 0
	for {
		m, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("%s: stream: %v", req.GetMessage(), err)
		}
		if want := fmt.Sprintf("%s %d", req.GetMessage(), n); m.GetMessage() != want || !bytes.Equal(m.GetPayload(), req.GetPayload()) {
			return fmt.Errorf("%s: stream message %d is %q with %d bytes that differ from the request's", req.GetMessage(), n, m.GetMessage(), len(m.GetPayload()))
		}
		n++
	}
	if n != int(req.GetCount()) {
		return fmt.Errorf("%s: %d stream messages, want %d", req.GetMessage(), n, req.GetCount())
	}
	return nil
}
