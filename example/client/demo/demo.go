// Package demo is the example client's tour of OrderService: one call per
// behaviour, each checked against the expected gRPC outcome and printed.
// example/client runs it against a function; the end-to-end tests run it
// against the example function under the Lambda Runtime Interface Emulator.
package demo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	ordersv1 "github.com/protoc-gen-go-lambda/protoc-gen-go-lambda/example/gen/orders/v1"
)

// Run makes every example call, prints one line (and its details) per call
// to w and returns how many did not give the expected outcome: the expected
// code, and for the interesting cases the expected details, metadata or
// message.
//
// The call that runs into its deadline comes last among the calls that
// invoke the function, so that the demo works against a bare Lambda Runtime
// Interface Emulator too: the client gives up on that call at its deadline,
// a moment before the function answers, and the emulator crashes on a call
// sent in that moment (classic mode) or stops when the late answer comes
// (managed mode); see docs/emulator.md. scripts/demo (through
// emulatorfront) and the end-to-end tests keep each invocation open until
// the function answers, and do not depend on this order.
func Run(ctx context.Context, c ordersv1.OrderServiceLambdaClient, w io.Writer) (failed int) {
	// check prints one outcome. problem, when not empty, says why an outcome
	// with the expected code is still wrong.
	check := func(name string, want codes.Code, err error, ok, problem string, extra ...string) {
		got := status.Code(err)
		mark := "ok  "
		if got != want {
			mark = "FAIL"
			failed++
		} else if problem != "" {
			mark = "FAIL"
			failed++
			extra = append([]string{"problem: " + problem}, extra...)
		}
		fmt.Fprintf(w, "%s %-34s want %-16s got %s\n", mark, name, want, describe(err, ok))
		for _, e := range extra {
			fmt.Fprintf(w, "       %s\n", e)
		}
	}

	order, err := c.GetOrder(ctx, &ordersv1.GetOrderRequest{Id: "o-1001"})
	check("GetOrder o-1001", codes.OK, err, summarize(order), expect(order.GetId() == "o-1001", "the order's id is not o-1001"))

	_, err = c.GetOrder(ctx, &ordersv1.GetOrderRequest{Id: "o-404"})
	check("GetOrder o-404", codes.NotFound, err, "", expect(hasDetail(err, func(d *errdetails.ResourceInfo) bool { return d.GetResourceName() == "o-404" }),
		"no ResourceInfo detail naming o-404"))

	_, err = c.CreateOrder(ctx, &ordersv1.CreateOrderRequest{Items: []*ordersv1.LineItem{{Sku: "MUG-GOPHER", Quantity: 0}}})
	check("CreateOrder (invalid)", codes.InvalidArgument, err, "", expect(hasDetail(err, func(d *errdetails.BadRequest) bool { return len(d.GetFieldViolations()) == 3 }),
		"no BadRequest detail with the 3 field violations"))

	created, err := c.CreateOrder(ctx, &ordersv1.CreateOrderRequest{
		CustomerId:      "c-7",
		Items:           []*ordersv1.LineItem{{Sku: "BK-GO-101", Title: "The Go Programming Language", Quantity: 3, UnitPriceCents: 3999}},
		ShippingAddress: &ordersv1.Address{Name: "Grace Hopper", Lines: []string{"1 Navy Way"}, City: "Arlington", CountryCode: "US"},
	})
	check("CreateOrder (valid)", codes.OK, err, summarize(created), expect(created.GetTotalCents() == 3*3999, "wrong total"))

	var header, trailer metadata.MD
	authCtx := metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer demo-token")
	me, err := c.WhoAmI(authCtx, &ordersv1.WhoAmIRequest{}, grpc.Header(&header), grpc.Trailer(&trailer))
	check("WhoAmI (Bearer demo-token)", codes.OK, err, fmt.Sprintf("subject=%s scopes=%v", me.GetSubject(), me.GetScopes()),
		expect(me.GetSubject() == "user:ada" && len(header.Get("x-request-id")) == 1 && len(trailer.Get("x-elapsed")) == 1,
			"want subject user:ada, an x-request-id header and an x-elapsed trailer"),
		fmt.Sprintf("header  x-request-id=%q", header.Get("x-request-id")),
		fmt.Sprintf("trailer x-elapsed=%q", trailer.Get("x-elapsed")))

	_, err = c.WhoAmI(ctx, &ordersv1.WhoAmIRequest{})
	check("WhoAmI (no token)", codes.Unauthenticated, err, "", "")

	shipCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
	shipped, err := c.ShipOrder(shipCtx, &ordersv1.ShipOrderRequest{Id: "o-1001", Steps: 2})
	cancel()
	check("ShipOrder 2 steps, 5s deadline", codes.OK, err, summarize(shipped),
		expect(shipped.GetStatus() == ordersv1.OrderStatus_ORDER_STATUS_SHIPPED, "the order is not shipped"))

	// 50 steps take 5 s; the 300 ms deadline ends the call long before.
	shortCtx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	start := time.Now()
	_, err = c.ShipOrder(shortCtx, &ordersv1.ShipOrderRequest{Id: "o-1001", Steps: 50})
	cancel()
	took := time.Since(start)
	check("ShipOrder 50 steps, 300ms deadline", codes.DeadlineExceeded, err, "",
		expect(took < 4*time.Second, "the call did not end at its deadline"),
		fmt.Sprintf("returned after %v", took.Round(10*time.Millisecond)))

	events, err := watch(ctx, c, "o-1001")
	check("WatchOrder (server streaming)", codes.OK, err, strings.Join(events, ", "),
		expect(len(events) >= 2 && events[len(events)-1] == ordersv1.OrderStatus_ORDER_STATUS_SHIPPED.String(), "the stream does not end with the order shipped"))
	return failed
}

