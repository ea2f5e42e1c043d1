package e2e

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"

	ordersv1 "github.com/protoc-gen-go-lambda/protoc-gen-go-lambda/example/gen/orders/v1"
	"github.com/protoc-gen-go-lambda/protoc-gen-go-lambda/example/service"
	"github.com/protoc-gen-go-lambda/protoc-gen-go-lambda/runtime/lambdatest"
)

// TestHTTPFrontEndsSideBySide puts the example function's real bootstrap,
// under the emulator, behind lambdatest's stand-in for each front end
// (lambdatest.EmulatorHandler: each request's event goes to the emulator's
// Invoke API), and calls it with connect-go's client in the Connect protocol
// (POST, and GET for GetOrder, which is NO_SIDE_EFFECTS) and in gRPC-Web,
// each with protobuf and JSON. Each call's outcome (response, code,
// message, details, header and trailer metadata) must be the outcome of the
// same call made by connect-go speaking gRPC over HTTP/2 to a grpc-go
// server running the same service (example/service) in this process. The
// parity suite (parity/http_test.go) compares many more cases in-process;
// this is the same comparison with the real bootstrap, aws-lambda-go and
// the emulator in between.
func TestHTTPFrontEndsSideBySide(t *testing.T) {
	t.Parallel()
	em := startEmulator(t, emulatorConfig{Function: exampleFunction})
	grpcURL := startGRPCExample(t)

	want := map[string]httpOutcome{}
	h2c := &http.Transport{Protocols: new(http.Protocols)}
	h2c.Protocols.SetUnencryptedHTTP2(true)
	t.Cleanup(h2c.CloseIdleConnections)
	grpcClient := &http.Client{Transport: h2c}
	for _, c := range exampleHTTPCalls {
		o := c.call(t, grpcClient, grpcURL, connect.WithGRPC())
		o.normalize(t, "gRPC")
		if err := c.check(o); err != nil {
			t.Fatalf("%s on grpc-go: %v (%s)", c.name, err, o)
		}
		want[c.name] = o
	}

	frontEnds := []lambdatest.FrontEnd{lambdatest.FunctionURL, lambdatest.HTTPAPI, lambdatest.RESTAPI, lambdatest.ALB, lambdatest.ALBMultiValue}
	protocols := []struct {
		name  string
		proto string // for normalize
		opts  []connect.ClientOption
	}{
		{"Connect proto", "Connect", nil},
		{"Connect JSON", "Connect", []connect.ClientOption{connect.WithProtoJSON()}},
		{"Connect GET proto", "Connect", []connect.ClientOption{connect.WithHTTPGet()}},
		{"Connect GET JSON", "Connect", []connect.ClientOption{connect.WithHTTPGet(), connect.WithProtoJSON()}},
		{"gRPC-Web proto", "gRPC-Web", []connect.ClientOption{connect.WithGRPCWeb()}},
		{"gRPC-Web JSON", "gRPC-Web", []connect.ClientOption{connect.WithGRPCWeb(), connect.WithProtoJSON()}},
	}
	calls := 0
	for _, fe := range frontEnds {
		t.Run(fe.String(), func(t *testing.T) {
			srv := httptest.NewServer(lambdatest.NewHTTPHandler(lambdatest.EmulatorHandler(em.Endpoint), fe))
			defer srv.Close()
			base := srv.URL
			if fe == lambdatest.RESTAPI {
				base += "/prod" // lambdatest's default stage
			}
			// Records each request's method and content type, to check that
			// the call went out in the protocol it names.
			rec := &recordingTransport{next: &http.Transport{}}
			defer rec.next.(*http.Transport).CloseIdleConnections()
			client := &http.Client{Transport: rec}
			for _, p := range protocols {
				for _, c := range exampleHTTPCalls {
					get := strings.Contains(p.name, "GET")
					if get && !c.get {
						continue
					}
					t.Run(p.name+"/"+c.name, func(t *testing.T) {
						calls++
						o := c.call(t, client, base, p.opts...)
						o.normalize(t, p.proto)
						if d := diffHTTP(want[c.name], o); d != "" {
							t.Errorf("differs from connect-go speaking gRPC to grpc-go:\n%s", d)
						}
						wantMethod, wantType := http.MethodPost, map[string]string{
							"Connect proto": "application/proto", "Connect JSON": "application/json",
							"gRPC-Web proto": "application/grpc-web+proto", "gRPC-Web JSON": "application/grpc-web+json",
						}[p.name]
						if get {
							wantMethod, wantType = http.MethodGet, ""
						}
						if got := rec.last(); got != wantMethod+" "+wantType {
							t.Errorf("the request was %q, want %q", got, wantMethod+" "+wantType)
						}
					})
				}
			}
		})
	}
	if want := len(frontEnds) * (4*len(exampleHTTPCalls) + 2*countGet()); calls != want {
		t.Errorf("%d calls made, want %d", calls, want)
	}
}

func countGet() int {
	n := 0
	for _, c := range exampleHTTPCalls {
		if c.get {
			n++
		}
	}
	return n
}

