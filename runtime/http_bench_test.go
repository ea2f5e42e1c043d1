package runtime_test

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/protoc-gen-go-lambda/protoc-gen-go-lambda/internal/testing/testpb"
)

// BenchmarkHTTPConnect serves one Connect unary call (binary protobuf, a
// small message) that came as a Function URL event, from the event's bytes
// to the answer's, as lambda.Start hands them over: what the HTTP front end
// costs beside the Invoke envelope's path (bench/, path=lambda).
func BenchmarkHTTPConnect(b *testing.B) {
	for _, bc := range []struct {
		name string
		json bool
	}{{"proto", false}, {"json", true}} {
		b.Run(bc.name, func(b *testing.B) {
			srv := newHTTPServer()
			t := &testing.T{}
			req := connectRequest(t, echoPath, &testpb.EchoRequest{Message: "hello, world", Payload: []byte("0123456789abcdef")},
				connectOpts{json: bc.json, header: http.Header{"Authorization": {"Bearer t0ken"}}})
			payload, err := json.Marshal(functionURL.event(addFrontEndHeaders(req)))
			if err != nil {
				b.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
			defer cancel()
			b.ReportAllocs()
			b.SetBytes(int64(len(payload)))
			for b.Loop() {
				if _, err := srv.Invoke(ctx, payload); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
