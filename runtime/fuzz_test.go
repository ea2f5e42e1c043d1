package runtime

import (
	"bytes"
	"context"
	"encoding/json"
	"math"
	"strings"
	"testing"
	"unicode/utf8"

	awslambda "github.com/aws/aws-sdk-go-v2/service/lambda"

	"github.com/protoc-gen-go-lambda/protoc-gen-go-lambda/runtime/internal/alloctest"
	"github.com/protoc-gen-go-lambda/protoc-gen-go-lambda/runtime/internal/wire"
	"github.com/protoc-gen-go-lambda/protoc-gen-go-lambda/runtime/invoke"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/structpb"
)

// FuzzServerInvoke feeds arbitrary bytes to the function's entry point;
// internal/wire fuzzes the envelope decoder and invoke the client's reading
// of whatever an invocation returns. Seeds of valid and broken envelopes are
// in testdata/fuzz/<FuzzName>/; `go test` runs them as regression cases, and
// CI runs each target with -fuzz=^FuzzName$ -fuzztime=20s.

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
	Streams: []grpc.StreamDesc{
		{StreamName: "Stream", ServerStreams: true, Handler: func(_ any, ss grpc.ServerStream) error {
			in := new(structpb.Value)
			if err := ss.RecvMsg(in); err != nil {
				return err
			}
			for range 2 {
				if err := ss.SendMsg(in); err != nil {
					return err
				}
			}
			return nil
		}},
		{StreamName: "Collect", ClientStreams: true, Handler: func(any, grpc.ServerStream) error { return nil }},
	},
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
		alloctest.Bounded(t, "Server.Invoke", payload, func() { out, err = srv.Invoke(context.Background(), payload) })
		if err != nil {
			t.Fatalf("Invoke returned a Go error: %v", err)
		}
		if isHTTPEvent(payload) {
			return // answered in HTTP; FuzzHTTPEvent checks those
		}
		if len(out) > 0 && out[0] != '{' {
			checkFrames(t, out)
			return
		}
		if !json.Valid(out) || !utf8.Valid(out) {
			t.Fatalf("response is not valid JSON: %q", out)
		}
		env, perr := wire.ParseResponse(out)
		if perr != nil || env.FunctionError != nil || env.Version != wire.EnvelopeVersion || !env.HasCode {
			t.Fatalf("response is not a version 1 envelope with a code (%v): %q", perr, out)
		}
		if env.Code < 0 || env.Code > int64(codes.Unauthenticated) {
			t.Fatalf("response code %d is not a gRPC code: %q", env.Code, out)
		}
		if env.Code == 0 {
			if env.Message != "" || len(env.Details) > 0 || !env.HasBody && !env.HasJSON {
				t.Fatalf("OK response with a message or details, or without a body: %q", out)
			}
			return
		}
		// The client's reading of it: the same code, no complaint about the
		// envelope, and the details decoded.
		cc := invoke.NewClientConn(fixedInvoker{&awslambda.InvokeOutput{StatusCode: 200, Payload: out}}, "fuzz")
		err = cc.Invoke(context.Background(), "/fuzz.Echo/Echo", structpb.NewNullValue(), new(structpb.Value))
		rs := status.Convert(err)
		if int64(rs.Code()) != env.Code {
			t.Fatalf("client read code %v from %q", rs.Code(), out)
		}
		if strings.HasPrefix(rs.Message(), "lambda: internal error") ||
			strings.HasPrefix(rs.Message(), "panic in handler: ") && rs.Message() != "panic in handler: "+fuzzPanic ||
			strings.Contains(rs.Message(), "malformed response envelope") {
			t.Fatalf("status %v for %q", rs, payload)
		}
		if len(env.Details) > 0 && len(rs.Details()) == 0 {
			t.Fatalf("details that do not decode: %q", out)
		}
	})
}

// fixedInvoker answers every invocation with the same output.
type fixedInvoker struct{ out *awslambda.InvokeOutput }

func (i fixedInvoker) Invoke(context.Context, *awslambda.InvokeInput, ...func(*awslambda.Options)) (*awslambda.InvokeOutput, error) {
	return i.out, nil
}

// checkFrames checks a server-streaming call's answer: frames (at most one
// header frame, before any message) ending with one end frame holding a
// version 1 envelope with a gRPC code and no message.
func checkFrames(t *testing.T, out []byte) {
	t.Helper()
	r := bytes.NewReader(out)
	sawHeader, sawMessage := false, false
	for {
		flags, data, err := wire.ReadFrame(r, nil, 1<<30)
		if err != nil {
			t.Fatalf("answer ends without an end frame (%v): %q", err, out)
		}
		switch flags {
		case wire.FrameHeader:
			if sawHeader || sawMessage {
				t.Fatalf("misplaced header frame: %q", out)
			}
			sawHeader = true
			if _, err := wire.ParseHeaderFrame(data); err != nil || !json.Valid(data) {
				t.Fatalf("header frame %q: %v", data, err)
			}
		case wire.FrameMessage:
			sawMessage = true
		case wire.FrameEnd:
			env, err := wire.ParseResponse(data)
			if err != nil || env.Version != wire.EnvelopeVersion || !env.HasCode || env.HasBody || env.HasJSON || !json.Valid(data) {
				t.Fatalf("end frame %q: %v", data, err)
			}
			if env.Code < 0 || env.Code > int64(codes.Unauthenticated) {
				t.Fatalf("end frame code %d: %q", env.Code, data)
			}
			if r.Len() != 0 {
				t.Fatalf("bytes after the end frame: %q", out)
			}
			return
		default:
			t.Fatalf("unknown frame flags %#x: %q", flags, out)
		}
	}
}
