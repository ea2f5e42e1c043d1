package e2e

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	ordersv1 "github.com/protoc-gen-go-lambda/protoc-gen-go-lambda/example/gen/orders/v1"
	"github.com/protoc-gen-go-lambda/protoc-gen-go-lambda/runtime/invoke"
	"github.com/protoc-gen-go-lambda/protoc-gen-go-lambda/runtime/lambdatest"
)

// These tests are server streaming (WatchOrder) under the emulator, with
// the example's real bootstrap started both ways: lambda.Start(srv), its
// default, and lambda.Start(srv.InvokeStream), with RESPONSE_STREAM=true
// (example/function). The emulator has no response streaming
// (aws/aws-lambda-runtime-interface-emulator#175; docs/emulator.md): it
// buffers a streaming function's answer to a plain Invoke and answers 404 at
// InvokeWithResponseStream's path. So these tests read the frames of
// docs/protocol.md ("Streamed responses") from plain Invokes, check that
// unary calls still work on the streaming bootstrap, and show what the
// generated client gets from the emulator; streaming as it happens (each
// message leaving when sent, InvokeComplete errors, cancellation) is
// tested against runtime/lambdatest's doubles instead.

// responseStreamPath is InvokeWithResponseStream's URL path.
const responseStreamPath = "/2021-11-15/functions/" + functionName + "/response-streaming-invocations"

// responseStreamEnv selects the example's streaming main.
const responseStreamEnv = "RESPONSE_STREAM=true"

// exampleMains are the example function's two mains.
var exampleMains = []struct {
	name string
	env  []string
}{
	{"lambda.Start(srv)", nil},
	{"lambda.Start(srv.InvokeStream)", []string{responseStreamEnv}},
}

// Frame flags (docs/protocol.md).
const (
	frameMessage = 0x00
	frameHeader  = 0x01
	frameEnd     = 0x02
)

// frame is one frame of a streamed answer.
type frame struct {
	flags byte
	data  []byte
}

// parseFrames splits a server-streaming call's answer into its frames, by
// hand as another language would: a 5-byte prefix (flags, then the data's
// length, 4 bytes big-endian) before each frame's data. It fails the test
// unless the answer is whole frames ending with exactly one end frame.
func parseFrames(t *testing.T, b []byte) []frame {
	t.Helper()
	if len(b) > 0 && b[0] == '{' {
		t.Fatalf("the answer is an unframed envelope, not frames: %s", b)
	}
	var frames []frame
	for len(b) > 0 {
		if len(b) < 5 {
			t.Fatalf("a frame prefix cut short: % x", b)
		}
		n := binary.BigEndian.Uint32(b[1:5])
		if uint64(len(b)-5) < uint64(n) {
			t.Fatalf("frame %d (flags %#x) announces %d bytes, %d follow", len(frames), b[0], n, len(b)-5)
		}
		frames = append(frames, frame{flags: b[0], data: b[5 : 5+n]})
		b = b[5+n:]
	}
	for i, f := range frames {
		if (f.flags == frameEnd) != (i == len(frames)-1) {
			t.Fatalf("frame %d of %d has flags %#x: the end frame (0x02) must be last, and only last", i, len(frames), f.flags)
		}
	}
	if len(frames) == 0 {
		t.Fatal("no frames")
	}
	return frames
}

// endFrame is the end frame's data: a response envelope without a body.
type endFrame struct {
	V       int                 `json:"v"`
	Code    codes.Code          `json:"code"`
	Message string              `json:"message"`
	Details []byte              `json:"details"` // base64 google.rpc.Status
	Trailer map[string][]string `json:"trailer"`
	Header  map[string][]string `json:"header"`
}

// watchAnswer is a WatchOrder answer read from its frames (JSON mode).
type watchAnswer struct {
	header map[string][]string // the header frame's, if any
	events []*ordersv1.OrderEvent
	end    endFrame
}

