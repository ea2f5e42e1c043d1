package main

import (
	"context"
	"fmt"
	"net"

	"google.golang.org/grpc"
	"google.golang.org/grpc/encoding"
	_ "google.golang.org/grpc/encoding/gzip" // the gzip compressor, as the reference server links it
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	conformancev1 "github.com/protoc-gen-go-lambda/protoc-gen-go-lambda/conformance/gen/connectrpc/conformance/v1"
	"github.com/protoc-gen-go-lambda/protoc-gen-go-lambda/conformance/service"
)

// grpc-go has only the proto codec built in; the suite's JSON cases send
// "application/grpc+json", which a grpc-go server serves with a codec named
// "json".
func init() { encoding.RegisterCodec(jsonCodec{}) }

type jsonCodec struct{}

func (jsonCodec) Name() string { return "json" }

func (jsonCodec) Marshal(v any) ([]byte, error) {
	m, ok := v.(proto.Message)
	if !ok {
		return nil, fmt.Errorf("json codec: %T is not a proto.Message", v)
	}
	return protojson.Marshal(m)
}

func (jsonCodec) Unmarshal(b []byte, v any) error {
	m, ok := v.(proto.Message)
	if !ok {
		return fmt.Errorf("json codec: %T is not a proto.Message", v)
	}
	return protojson.Unmarshal(b, m)
}

// serveGRPC serves the service with a grpc-go server over h2c.
func serveGRPC(req *conformancev1.ServerCompatRequest) (net.Listener, func(context.Context) error, error) {
	if req.GetProtocol() != conformancev1.Protocol_PROTOCOL_GRPC || req.GetHttpVersion() != conformancev1.HTTPVersion_HTTP_VERSION_2 {
		return nil, nil, fmt.Errorf("-grpc serves the gRPC protocol over HTTP/2 only, not %v over %v", req.GetProtocol(), req.GetHttpVersion())
	}
	var opts []grpc.ServerOption
	if n := req.GetMessageReceiveLimit(); n > 0 {
		opts = append(opts, grpc.MaxRecvMsgSize(int(n)))
	}
	srv := grpc.NewServer(opts...)
	conformancev1.RegisterConformanceServiceServer(srv, &service.Server{})
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, nil, err
	}
	return lis, func(ctx context.Context) error {
		go func() {
			<-ctx.Done()
			srv.Stop()
		}()
		return srv.Serve(lis)
	}, nil
}
