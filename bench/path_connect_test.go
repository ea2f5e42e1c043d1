package bench

import (
	"context"
	"net/http"
	"testing"

	"google.golang.org/protobuf/proto"

	benchv1 "github.com/protoc-gen-go-lambda/protoc-gen-go-lambda/bench/gen/bench/v1"
	"github.com/protoc-gen-go-lambda/protoc-gen-go-lambda/bench/gen/bench/v1/benchv1connect"
)

// setupConnect returns the connect path: a connect-go handler for srv behind
// the api-proxy and API Gateway (see apiGateway), spoken to with the Connect
// protocol's unary binary form: a POST of the protobuf body with content
// type application/proto, which API Gateway delivers base64-encoded. The
// client sends no Accept-Encoding, so the response is not compressed. Wire
// bytes are the event JSON in plus the response event JSON out.
func setupConnect(_ testing.TB, srv benchv1.BenchServiceServer) call {
	procedure, handler := benchv1connect.NewBenchServiceHandler(srv)
	mux := http.NewServeMux()
	mux.Handle(procedure, handler)
	gw := newAPIGateway(mux.ServeHTTP)
	return func(ctx context.Context, req *benchv1.EchoRequest) (*benchv1.EchoResponse, int, error) {
		body, err := proto.Marshal(req)
		if err != nil {
			return nil, 0, err
		}
		out, wire, err := gw.post(ctx, benchv1connect.BenchServiceEchoProcedure, "application/proto", body, true)
		if err != nil {
			return nil, 0, err
		}
		raw, err := responseBody(out)
		if err != nil {
			return nil, 0, err
		}
		resp := new(benchv1.EchoResponse)
		if err := proto.Unmarshal(raw, resp); err != nil {
			return nil, 0, err
		}
		return resp, wire, nil
	}
}
