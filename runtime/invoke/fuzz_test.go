package invoke

import (
	"bytes"
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/protoc-gen-go-lambda/protoc-gen-go-lambda/runtime/internal/alloctest"
	"github.com/protoc-gen-go-lambda/protoc-gen-go-lambda/runtime/internal/wire"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/mem"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/structpb"
)

// FuzzClientResponse feeds arbitrary invocation output to the client. Seeds
// are in testdata/fuzz/FuzzClientResponse; CI runs it with -fuzz.

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
		alloctest.Bounded(t, "ClientConn.Invoke", payload, func() {
			err = cc.Invoke(context.Background(), "/fuzz.Echo/Echo", structpb.NewStringValue("x"), reply, grpc.Header(&header), grpc.Trailer(&trailer))
		})
		if err == nil {
			// Success only for what a Server writes: a version 1 envelope,
			// code 0, a body, and no function error.
			env, perr := wire.ParseResponse(payload)
			if functionError || perr != nil || env.FunctionError != nil || env.Version != wire.EnvelopeVersion || env.Code != 0 || !env.HasBody && !env.HasJSON {
				t.Fatalf("call succeeded on output %q (function error %v)", payload, functionError)
			}
			return
		}
		if _, ok := status.FromError(err); !ok {
			t.Fatalf("not a status error: %v", err)
		}
		// A well-formed failure is read as what it says.
		env, perr := wire.ParseResponse(payload)
		if !functionError && perr == nil && env.FunctionError == nil && env.Version == wire.EnvelopeVersion &&
			env.Code > 0 && env.Code <= int64(codes.Unauthenticated) && len(env.Details) == 0 && env.Trailer[wire.StatusDetailsKey] == nil {
			if st := status.Convert(err); int64(st.Code()) != env.Code || st.Message() != env.Message {
				t.Fatalf("envelope %q read as %v", payload, st)
			}
		}
	})
}

// protoRaw is a RawMessage that ClientConn.Invoke does not recognise as
// one: its reply is decoded the general way, into a pooled buffer and
// through proto.Unmarshal, the reference for the raw path.
type protoRaw struct{ *RawMessage }

// FuzzRawMessageResponse checks that a RawMessage reply, whose bytes are
// decoded straight from the envelope, gets what the general decoding gives
// the same message (bytes, or status code and message), on arbitrary
// invocation output and receive limits.
func FuzzRawMessageResponse(f *testing.F) {
	for _, seed := range []string{
		`{"v":1,"body":"CgVoZWxsbw=="}`,
		`{"v":1,"body":"CgVoZWxsbw"}`,
		`{"v":1,"body":""}`,
		`{"v":1,"body":"!!!!"}`,
		`{"v":1,"body":"CgVoZWxsbw=","header":{"x":["1"]}}`,
		`{"v":1,"json":{}}`,
		`{"v":1}`,
		`{"v":1,"code":5,"message":"no"}`,
	} {
		f.Add([]byte(seed), uint16(64))
		f.Add([]byte(seed), uint16(3))
	}
	f.Fuzz(func(t *testing.T, payload []byte, limit uint16) {
		cc := NewClientConn(fixedInvoker{&lambda.InvokeOutput{StatusCode: 200, Payload: payload}}, "fuzz", WithRetryPolicy(RetryPolicy{MaxAttempts: 1}))
		call := func(reply any) error {
			return cc.Invoke(context.Background(), "/fuzz.Echo/Echo", &RawMessage{Bytes: []byte("x")}, reply, grpc.MaxCallRecvMsgSize(int(limit)))
		}
		ref := protoRaw{&RawMessage{}}
		errRef := call(ref)
		for _, raw := range []*RawMessage{{}, {Pool: mem.DefaultBufferPool()}} {
			errRaw := call(raw)
			if got, want := status.Convert(errRaw), status.Convert(errRef); got.Code() != want.Code() || got.Message() != want.Message() {
				t.Fatalf("output %q limit %d pool %v: raw reply %v, general %v", payload, limit, raw.Pool != nil, got, want)
			}
			if !bytes.Equal(raw.Bytes, ref.Bytes) || (raw.Bytes == nil) != (ref.Bytes == nil) {
				t.Fatalf("output %q pool %v: raw reply %x (nil %v), general %x (nil %v)", payload, raw.Pool != nil, raw.Bytes, raw.Bytes == nil, ref.Bytes, ref.Bytes == nil)
			}
		}
	})
}
