package runtime_test

import (
	"context"
	"slices"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/known/emptypb"

	ordersv1 "github.com/protoc-gen-go-lambda/protoc-gen-go-lambda/example/gen/orders/v1"
	"github.com/protoc-gen-go-lambda/protoc-gen-go-lambda/example/service"
	"github.com/protoc-gen-go-lambda/protoc-gen-go-lambda/internal/testing/testpb"
	"github.com/protoc-gen-go-lambda/protoc-gen-go-lambda/internal/testing/testserver"
	"github.com/protoc-gen-go-lambda/protoc-gen-go-lambda/runtime"
	"github.com/protoc-gen-go-lambda/protoc-gen-go-lambda/runtime/invoke"
	"github.com/protoc-gen-go-lambda/protoc-gen-go-lambda/runtime/lambdatest"
)

// handmadeDesc is a service registered without linked-in descriptors, as a
// hand-written grpc.ServiceDesc is.
var handmadeDesc = grpc.ServiceDesc{
	ServiceName: "handmade.v1.Thing",
	HandlerType: (*any)(nil),
	Methods: []grpc.MethodDesc{{MethodName: "Do", Handler: func(any, context.Context, func(any) error, grpc.UnaryServerInterceptor) (any, error) {
		return &emptypb.Empty{}, nil
	}}},
}

// fileDescriptors calls the built-in method through the Invoke path.
func fileDescriptors(t *testing.T, srv *runtime.Server, opts ...invoke.Option) (*descriptorpb.FileDescriptorSet, metadata.MD, error) {
	t.Helper()
	inv := lambdatest.NewInvoker(srv)
	t.Cleanup(inv.Close)
	cc := invoke.NewClientConn(inv, "descriptors", opts...)
	set := &descriptorpb.FileDescriptorSet{}
	var header metadata.MD
	err := cc.Invoke(context.Background(), runtime.FileDescriptorsMethod, &emptypb.Empty{}, set, grpc.Header(&header))
	return set, header, err
}

// TestFileDescriptors: every Server answers the built-in method with the
// files of its registered services and their imports, each once and after
// what it imports, and names the services in a header; GetServiceInfo does
// not list the built-in service; the server's interceptors run around it.
func TestFileDescriptors(t *testing.T) {
	var intercepted []string
	srv := runtime.NewServer(runtime.ChainUnaryInterceptor(func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		intercepted = append(intercepted, info.FullMethod)
		return handler(ctx, req)
	}))
	testpb.RegisterTestServiceLambdaServer(srv, &testserver.Server{})
	ordersv1.RegisterOrderServiceServer(srv, service.New())
	srv.RegisterService(&handmadeDesc, nil)

	info := srv.GetServiceInfo()
	if _, ok := info[runtime.DescriptorsService]; ok || len(info) != 3 {
		t.Errorf("GetServiceInfo lists %v; want the three registered services only", slices.Sorted(func(yield func(string) bool) {
			for k := range info {
				if !yield(k) {
					return
				}
			}
		}))
	}

	for _, mode := range []struct {
		name string
		opts []invoke.Option
	}{{"binary", nil}, {"json", []invoke.Option{invoke.WithJSON()}}} {
		t.Run(mode.name, func(t *testing.T) {
			intercepted = nil
			set, header, err := fileDescriptors(t, srv, mode.opts...)
			if err != nil {
				t.Fatalf("%s: %v", runtime.FileDescriptorsMethod, err)
			}
			wantServices := []string{"example.orders.v1.OrderService", "handmade.v1.Thing", "lambdatest.v1.TestService"}
			if got := header.Get(runtime.ServicesHeader); !slices.Equal(got, wantServices) {
				t.Errorf("header %q = %q, want %q", runtime.ServicesHeader, got, wantServices)
			}
			if !slices.Equal(intercepted, []string{runtime.FileDescriptorsMethod}) {
				t.Errorf("the interceptor saw %q", intercepted)
			}

			var paths []string
			seen := map[string]bool{}
			for _, f := range set.GetFile() {
				for _, dep := range f.GetDependency() {
					if !seen[dep] {
						t.Errorf("%s comes before its import %s", f.GetName(), dep)
					}
				}
				if seen[f.GetName()] {
					t.Errorf("%s is in the set twice", f.GetName())
				}
				seen[f.GetName()] = true
				paths = append(paths, f.GetName())
			}
			for _, fd := range []protoreflect.FileDescriptor{
				testpb.File_lambdatest_v1_test_proto,
				ordersv1.File_orders_v1_orders_proto,
			} {
				if !seen[fd.Path()] {
					t.Errorf("the set %q lacks %s", paths, fd.Path())
					continue
				}
				i := slices.Index(paths, fd.Path())
				if want := protodesc.ToFileDescriptorProto(fd); !proto.Equal(set.GetFile()[i], want) {
					t.Errorf("%s differs from the linked-in descriptor", fd.Path())
				}
			}
			for _, p := range []string{"google/protobuf/any.proto", "google/protobuf/timestamp.proto"} {
				if !seen[p] {
					t.Errorf("the set %q lacks the import %s", paths, p)
				}
			}
			files, err := protodesc.NewFiles(set)
			if err != nil {
				t.Fatalf("the set does not build: %v", err)
			}
			d, err := files.FindDescriptorByName("lambdatest.v1.TestService")
			if sd, ok := d.(protoreflect.ServiceDescriptor); err != nil || !ok || sd.Methods().ByName("Echo") == nil {
				t.Errorf("TestService in the set: %v, %v", d, err)
			}
		})
	}
}

// TestFileDescriptorsOfAnEmptyServer: a Server with no services answers
// an empty set and no services header.
func TestFileDescriptorsOfAnEmptyServer(t *testing.T) {
	set, header, err := fileDescriptors(t, runtime.NewServer())
	if err != nil || len(set.GetFile()) != 0 || header.Get(runtime.ServicesHeader) != nil {
		t.Errorf("got %v, header %v, %v; want an empty set, no services", set, header, err)
	}
}

// TestFileDescriptorsGuardedByInterceptors: an interceptor that refuses
// every call refuses the built-in method too.
func TestFileDescriptorsGuardedByInterceptors(t *testing.T) {
	srv := runtime.NewServer(runtime.UnaryInterceptor(func(context.Context, any, *grpc.UnaryServerInfo, grpc.UnaryHandler) (any, error) {
		return nil, status.Error(codes.PermissionDenied, "no")
	}))
	testpb.RegisterTestServiceLambdaServer(srv, &testserver.Server{})
	_, header, err := fileDescriptors(t, srv)
	if st := status.Convert(err); st.Code() != codes.PermissionDenied || header.Get(runtime.ServicesHeader) != nil {
		t.Errorf("got %v, header %v; want PERMISSION_DENIED and no services", st, header)
	}
}