// startGRPCExample serves example/service with grpc-go on a loopback port
// and returns its URL.
func startGRPCExample(t *testing.T) string {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	gs := grpc.NewServer()
	ordersv1.RegisterOrderServiceServer(gs, service.New())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = gs.Serve(lis)
	}()
	t.Cleanup(func() {
		gs.Stop()
		<-done
	})
	return "http://" + lis.Addr().String()
}

// exampleHTTPCall is one call of the example's OrderService.
type exampleHTTPCall struct {
	name  string
	get   bool // GetOrder, which Connect may call with GET
	call  func(t *testing.T, client *http.Client, base string, opts ...connect.ClientOption) httpOutcome
	check func(o httpOutcome) error // what the baseline must show, so that the comparison compares something
}

// orderURL is a method's URL under base.
func orderURL(base, method string) string {
	return base + "/" + ordersv1.OrderService_ServiceDesc.ServiceName + "/" + method
}

var exampleHTTPCalls = []exampleHTTPCall{
	{
		name: "GetOrder found, with metadata and a deadline",
		get:  true,
		call: func(t *testing.T, client *http.Client, base string, opts ...connect.ClientOption) httpOutcome {
			c := connect.NewClient[ordersv1.GetOrderRequest, ordersv1.Order](client, orderURL(base, "GetOrder"),
				append([]connect.ClientOption{connect.WithIdempotency(connect.IdempotencyNoSideEffects)}, opts...)...)
			req := connect.NewRequest(&ordersv1.GetOrderRequest{Id: "o-1001"})
			req.Header().Set("x-trace", "abc")
			req.Header().Set("x-data-bin", connect.EncodeBinaryHeader([]byte{0, 1, 2, 0xff}))
			return callUnary(t, c, req)
		},
		check: func(o httpOutcome) error {
			if o.status.GetCode() != 0 || o.resp.(*ordersv1.Order).GetId() != "o-1001" {
				return errors.New("want order o-1001")
			}
			return nil
		},
	},
	{
		name: "GetOrder NOT_FOUND with ResourceInfo",
		get:  true,
		call: func(t *testing.T, client *http.Client, base string, opts ...connect.ClientOption) httpOutcome {
			c := connect.NewClient[ordersv1.GetOrderRequest, ordersv1.Order](client, orderURL(base, "GetOrder"),
				append([]connect.ClientOption{connect.WithIdempotency(connect.IdempotencyNoSideEffects)}, opts...)...)
			return callUnary(t, c, connect.NewRequest(&ordersv1.GetOrderRequest{Id: "o-9"}))
		},
		check: func(o httpOutcome) error {
			if codes.Code(o.status.GetCode()) != codes.NotFound || len(o.status.GetDetails()) != 1 ||
				o.status.GetDetails()[0].GetTypeUrl() != "type.googleapis.com/google.rpc.ResourceInfo" {
				return errors.New("want NOT_FOUND with one ResourceInfo")
			}
			return nil
		},
	},
	{
		name: "CreateOrder INVALID_ARGUMENT with BadRequest",
		call: func(t *testing.T, client *http.Client, base string, opts ...connect.ClientOption) httpOutcome {
			c := connect.NewClient[ordersv1.CreateOrderRequest, ordersv1.Order](client, orderURL(base, "CreateOrder"), opts...)
			return callUnary(t, c, connect.NewRequest(&ordersv1.CreateOrderRequest{Items: []*ordersv1.LineItem{{Sku: "X", Quantity: 0}}}))
		},
		check: func(o httpOutcome) error {
			if codes.Code(o.status.GetCode()) != codes.InvalidArgument || len(o.status.GetDetails()) != 1 {
				return errors.New("want INVALID_ARGUMENT with one detail")
			}
			return nil
		},
	},
	{
		name: "WhoAmI with a token: header and trailer metadata",
		call: func(t *testing.T, client *http.Client, base string, opts ...connect.ClientOption) httpOutcome {
			c := connect.NewClient[ordersv1.WhoAmIRequest, ordersv1.WhoAmIResponse](client, orderURL(base, "WhoAmI"), opts...)
			req := connect.NewRequest(&ordersv1.WhoAmIRequest{})
			req.Header().Set("authorization", "Bearer admin-token")
			return callUnary(t, c, req)
		},
		check: func(o httpOutcome) error {
			if o.status.GetCode() != 0 || len(o.header.Values("x-request-id")) != 1 || len(o.trailer.Values("x-elapsed")) != 1 {
				return errors.New("want OK with x-request-id and x-elapsed")
			}
			return nil
		},
	},
	{
		name: "WhoAmI without a token: UNAUTHENTICATED with header and trailer metadata",
		call: func(t *testing.T, client *http.Client, base string, opts ...connect.ClientOption) httpOutcome {
			c := connect.NewClient[ordersv1.WhoAmIRequest, ordersv1.WhoAmIResponse](client, orderURL(base, "WhoAmI"), opts...)
			return callUnary(t, c, connect.NewRequest(&ordersv1.WhoAmIRequest{}))
		},
		check: func(o httpOutcome) error {
			if codes.Code(o.status.GetCode()) != codes.Unauthenticated || len(o.header.Values("x-request-id")) != 1 || len(o.trailer.Values("x-elapsed")) != 1 {
				return errors.New("want UNAUTHENTICATED with x-request-id and x-elapsed")
			}
			return nil
		},
	},
}

