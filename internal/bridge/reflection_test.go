package bridge_test

import (
	"bytes"
	"context"
	"slices"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-lambda-go/lambda"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/known/anypb"

	v1reflectiongrpc "google.golang.org/grpc/reflection/grpc_reflection_v1"
	v1reflectionpb "google.golang.org/grpc/reflection/grpc_reflection_v1"
	v1alphareflectiongrpc "google.golang.org/grpc/reflection/grpc_reflection_v1alpha"
	v1alphareflectionpb "google.golang.org/grpc/reflection/grpc_reflection_v1alpha"

	ordersv1 "github.com/protoc-gen-go-lambda/protoc-gen-go-lambda/example/gen/orders/v1"
	"github.com/protoc-gen-go-lambda/protoc-gen-go-lambda/example/service"
	"github.com/protoc-gen-go-lambda/protoc-gen-go-lambda/internal/bridge"
	"github.com/protoc-gen-go-lambda/protoc-gen-go-lambda/internal/testing/testpb"
	"github.com/protoc-gen-go-lambda/protoc-gen-go-lambda/runtime"
)

// reflect sends reflection requests on one v1 stream and returns the answers.
func reflect(t *testing.T, conn *grpc.ClientConn, reqs ...*v1reflectionpb.ServerReflectionRequest) []*v1reflectionpb.ServerReflectionResponse {
	t.Helper()
	stream, err := v1reflectiongrpc.NewServerReflectionClient(conn).ServerReflectionInfo(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var out []*v1reflectionpb.ServerReflectionResponse
	for _, req := range reqs {
		if err := stream.Send(req); err != nil {
			t.Fatal(err)
		}
		resp, err := stream.Recv()
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, resp)
	}
	stream.CloseSend()
	return out
}

func listServices(t *testing.T, conn *grpc.ClientConn) []string {
	t.Helper()
	resp := reflect(t, conn, &v1reflectionpb.ServerReflectionRequest{MessageRequest: &v1reflectionpb.ServerReflectionRequest_ListServices{}})[0]
	var names []string
	for _, s := range resp.GetListServicesResponse().GetService() {
		names = append(names, s.GetName())
	}
	slices.Sort(names)
	return names
}

// fileFor asks for the file declaring symbol and returns the files answered.
func fileFor(t *testing.T, conn *grpc.ClientConn, symbol string) (*descriptorpb.FileDescriptorSet, *v1reflectionpb.ErrorResponse) {
	t.Helper()
	resp := reflect(t, conn, &v1reflectionpb.ServerReflectionRequest{MessageRequest: &v1reflectionpb.ServerReflectionRequest_FileContainingSymbol{FileContainingSymbol: symbol}})[0]
	if e := resp.GetErrorResponse(); e != nil {
		return nil, e
	}
	set := &descriptorpb.FileDescriptorSet{}
	for _, b := range resp.GetFileDescriptorResponse().GetFileDescriptorProto() {
		fd := &descriptorpb.FileDescriptorProto{}
		if err := proto.Unmarshal(b, fd); err != nil {
			t.Fatal(err)
		}
		set.File = append(set.File, fd)
	}
	return set, nil
}

var ownServices = []string{"grpc.health.v1.Health", "grpc.reflection.v1.ServerReflection", "grpc.reflection.v1alpha.ServerReflection"}

