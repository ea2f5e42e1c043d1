package bench

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/lambda"

	benchv1 "github.com/protoc-gen-go-lambda/protoc-gen-go-lambda/bench/gen/bench/v1"
	"github.com/protoc-gen-go-lambda/protoc-gen-go-lambda/runtime"
	"github.com/protoc-gen-go-lambda/protoc-gen-go-lambda/runtime/invoke"
)

// countingInvoker passes the exact payload bytes to the function's
// runtime.Server.Invoke, as Lambda does, and counts the bytes both ways.
type countingInvoker struct {
	srv  *runtime.Server
	wire int
}

func (c *countingInvoker) Invoke(ctx context.Context, in *lambda.InvokeInput, _ ...func(*lambda.Options)) (*lambda.InvokeOutput, error) {
	out, err := c.srv.Invoke(ctx, in.Payload)
	if err != nil {
		return nil, err
	}
	c.wire = len(in.Payload) + len(out)
	return &lambda.InvokeOutput{StatusCode: http.StatusOK, Payload: out}, nil
}

// lambdaCall makes calls with the generated client over cc; wire reports the
// bytes of the last call.
func lambdaCall(cc *invoke.ClientConn, wire func() int) call {
	client := benchv1.NewBenchServiceLambdaClient(cc)
	return func(ctx context.Context, req *benchv1.EchoRequest) (*benchv1.EchoResponse, int, error) {
		resp, err := client.Echo(ctx, req)
		return resp, wire(), err
	}
}

// setupLambda returns the product's path: the generated client →
// invoke.ClientConn → the request envelope → runtime.Server.Invoke → the
// generated handler → the service, and back. Wire bytes are the request and
// response payloads.
func setupLambda(_ testing.TB, srv benchv1.BenchServiceServer) call {
	inv := &countingInvoker{srv: benchv1.NewBenchServiceLambdaHandler(srv)}
	return lambdaCall(invoke.NewClientConn(inv, "bench"), func() int { return inv.wire })
}

// setupLambdaJSON is setupLambda in JSON mode: protojson bodies.
func setupLambdaJSON(_ testing.TB, srv benchv1.BenchServiceServer) call {
	inv := &countingInvoker{srv: benchv1.NewBenchServiceLambdaHandler(srv)}
	return lambdaCall(invoke.NewClientConn(inv, "bench", invoke.WithJSON()), func() int { return inv.wire })
}

// setupLambdaSDK is setupLambda through the real AWS SDK Lambda client
// (request signing, HTTP, response decoding) against a local httptest
// server that answers as the Invoke API does by calling
// runtime.Server.Invoke. Wire bytes are the HTTP bodies.
func setupLambdaSDK(tb testing.TB, srv benchv1.BenchServiceServer) call {
	fn := benchv1.NewBenchServiceLambdaHandler(srv)
	var wire int
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		payload, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		out, err := fn.Invoke(r.Context(), payload)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		wire = len(payload) + len(out)
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-Amz-Executed-Version", "$LATEST")
		w.Write(out)
	}))
	tb.Cleanup(ts.Close)
	client := lambda.New(lambda.Options{
		Region:       "us-east-1",
		Credentials:  credentials.NewStaticCredentialsProvider("bench", "bench", ""),
		BaseEndpoint: aws.String(ts.URL),
		HTTPClient:   ts.Client(),
	})
	return lambdaCall(invoke.NewClientConn(client, "bench"), func() int { return wire })
}