func readWatchAnswer(t *testing.T, body []byte) watchAnswer {
	t.Helper()
	var a watchAnswer
	for i, f := range parseFrames(t, body) {
		switch f.flags {
		case frameHeader:
			if i != 0 {
				t.Errorf("a header frame at %d, after other frames", i)
			}
			var h struct {
				Header map[string][]string `json:"header"`
			}
			if err := json.Unmarshal(f.data, &h); err != nil {
				t.Fatalf("header frame %q: %v", f.data, err)
			}
			a.header = h.Header
		case frameMessage:
			ev := &ordersv1.OrderEvent{}
			if err := protojson.Unmarshal(f.data, ev); err != nil {
				t.Fatalf("message frame %q: %v", f.data, err)
			}
			a.events = append(a.events, ev)
		case frameEnd:
			if err := json.Unmarshal(f.data, &a.end); err != nil {
				t.Fatalf("end frame %q: %v", f.data, err)
			}
			if a.end.V != 1 {
				t.Errorf("end frame %s: v %d, want 1 (stream framing version 1)", f.data, a.end.V)
			}
		default:
			t.Fatalf("frame %d has unknown flags %#x", i, f.flags)
		}
	}
	return a
}

// rawAnswer is the emulator's HTTP answer to a raw request.
type rawAnswer struct {
	status int
	header http.Header
	body   []byte
	// chunked says the answer came with Transfer-Encoding: chunked, without
	// a Content-Length: as it was produced rather than all at once.
	chunked bool
}

// postRaw posts payload to path on the emulator and returns its whole
// answer.
func postRaw(t *testing.T, em *emulator, path string, payload string) rawAnswer {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, em.Endpoint+path, strings.NewReader(payload))
	if err != nil {
		t.Fatal(err)
	}
	// The real transport, not slotTransport (which reads the body before
	// answering): it shows how the answer was sent.
	var resp *http.Response
	var body []byte
	em.Exclusive(func() {
		resp, err = em.tr.base.RoundTrip(req)
		if err == nil {
			body, err = io.ReadAll(resp.Body)
			resp.Body.Close()
		}
	})
	if err != nil {
		t.Fatalf("POST %s: %v", path, err)
	}
	return rawAnswer{status: resp.StatusCode, header: resp.Header, body: body,
		chunked: len(resp.TransferEncoding) > 0 && resp.TransferEncoding[0] == "chunked"}
}

// watchPayload is WatchOrder's request envelope, JSON mode.
func watchPayload(id string) string {
	return `{"v":1,"method":"` + ordersv1.OrderServiceLambda_WatchOrder_FullMethodName + `","json":{"id":"` + id + `"}}`
}

