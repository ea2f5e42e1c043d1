package invoke_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	grpccreds "google.golang.org/grpc/credentials"
	"google.golang.org/grpc/status"

	"github.com/protoc-gen-go-lambda/protoc-gen-go-lambda/internal/testing/testpb"
	"github.com/protoc-gen-go-lambda/protoc-gen-go-lambda/internal/testing/testserver"
	"github.com/protoc-gen-go-lambda/protoc-gen-go-lambda/runtime/invoke"
	"github.com/protoc-gen-go-lambda/protoc-gen-go-lambda/runtime/lambdatest"
)

// tokenCreds are per-RPC credentials that behave as grpc-go's oauth ones
// do: when they require transport security they hand out their token only
// on a connection whose AuthInfo says PrivacyAndIntegrity. They count how
// often they were asked.
type tokenCreds struct {
	secure bool
	asked  atomic.Int32
}

func (c *tokenCreds) GetRequestMetadata(ctx context.Context, _ ...string) (map[string]string, error) {
	c.asked.Add(1)
	ri, ok := grpccreds.RequestInfoFromContext(ctx)
	if !ok || ri.Method != testpb.TestServiceLambda_Echo_FullMethodName {
		return nil, errors.New("no RequestInfo for the call")
	}
	if c.secure {
		if err := grpccreds.CheckSecurityLevel(ri.AuthInfo, grpccreds.PrivacyAndIntegrity); err != nil {
			return nil, err
		}
	}
	return map[string]string{"Authorization": "Bearer t0ken"}, nil
}

func (c *tokenCreds) RequireTransportSecurity() bool { return c.secure }

// invokeServer answers Invoke requests by running the function, and counts
// them; tls chooses httptest.NewTLSServer.
func invokeServer(t *testing.T, tls bool) (*httptest.Server, func() int) {
	fn := testpb.NewTestServiceLambdaHandler(&testserver.Server{})
	var mu sync.Mutex
	requests := 0
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		requests++
		mu.Unlock()
		payload, _ := io.ReadAll(r.Body)
		out, err := fn.Invoke(r.Context(), payload)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Write(out)
	})
	ts := httptest.NewUnstartedServer(h)
	if tls {
		ts.StartTLS()
	} else {
		ts.Start()
	}
	t.Cleanup(ts.Close)
	return ts, func() int { mu.Lock(); defer mu.Unlock(); return requests }
}

// passThrough is an Invoker that is not a *lambda.Client but hands the SDK
// options on to one, as a logging or metrics wrapper would.
type passThrough struct{ c *lambda.Client }

func (p passThrough) Invoke(ctx context.Context, in *lambda.InvokeInput, optFns ...func(*lambda.Options)) (*lambda.InvokeOutput, error) {
	return p.c.Invoke(ctx, in, optFns...)
}

// TestSecureCredentials: per-RPC credentials that require transport
// security are refused over plaintext with grpc-go's status, before they are
// asked for their metadata and before anything is sent, and are sent over
// HTTPS and to in-process invokers; credentials that do not require it go
// anywhere, and learn the transport's security level.
func TestSecureCredentials(t *testing.T) {
	plain, plainRequests := invokeServer(t, false)
	secure, secureRequests := invokeServer(t, true)
	httpsClient := lambda.NewFromConfig(aws.Config{
		Region:      "us-east-1",
		Credentials: credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "secret", ""),
		HTTPClient:  secure.Client(),
	}, func(o *lambda.Options) { o.BaseEndpoint = aws.String(secure.URL) })
	inProcess := lambdatest.NewInvoker(testpb.NewTestServiceLambdaHandler(&testserver.Server{}))
	defer inProcess.Close()

	for _, tc := range []struct {
		name     string
		invoker  invoke.Invoker
		opts     []invoke.Option
		secure   bool // the credentials require transport security
		sent     bool
		asked    int32 // how often the credentials are asked for metadata
		requests func() int
	}{
		{"secure creds over http", sdkLambdaClient(plain.URL), nil, true, false, 0, plainRequests},
		{"secure creds over https", httpsClient, nil, true, true, 1, secureRequests},
		// The wrapper hides the endpoint from the ClientConn; the request's
		// URL is checked once the SDK has resolved it.
		{"secure creds through a wrapper over http", passThrough{sdkLambdaClient(plain.URL)}, nil, true, false, 1, plainRequests},
		{"secure creds through a wrapper over https", passThrough{httpsClient}, nil, true, true, 1, secureRequests},
		{"secure creds in-process", inProcess, nil, true, true, 1, nil},
		{"secure creds in-process declared insecure", inProcess, []invoke.Option{invoke.WithInsecure()}, true, false, 0, nil},
		{"secure creds over https declared insecure", httpsClient, []invoke.Option{invoke.WithInsecure()}, true, false, 0, secureRequests},
		{"plain creds over http", sdkLambdaClient(plain.URL), nil, false, true, 1, plainRequests},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := 0
			if tc.requests != nil {
				before = tc.requests()
			}
			creds := &tokenCreds{secure: tc.secure}
			c := testpb.NewTestServiceLambdaClient(invoke.NewClientConn(tc.invoker, "orders-function", tc.opts...))
			resp, err := c.Echo(context.Background(), &testpb.EchoRequest{}, grpc.PerRPCCredentials(creds))
			sentRequests := 0
			if tc.requests != nil {
				sentRequests = tc.requests() - before
			}
			if !tc.sent {
				if st := status.Convert(err); st.Code() != codes.Unauthenticated || st.Message() != "transport: cannot send secure credentials on an insecure connection" {
					t.Errorf("got %v %q, want grpc-go's Unauthenticated refusal", st.Code(), st.Message())
				}
				if sentRequests != 0 || creds.asked.Load() != tc.asked {
					t.Errorf("%d requests sent, want none; the credentials were asked %d times, want %d", sentRequests, creds.asked.Load(), tc.asked)
				}
				return
			}
			if err != nil {
				t.Fatalf("call failed: %v", err)
			}
			got := ""
			for _, p := range resp.GetIncoming() {
				if p.GetKey() == "authorization" {
					got = string(p.GetValue())
				}
			}
			if got != "Bearer t0ken" || creds.asked.Load() != tc.asked {
				t.Errorf("the function saw authorization %q; the credentials were asked %d times, want once", got, creds.asked.Load())
			}
			if tc.requests != nil && sentRequests != 1 {
				t.Errorf("%d requests, want 1", sentRequests)
			}
		})
	}
}
