package main

import (
	"context"
	"errors"
	"net"

	conformancev1 "github.com/protoc-gen-go-lambda/protoc-gen-go-lambda/conformance/gen/connectrpc/conformance/v1"
)

// serveLambda is not available until the runtime has an HTTP front door.
func serveLambda(req *conformancev1.ServerCompatRequest) (net.Listener, func(context.Context) error, error) {
	return nil, nil, errors.New("the Lambda mode needs runtime's HTTP front door; use -grpc")
}