// TestStreamingPlainInvoke: a plain Invoke of WatchOrder, through the
// emulator's Invoke API, gets the frames of docs/protocol.md from either
// main: with lambda.Start(srv.InvokeStream) aws-lambda-go posts the answer
// to the runtime API as a chunked streamed response, and the emulator
// buffers it and answers it whole (a Content-Length, no chunks). The
// order's status changes come in order, and the stream ends OK; an unknown
// order ends it with NOT_FOUND and its ResourceInfo before any message.
// Unary calls work on the streaming bootstrap, through the SDK client.
//
// The content type differs by mode (docs/emulator.md): classic mode drops
// the function's and lets Go's HTTP server sniff one (frames start with a
// control byte: application/octet-stream; an envelope is text/plain), managed
// mode passes the function's on (InvokeStream's application/octet-stream for
// frames and application/json for an envelope; aws-lambda-go's
// application/octet-stream for whatever lambda.Start(srv) answers), with
// Lambda-Runtime-Function-Response-Mode "buffered" (aws-lambda-go sends no
// response mode header).
func TestStreamingPlainInvoke(t *testing.T) {
	t.Parallel()
	for _, m := range exampleMains {
		t.Run(m.name, func(t *testing.T) {
			t.Parallel()
			em := startEmulator(t, emulatorConfig{Function: exampleFunction, Env: m.env})
			streaming := len(m.env) > 0
			orders := ordersv1.NewOrderServiceLambdaClient(em.conn())

			got := postRaw(t, em, invokePath, watchPayload("o-1001"))
			if got.status != http.StatusOK || got.chunked || got.header.Get("Content-Length") == "" {
				t.Errorf("WatchOrder: HTTP %d, Transfer-Encoding %v, Content-Length %q; want 200 with a Content-Length (the whole answer at once)",
					got.status, got.header.Values("Transfer-Encoding"), got.header.Get("Content-Length"))
			}
			// Sniffed in classic mode; the function's in managed mode
			// (aws-lambda-go's for a []byte answer, the runtime's for
			// frames).
			wantType := "application/octet-stream"
			if ct := got.header.Get("Content-Type"); ct != wantType {
				t.Errorf("WatchOrder: Content-Type %q, want %q", ct, wantType)
			}
			checkResponseMode(t, em, got)
			a := readWatchAnswer(t, got.body)
			if a.end.Code != codes.OK || len(a.events) != 1 || a.events[0].GetStatus() != ordersv1.OrderStatus_ORDER_STATUS_PENDING ||
				a.events[0].GetOrderId() != "o-1001" || a.events[0].GetTime().AsTime().Format("2006-01-02T15:04") != "2026-11-01T09:30" {
				t.Errorf("WatchOrder o-1001: events %v, end %+v; want one event, PENDING at 2026-11-01T09:30, then OK", a.events, a.end)
			}

			// Unary calls, on the same function, through the SDK client.
			var header, trailer metadata.MD
			who, err := orders.WhoAmI(metadata.AppendToOutgoingContext(context.Background(), "authorization", "Bearer demo-token"),
				&ordersv1.WhoAmIRequest{}, grpc.Header(&header), grpc.Trailer(&trailer))
			if err != nil || who.GetSubject() != "user:ada" || len(header.Get("x-request-id")) != 1 || len(trailer.Get("x-elapsed")) != 1 {
				t.Errorf("WhoAmI: %v, %v, header %v, trailer %v", who, err, header, trailer)
			}
			shipped, err := orders.ShipOrder(context.Background(), &ordersv1.ShipOrderRequest{Id: "o-1001", Steps: 1})
			if err != nil || shipped.GetStatus() != ordersv1.OrderStatus_ORDER_STATUS_SHIPPED {
				t.Fatalf("ShipOrder: %v, %v", shipped, err)
			}
			_, err = orders.GetOrder(context.Background(), &ordersv1.GetOrderRequest{Id: "o-404"})
			if st := status.Convert(err); st.Code() != codes.NotFound || len(st.Details()) != 1 {
				t.Errorf("GetOrder o-404: %v, want NotFound with a ResourceInfo", err)
			}

			// The unary answer's content type, raw.
			unary := postRaw(t, em, invokePath, `{"v":1,"method":"`+ordersv1.OrderServiceLambda_GetOrder_FullMethodName+`","json":{"id":"o-1001"}}`)
			wantType = "text/plain; charset=utf-8" // sniffed in classic mode
			switch {
			case em.cfg.Mode == managed && streaming:
				wantType = "application/json" // InvokeStream's for an envelope
			case em.cfg.Mode == managed:
				wantType = "application/octet-stream" // aws-lambda-go's for a []byte answer
			}
			if ct := unary.header.Get("Content-Type"); unary.status != http.StatusOK || ct != wantType || !bytes.HasPrefix(unary.body, []byte(`{"v":1,"code":0,`)) {
				t.Errorf("GetOrder: HTTP %d, Content-Type %q, %s; want 200, %q and an OK envelope", unary.status, ct, unary.body, wantType)
			}

			// Two status changes now.
			got = postRaw(t, em, invokePath, watchPayload("o-1001"))
			a = readWatchAnswer(t, got.body)
			if a.end.Code != codes.OK || len(a.events) != 2 || a.events[0].GetStatus() != ordersv1.OrderStatus_ORDER_STATUS_PENDING ||
				a.events[1].GetStatus() != ordersv1.OrderStatus_ORDER_STATUS_SHIPPED {
				t.Errorf("WatchOrder after ShipOrder: events %v, end %+v; want PENDING, SHIPPED, then OK", a.events, a.end)
			}

			// An unknown order: the end frame alone.
			got = postRaw(t, em, invokePath, watchPayload("o-404"))
			frames := parseFrames(t, got.body)
			a = readWatchAnswer(t, got.body)
			if len(frames) != 1 || a.end.Code != codes.NotFound || a.end.Message != `order "o-404" not found` {
				t.Errorf("WatchOrder o-404: %d frame(s), end %+v; want the end frame alone, NOT_FOUND", len(frames), a.end)
			}
			if !hasResourceInfo(t, a.end.Details, "o-404") {
				t.Errorf("WatchOrder o-404: details %x, want a google.rpc.Status with the order's ResourceInfo", a.end.Details)
			}

			// A function URL event, Connect unary: the streaming main answers
			// it as Lambda expects from a function behind a URL in
			// RESPONSE_STREAM mode (a JSON prelude, eight zero bytes, the
			// body), which the emulator, having no function URL, returns as
			// it is; the buffered main answers payload format 2.0's response
			// object.
			url := postRaw(t, em, invokePath, functionURLEvent)
			prelude, body, isStreamed := bytes.Cut(url.body, make([]byte, 8))
			if streaming {
				var p struct {
					StatusCode int               `json:"statusCode"`
					Headers    map[string]string `json:"headers"`
				}
				if !isStreamed || json.Unmarshal(prelude, &p) != nil || p.StatusCode != http.StatusOK ||
					p.Headers["content-type"] != "application/json" || !bytes.HasPrefix(body, []byte(`{"id":"o-1001"`)) {
					t.Errorf("function URL event: HTTP %d, %q; want a JSON prelude (200, application/json), eight zero bytes, then the order", url.status, url.body)
				}
			} else {
				var r struct {
					StatusCode int    `json:"statusCode"`
					Body       string `json:"body"`
				}
				if isStreamed || json.Unmarshal(url.body, &r) != nil || r.StatusCode != http.StatusOK || !strings.HasPrefix(r.Body, `{"id":"o-1001"`) {
					t.Errorf("function URL event: HTTP %d, %q; want a payload format 2.0 response, 200 with the order", url.status, url.body)
				}
			}

			if !strings.Contains(em.Log(), ordersv1.OrderServiceLambda_WatchOrder_FullMethodName+" ") ||
				!strings.Contains(em.Log(), " sent=2 err=<nil>") {
				t.Errorf("the function's log has no stream interceptor line for WatchOrder (sent=2)")
			}
		})
	}
}

