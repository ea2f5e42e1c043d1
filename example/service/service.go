// Package service implements the example OrderService once, for both a
// grpc.Server and a Lambda function: it embeds protoc-gen-go-grpc's
// UnimplementedOrderServiceServer and satisfies the generated
// OrderServiceLambdaServer too.
package service

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	ordersv1 "github.com/protoc-gen-go-lambda/protoc-gen-go-lambda/example/gen/orders/v1"
)

// Tokens the example accepts in "authorization: Bearer <token>", and the
// subject each one stands for.
var Tokens = map[string]string{
	"demo-token":  "user:ada",
	"admin-token": "user:grace",
}

// StepDuration is how long one ShipOrder step takes.
const StepDuration = 100 * time.Millisecond

// Orders is an in-memory OrderService. The zero value is not usable; call New.
type Orders struct {
	ordersv1.UnimplementedOrderServiceServer

	mu     sync.Mutex
	orders map[string]*ordersv1.Order
	// events holds each order's status changes, oldest first: the first is
	// its creation.
	events map[string][]*ordersv1.OrderEvent
	nextID int
}

var (
	_ ordersv1.OrderServiceServer       = (*Orders)(nil)
	_ ordersv1.OrderServiceLambdaServer = (*Orders)(nil)
)

// New returns a service holding one order, "o-1001".
func New() *Orders {
	o := &Orders{orders: map[string]*ordersv1.Order{}, events: map[string][]*ordersv1.OrderEvent{}, nextID: 1002}
	o.orders["o-1001"] = &ordersv1.Order{
		Id:         "o-1001",
		CustomerId: "c-42",
		Items: []*ordersv1.LineItem{
			{Sku: "BK-GO-101", Title: "The Go Programming Language", Quantity: 1, UnitPriceCents: 3999},
			{Sku: "MUG-GOPHER", Title: "Gopher mug", Quantity: 2, UnitPriceCents: 1250},
		},
		ShippingAddress: &ordersv1.Address{Name: "Ada Lovelace", Lines: []string{"12 St James's Square"}, City: "London", PostalCode: "SW1Y 4JH", CountryCode: "GB"},
		Status:          ordersv1.OrderStatus_ORDER_STATUS_PENDING,
		TotalCents:      6499,
		CreateTime:      timestamppb.New(time.Date(2026, 11, 1, 9, 30, 0, 0, time.UTC)),
		Tags:            []string{"gift"},
	}
	o.recordLocked(o.orders["o-1001"], o.orders["o-1001"].CreateTime)
	return o
}

// recordLocked appends order's current status to its events, at t, unless
// it is the status last recorded. o.mu is held.
func (o *Orders) recordLocked(order *ordersv1.Order, t *timestamppb.Timestamp) {
	events := o.events[order.Id]
	if n := len(events); n > 0 && events[n-1].Status == order.Status {
		return
	}
	o.events[order.Id] = append(events, &ordersv1.OrderEvent{OrderId: order.Id, Status: order.Status, Time: t})
}

// GetOrder implements OrderService.GetOrder.
func (o *Orders) GetOrder(_ context.Context, req *ordersv1.GetOrderRequest) (*ordersv1.Order, error) {
	o.mu.Lock()
	order, ok := o.orders[req.GetId()]
	o.mu.Unlock()
	if !ok {
		st, err := status.New(codes.NotFound, fmt.Sprintf("order %q not found", req.GetId())).WithDetails(&errdetails.ResourceInfo{
			ResourceType: "example.orders.v1.Order",
			ResourceName: req.GetId(),
			Description:  "no order has this id",
		})
		if err != nil {
			return nil, status.Errorf(codes.Internal, "attaching details: %v", err)
		}
		return nil, st.Err()
	}
	return proto.Clone(order).(*ordersv1.Order), nil
}

