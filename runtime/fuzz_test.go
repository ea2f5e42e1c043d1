package runtime

import (
	"bytes"
	"context"
	"encoding/json"
	"math"
	"runtime/metrics"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/structpb"
)

// The fuzz targets feed arbitrary bytes to everything that reads a payload:
// the envelope decoders, Server.Invoke (the function's entry point) and
// ClientConn.Invoke's handling of whatever an invocation returns. Seeds of
// valid and broken envelopes are in testdata/fuzz/<FuzzName>/; `go test`
// runs them as regression cases, and CI runs each target with
// -fuzz=^FuzzName$ -fuzztime=20s, committing any crasher found there.

// allocSlack and allocPerByte bound what one input may allocate: a fixed
// allowance plus a multiple of its size. A size or count declared inside the
// payload (a protobuf length, a huge number, deep nesting) must not make the
// decoder allocate beyond that.
const (
	allocSlack   = 1 << 20
	allocPerByte = 64
)

// allocated runs f and returns the bytes the process allocated on the heap
// meanwhile (runtime/metrics, which unlike ReadMemStats does not stop the
// world; a fuzz worker runs one input at a time).
func allocated(f func()) uint64 {
	sample := []metrics.Sample{{Name: "/gc/heap/allocs:bytes"}}
	metrics.Read(sample)
	before := sample[0].Value.Uint64()
	f()
	metrics.Read(sample)
	return sample[0].Value.Uint64() - before
}

// TestAllocatedSeesLargeAllocations guards the fuzz targets' allocation
// bound: if the metric stopped counting, that check would pass vacuously.
func TestAllocatedSeesLargeAllocations(t *testing.T) {
	var sink []byte
	n := allocated(func() { sink = make([]byte, 8<<20) })
	if n < 8<<20 {
		t.Fatalf("allocated reports %d bytes for an 8 MiB allocation", n)
	}
	_ = sink
}

func checkAllocs(t *testing.T, what string, n uint64, input []byte) {
	t.Helper()
	if limit := uint64(allocSlack + allocPerByte*len(input)); n > limit {
		t.Fatalf("%s allocated %d bytes for %d bytes of input (limit %d)", what, n, len(input), limit)
	}
}

// fuzzServer is a Server with one small service whose behaviour the request
// chooses (fuzz.Echo: Echo, Empty and a streaming method).
func fuzzServer() *Server {
	s := NewServer(
		ChainUnaryInterceptor(func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
			return handler(ctx, req)
		}),
		MaxRecvMsgSize(1<<20),
	)
	s.RegisterService(&fuzzServiceDesc, struct{}{})
	return s
}

const fuzzPanic = "fuzz panic"

var fuzzServiceDesc = grpc.ServiceDesc{
	ServiceName: "fuzz.Echo",
	HandlerType: (*any)(nil),
	Methods: []grpc.MethodDesc{
		{MethodName: "Echo", Handler: func(srv any, ctx context.Context, dec func(any) error, interceptor grpc.UnaryServerInterceptor) (any, error) {
			in := new(structpb.Value)
			if err := dec(in); err != nil {
				return nil, err
			}
			if interceptor == nil {
				return fuzzEcho(ctx, in)
			}
			info := &grpc.UnaryServerInfo{Server: srv, FullMethod: "/fuzz.Echo/Echo"}
			return interceptor(ctx, in, info, func(ctx context.Context, req any) (any, error) { return fuzzEcho(ctx, req.(*structpb.Value)) })
		}},
		{MethodName: "Empty", Handler: func(_ any, _ context.Context, dec func(any) error, _ grpc.UnaryServerInterceptor) (any, error) {
			in := new(emptypb.Empty)
			if err := dec(in); err != nil {
				return nil, err
			}
			return nil, nil
		}},
	},
	Streams: []grpc.StreamDesc{{StreamName: "Stream", ServerStreams: true, Handler: func(any, grpc.ServerStream) error { return nil }}},
}

// fuzzEcho echoes the incoming metadata as header and trailer, panics on the
// string "panic", fails with the status code a small integer names, and
// otherwise returns the request.
func fuzzEcho(ctx context.Context, in *structpb.Value) (*structpb.Value, error) {
	md, _ := metadata.FromIncomingContext(ctx)
	if err := grpc.SetHeader(ctx, md); err != nil {
		return nil, err
	}
	if err := grpc.SetTrailer(ctx, md); err != nil {
		return nil, err
	}
	switch k := in.GetKind().(type) {
	case *structpb.Value_StringValue:
		if k.StringValue == "panic" {
			panic(fuzzPanic)
		}
	case *structpb.Value_NumberValue:
		if n := k.NumberValue; n >= 1 && n <= 16 && n == math.Trunc(n) {
			st, err := status.New(codes.Code(n), "fuzz status").WithDetails(&errdetails.ErrorInfo{Reason: "FUZZ"})
			if err != nil {
				return nil, err
			}
			return nil, st.Err()
		}
	}
	return in, nil
}

