package invoke_test

import (
	"bytes"
	"context"
	"testing"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/encoding"
	"google.golang.org/grpc/mem"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"

	"github.com/protoc-gen-go-lambda/protoc-gen-go-lambda/internal/testing/testpb"
	"github.com/protoc-gen-go-lambda/protoc-gen-go-lambda/internal/testing/testserver"
	"github.com/protoc-gen-go-lambda/protoc-gen-go-lambda/runtime/invoke"
	"github.com/protoc-gen-go-lambda/protoc-gen-go-lambda/runtime/lambdatest"
)

// oddBytes is valid protobuf that no generated message would write: fields
// out of order, a repeated scalar field, a field number nobody declares,
// and a group. Only a carrier that never parses keeps it byte for byte.
func oddBytes() []byte {
	var b []byte
	b = protowire.AppendTag(b, 9, protowire.VarintType)
	b = protowire.AppendVarint(b, 300)
	b = protowire.AppendTag(b, 1, protowire.BytesType)
	b = protowire.AppendString(b, "first")
	b = protowire.AppendTag(b, 1, protowire.BytesType)
	b = protowire.AppendString(b, "second")
	b = protowire.AppendTag(b, 7, protowire.StartGroupType)
	b = protowire.AppendTag(b, 1, protowire.Fixed32Type)
	b = protowire.AppendFixed32(b, 7)
	return protowire.AppendTag(b, 7, protowire.EndGroupType)
}

// TestRawMessageProtoFunctions: protobuf's functions and grpc-go's proto
// codec carry a RawMessage's bytes exactly, and never alias their input.
func TestRawMessageProtoFunctions(t *testing.T) {
	want := oddBytes()
	m := &invoke.RawMessage{Bytes: bytes.Clone(want)}

	if n := proto.Size(m); n != len(want) {
		t.Errorf("proto.Size = %d, want %d", n, len(want))
	}
	for _, opts := range []proto.MarshalOptions{{}, {Deterministic: true}} {
		got, err := opts.Marshal(m)
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("%+v.Marshal = %x, %v; want %x", opts, got, err, want)
		}
	}

	in := bytes.Clone(want)
	var out invoke.RawMessage
	out.Bytes = []byte("left over from before")
	if err := proto.Unmarshal(in, &out); err != nil || !bytes.Equal(out.Bytes, want) {
		t.Fatalf("proto.Unmarshal: %x, %v; want %x (the old bytes replaced)", out.Bytes, err, want)
	}
	in[0] ^= 0xff
	if !bytes.Equal(out.Bytes, want) {
		t.Error("proto.Unmarshal aliased its input")
	}
	// With a Pool, the copy is made into a buffer from it, which Reset
	// does not forget.
	pool := &countingPool{BufferPool: mem.DefaultBufferPool()}
	pooled := invoke.RawMessage{Pool: pool}
	if err := proto.Unmarshal(want, &pooled); err != nil || !bytes.Equal(pooled.Bytes, want) || pool.gets != 1 || pooled.Pool != pool {
		t.Errorf("proto.Unmarshal with a Pool: %x, %v, %d gets, pool kept %v; want %x from 1 get", pooled.Bytes, err, pool.gets, pooled.Pool == pool, want)
	}
	var discarded invoke.RawMessage
	if err := (proto.UnmarshalOptions{DiscardUnknown: true}).Unmarshal(want, &discarded); err != nil || len(discarded.Bytes) != 0 {
		t.Errorf("DiscardUnknown kept %x, %v; every field of a RawMessage is unknown", discarded.Bytes, err)
	}

	clone := proto.Clone(m).(*invoke.RawMessage)
	if !bytes.Equal(clone.Bytes, want) || &clone.Bytes[0] == &m.Bytes[0] {
		t.Errorf("proto.Clone = %x (shared: %v)", clone.Bytes, &clone.Bytes[0] == &m.Bytes[0])
	}
	merged := &invoke.RawMessage{Bytes: []byte{0x08, 0x01}}
	proto.Merge(merged, m)
	if wantMerged := append([]byte{0x08, 0x01}, want...); !bytes.Equal(merged.Bytes, wantMerged) {
		t.Errorf("proto.Merge = %x, want %x", merged.Bytes, wantMerged)
	}
	if !proto.Equal(m, clone) || proto.Equal(m, merged) {
		t.Error("proto.Equal does not compare the bytes")
	}
	if err := proto.CheckInitialized(m); err != nil {
		t.Errorf("proto.CheckInitialized: %v", err)
	}
	proto.Reset(m)
	if m.Bytes != nil {
		t.Errorf("proto.Reset left %x", m.Bytes)
	}

	// grpc-go's codec, as a grpc.Server's stream uses it.
	codec := encoding.GetCodecV2("proto")
	data, err := codec.Marshal(&invoke.RawMessage{Bytes: want})
	if err != nil || !bytes.Equal(data.Materialize(), want) {
		t.Errorf("grpc proto codec Marshal = %x, %v", data.Materialize(), err)
	}
	var fromCodec invoke.RawMessage
	if err := codec.Unmarshal(mem.BufferSlice{mem.SliceBuffer(bytes.Clone(want))}, &fromCodec); err != nil || !bytes.Equal(fromCodec.Bytes, want) {
		t.Errorf("grpc proto codec Unmarshal = %x, %v", fromCodec.Bytes, err)
	}
}