// functionURLEvent is a function URL's event (payload format 2.0) for a
// Connect unary call of GetOrder, JSON.
const functionURLEvent = `{"version":"2.0","rawPath":"/example.orders.v1.OrderService/GetOrder","rawQueryString":"",` +
	`"headers":{"content-type":"application/json","host":"abc.lambda-url.us-east-1.on.aws"},` +
	`"requestContext":{"http":{"method":"POST","path":"/example.orders.v1.OrderService/GetOrder"}},` +
	`"body":"{\"id\":\"o-1001\"}","isBase64Encoded":false}`

// checkResponseMode checks the managed emulator's
// Lambda-Runtime-Function-Response-Mode answer header: "buffered", since
// aws-lambda-go sends no response mode of its own; classic mode has none.
func checkResponseMode(t *testing.T, em *emulator, got rawAnswer) {
	t.Helper()
	want := ""
	if em.cfg.Mode == managed {
		want = "buffered"
	}
	if mode := got.header.Get("Lambda-Runtime-Function-Response-Mode"); mode != want {
		t.Errorf("Lambda-Runtime-Function-Response-Mode %q, want %q", mode, want)
	}
}

// hasResourceInfo reports whether details, a google.rpc.Status, has a
// ResourceInfo for the order id.
func hasResourceInfo(t *testing.T, details []byte, id string) bool {
	t.Helper()
	sp := &spb.Status{}
	if err := proto.Unmarshal(details, sp); err != nil {
		t.Errorf("details: %v", err)
		return false
	}
	for _, d := range status.FromProto(sp).Details() {
		if ri, ok := d.(*errdetails.ResourceInfo); ok && ri.GetResourceName() == id {
			return true
		}
	}
	return false
}

// TestStreamingNoResponseStreamingEndpoint: the emulator has no
// InvokeWithResponseStream (aws/aws-lambda-runtime-interface-emulator#175):
// a POST to its path is Go's 404, "404 page not found" as text/plain, in
// either mode, and the function is not invoked.
func TestStreamingNoResponseStreamingEndpoint(t *testing.T) {
	t.Parallel()
	em := startEmulator(t, emulatorConfig{Function: exampleFunction, Env: []string{responseStreamEnv}})
	got := postRaw(t, em, responseStreamPath, watchPayload("o-1001"))
	if got.status != http.StatusNotFound || string(got.body) != "404 page not found\n" ||
		got.header.Get("Content-Type") != "text/plain; charset=utf-8" {
		t.Errorf("POST %s: HTTP %d, Content-Type %q, %q; want 404, text/plain, \"404 page not found\\n\"",
			responseStreamPath, got.status, got.header.Get("Content-Type"), got.body)
	}
	if started, _ := em.Invocations(); started != 0 {
		t.Errorf("the function was invoked %d time(s)", started)
	}
}

