package bench

import (
	"context"
	"testing"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/protobuf/encoding/protojson"

	benchv1 "github.com/protoc-gen-go-lambda/protoc-gen-go-lambda/bench/gen/bench/v1"
)

// setupGateway returns the gateway path: grpc-gateway's ServeMux with srv
// registered in-process, behind the api-proxy and API Gateway (see
// apiGateway). The client sends the request as protojson and decodes the
// protojson response. Wire bytes are the event JSON in plus the response
// event JSON out.
func setupGateway(tb testing.TB, srv benchv1.BenchServiceServer) call {
	mux := runtime.NewServeMux()
	if err := benchv1.RegisterBenchServiceHandlerServer(context.Background(), mux, srv); err != nil {
		tb.Fatal(err)
	}
	gw := newAPIGateway(mux.ServeHTTP)
	return func(ctx context.Context, req *benchv1.EchoRequest) (*benchv1.EchoResponse, int, error) {
		body, err := protojson.Marshal(req)
		if err != nil {
			return nil, 0, err
		}
		out, wire, err := gw.post(ctx, "/v1/echo", "application/json", body, false)
		if err != nil {
			return nil, 0, err
		}
		resp := new(benchv1.EchoResponse)
		if err := protojson.Unmarshal([]byte(out.Body), resp); err != nil {
			return nil, 0, err
		}
		return resp, wire, nil
	}
}
