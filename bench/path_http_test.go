package bench

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	benchv1 "github.com/protoc-gen-go-lambda/protoc-gen-go-lambda/bench/gen/bench/v1"
	"github.com/protoc-gen-go-lambda/protoc-gen-go-lambda/bench/gen/bench/v1/benchv1connect"
	lambdaruntime "github.com/protoc-gen-go-lambda/protoc-gen-go-lambda/runtime"
	"github.com/protoc-gen-go-lambda/protoc-gen-go-lambda/runtime/invoke"
)

// Fixed parts of the Function URL events.
const (
	urlID     = "k5zqj3b7x2n4w6v8c0d9f1g3h5j7l9m2"
	urlDomain = urlID + ".lambda-url.eu-west-1.on.aws"
)

// functionURL is a Lambda function URL in front of the function
// benchv1.NewBenchServiceLambdaHandler returns: this repository's runtime
// answering Function URL events itself (runtime/http.go), with no proxy and
// no router in between.
//
// As with apiGateway, a request goes the way it goes in AWS and all of it
// is counted: the front end's side turns the HTTP request into the event
// JSON (encoding/json of aws-lambda-go's events type, as apiGateway does);
// the function's side is runtime.Server.Invoke on those bytes (what
// lambda.Start runs for each invocation of a function whose handler is the
// *runtime.Server); the front end's side decodes the response event JSON.
type functionURL struct {
	// invoke is the function's handler, (*runtime.Server).Invoke.
	invoke func(ctx context.Context, payload []byte) ([]byte, error)
}

// post sends an HTTP POST of body to rawPath with the given content type
// and the protocol's own header (name: value; none when name is empty) and
// returns the 200 response event's decoded body, its content type and the
// event JSON bytes in and out. The body is base64-encoded into the event,
// as a function URL does for a binary content type.
func (f *functionURL) post(ctx context.Context, rawPath, contentType, name, value string, body []byte) (respBody []byte, respType string, wire int, err error) {
	in, err := json.Marshal(newFunctionURLEvent(rawPath, contentType, name, value, body))
	if err != nil {
		return nil, "", 0, err
	}
	out, err := f.invoke(ctx, in)
	if err != nil {
		return nil, "", 0, err
	}
	wire = len(in) + len(out)
	var resp events.LambdaFunctionURLResponse
	if err := json.Unmarshal(out, &resp); err != nil {
		return nil, "", 0, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, "", 0, fmt.Errorf("status %d: %s", resp.StatusCode, resp.Body)
	}
	if !resp.IsBase64Encoded {
		return []byte(resp.Body), resp.Headers["content-type"], wire, nil
	}
	if respBody, err = base64.StdEncoding.DecodeString(resp.Body); err != nil {
		return nil, "", 0, err
	}
	return respBody, resp.Headers["content-type"], wire, nil
}

// newFunctionURLEvent returns the event that a function URL delivers for a
// POST of a binary body to rawPath: the headers of newHTTPEvent's (the same
// client and the same forwarding headers), plus the protocol's header if
// name is set, and a function URL's request context.
func newFunctionURLEvent(rawPath, contentType, name, value string, body []byte) events.LambdaFunctionURLRequest {
	ev := events.LambdaFunctionURLRequest{
		Version: "2.0",
		RawPath: rawPath,
		Headers: map[string]string{
			"accept":            contentType,
			"content-length":    strconv.Itoa(len(body)),
			"content-type":      contentType,
			"host":              urlDomain,
			"user-agent":        apiUserAgent,
			"x-amzn-trace-id":   "Root=1-6926a0b4-3f1c2a7d5e9b8c0a1d2e3f40",
			"x-forwarded-for":   apiSourceIP,
			"x-forwarded-port":  "443",
			"x-forwarded-proto": "https",
		},
		RequestContext: events.LambdaFunctionURLRequestContext{
			AccountID:    "anonymous",
			RequestID:    "4a7f2c1e-9b3d-4e8a-b6f0-2d5c8e1a3b7f",
			APIID:        urlID,
			DomainName:   urlDomain,
			DomainPrefix: urlID,
			Time:         "26/Nov/2025:06:13:00 +0000",
			TimeEpoch:    1764137580000,
			HTTP: events.LambdaFunctionURLRequestContextHTTPDescription{
				Method:    http.MethodPost,
				Path:      rawPath,
				Protocol:  "HTTP/1.1",
				SourceIP:  apiSourceIP,
				UserAgent: apiUserAgent,
			},
		},
		Body:            base64.StdEncoding.EncodeToString(body),
		IsBase64Encoded: true,
	}
	if name != "" {
		ev.Headers[name] = value
	}
	return ev
}