// CreateOrder implements OrderService.CreateOrder.
func (o *Orders) CreateOrder(_ context.Context, req *ordersv1.CreateOrderRequest) (*ordersv1.Order, error) {
	var bad []*errdetails.BadRequest_FieldViolation
	violate := func(field, desc string) {
		bad = append(bad, &errdetails.BadRequest_FieldViolation{Field: field, Description: desc})
	}
	if req.GetCustomerId() == "" {
		violate("customer_id", "must not be empty")
	}
	if len(req.GetItems()) == 0 {
		violate("items", "an order needs at least one item")
	}
	var total int64
	for i, it := range req.GetItems() {
		if it.GetQuantity() <= 0 {
			violate(fmt.Sprintf("items[%d].quantity", i), "must be positive")
		}
		if it.GetUnitPriceCents() < 0 {
			violate(fmt.Sprintf("items[%d].unit_price_cents", i), "must not be negative")
		}
		total += int64(it.GetQuantity()) * it.GetUnitPriceCents()
	}
	if req.GetShippingAddress().GetCountryCode() == "" {
		violate("shipping_address.country_code", "must be an ISO 3166-1 alpha-2 code")
	}
	if len(bad) > 0 {
		st, err := status.New(codes.InvalidArgument, "invalid order").WithDetails(&errdetails.BadRequest{FieldViolations: bad})
		if err != nil {
			return nil, status.Errorf(codes.Internal, "attaching details: %v", err)
		}
		return nil, st.Err()
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	order := &ordersv1.Order{
		Id:              fmt.Sprintf("o-%d", o.nextID),
		CustomerId:      req.GetCustomerId(),
		Items:           req.GetItems(),
		ShippingAddress: req.GetShippingAddress(),
		Status:          ordersv1.OrderStatus_ORDER_STATUS_PENDING,
		TotalCents:      total,
		CreateTime:      timestamppb.Now(),
		Tags:            req.GetTags(),
	}
	o.nextID++
	o.orders[order.Id] = order
	o.recordLocked(order, order.CreateTime)
	return proto.Clone(order).(*ordersv1.Order), nil
}

// WhoAmI implements OrderService.WhoAmI.
func (o *Orders) WhoAmI(ctx context.Context, _ *ordersv1.WhoAmIRequest) (*ordersv1.WhoAmIResponse, error) {
	start := time.Now()
	md, _ := metadata.FromIncomingContext(ctx)
	reqID := "req-" + fmt.Sprint(start.UnixNano())
	if err := grpc.SetHeader(ctx, metadata.Pairs("x-request-id", reqID)); err != nil {
		return nil, err
	}
	defer func() {
		// Whole microseconds: metadata values are printable ASCII (not "µs").
		_ = grpc.SetTrailer(ctx, metadata.Pairs("x-elapsed", strconv.FormatInt(time.Since(start).Microseconds(), 10)+"us"))
	}()
	auth := md.Get("authorization")
	if len(auth) == 0 {
		return nil, status.Error(codes.Unauthenticated, `missing "authorization" metadata`)
	}
	token, ok := strings.CutPrefix(auth[0], "Bearer ")
	subject, known := Tokens[token]
	if !ok || !known {
		return nil, status.Error(codes.Unauthenticated, "invalid bearer token")
	}
	scopes := []string{"orders:read"}
	if token == "admin-token" {
		scopes = append(scopes, "orders:write")
	}
	return &ordersv1.WhoAmIResponse{Subject: subject, Scopes: scopes}, nil
}

// ShipOrder implements OrderService.ShipOrder.
func (o *Orders) ShipOrder(ctx context.Context, req *ordersv1.ShipOrderRequest) (*ordersv1.Order, error) {
	order, err := o.GetOrder(ctx, &ordersv1.GetOrderRequest{Id: req.GetId()})
	if err != nil {
		return nil, err
	}
	t := time.NewTimer(StepDuration)
	defer t.Stop()
	for i := int32(0); i < req.GetSteps(); i++ {
		select {
		case <-ctx.Done():
			return nil, status.FromContextError(ctx.Err()).Err()
		case <-t.C:
			t.Reset(StepDuration)
		}
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	stored := o.orders[order.Id]
	stored.Status = ordersv1.OrderStatus_ORDER_STATUS_SHIPPED
	o.recordLocked(stored, timestamppb.Now())
	return proto.Clone(stored).(*ordersv1.Order), nil
}

// WatchOrder implements OrderService.WatchOrder: it sends the order's status
// changes so far, oldest first (the first is its creation, PENDING; ShipOrder
// adds SHIPPED), one OrderEvent each, and returns, so the stream ends with
// OK. An unknown id fails with NOT_FOUND and a ResourceInfo, as GetOrder
// does, before any message. The same code serves a grpc.Server and a Lambda
// function (buffered with lambda.Start(srv), streamed with
// lambda.Start(srv.InvokeStream)).
func (o *Orders) WatchOrder(req *ordersv1.WatchOrderRequest, stream grpc.ServerStreamingServer[ordersv1.OrderEvent]) error {
	ctx := stream.Context()
	if _, err := o.GetOrder(ctx, &ordersv1.GetOrderRequest{Id: req.GetId()}); err != nil {
		return err
	}
	o.mu.Lock()
	events := make([]*ordersv1.OrderEvent, 0, len(o.events[req.GetId()]))
	for _, ev := range o.events[req.GetId()] {
		events = append(events, proto.Clone(ev).(*ordersv1.OrderEvent))
	}
	o.mu.Unlock()
	for _, ev := range events {
		if err := ctx.Err(); err != nil {
			return status.FromContextError(err).Err()
		}
		if err := stream.Send(ev); err != nil {
			return err
		}
	}
	return nil
}
