// Command lambda-grpc-bridge is a gRPC server that forwards every call to
// AWS Lambda functions served by protoc-gen-go-lambda, through the Lambda
// Invoke API, so that any gRPC client (grpcurl, grpc-js, grpcio, grpc-java,
// generated stubs in any language) can call them. It answers server
// reflection and health checks. Install it with
//
//	go install github.com/protoc-gen-go-lambda/protoc-gen-go-lambda/cmd/lambda-grpc-bridge@latest
//
// and run it next to the caller or as a sidecar:
//
//	lambda-grpc-bridge --listen 127.0.0.1:50051 --function orders-function
//
// docs/bridge.md documents its flags, what crosses it and how.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	_ "google.golang.org/grpc/encoding/gzip" // callers may compress their messages

	"github.com/protoc-gen-go-lambda/protoc-gen-go-lambda/internal/bridge"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	code := bridge.Main(ctx, os.Args[1:], os.Stderr)
	stop()
	os.Exit(code)
}