// FuzzParseRequest checks the request decoder: no panic, bounded
// allocation, and a decoded envelope that, written again, reads back to the
// same envelope.
func FuzzParseRequest(f *testing.F) {
	f.Fuzz(func(t *testing.T, payload []byte) {
		var env requestEnvelope
		var err error
		checkAllocs(t, "parseRequest", allocated(func() { err = parseRequest(payload, &env) }), payload)
		if err != nil {
			return
		}
		var body []byte
		if !env.hasJSON {
			if body, err = decodeBase64(nil, env.body); err != nil {
				return
			}
		} else if !json.Valid(env.json) {
			return // JSON mode passes the text through; the body's decoder judges it
		}
		again := appendRequest(nil, env.method, env.timeout, env.md, bodyOrJSON(body, env.json, env.hasJSON), env.hasJSON)
		var env2 requestEnvelope
		if err := parseRequest(again, &env2); err != nil {
			t.Fatalf("re-encoded envelope does not parse: %v\n%s", err, again)
		}
		if env2.method != jsonText(env.method) || !sameMetadata(env.md, env2.md) || env2.hasJSON != env.hasJSON {
			t.Fatalf("round trip changed the envelope:\n%+v\n%+v", env, env2)
		}
	})
}

func bodyOrJSON(body, jsonText []byte, jsonMode bool) []byte {
	if jsonMode {
		return jsonText
	}
	return body
}

// jsonText is s as it reads back from a JSON string written by
// appendJSONString: each byte of invalid UTF-8 becomes U+FFFD.
func jsonText(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		b.WriteRune(r) // RuneError for an invalid byte
		i += n
	}
	return b.String()
}

// sameMetadata reports whether b is a, written and read back: keys without
// values and reserved keys are not written, text values read back as
// jsonText.
func sameMetadata(a, b metadata.MD) bool {
	n := 0
	for k, va := range a {
		if len(va) == 0 || isReservedKey(k) {
			continue
		}
		n++
		vb := b[k]
		if len(va) != len(vb) {
			return false
		}
		for i := range va {
			if want := va[i]; !isBinaryKey(k) && jsonText(want) != vb[i] || isBinaryKey(k) && want != vb[i] {
				return false
			}
		}
	}
	return n == len(b)
}

// FuzzServerInvoke checks the function's entry point on arbitrary bytes:
// Server.Invoke never panics and never returns a Go error; it always answers
// a response envelope in valid JSON that this package's client reads back
// without complaint, with a gRPC status; a panic it recovered is the
// handler's deliberate one, never the runtime's own; and it allocates no more
// than the input's size warrants.
func FuzzServerInvoke(f *testing.F) {
	srv := fuzzServer()
	f.Fuzz(func(t *testing.T, payload []byte) {
		var out []byte
		var err error
		n := allocated(func() { out, err = srv.Invoke(context.Background(), payload) })
		if err != nil {
			t.Fatalf("Invoke returned a Go error: %v", err)
		}
		checkAllocs(t, "Server.Invoke", n, payload)
		if !json.Valid(out) || !utf8.Valid(out) {
			t.Fatalf("response is not valid JSON: %q", out)
		}
		env, st := decodeResponse(&lambda.InvokeOutput{StatusCode: 200, Payload: out})
		if st != nil {
			t.Fatalf("the client cannot read the response %q: %v", out, st)
		}
		if !env.hasCode {
			t.Fatalf("response without a code: %q", out)
		}
		if env.code < 0 || env.code > int64(codes.Unauthenticated) {
			t.Fatalf("response code %d is not a gRPC code: %q", env.code, out)
		}
		if env.code == 0 {
			if env.message != "" || len(env.details) > 0 {
				t.Fatalf("OK response with a message or details: %q", out)
			}
			return
		}
		rs, _ := responseStatus(env)
		if strings.HasPrefix(rs.Message(), "lambda: internal error") ||
			strings.HasPrefix(rs.Message(), "panic in handler: ") && rs.Message() != "panic in handler: "+fuzzPanic ||
			strings.Contains(rs.Message(), "malformed response envelope") {
			t.Fatalf("status %v for %q", rs, payload)
		}
		if len(env.details) > 0 && len(rs.Details()) == 0 {
			t.Fatalf("details that do not decode: %q", out)
		}
	})
}

// fixedInvoker answers every invocation with the same output.
type fixedInvoker struct{ out *lambda.InvokeOutput }

func (i fixedInvoker) Invoke(context.Context, *lambda.InvokeInput, ...func(*lambda.Options)) (*lambda.InvokeOutput, error) {
	return i.out, nil
}

// FuzzClientResponse checks ClientConn.Invoke on arbitrary invocation
// output, as a function (or an emulator, or a proxy) might return: it never
// panics, always returns nil or a status error, and allocates no more than
// the output's size warrants.
func FuzzClientResponse(f *testing.F) {
	f.Fuzz(func(t *testing.T, payload []byte, functionError bool) {
		out := &lambda.InvokeOutput{StatusCode: 200, Payload: payload}
		if functionError {
			kind := "Unhandled"
			out.FunctionError = &kind
		}
		cc := NewClientConn(fixedInvoker{out}, "fuzz", WithRetryPolicy(RetryPolicy{MaxAttempts: 1}))
		var header, trailer metadata.MD
		reply := new(structpb.Value)
		var err error
		n := allocated(func() {
			err = cc.Invoke(context.Background(), "/fuzz.Echo/Echo", structpb.NewStringValue("x"), reply, grpc.Header(&header), grpc.Trailer(&trailer))
		})
		checkAllocs(t, "ClientConn.Invoke", n, payload)
		if err == nil {
			return
		}
		if _, ok := status.FromError(err); !ok {
			t.Fatalf("not a status error: %v", err)
		}
		if bytes.Contains(payload, []byte(`"v":1`)) && status.Code(err) == codes.OK {
			t.Fatalf("error with code OK: %v", err)
		}
	})
}
