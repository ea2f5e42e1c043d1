package bench

import (
	"context"
	"encoding/base64"
	"testing"

	"google.golang.org/protobuf/proto"

	benchv1 "github.com/protoc-gen-go-lambda/protoc-gen-go-lambda/bench/gen/bench/v1"
)

// setupFloor returns the floor path: the least work any scheme that carries
// a protobuf body as base64 inside a JSON payload must do. Each direction is
// proto.Marshal, base64 encode, base64 decode and proto.Unmarshal; there is
// no JSON and no transport. Wire bytes are the lengths of the two base64
// texts.
func setupFloor(_ testing.TB, srv benchv1.BenchServiceServer) call {
	return func(ctx context.Context, req *benchv1.EchoRequest) (*benchv1.EchoResponse, int, error) {
		reqText, err := encodeBase64Proto(req)
		if err != nil {
			return nil, 0, err
		}
		in := new(benchv1.EchoRequest)
		if err := decodeBase64Proto(reqText, in); err != nil {
			return nil, 0, err
		}
		out, err := srv.Echo(ctx, in)
		if err != nil {
			return nil, 0, err
		}
		respText, err := encodeBase64Proto(out)
		if err != nil {
			return nil, 0, err
		}
		resp := new(benchv1.EchoResponse)
		if err := decodeBase64Proto(respText, resp); err != nil {
			return nil, 0, err
		}
		return resp, len(reqText) + len(respText), nil
	}
}

// floorFunction is the floor path's server half, as a function's handler:
// the request's base64 text in, base64 decode, proto.Unmarshal, srv.Echo,
// proto.Marshal, base64 encode, the response's base64 text out
// (BenchmarkHTTPParts' part=invoke-floor).
func floorFunction(srv benchv1.BenchServiceServer) func(context.Context, []byte) ([]byte, error) {
	return func(ctx context.Context, in []byte) ([]byte, error) {
		req := new(benchv1.EchoRequest)
		if err := decodeBase64Proto(in, req); err != nil {
			return nil, err
		}
		resp, err := srv.Echo(ctx, req)
		if err != nil {
			return nil, err
		}
		return encodeBase64Proto(resp)
	}
}

// encodeBase64Proto returns m in the binary protobuf encoding, as standard
// base64 text.
func encodeBase64Proto(m proto.Message) ([]byte, error) {
	b, err := proto.Marshal(m)
	if err != nil {
		return nil, err
	}
	return base64.StdEncoding.AppendEncode(nil, b), nil
}

// decodeBase64Proto decodes standard base64 text holding a binary protobuf
// message into m.
func decodeBase64Proto(text []byte, m proto.Message) error {
	b, err := base64.StdEncoding.AppendDecode(nil, text)
	if err != nil {
		return err
	}
	return proto.Unmarshal(b, m)
}
