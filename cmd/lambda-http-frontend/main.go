// Command lambda-http-frontend puts a local stand-in for one of AWS's HTTP
// front ends (a Lambda function URL, an API Gateway HTTP or REST API, an
// Application Load Balancer) in front of a function running under the AWS
// Lambda Runtime Interface Emulator, so that a browser, curl, `buf curl` or a
// Connect or gRPC-Web client can call the function over HTTP/1.1 on this
// machine, as they would call the deployed function:
//
//	aws-lambda-rie ./bootstrap &    # the Invoke API on 127.0.0.1:8080
//	lambda-http-frontend -listen 127.0.0.1:8090 -emulator http://127.0.0.1:8080
//	buf curl --protocol connect --schema . -d '{"id":"o-1001"}' \
//	    http://127.0.0.1:8090/example.orders.v1.OrderService/GetOrder
//
// Each request becomes the event that front end sends (lambdatest.NewHTTPHandler),
// the function's answer the HTTP response it would send. docs/http.md says
// what each front end does.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/protoc-gen-go-lambda/protoc-gen-go-lambda/runtime/lambdatest"
)

var frontEnds = map[string]lambdatest.FrontEnd{
	"function-url":    lambdatest.FunctionURL,
	"http-api":        lambdatest.HTTPAPI,
	"rest-api":        lambdatest.RESTAPI,
	"alb":             lambdatest.ALB,
	"alb-multi-value": lambdatest.ALBMultiValue,
}

func main() {
	log.SetFlags(0)
	log.SetPrefix("lambda-http-frontend: ")
	listen := flag.String("listen", "127.0.0.1:8090", "address to serve HTTP on")
	emulator := flag.String("emulator", "http://127.0.0.1:8080", "the emulator's Invoke API endpoint")
	frontEnd := flag.String("front-end", "function-url", "function-url, http-api, rest-api, alb or alb-multi-value")
	stage := flag.String("stage", "prod", "the REST API's stage: its paths start with /<stage>")
	timeout := flag.Duration("function-timeout", 0, "the function's timeout, if it is shorter than the emulator's")
	flag.Parse()
	fe, ok := frontEnds[*frontEnd]
	if !ok || flag.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "usage: lambda-http-frontend [-listen addr] [-emulator url] [-front-end %s] [-stage name]\n", strings.Join([]string{"function-url", "http-api", "rest-api", "alb", "alb-multi-value"}, "|"))
		os.Exit(2)
	}
	opts := []lambdatest.HTTPOption{lambdatest.WithStage(*stage)}
	if *timeout > 0 {
		opts = append(opts, lambdatest.WithFunctionTimeout(*timeout))
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		log.Fatal(err)
	}
	srv := &http.Server{
		Handler:           lambdatest.NewHTTPHandler(lambdatest.EmulatorHandler(*emulator), fe, opts...),
		ReadHeaderTimeout: 10 * time.Second,
	}
	log.Printf("%v in front of %s, on http://%s", fe, *emulator, ln.Addr())
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_ = srv.Shutdown(shutdown)
	}()
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Fatal(err)
	}
}
