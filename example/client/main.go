// Command client calls the example OrderService function through the AWS
// Lambda Invoke API with the generated OrderServiceLambdaClient, once per
// behaviour, and prints what came back. By default it talks to the Lambda
// Runtime Interface Emulator on 127.0.0.1:8080 (see scripts/demo); with
// -endpoint "" it uses the real Lambda service and the usual AWS
// configuration (environment, profile, role).
//
// It exits 1 when any call does not give the expected outcome.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	ordersv1 "github.com/protoc-gen-go-lambda/protoc-gen-go-lambda/example/gen/orders/v1"
	"github.com/protoc-gen-go-lambda/protoc-gen-go-lambda/runtime"
)

func main() {
	endpoint := flag.String("endpoint", "http://127.0.0.1:8080", `Lambda API endpoint; "" for the real service`)
	region := flag.String("region", "us-east-1", "AWS region")
	function := flag.String("function", "function", "function name or ARN (the emulator's is \"function\")")
	qualifier := flag.String("qualifier", "", "function version or alias")
	jsonMode := flag.Bool("json", false, "send bodies as protojson instead of base64 protobuf")
	flag.Parse()

	ctx := context.Background()
	invoker, err := newLambdaClient(ctx, *endpoint, *region)
	if err != nil {
		fmt.Fprintln(os.Stderr, "client:", err)
		os.Exit(2)
	}
	var opts []runtime.ClientOption
	if *qualifier != "" {
		opts = append(opts, runtime.WithQualifier(*qualifier))
	}
	if *jsonMode {
		opts = append(opts, runtime.WithJSON())
	}
	client := ordersv1.NewOrderServiceLambdaClient(runtime.NewClientConn(invoker, *function, opts...))
	if failed := Run(ctx, client, os.Stdout); failed > 0 {
		fmt.Printf("\n%d call(s) did not give the expected outcome\n", failed)
		os.Exit(1)
	}
	fmt.Println("\nall calls gave the expected outcome")
}

// newLambdaClient returns an AWS SDK Lambda client. For a local endpoint
// (the emulator) it uses fixed dummy credentials: the emulator checks none.
func newLambdaClient(ctx context.Context, endpoint, region string) (*lambda.Client, error) {
	loadOpts := []func(*config.LoadOptions) error{config.WithRegion(region)}
	if endpoint != "" {
		loadOpts = append(loadOpts, config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider("emulator", "emulator", "")))
	}
	cfg, err := config.LoadDefaultConfig(ctx, loadOpts...)
	if err != nil {
		return nil, fmt.Errorf("loading AWS configuration: %w", err)
	}
	return lambda.NewFromConfig(cfg, func(o *lambda.Options) {
		if endpoint != "" {
			o.BaseEndpoint = aws.String(endpoint)
		}
	}), nil
}

// Run makes every example call, prints one block per call to w and returns
// how many did not give the expected code.
func Run(ctx context.Context, c ordersv1.OrderServiceLambdaClient, w io.Writer) (failed int) {
	check := func(name string, want codes.Code, err error, ok string, extra ...string) {
		got := status.Code(err)
		mark := "ok  "
		if got != want {
			mark = "FAIL"
			failed++
		}
		fmt.Fprintf(w, "%s %-34s want %-16s got %s\n", mark, name, want, describe(err, ok))
		for _, e := range extra {
			fmt.Fprintf(w, "       %s\n", e)
		}
	}

	order, err := c.GetOrder(ctx, &ordersv1.GetOrderRequest{Id: "o-1001"})
	check("GetOrder o-1001", codes.OK, err, summarize(order))

	_, err = c.GetOrder(ctx, &ordersv1.GetOrderRequest{Id: "o-404"})
	check("GetOrder o-404", codes.NotFound, err, "")

	_, err = c.CreateOrder(ctx, &ordersv1.CreateOrderRequest{Items: []*ordersv1.LineItem{{Sku: "MUG-GOPHER", Quantity: 0}}})
	check("CreateOrder (invalid)", codes.InvalidArgument, err, "")

	created, err := c.CreateOrder(ctx, &ordersv1.CreateOrderRequest{
		CustomerId:      "c-7",
		Items:           []*ordersv1.LineItem{{Sku: "BK-GO-101", Title: "The Go Programming Language", Quantity: 3, UnitPriceCents: 3999}},
		ShippingAddress: &ordersv1.Address{Name: "Grace Hopper", Lines: []string{"1 Navy Way"}, City: "Arlington", CountryCode: "US"},
	})
	check("CreateOrder (valid)", codes.OK, err, summarize(created))

	var header, trailer metadata.MD
	authCtx := metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer demo-token")
	me, err := c.WhoAmI(authCtx, &ordersv1.WhoAmIRequest{}, grpc.Header(&header), grpc.Trailer(&trailer))
	check("WhoAmI (Bearer demo-token)", codes.OK, err, fmt.Sprintf("subject=%s scopes=%v", me.GetSubject(), me.GetScopes()),
		fmt.Sprintf("header  x-request-id=%q", header.Get("x-request-id")),
		fmt.Sprintf("trailer x-elapsed=%q", trailer.Get("x-elapsed")))

	_, err = c.WhoAmI(ctx, &ordersv1.WhoAmIRequest{})
	check("WhoAmI (no token)", codes.Unauthenticated, err, "")

	shipCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
	shipped, err := c.ShipOrder(shipCtx, &ordersv1.ShipOrderRequest{Id: "o-1001", Steps: 2})
	cancel()
	check("ShipOrder 2 steps, 5s deadline", codes.OK, err, summarize(shipped))

	shortCtx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	start := time.Now()
	_, err = c.ShipOrder(shortCtx, &ordersv1.ShipOrderRequest{Id: "o-1001", Steps: 50})
	cancel()
	check("ShipOrder 50 steps, 300ms deadline", codes.DeadlineExceeded, err, "", fmt.Sprintf("returned after %v", time.Since(start).Round(10*time.Millisecond)))

	_, err = c.WatchOrder(ctx, &ordersv1.WatchOrderRequest{Id: "o-1001"})
	check("WatchOrder (server streaming)", codes.Unimplemented, err, "")
	return failed
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
