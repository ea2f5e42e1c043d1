package streambench

import (
	"context"
	"errors"
	"io"
	"net/http"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awslambda "github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/smithy-go/eventstream"

	"github.com/protoc-gen-go-lambda/protoc-gen-go-lambda/internal/testing/testpb"
	lambdaruntime "github.com/protoc-gen-go-lambda/protoc-gen-go-lambda/runtime"
	"github.com/protoc-gen-go-lambda/protoc-gen-go-lambda/runtime/invoke"
)

// The proposed fix measured end to end. lambdatest's Invoker ignores the
// SDK options a caller passes (its own client installs its own protocol),
// so fastChunks cannot be tried through it without editing runtime/**.
// sdkDouble is a minimal stand-in: the real SDK Lambda client whose HTTP
// client runs runtime.Server.InvokeStream in process and writes its Reads
// (64 KiB at most) as PayloadChunk events, then InvokeComplete — what
// lambdatest does, without its Lambda semantics (timeouts, limits,
// concurrency, error documents). invoke's SDK options apply, and with
// fast the call's protocol is wrapped in fastChunks after them, as
// runtime/invoke would wrap it.
type sdkDouble struct {
	client *awslambda.Client
	fast   bool
}

func newSDKDouble(srv *lambdaruntime.Server, fast bool) *sdkDouble {
	return &sdkDouble{
		client: awslambda.New(awslambda.Options{
			Region:       "us-east-1",
			Credentials:  credentials.NewStaticCredentialsProvider("AKIDSTREAMBENCH", "streambench", ""),
			BaseEndpoint: aws.String("http://streambench.invalid"),
			HTTPClient:   doubleHTTP{srv},
			Retryer:      aws.NopRetryer{},
		}),
		fast: fast,
	}
}

func (d *sdkDouble) Invoke(context.Context, *awslambda.InvokeInput, ...func(*awslambda.Options)) (*awslambda.InvokeOutput, error) {
	return nil, errors.New("sdkDouble streams only")
}

func (d *sdkDouble) InvokeWithResponseStream(ctx context.Context, in *awslambda.InvokeWithResponseStreamInput, optFns ...func(*awslambda.Options)) (*awslambda.InvokeWithResponseStreamOutput, error) {
	if d.fast {
		optFns = append(optFns[:len(optFns):len(optFns)], func(o *awslambda.Options) { o.Protocol = fastChunks{o.Protocol} })
	}
	return d.client.InvokeWithResponseStream(ctx, in, optFns...)
}

// doubleHTTP answers an InvokeWithResponseStream request with srv's
// streamed answer as events.
type doubleHTTP struct{ srv *lambdaruntime.Server }

func (h doubleHTTP) Do(req *http.Request) (*http.Response, error) {
	payload, err := io.ReadAll(req.Body)
	req.Body.Close()
	if err != nil {
		return nil, err
	}
	pr, pw := io.Pipe()
	go func() {
		enc := eventstream.NewEncoder()
		r, _ := h.srv.InvokeStream(context.Background(), payload) // the error is always nil
		buf := make([]byte, 64<<10)
		for {
			n, err := r.Read(buf)
			if n > 0 {
				encodeEvent(enc, pw, "PayloadChunk", "application/octet-stream", buf[:n])
			}
			if err != nil {
				break
			}
		}
		if c, ok := r.(io.Closer); ok {
			c.Close()
		}
		encodeEvent(enc, pw, "InvokeComplete", "application/json", []byte("{}"))
		pw.Close()
	}()
	return &http.Response{
		StatusCode: http.StatusOK, Status: "200 OK", Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header:  http.Header{"Content-Type": {"application/vnd.amazon.eventstream"}},
		Body:    pr,
		Request: req, ContentLength: -1,
	}, nil
}

func setupSDKDouble(tb testing.TB, fast bool) testpb.TestServiceClient {
	srv := lambdaruntime.NewServer()
	testpb.RegisterTestServiceLambdaServer(srv, newStreamServer())
	return testpb.NewTestServiceLambdaClient(invoke.NewClientConn(newSDKDouble(srv, fast), "streambench"))
}

// BenchmarkServerStreamFix is BenchmarkServerStream through sdkDouble, as
// BenchmarkServerStreamFix/protocol=<restjson1|fastChunks>.
func BenchmarkServerStreamFix(b *testing.B) {
	for _, p := range sdkProtocols {
		b.Run("protocol="+p.name, func(b *testing.B) {
			benchBulk(b, setupSDKDouble(b, p.fast))
		})
	}
}

// BenchmarkFirstMessageFix is BenchmarkFirstMessage through sdkDouble.
func BenchmarkFirstMessageFix(b *testing.B) {
	for _, p := range sdkProtocols {
		b.Run("protocol="+p.name, func(b *testing.B) {
			benchFirst(b, setupSDKDouble(b, p.fast))
		})
	}
}

// TestSDKDouble checks both protocols through sdkDouble.
func TestSDKDouble(t *testing.T) {
	for _, p := range sdkProtocols {
		c := setupSDKDouble(t, p.fast)
		for _, s := range []struct{ count, size int32 }{{smallCount, smallSize}, {16, bulkSize}} {
			if _, _, err := receive(context.Background(), c, s.count, s.size); err != nil {
				t.Errorf("%s, %d × %d: %v", p.name, s.count, s.size, err)
			}
		}
	}
}
