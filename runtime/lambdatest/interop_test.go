package lambdatest_test

import (
	"context"
	"io"
	"slices"
	"testing"

	"github.com/aws/aws-lambda-go/lambda"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/interop"
	testgrpc "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	ordersv1 "github.com/protoc-gen-go-lambda/protoc-gen-go-lambda/example/gen/orders/v1"
	"github.com/protoc-gen-go-lambda/protoc-gen-go-lambda/example/service"
	"github.com/protoc-gen-go-lambda/protoc-gen-go-lambda/runtime"
	"github.com/protoc-gen-go-lambda/protoc-gen-go-lambda/runtime/invoke"
	"github.com/protoc-gen-go-lambda/protoc-gen-go-lambda/runtime/lambdatest"
)

// bufferedOnly hides a handler's InvokeStream: the function of
// lambda.Start(srv), whose answers the Invoker sends in one chunk.
type bufferedOnly struct{ lambda.Handler }

// TestInteropServerStreaming runs grpc-go's own interop server-streaming
// case (interop.DoServerStreaming: four messages of set sizes, then OK)
// with grpc-go's interop test server registered on a runtime.Server, its
// generated grpc client over an invoke.ClientConn, through the streaming
// double: streamed (Server.InvokeStream) and buffered (Server.Invoke), in
// binary and JSON mode. The unary interop cases run on the same
// connection, and the client-streaming and bidirectional methods fail with
// UNIMPLEMENTED. interop's checks end the test binary on failure.
func TestInteropServerStreaming(t *testing.T) {
	srv := runtime.NewServer()
	testgrpc.RegisterTestServiceServer(srv, interop.NewTestServer())
	for _, tc := range []struct {
		name    string
		handler lambda.Handler
		opts    []invoke.Option
	}{
		{"streamed", srv, nil},
		{"streamed JSON", srv, []invoke.Option{invoke.WithJSON()}},
		{"buffered", bufferedOnly{srv}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			inv := lambdatest.NewInvoker(tc.handler)
			defer inv.Close()
			client := testgrpc.NewTestServiceClient(invoke.NewClientConn(inv, "interop", tc.opts...))
			ctx := context.Background()
			interop.DoServerStreaming(ctx, client)
			interop.DoEmptyUnaryCall(ctx, client)
			interop.DoLargeUnaryCall(ctx, client)
			if inv.Invocations() != 3 {
				t.Errorf("%d invocations, want 3", inv.Invocations())
			}

			_, err := client.StreamingInputCall(ctx)
			if st := status.Convert(err); st.Code() != codes.Unimplemented || st.Message() != "lambda: /grpc.testing.TestService/StreamingInputCall is a client-streaming method; a Lambda invocation takes its whole request before the function starts, so only unary and server-streaming methods are carried" {
				t.Errorf("StreamingInputCall: %v", err)
			}
			if _, err := client.FullDuplexCall(ctx); status.Code(err) != codes.Unimplemented {
				t.Errorf("FullDuplexCall: %v", err)
			}
		})
	}
}

// TestExampleWatchOrder calls the example service's server-streaming
// WatchOrder through its generated Lambda client over the streaming
// double: an order's status changes, one event each, then io.EOF; an
// unknown order is NOT_FOUND with its ResourceInfo before any message
// (Header returns nil, as grpc-go's does for a trailers-only answer).
func TestExampleWatchOrder(t *testing.T) {
	inv := lambdatest.NewInvoker(ordersv1.NewOrderServiceLambdaHandler(service.New()))
	defer inv.Close()
	c := ordersv1.NewOrderServiceLambdaClient(invoke.NewClientConn(inv, "orders"))
	ctx := context.Background()

	order, err := c.CreateOrder(ctx, &ordersv1.CreateOrderRequest{
		CustomerId:      "c-7",
		Items:           []*ordersv1.LineItem{{Sku: "MUG-GOPHER", Quantity: 1, UnitPriceCents: 1250}},
		ShippingAddress: &ordersv1.Address{CountryCode: "GB"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.ShipOrder(ctx, &ordersv1.ShipOrderRequest{Id: order.GetId()}); err != nil {
		t.Fatal(err)
	}
	stream, err := c.WatchOrder(ctx, &ordersv1.WatchOrderRequest{Id: order.GetId()})
	if err != nil {
		t.Fatal(err)
	}
	var got []ordersv1.OrderStatus
	for {
		ev, err := stream.Recv()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("Recv: %v", err)
		}
		if ev.GetOrderId() != order.GetId() || ev.GetTime() == nil {
			t.Errorf("event %v", ev)
		}
		got = append(got, ev.GetStatus())
	}
	if want := []ordersv1.OrderStatus{ordersv1.OrderStatus_ORDER_STATUS_PENDING, ordersv1.OrderStatus_ORDER_STATUS_SHIPPED}; !slices.Equal(got, want) {
		t.Errorf("statuses %v, want %v", got, want)
	}

	header := metadata.MD{"stale": nil}
	stream, err = c.WatchOrder(ctx, &ordersv1.WatchOrderRequest{Id: "o-404"}, grpc.Header(&header))
	if err != nil {
		t.Fatal(err)
	}
	if md, err := stream.Header(); md != nil || err != nil {
		t.Errorf("Header() = %v, %v; want nil, nil", md, err)
	}
	_, err = stream.Recv()
	st := status.Convert(err)
	var info *errdetails.ResourceInfo
	for _, d := range st.Details() {
		if ri, ok := d.(*errdetails.ResourceInfo); ok {
			info = ri
		}
	}
	if st.Code() != codes.NotFound || info.GetResourceName() != "o-404" {
		t.Errorf("unknown order: %v %q, details %v", st.Code(), st.Message(), st.Details())
	}
	if header != nil {
		t.Errorf("grpc.Header got %v, want nil", header)
	}
}
