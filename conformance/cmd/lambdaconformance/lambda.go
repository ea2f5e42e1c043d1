package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/aws/aws-lambda-go/lambda"

	conformancev1 "github.com/protoc-gen-go-lambda/protoc-gen-go-lambda/conformance/gen/connectrpc/conformance/v1"
	"github.com/protoc-gen-go-lambda/protoc-gen-go-lambda/conformance/service"
	"github.com/protoc-gen-go-lambda/protoc-gen-go-lambda/runtime"
	"github.com/protoc-gen-go-lambda/protoc-gen-go-lambda/runtime/lambdatest"
)

// serveLambda serves the service from a runtime.Server, as a function's main
// would, behind lambdatest's stand-in for the front end fe on an HTTP/1.1
// listener.
func serveLambda(req *conformancev1.ServerCompatRequest, fe lambdatest.FrontEnd, stream bool) (net.Listener, func(context.Context) error, error) {
	switch {
	case req.GetHttpVersion() != conformancev1.HTTPVersion_HTTP_VERSION_1:
		return nil, nil, fmt.Errorf("Lambda's HTTP front ends speak HTTP/1.1 to the function's stand-in, not %v", req.GetHttpVersion())
	case req.GetProtocol() != conformancev1.Protocol_PROTOCOL_CONNECT && req.GetProtocol() != conformancev1.Protocol_PROTOCOL_GRPC_WEB:
		return nil, nil, fmt.Errorf("the runtime's HTTP front door speaks Connect and gRPC-Web, not %v", req.GetProtocol())
	}
	var opts []runtime.ServerOption
	if n := req.GetMessageReceiveLimit(); n > 0 {
		opts = append(opts, runtime.MaxRecvMsgSize(int(n)))
	}
	srv := runtime.NewServer(opts...)
	conformancev1.RegisterConformanceServiceLambdaServer(srv, &service.Server{Timeout: callerTimeout})

	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, nil, err
	}
	feOpts := []lambdatest.HTTPOption{lambdatest.WithStage(restStage)}
	if stream {
		// A function URL in RESPONSE_STREAM mode, or a REST API integration
		// in STREAM mode, in front of a function whose main is
		// lambda.Start(srv.InvokeStream).
		feOpts = append(feOpts, lambdatest.WithResponseStream())
	}
	front := lambdatest.NewHTTPHandler(functionDeadline{srv}, fe, feOpts...)
	if fe == lambdatest.RESTAPI {
		// A REST API's clients call the stage's URL; the suite's client
		// calls the server's root.
		front = withPathPrefix("/"+restStage, front)
	}
	hs := &http.Server{
		Handler:           front,
		ReadHeaderTimeout: 10 * time.Second,
	}
	return lis, func(ctx context.Context) error {
		go func() {
			<-ctx.Done()
			hs.Close()
		}()
		if err := hs.Serve(lis); err != http.ErrServerClosed {
			return err
		}
		return nil
	}, nil
}

// restStage is the REST API's stage, the first segment of its paths.
const restStage = "conformance"

// withPathPrefix prefixes every request's path with prefix.
func withPathPrefix(prefix string, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r2 := r.Clone(r.Context())
		r2.URL.Path = prefix + r.URL.Path
		if r.URL.RawPath != "" {
			r2.URL.RawPath = prefix + r.URL.RawPath
		}
		r2.RequestURI = r2.URL.RequestURI()
		h.ServeHTTP(w, r2)
	})
}

// functionDeadline is the function: it passes every invocation to the
// runtime.Server, through Invoke (lambda.Start(srv)) or, behind a streaming
// front end, InvokeStream (lambda.Start(srv.InvokeStream)), noting the
// invocation's deadline (the function timeout) in the context for
// callerTimeout.
type functionDeadline struct{ srv *runtime.Server }

var (
	_ lambda.Handler           = functionDeadline{}
	_ lambdatest.StreamHandler = functionDeadline{}
)

type functionDeadlineKey struct{}

func (h functionDeadline) Invoke(ctx context.Context, payload []byte) ([]byte, error) {
	return h.srv.Invoke(withFunctionDeadline(ctx), payload)
}

func (h functionDeadline) InvokeStream(ctx context.Context, payload json.RawMessage) (io.Reader, error) {
	return h.srv.InvokeStream(withFunctionDeadline(ctx), payload)
}

func withFunctionDeadline(ctx context.Context) context.Context {
	if d, ok := ctx.Deadline(); ok {
		ctx = context.WithValue(ctx, functionDeadlineKey{}, d)
	}
	return ctx
}

// callerTimeout is the timeout the caller set, which the service echoes. A
// handler under runtime.Server always has a deadline: the caller's, or the
// function's less runtime.DefaultDeadlineMargin when that comes first. Only
// the former is the caller's timeout.
func callerTimeout(ctx context.Context) (time.Duration, bool) {
	deadline, ok := ctx.Deadline()
	if !ok {
		return 0, false
	}
	if fd, ok := ctx.Value(functionDeadlineKey{}).(time.Time); ok && !deadline.Before(fd.Add(-runtime.DefaultDeadlineMargin)) {
		return 0, false
	}
	return time.Until(deadline), true
}