// TestStreamingGeneratedClient: the generated client's WatchOrder on an
// invoke.ClientConn.
//
//   - Over the real SDK client to the emulator, it calls
//     InvokeWithResponseStream, which the emulator does not serve: the call
//     fails with the client's mapping of a 404 (UNIMPLEMENTED, as for a
//     function name the emulator does not know), naming the status, and the
//     function is not invoked.
//   - Over lambdatest.NewInvoker(lambdatest.EmulatorHandler(endpoint)),
//     whose InvokeWithResponseStream runs the invocation through the
//     emulator's plain Invoke and answers it, whole, as Lambda's event
//     stream (one PayloadChunk, then InvokeComplete), the call gets the
//     order's status changes and then io.EOF, with header and trailer: the
//     real bootstrap's streamed answer read by the real client, buffered.
//     Binary and JSON mode.
func TestStreamingGeneratedClient(t *testing.T) {
	t.Parallel()
	em := startEmulator(t, emulatorConfig{Function: exampleFunction, Env: []string{responseStreamEnv}})

	t.Run("SDK client to the emulator", func(t *testing.T) {
		orders := ordersv1.NewOrderServiceLambdaClient(em.conn())
		before := em.Requests()
		stream, err := orders.WatchOrder(context.Background(), &ordersv1.WatchOrderRequest{Id: "o-1001"})
		if err == nil {
			_, err = stream.Recv()
		}
		st := status.Convert(err)
		if st.Code() != codes.Unimplemented || !strings.Contains(st.Message(), "InvokeWithResponseStream") || !strings.Contains(st.Message(), "StatusCode: 404") {
			t.Errorf("WatchOrder through the emulator's (missing) InvokeWithResponseStream: %v; want Unimplemented naming the 404", err)
		}
		t.Logf("WatchOrder through the SDK client: %v", err)
		if n := em.Requests() - before; n != 1 {
			t.Errorf("%d requests reached the emulator, want 1 (no retries)", n)
		}
		if started, _ := em.Invocations(); started != 0 {
			t.Errorf("the function was invoked %d time(s)", started)
		}
	})

	inv := lambdatest.NewInvoker(lambdatest.EmulatorHandler(em.Endpoint))
	t.Cleanup(inv.Close)
	if _, ok := any(inv).(invoke.StreamInvoker); !ok {
		t.Skip("lambdatest.Invoker does not implement invoke.StreamInvoker")
	}
	for _, mode := range []struct {
		name string
		opts []invoke.Option
	}{
		{"binary", nil},
		{"json", []invoke.Option{invoke.WithJSON()}},
	} {
		t.Run("lambdatest.EmulatorHandler/"+mode.name, func(t *testing.T) {
			orders := ordersv1.NewOrderServiceLambdaClient(invoke.NewClientConn(inv, functionName, mode.opts...))
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			stream, err := orders.WatchOrder(ctx, &ordersv1.WatchOrderRequest{Id: "o-1001"})
			if err != nil {
				t.Fatalf("WatchOrder: %v", err)
			}
			if _, err := stream.Header(); err != nil {
				t.Errorf("Header: %v", err)
			}
			var got []ordersv1.OrderStatus
			for {
				ev, err := stream.Recv()
				if errors.Is(err, io.EOF) {
					break
				}
				if err != nil {
					t.Fatalf("Recv after %d event(s): %v", len(got), err)
				}
				if ev.GetOrderId() != "o-1001" {
					t.Errorf("event %v: not o-1001's", ev)
				}
				got = append(got, ev.GetStatus())
			}
			if len(got) != 1 || got[0] != ordersv1.OrderStatus_ORDER_STATUS_PENDING {
				t.Errorf("statuses %v, want [PENDING]", got)
			}
			if tr := stream.Trailer(); len(tr) != 0 {
				t.Errorf("Trailer %v, want none", tr)
			}

			stream, err = orders.WatchOrder(ctx, &ordersv1.WatchOrderRequest{Id: "o-404"})
			if err == nil {
				_, err = stream.Recv()
			}
			if st := status.Convert(err); st.Code() != codes.NotFound || len(st.Details()) != 1 {
				t.Errorf("WatchOrder o-404: %v, want NotFound with a ResourceInfo", err)
			}
		})
	}
}