// setupHTTPConnect returns the http-connect path: the Connect protocol's
// unary binary form, as for the connect path (a POST of the protobuf body
// with content type application/proto, base64 in the event; no
// Accept-Encoding, so no compression), plus the Connect-Protocol-Version
// header Connect clients send, through a function URL straight to
// runtime.Server.Invoke (see functionURL). Wire bytes are the event JSON in
// plus the response event JSON out.
func setupHTTPConnect(_ testing.TB, srv benchv1.BenchServiceServer) call {
	fu := &functionURL{invoke: benchv1.NewBenchServiceLambdaHandler(srv).Invoke}
	return func(ctx context.Context, req *benchv1.EchoRequest) (*benchv1.EchoResponse, int, error) {
		body, err := proto.Marshal(req)
		if err != nil {
			return nil, 0, err
		}
		raw, ct, wire, err := fu.post(ctx, benchv1connect.BenchServiceEchoProcedure, "application/proto", "connect-protocol-version", "1", body)
		if err != nil {
			return nil, 0, err
		}
		if ct != "application/proto" {
			return nil, 0, fmt.Errorf("response content type %q, want application/proto", ct)
		}
		resp := new(benchv1.EchoResponse)
		if err := proto.Unmarshal(raw, resp); err != nil {
			return nil, 0, err
		}
		return resp, wire, nil
	}
}

// setupHTTPGRPCWeb returns the http-grpcweb path: a binary gRPC-Web call
// (content type application/grpc-web+proto, the request in one 5-byte
// framed message, the X-Grpc-Web header grpc-web clients send, no
// grpc-accept-encoding) through a function URL straight to
// runtime.Server.Invoke (see functionURL). The client reads the answer's
// message frame and its trailer frame, which must say grpc-status 0. Wire
// bytes are the event JSON in plus the response event JSON out.
func setupHTTPGRPCWeb(_ testing.TB, srv benchv1.BenchServiceServer) call {
	fu := &functionURL{invoke: benchv1.NewBenchServiceLambdaHandler(srv).Invoke}
	return func(ctx context.Context, req *benchv1.EchoRequest) (*benchv1.EchoResponse, int, error) {
		size := proto.Size(req)
		frame := make([]byte, 5, 5+size)
		binary.BigEndian.PutUint32(frame[1:5], uint32(size))
		frame, err := proto.MarshalOptions{UseCachedSize: true}.MarshalAppend(frame, req)
		if err != nil {
			return nil, 0, err
		}
		raw, ct, wire, err := fu.post(ctx, benchv1connect.BenchServiceEchoProcedure, "application/grpc-web+proto", "x-grpc-web", "1", frame)
		if err != nil {
			return nil, 0, err
		}
		if ct != "application/grpc-web+proto" {
			return nil, 0, fmt.Errorf("response content type %q, want application/grpc-web+proto", ct)
		}
		msg, err := readGRPCWebResponse(raw)
		if err != nil {
			return nil, 0, err
		}
		resp := new(benchv1.EchoResponse)
		if err := proto.Unmarshal(msg, resp); err != nil {
			return nil, 0, err
		}
		return resp, wire, nil
	}
}

// readGRPCWebResponse returns the message of a unary gRPC-Web response
// body: exactly one uncompressed message frame, then a trailer frame whose
// grpc-status is 0.
func readGRPCWebResponse(b []byte) ([]byte, error) {
	var msg, trailer []byte
	frames := 0
	for len(b) > 0 {
		if len(b) < 5 {
			return nil, fmt.Errorf("grpc-web: %d bytes of a 5-byte frame prefix", len(b))
		}
		flags, n := b[0], binary.BigEndian.Uint32(b[1:5])
		if uint64(len(b)-5) < uint64(n) {
			return nil, fmt.Errorf("grpc-web: frame of %d bytes, %d left", n, len(b)-5)
		}
		data := b[5 : 5+n]
		b = b[5+n:]
		switch {
		case flags == 0x80 && trailer == nil:
			trailer = data
		case flags == 0 && frames == 0 && trailer == nil:
			msg = data
			frames++
		default:
			return nil, fmt.Errorf("grpc-web: unexpected frame with flags %#x", flags)
		}
	}
	if frames != 1 || trailer == nil {
		return nil, fmt.Errorf("grpc-web: %d message frames, trailer frame present: %t; want 1 and true", frames, trailer != nil)
	}
	for line := range bytes.SplitSeq(trailer, []byte("\r\n")) {
		if v, ok := bytes.CutPrefix(line, []byte("grpc-status:")); ok {
			if s := bytes.TrimSpace(v); string(s) != "0" {
				return nil, fmt.Errorf("grpc-web: grpc-status %s: %q", s, trailer)
			}
			return msg, nil
		}
	}
	return nil, fmt.Errorf("grpc-web: trailer without grpc-status: %q", trailer)
}