// TestReflection: the bridge lists its own services and the ones the
// functions report for the services routed to them, and describes them
// from the functions' descriptors: the test binary links the same
// generated code in, but the bridge answers only from what it was told.
func TestReflection(t *testing.T) {
	ordersFn := runtime.NewServer()
	ordersv1.RegisterOrderServiceServer(ordersFn, service.New())
	// test-fn serves OrderService too, but its calls are routed to orders-fn.
	bothFn := testFunction()
	ordersv1.RegisterOrderServiceServer(bothFn, service.New())
	fns := newFunctions(t, map[string]lambda.Handler{"test-fn": bothFn, "orders-fn": ordersFn})
	s := startBridge(t, bridge.Config{Invoker: fns, Function: "test-fn", Routes: map[string]string{"example.orders.v1.OrderService": "orders-fn"}})

	want := append([]string{"example.orders.v1.OrderService"}, ownServices...)
	want = append(want, "lambdatest.v1.TestService")
	slices.Sort(want)
	if got := listServices(t, s.conn); !slices.Equal(got, want) {
		t.Errorf("services %q, want %q", got, want)
	}

	set, e := fileFor(t, s.conn, "example.orders.v1.OrderService.GetOrder")
	if e != nil {
		t.Fatalf("file containing GetOrder: %v", e)
	}
	if set.GetFile()[0].GetName() != "orders/v1/orders.proto" {
		t.Errorf("first file %q", set.GetFile()[0].GetName())
	}
	files, err := protodesc.NewFiles(set)
	if err != nil {
		t.Fatalf("the answer does not build: %v", err)
	}
	if d, err := files.FindDescriptorByName("example.orders.v1.Order.create_time"); err != nil || d == nil {
		t.Errorf("Order.create_time: %v", err)
	}
	if !proto.Equal(set.GetFile()[0], protodesc.ToFileDescriptorProto(ordersv1.File_orders_v1_orders_proto)) {
		t.Error("orders.proto differs from the function's")
	}

	// A name no function declares, though the test binary links it in.
	if _, e := fileFor(t, s.conn, "google.protobuf.FileDescriptorSet"); e == nil || e.GetErrorCode() != 5 {
		t.Errorf("a type linked into the bridge but no function's: %v, want NOT_FOUND", e)
	}
	// The bridge's own services are described from its own files.
	if _, e := fileFor(t, s.conn, "grpc.health.v1.Health"); e != nil {
		t.Errorf("grpc.health.v1.Health: %v", e)
	}

	// v1alpha, which older tools speak, answers the same.
	stream, err := v1alphareflectiongrpc.NewServerReflectionClient(s.conn).ServerReflectionInfo(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if err := stream.Send(&v1alphareflectionpb.ServerReflectionRequest{MessageRequest: &v1alphareflectionpb.ServerReflectionRequest_FileContainingSymbol{FileContainingSymbol: "lambdatest.v1.TestService"}}); err != nil {
		t.Fatal(err)
	}
	resp, err := stream.Recv()
	if err != nil || len(resp.GetFileDescriptorResponse().GetFileDescriptorProto()) == 0 {
		t.Errorf("v1alpha: %v, %v", resp, err)
	}
	stream.CloseSend()

	// Descriptors are asked for once per function.
	n := map[string]int{}
	for _, c := range fns.descriptorInvocations() {
		n[c]++
	}
	if n["test-fn:"] != 1 || n["orders-fn:"] != 1 || len(fns.invocations()) != 0 {
		t.Errorf("invocations %v, want one descriptors call per function", n)
	}
}

// flakyFunction fails every invocation until it is made to work.
type flakyFunction struct {
	h       lambda.Handler
	working atomic.Bool
	calls   atomic.Int32
}

func (f *flakyFunction) Invoke(ctx context.Context, payload []byte) ([]byte, error) {
	f.calls.Add(1)
	if !f.working.Load() {
		return nil, context.DeadlineExceeded // a function error: the invocation failed
	}
	return f.h.Invoke(ctx, payload)
}

// TestReflectionAfterAFailure: descriptors that could not be fetched are
// asked for again when reflection needs them, and no sooner than the
// refresh interval allows.
func TestReflectionAfterAFailure(t *testing.T) {
	for _, tc := range []struct {
		name     string
		interval int // RefreshInterval: -1 none, 1 an hour
		listed   bool
	}{
		{"asked again", -1, true},
		{"not before the refresh interval", 1, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fn := &flakyFunction{h: testFunction()}
			fns := newFunctions(t, map[string]lambda.Handler{"test-fn": fn})
			cfg := bridge.Config{Invoker: fns, Function: "test-fn"}
			cfg.RefreshInterval = -1
			if tc.interval > 0 {
				cfg.RefreshInterval = 3600e9
			}
			s := startBridge(t, cfg)
			if err := s.b.Refresh(context.Background()); err == nil {
				t.Fatal("Refresh succeeded against a failing function")
			}
			if got := listServices(t, s.conn); !slices.Equal(got, ownServices) {
				t.Errorf("while failing: %q", got)
			}
			fn.working.Store(true)
			got := listServices(t, s.conn)
			if listed := slices.Contains(got, "lambdatest.v1.TestService"); listed != tc.listed {
				t.Errorf("once working: %q; want TestService listed: %v", got, tc.listed)
			}
		})
	}
}

// TestReflectionFromProtoset: for a function that does not report its
// descriptors, a protoset file describes its services.
func TestReflectionFromProtoset(t *testing.T) {
	// An old function: it answers calls, but not the built-in method.
	old := &oldFunction{h: testFunction()}
	fns := newFunctions(t, map[string]lambda.Handler{"old-fn": old})
	set := &descriptorpb.FileDescriptorSet{File: []*descriptorpb.FileDescriptorProto{
		protodesc.ToFileDescriptorProto(anypb.File_google_protobuf_any_proto),
		protodesc.ToFileDescriptorProto(testpb.File_lambdatest_v1_test_proto),
	}}
	s := startBridge(t, bridge.Config{Invoker: fns, Function: "old-fn", Protosets: []*descriptorpb.FileDescriptorSet{set}})
	want := append(slices.Clone(ownServices), "lambdatest.v1.TestService")
	slices.Sort(want)
	if got := listServices(t, s.conn); !slices.Equal(got, want) {
		t.Errorf("services %q, want %q", got, want)
	}
	if _, e := fileFor(t, s.conn, "lambdatest.v1.EchoRequest"); e != nil {
		t.Errorf("EchoRequest: %v", e)
	}
	echoOK(t, s.conn)
}

// oldFunction is a function whose runtime predates the built-in method.
type oldFunction struct{ h lambda.Handler }

func (o *oldFunction) Invoke(ctx context.Context, payload []byte) ([]byte, error) {
	if bytes.Contains(payload, []byte(`"method":"`+runtime.FileDescriptorsMethod+`"`)) {
		return []byte(`{"v":1,"code":12,"message":"unknown service protoc_gen_go_lambda.v1.Descriptors"}`), nil
	}
	return o.h.Invoke(ctx, payload)
}