// TestRawMessageInvoke: a call made with raw bytes gets what the generated
// client gets from the same function: the response message byte for byte,
// header and trailer metadata, and a failed call's status with details.
func TestRawMessageInvoke(t *testing.T) {
	inv := lambdatest.NewInvoker(testpb.NewTestServiceLambdaHandler(&testserver.Server{}))
	defer inv.Close()
	cc := invoke.NewClientConn(inv, "test-function")
	ctx := metadata.AppendToOutgoingContext(context.Background(), "x-caller", "raw")

	req := &testpb.EchoRequest{
		Message: "hello",
		Header:  []*testpb.Pair{{Key: "x-h", Value: []byte("1")}},
		Trailer: []*testpb.Pair{{Key: "x-t-bin", Value: []byte{0, 1, 2}}},
	}
	reqBytes, err := proto.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	var header, trailer metadata.MD
	out := &invoke.RawMessage{}
	if err := cc.Invoke(ctx, testpb.TestService_Echo_FullMethodName, &invoke.RawMessage{Bytes: reqBytes}, out, grpc.Header(&header), grpc.Trailer(&trailer)); err != nil {
		t.Fatalf("raw Echo: %v", err)
	}
	var typedHeader, typedTrailer metadata.MD
	typed, err := testpb.NewTestServiceLambdaClient(cc).Echo(ctx, req, grpc.Header(&typedHeader), grpc.Trailer(&typedTrailer))
	if err != nil {
		t.Fatalf("typed Echo: %v", err)
	}
	var got testpb.EchoResponse
	if err := proto.Unmarshal(out.Bytes, &got); err != nil {
		t.Fatalf("the raw response is not an EchoResponse: %v", err)
	}
	// The function's Go encoder writes a message without maps in field
	// order: re-encoding what was received gives the bytes it sent.
	if again, err := proto.Marshal(&got); err != nil || !bytes.Equal(again, out.Bytes) {
		t.Errorf("raw response bytes %x are not what the function wrote (%x)", out.Bytes, again)
	}
	got.DeadlineMs, typed.DeadlineMs = 0, 0 // the time left varies from call to call
	if !proto.Equal(&got, typed) || got.GetMessage() != "hello" || len(got.GetIncoming()) == 0 {
		t.Errorf("raw response %v, typed %v", &got, typed)
	}
	if header.Get("x-h")[0] != "1" || trailer.Get("x-t-bin")[0] != "\x00\x01\x02" ||
		len(header) != len(typedHeader) || len(trailer) != len(typedTrailer) {
		t.Errorf("raw header %v trailer %v; typed %v %v", header, trailer, typedHeader, typedTrailer)
	}

	// A failure with details.
	info, err := anypb.New(&errdetails.ErrorInfo{Reason: "RAW", Domain: "invoke.test"})
	if err != nil {
		t.Fatal(err)
	}
	failBytes, err := proto.Marshal(&testpb.EchoRequest{Fail: &testpb.Status{Code: int32(codes.FailedPrecondition), Message: "no", Details: []*anypb.Any{info}}})
	if err != nil {
		t.Fatal(err)
	}
	err = cc.Invoke(ctx, testpb.TestService_Echo_FullMethodName, &invoke.RawMessage{Bytes: failBytes}, &invoke.RawMessage{})
	st := status.Convert(err)
	if st.Code() != codes.FailedPrecondition || st.Message() != "no" || len(st.Proto().GetDetails()) != 1 || !proto.Equal(st.Proto().GetDetails()[0], info) {
		t.Errorf("failure: got %v", st.Proto())
	}

	// Bytes that are not the request message fail on the function's side,
	// as grpc-go's server fails them.
	err = cc.Invoke(ctx, testpb.TestService_Echo_FullMethodName, &invoke.RawMessage{Bytes: []byte{0x0a, 0x05, 'a'}}, &invoke.RawMessage{})
	if st := status.Convert(err); st.Code() != codes.Internal {
		t.Errorf("truncated request: got %v, want INTERNAL from the function", st.Proto())
	}
}

// countingPool counts the buffers taken from a pool.
type countingPool struct {
	mem.BufferPool
	gets int
}

func (p *countingPool) Get(n int) *[]byte {
	p.gets++
	return p.BufferPool.Get(n)
}