// BenchmarkHTTPParts times the parts of a call alone, on the bytes the
// paths send, to tell the function's cost from the front end's.
//
// part=invoke-<path> is the function: one request's bytes in, the
// function's handler, the response's bytes out, the same request each
// iteration (built once, outside the timed loop, as the path builds it).
// This is the issue's definition of the http-* paths ("a Function URL event
// in, the response event out, through Server.Invoke"), and the same
// measurement of the others: runtime.Server.Invoke on the Function URL
// event for http-connect and http-grpcweb and on the Invoke envelope for
// lambda; lambda.NewHandler around the api-proxy for connect and gateway
// (aws-lambda-go's encoding/json decoding of the event and encoding of the
// response event, the proxy, the router, the handler); for floor, its
// server half (base64 decode, proto.Unmarshal, Echo, proto.Marshal, base64
// encode). wire-B/op is the request's bytes plus the response's.
// bench/cmd/benchtable turns these rows into the "function alone" table.
//
// part=event-encode and part=response-decode are the front end's
// encoding/json work of an http-connect call (building and marshalling the
// event; unmarshalling the response event and decoding its base64 body).
func BenchmarkHTTPParts(b *testing.B) {
	ctx := context.Background()
	for _, s := range sizes[:2] {
		req := newRequest(s)
		body, err := proto.Marshal(req)
		if err != nil {
			b.Fatal(err)
		}
		jsonBody, err := protojson.Marshal(req)
		if err != nil {
			b.Fatal(err)
		}
		frame := binary.BigEndian.AppendUint32([]byte{0}, uint32(len(body)))
		frame = append(frame, body...)
		srv := benchv1.NewBenchServiceLambdaHandler(echoServer{})
		envelope := lambdaEnvelope(b, srv, req)
		httpConnect := marshalJSON(b, newFunctionURLEvent(benchv1connect.BenchServiceEchoProcedure, "application/proto", "connect-protocol-version", "1", body))
		httpGRPCWeb := marshalJSON(b, newFunctionURLEvent(benchv1connect.BenchServiceEchoProcedure, "application/grpc-web+proto", "x-grpc-web", "1", frame))
		procedure, handler := benchv1connect.NewBenchServiceHandler(echoServer{})
		mux := http.NewServeMux()
		mux.Handle(procedure, handler)
		connect := newAPIGateway(mux.ServeHTTP)
		connectEvent := marshalJSON(b, newHTTPEvent(benchv1connect.BenchServiceEchoProcedure, "application/proto", body, true))
		gwMux := runtime.NewServeMux()
		if err := benchv1.RegisterBenchServiceHandlerServer(ctx, gwMux, echoServer{}); err != nil {
			b.Fatal(err)
		}
		gateway := newAPIGateway(gwMux.ServeHTTP)
		gatewayEvent := marshalJSON(b, newHTTPEvent("/v1/echo", "application/json", jsonBody, false))
		response, err := srv.Invoke(ctx, httpConnect)
		if err != nil {
			b.Fatal(err)
		}
		response = bytes.Clone(response)
		want := wantResponse(req)
		// Each part's answer is checked once, so that the timing is of a
		// call that works.
		checkProto := func(raw []byte) error {
			got := new(benchv1.EchoResponse)
			if err := proto.Unmarshal(raw, got); err != nil {
				return err
			}
			if !proto.Equal(got, want) {
				return fmt.Errorf("response differs from the request's echo")
			}
			return nil
		}
		checkFunctionURL := func(grpcWeb bool) func([]byte) error {
			return func(out []byte) error {
				var resp events.LambdaFunctionURLResponse
				if err := json.Unmarshal(out, &resp); err != nil {
					return err
				}
				if resp.StatusCode != http.StatusOK || !resp.IsBase64Encoded {
					return fmt.Errorf("status %d, base64 %t", resp.StatusCode, resp.IsBase64Encoded)
				}
				raw, err := base64.StdEncoding.DecodeString(resp.Body)
				if err == nil && grpcWeb {
					raw, err = readGRPCWebResponse(raw)
				}
				if err != nil {
					return err
				}
				return checkProto(raw)
			}
		}
		checkAPIGateway := func(jsonBody bool) func([]byte) error {
			return func(out []byte) error {
				var resp events.APIGatewayV2HTTPResponse
				if err := json.Unmarshal(out, &resp); err != nil {
					return err
				}
				if resp.StatusCode != http.StatusOK {
					return fmt.Errorf("status %d", resp.StatusCode)
				}
				raw, err := responseBody(resp)
				if err != nil {
					return err
				}
				if !jsonBody {
					return checkProto(raw)
				}
				got := new(benchv1.EchoResponse)
				if err := protojson.Unmarshal(raw, got); err != nil {
					return err
				}
				if !proto.Equal(got, want) {
					return fmt.Errorf("response differs from the request's echo")
				}
				return nil
			}
		}
		floorIn, err := encodeBase64Proto(req)
		if err != nil {
			b.Fatal(err)
		}
		checkFloor := func(out []byte) error {
			got := new(benchv1.EchoResponse)
			if err := decodeBase64Proto(out, got); err != nil {
				return err
			}
			if !proto.Equal(got, want) {
				return fmt.Errorf("response differs from the request's echo")
			}
			return nil
		}
		invokes := []struct {
			name   string
			invoke func(context.Context, []byte) ([]byte, error)
			in     []byte
			check  func([]byte) error // nil: lambdaEnvelope checked the answer
		}{
			{"floor", floorFunction(echoServer{}), floorIn, checkFloor},
			{"lambda", srv.Invoke, envelope, nil},
			{"http-connect", srv.Invoke, httpConnect, checkFunctionURL(false)},
			{"http-grpcweb", srv.Invoke, httpGRPCWeb, checkFunctionURL(true)},
			{"connect", connect.function.Invoke, connectEvent, checkAPIGateway(false)},
			{"gateway", gateway.function.Invoke, gatewayEvent, checkAPIGateway(true)},
		}
		for _, inv := range invokes {
			out, err := inv.invoke(ctx, inv.in)
			if err == nil && inv.check != nil {
				err = inv.check(out)
			}
			if err != nil {
				b.Fatalf("size=%s part=invoke-%s: %v", s.name, inv.name, err)
			}
			wire := len(inv.in) + len(out)
			b.Run("size="+s.name+"/part=invoke-"+inv.name, func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					if _, err := inv.invoke(ctx, inv.in); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(wire), "wire-B/op")
			})
		}
		b.Run("size="+s.name+"/part=event-encode", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := json.Marshal(newFunctionURLEvent(benchv1connect.BenchServiceEchoProcedure, "application/proto", "connect-protocol-version", "1", body)); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run("size="+s.name+"/part=response-decode", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				var resp events.LambdaFunctionURLResponse
				if err := json.Unmarshal(response, &resp); err != nil {
					b.Fatal(err)
				}
				if _, err := base64.StdEncoding.DecodeString(resp.Body); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func marshalJSON(tb testing.TB, v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// lambdaEnvelope returns the Invoke payload the lambda path's client sends
// for req, after a call with it that succeeded.
func lambdaEnvelope(tb testing.TB, srv *lambdaruntime.Server, req *benchv1.EchoRequest) []byte {
	inv := &capturingInvoker{countingInvoker: countingInvoker{srv: srv}}
	resp, err := benchv1.NewBenchServiceLambdaClient(invoke.NewClientConn(inv, "bench")).Echo(context.Background(), req)
	if err != nil {
		tb.Fatal(err)
	}
	if !proto.Equal(resp, wantResponse(req)) {
		tb.Fatal("lambda: response differs from the request's echo")
	}
	return inv.payload
}

// capturingInvoker is a countingInvoker that keeps a copy of the last
// request payload.
type capturingInvoker struct {
	countingInvoker
	payload []byte
}

func (c *capturingInvoker) Invoke(ctx context.Context, in *lambda.InvokeInput, opts ...func(*lambda.Options)) (*lambda.InvokeOutput, error) {
	c.payload = bytes.Clone(in.Payload)
	return c.countingInvoker.Invoke(ctx, in, opts...)
}
