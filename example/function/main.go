// Command function is the example OrderService as an AWS Lambda function.
// Build it for the provided.al2023 runtime as a "bootstrap" binary:
//
//	GOOS=linux CGO_ENABLED=0 go build -tags lambda.norpc -o bootstrap ./example/function
//
// By default its main is lambda.Start(srv): every answer is returned at
// once, which is what the Invoke API, API Gateway HTTP APIs, load balancers
// and function URLs in BUFFERED mode take; server-streaming calls
// (WatchOrder) are answered too, buffered. With RESPONSE_STREAM=true in its
// environment (deploy/template.yaml sets it for a function URL in
// RESPONSE_STREAM mode) its main is lambda.Start(srv.InvokeStream) instead:
// a server-streaming call's messages leave the function as the handler sends
// them, to InvokeWithResponseStream callers and through the function URL.
package main

import (
	"context"
	"log"
	"os"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"google.golang.org/grpc"

	ordersv1 "github.com/protoc-gen-go-lambda/protoc-gen-go-lambda/example/gen/orders/v1"
	"github.com/protoc-gen-go-lambda/protoc-gen-go-lambda/example/service"
	"github.com/protoc-gen-go-lambda/protoc-gen-go-lambda/runtime"
)

// responseStreamEnv names the environment variable that chooses the
// streaming main: "true" for lambda.Start(srv.InvokeStream).
const responseStreamEnv = "RESPONSE_STREAM"

func main() {
	srv := ordersv1.NewOrderServiceLambdaHandler(service.New(),
		runtime.ChainUnaryInterceptor(logCalls),
		runtime.ChainStreamInterceptor(logStreams))
	if os.Getenv(responseStreamEnv) == "true" {
		lambda.Start(srv.InvokeStream)
		return
	}
	lambda.Start(srv)
}

// logCalls writes one line per call to the function's log (CloudWatch).
func logCalls(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	start := time.Now()
	resp, err := handler(ctx, req)
	log.Printf("%s %v err=%v", info.FullMethod, time.Since(start).Round(time.Microsecond), err)
	return resp, err
}

// logStreams writes one line per server-streaming call, with the number of
// messages the handler sent.
func logStreams(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
	start := time.Now()
	cs := &countingStream{ServerStream: ss}
	err := handler(srv, cs)
	log.Printf("%s %v sent=%d err=%v", info.FullMethod, time.Since(start).Round(time.Microsecond), cs.sent, err)
	return err
}

// countingStream counts the messages a handler sends.
type countingStream struct {
	grpc.ServerStream
	sent int
}

func (s *countingStream) SendMsg(m any) error {
	err := s.ServerStream.SendMsg(m)
	if err == nil {
		s.sent++
	}
	return err
}
