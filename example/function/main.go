// Command function is the example OrderService as an AWS Lambda function.
// Build it for the provided.al2023 runtime as a "bootstrap" binary:
//
//	GOOS=linux CGO_ENABLED=0 go build -tags lambda.norpc -o bootstrap ./example/function
package main

import (
	"context"
	"log"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"google.golang.org/grpc"

	ordersv1 "github.com/protoc-gen-go-lambda/protoc-gen-go-lambda/example/gen/orders/v1"
	"github.com/protoc-gen-go-lambda/protoc-gen-go-lambda/example/service"
	"github.com/protoc-gen-go-lambda/protoc-gen-go-lambda/runtime"
)

func main() {
	lambda.Start(ordersv1.NewOrderServiceLambdaHandler(service.New(),
		runtime.ChainUnaryInterceptor(logCalls)))
}

// logCalls writes one line per call to the function's log (CloudWatch).
func logCalls(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	start := time.Now()
	resp, err := handler(ctx, req)
	log.Printf("%s %v err=%v", info.FullMethod, time.Since(start).Round(time.Microsecond), err)
	return resp, err
}