// watch receives WatchOrder's events, the statuses in order.
func watch(ctx context.Context, c ordersv1.OrderServiceLambdaClient, id string) ([]string, error) {
	stream, err := c.WatchOrder(ctx, &ordersv1.WatchOrderRequest{Id: id})
	if err != nil {
		return nil, err
	}
	var events []string
	for {
		ev, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return events, nil
		}
		if err != nil {
			return events, err
		}
		events = append(events, ev.GetStatus().String())
	}
}

// expect returns problem unless ok.
func expect(ok bool, problem string) string {
	if ok {
		return ""
	}
	return problem
}

// hasDetail says whether err's status has a detail of type T that match
// accepts.
func hasDetail[T any](err error, match func(T) bool) bool {
	for _, d := range status.Convert(err).Details() {
		if d, ok := d.(T); ok && match(d) {
			return true
		}
	}
	return false
}

// describe renders a call's outcome: the status and its details.
func describe(err error, ok string) string {
	if err == nil {
		return "OK  " + ok
	}
	st, isStatus := status.FromError(err)
	if !isStatus {
		return "non-status error: " + err.Error()
	}
	s := fmt.Sprintf("%s  %q", st.Code(), st.Message())
	for _, d := range st.Details() {
		switch d := d.(type) {
		case *errdetails.ResourceInfo:
			s += fmt.Sprintf("\n       detail ResourceInfo{type=%s name=%s}", d.GetResourceType(), d.GetResourceName())
		case *errdetails.BadRequest:
			var fields []string
			for _, v := range d.GetFieldViolations() {
				fields = append(fields, v.GetField()+": "+v.GetDescription())
			}
			s += "\n       detail BadRequest{" + strings.Join(fields, "; ") + "}"
		case error:
			s += "\n       detail (undecodable): " + d.Error()
		default:
			s += fmt.Sprintf("\n       detail %T", d)
		}
	}
	return s
}

func summarize(o *ordersv1.Order) string {
	if o == nil {
		return ""
	}
	return fmt.Sprintf("order %s: %d item(s), total %d.%02d, %s", o.GetId(), len(o.GetItems()), o.GetTotalCents()/100, o.GetTotalCents()%100, o.GetStatus())
}