// httpOutcome is what a connect-go caller observes.
type httpOutcome struct {
	resp    proto.Message
	status  *spb.Status // code 0: success
	header  http.Header
	trailer http.Header
}

func (o httpOutcome) String() string {
	return fmt.Sprintf("status %v, response %v, header %v, trailer %v", o.status, o.resp, o.header, o.trailer)
}

// callUnary makes the call with a 10-second deadline (sent as
// Connect-Timeout-Ms or grpc-timeout) and records the outcome: header and
// trailer from connect-go's CallInfo, as the wire split them, on success
// and on error; the error's code, message and details.
func callUnary[Req, Res any](t *testing.T, c *connect.Client[Req, Res], req *connect.Request[Req]) httpOutcome {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ctx, info := connect.NewClientContext(ctx)
	resp, err := c.CallUnary(ctx, req)
	o := httpOutcome{status: &spb.Status{}, header: info.ResponseHeader().Clone(), trailer: info.ResponseTrailer().Clone()}
	if err != nil {
		var ce *connect.Error
		if !errors.As(err, &ce) {
			t.Fatalf("not a connect error: %v", err)
		}
		o.status = &spb.Status{Code: int32(ce.Code()), Message: ce.Message()}
		for _, d := range ce.Details() {
			o.status.Details = append(o.status.Details, &anypb.Any{TypeUrl: "type.googleapis.com/" + d.Type(), Value: d.Bytes()})
		}
		return o
	}
	o.resp = any(resp.Msg).(proto.Message)
	return o
}

// protocolHeaders are the headers the protocols, the HTTP servers and the
// front ends add by themselves (docs/compatibility.md lists them, with
// their values, for the parity suite): removed before comparing.
var protocolHeaders = []string{
	"Content-Type", "Content-Length", "Content-Encoding", "Accept-Encoding", "Date", "Vary",
	"Grpc-Status", "Grpc-Message", "Grpc-Status-Details-Bin", "Grpc-Accept-Encoding", "Grpc-Encoding",
}

// varying are the example's metadata values that differ from call to call
// (WhoAmI's request ID and elapsed time): their digits are not compared.
var varying = map[string]bool{"X-Request-Id": true, "X-Elapsed": true}

var digits = regexp.MustCompile(`[0-9]+`)

// normalize makes an outcome comparable: a trailers-only answer's header
// read as its protocol defines it (connect-go shows those headers as both
// header and trailer; it checks that the trailer has them), the protocols'
// own headers removed, varying digits replaced.
func (o *httpOutcome) normalize(t *testing.T, protocol string) {
	t.Helper()
	if protocol != "Connect" && o.header.Get("Grpc-Status") != "" {
		for k, vs := range o.header {
			if k != "Content-Type" && !slices.Equal(o.trailer[k], vs) {
				t.Errorf("%s: trailers-only answer whose trailer %v lacks its header %s: %q", protocol, o.trailer, k, vs)
			}
		}
		o.header = http.Header{}
	}
	for _, h := range []http.Header{o.header, o.trailer} {
		for _, k := range protocolHeaders {
			delete(h, k)
		}
		for k, vs := range h {
			if varying[k] {
				for i := range vs {
					vs[i] = digits.ReplaceAllString(vs[i], "#")
				}
			}
		}
	}
}

// diffHTTP says what differs between two normalized outcomes.
func diffHTTP(want, got httpOutcome) string {
	var d []string
	if !proto.Equal(want.status, got.status) {
		d = append(d, fmt.Sprintf("status: want %v, got %v", want.status, got.status))
	}
	if !proto.Equal(want.resp, got.resp) {
		d = append(d, fmt.Sprintf("response: want %v, got %v", want.resp, got.resp))
	}
	if !headersEqual(want.header, got.header) {
		d = append(d, fmt.Sprintf("header: want %v, got %v", want.header, got.header))
	}
	if !headersEqual(want.trailer, got.trailer) {
		d = append(d, fmt.Sprintf("trailer: want %v, got %v", want.trailer, got.trailer))
	}
	return strings.Join(d, "\n")
}

func headersEqual(a, b http.Header) bool {
	if len(a) != len(b) {
		return false
	}
	for k, va := range a {
		if vb, ok := b[k]; !ok || !slices.Equal(va, vb) {
			return false
		}
	}
	return true
}

// recordingTransport remembers the method and content type of the last
// request it sent.
type recordingTransport struct {
	next http.RoundTripper
	req  string
}

func (r *recordingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	r.req = req.Method + " " + req.Header.Get("Content-Type")
	return r.next.RoundTrip(req)
}

func (r *recordingTransport) last() string { return r.req }
