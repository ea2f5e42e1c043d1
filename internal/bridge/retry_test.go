package bridge_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/known/anypb"

	"github.com/protoc-gen-go-lambda/protoc-gen-go-lambda/internal/bridge"
	"github.com/protoc-gen-go-lambda/protoc-gen-go-lambda/internal/testing/testpb"
	"github.com/protoc-gen-go-lambda/protoc-gen-go-lambda/internal/testing/testserver"
	"github.com/protoc-gen-go-lambda/protoc-gen-go-lambda/runtime"
	"github.com/protoc-gen-go-lambda/protoc-gen-go-lambda/runtime/invoke"
)

// retryPackage is test.proto's package renamed (same length, so the
// serialized descriptor stays valid): a service the test binary does not
// link in, so only the descriptors the bridge was given can say which of
// its methods are idempotent.
const retryPackage = "retrytests.v1"

// retryProtoset is test.proto as package retryPackage, with Echo marked
// IDEMPOTENT and Retry's mark removed, and the file it imports.
func retryProtoset(t *testing.T) *descriptorpb.FileDescriptorSet {
	t.Helper()
	b, err := proto.Marshal(protodesc.ToFileDescriptorProto(testpb.File_lambdatest_v1_test_proto))
	if err != nil {
		t.Fatal(err)
	}
	b = bytes.ReplaceAll(b, []byte("lambdatest.v1"), []byte(retryPackage))
	b = bytes.ReplaceAll(b, []byte("lambdatest/v1"), []byte("retrytests/v1"))
	fd := &descriptorpb.FileDescriptorProto{}
	if err := proto.Unmarshal(b, fd); err != nil {
		t.Fatal(err)
	}
	for _, m := range fd.GetService()[0].GetMethod() {
		switch m.GetName() {
		case "Echo":
			m.Options = &descriptorpb.MethodOptions{IdempotencyLevel: descriptorpb.MethodOptions_IDEMPOTENT.Enum()}
		case "Retry":
			m.Options = nil
		}
	}
	return &descriptorpb.FileDescriptorSet{File: []*descriptorpb.FileDescriptorProto{protodesc.ToFileDescriptorProto(anypb.File_google_protobuf_any_proto), fd}}
}

// flakyInvokeAPI is the Invoke API in front of a function: the first
// attempt of each method fails with ServiceException (HTTP 500), which the
// SDK retries only for a method known to be idempotent.
type flakyInvokeAPI struct {
	srv      *runtime.Server
	mu       sync.Mutex
	attempts map[string]int
}

var methodInPayload = regexp.MustCompile(`"method":"([^"]+)"`)

func (f *flakyInvokeAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	payload, _ := io.ReadAll(r.Body)
	method := ""
	if m := methodInPayload.FindSubmatch(payload); m != nil {
		method = string(m[1])
	}
	f.mu.Lock()
	f.attempts[method]++
	first := f.attempts[method] == 1
	f.mu.Unlock()
	if first && method != runtime.FileDescriptorsMethod {
		w.Header().Set("X-Amzn-ErrorType", "ServiceException")
		w.WriteHeader(http.StatusInternalServerError)
		io.WriteString(w, `{"Type":"Service","message":"An internal error occurred."}`)
		return
	}
	out, _ := f.srv.Invoke(r.Context(), payload)
	w.Header().Set("X-Amz-Executed-Version", "$LATEST")
	w.Write(out)
}

// TestIdempotentRetriesFromDescriptors: the bridge retries a method the
// function's descriptors (here a protoset) mark idempotent, as the
// function's own generated client would, and does not retry one they do
// not mark, though neither is linked into the bridge.
func TestIdempotentRetriesFromDescriptors(t *testing.T) {
	desc := testpb.TestService_ServiceDesc
	desc.ServiceName = retryPackage + ".TestService"
	srv := runtime.NewServer()
	srv.RegisterService(&desc, &testserver.Server{})
	api := &flakyInvokeAPI{srv: srv, attempts: map[string]int{}}
	ts := httptest.NewServer(api)
	defer ts.Close()
	client := lambda.NewFromConfig(aws.Config{
		Region:      "us-east-1",
		Credentials: credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "secret", ""),
	}, func(o *lambda.Options) { o.BaseEndpoint = aws.String(ts.URL) })
	s := startBridge(t, bridge.Config{
		Invoker:       client,
		Function:      "fn",
		Protosets:     []*descriptorpb.FileDescriptorSet{retryProtoset(t)},
		InvokeOptions: []invoke.Option{invoke.WithRetryPolicy(invoke.RetryPolicy{MaxAttempts: 3, MaxBackoff: 10 * time.Millisecond})},
	})
	echo, retry := "/"+desc.ServiceName+"/Echo", "/"+desc.ServiceName+"/Retry"
	out := new(testpb.EchoResponse)
	if err := s.conn.Invoke(context.Background(), echo, &testpb.EchoRequest{Message: "again"}, out, grpc.WaitForReady(true)); err != nil || out.GetMessage() != "again" {
		t.Errorf("Echo, marked idempotent: %v, %v; want it retried to success", out, err)
	}
	err := s.conn.Invoke(context.Background(), retry, &testpb.EchoRequest{}, new(testpb.EchoResponse))
	if status.Code(err) != codes.Unavailable {
		t.Errorf("Retry, not marked: %v; want UNAVAILABLE, not retried", err)
	}
	api.mu.Lock()
	defer api.mu.Unlock()
	if api.attempts[echo] != 2 || api.attempts[retry] != 1 {
		t.Errorf("attempts %v; want Echo twice, Retry once", api.attempts)
	}
}
