// Command grpcfloor is the floor for cold start and binary size of any Lambda
// function that serves grpc-go's interfaces: a plain aws-lambda-go function
// that links grpc-go and protobuf and does the least work with them. Build
// it exactly as example/function is built (see scripts/coldstart).
//
// Its handler takes {"body":"<base64 protobuf>"} holding a
// grpc.health.v1.HealthCheckRequest, calls grpc-go's generated Health
// service interface (grpc_health_v1.HealthServer, implemented by grpc-go's
// health.Server), and answers {"body":"<base64 protobuf>"} holding the
// HealthCheckResponse; a body that does not decode is a status error. So it
// links grpc-go's generated messages and service interface, status and
// codes, and protobuf's binary codec. main also references grpc.NewServer
// (registering the same service on a grpc.Server, only when run with
// -grpc-listen): the linker must keep grpc-go's server, as every function
// built with grpc-go's generated code may.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

// envelope is the function's request and response: one protobuf message.
type envelope struct {
	Body []byte `json:"body"` // base64 in JSON
}

type handler struct{ srv healthpb.HealthServer }

func (h handler) Invoke(ctx context.Context, payload []byte) ([]byte, error) {
	var in envelope
	if err := json.Unmarshal(payload, &in); err != nil {
		return nil, status.Error(codes.InvalidArgument, err.Error())
	}
	req := new(healthpb.HealthCheckRequest)
	if err := proto.Unmarshal(in.Body, req); err != nil {
		return nil, status.Error(codes.InvalidArgument, err.Error())
	}
	resp, err := h.srv.Check(ctx, req)
	if err != nil {
		return nil, err
	}
	out, err := proto.Marshal(resp)
	if err != nil {
		return nil, status.Error(codes.Internal, err.Error())
	}
	return json.Marshal(envelope{Body: out})
}

func main() {
	srv := health.NewServer()
	if len(os.Args) == 3 && os.Args[1] == "-grpc-listen" {
		// Serve the same service on a grpc.Server instead of Lambda.
		lis, err := net.Listen("tcp", os.Args[2])
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		s := grpc.NewServer()
		healthpb.RegisterHealthServer(s, srv)
		if err := s.Serve(lis); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		return
	}
	lambda.Start(handler{srv})
}
