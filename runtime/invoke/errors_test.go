package invoke_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	rpccode "google.golang.org/genproto/googleapis/rpc/code"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/protoc-gen-go-lambda/protoc-gen-go-lambda/internal/testing/testpb"
	"github.com/protoc-gen-go-lambda/protoc-gen-go-lambda/runtime/invoke"
)

// These tests check every row of the table from Lambda and SDK failures to
// gRPC codes (errors.go, docs/errors.md) and the retry policy (retry.go)
// through the real AWS SDK Lambda client: its error decoding and its retry
// loop are part of what is tested. The other end is a fake, an httptest
// server answering exactly as the Lambda Invoke API does (status,
// X-Amzn-ErrorType, JSON body; X-Amz-Function-Error for function errors),
// because neither the emulator nor any other local Lambda can produce these
// answers. e2e/ covers the rows the emulator does produce, for real.

// invokeAPIAnswer is one scripted answer of the fake Invoke API.
type invokeAPIAnswer struct {
	status        int    // HTTP status; 0 means 200
	errorType     string // X-Amzn-ErrorType, for Invoke API errors
	functionError string // X-Amz-Function-Error, for function errors
	body          string
	dropConn      bool // close the connection without answering
	cutOff        bool // answer 200 with a body cut off before its Content-Length
}

// fakeInvokeAPI is an httptest server that answers Invoke requests with its
// script, in order (the last answer repeats), and counts them.
type fakeInvokeAPI struct {
	srv *httptest.Server

	mu       sync.Mutex
	script   []invokeAPIAnswer
	requests int
	paths    []string
}

func newFakeInvokeAPI(t *testing.T, script ...invokeAPIAnswer) *fakeInvokeAPI {
	t.Helper()
	f := &fakeInvokeAPI{script: script}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeInvokeAPI) serve(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	a := f.script[min(f.requests, len(f.script)-1)]
	f.requests++
	f.paths = append(f.paths, r.URL.Path)
	f.mu.Unlock()
	if a.dropConn || a.cutOff {
		if a.cutOff {
			// All of the request read: the connection closes cleanly, with
			// no reset for unread bytes.
			io.Copy(io.Discard, r.Body)
		}
		conn, _, err := http.NewResponseController(w).Hijack()
		if err == nil {
			if a.cutOff {
				fmt.Fprint(conn, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nX-Amz-Executed-Version: $LATEST\r\nContent-Length: 100\r\n\r\n{\"v\":1,\"code\":0,")
			}
			conn.Close()
		}
		return
	}
	w.Header().Set("X-Amzn-RequestId", "5f6e1f2a-0000-4000-8000-000000000000")
	if a.errorType != "" {
		w.Header().Set("X-Amzn-ErrorType", a.errorType)
		w.Header().Set("Content-Type", "application/json")
	}
	if a.functionError != "" {
		w.Header().Set("X-Amz-Function-Error", a.functionError)
		w.Header().Set("X-Amz-Executed-Version", "$LATEST")
	}
	if a.status != 0 {
		w.WriteHeader(a.status)
	}
	fmt.Fprint(w, a.body)
}

// Requests is how many requests (attempts) the fake has answered.
func (f *fakeInvokeAPI) Requests() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.requests
}

// sdkLambdaClient is the real SDK Lambda client, pointed at endpoint.
func sdkLambdaClient(endpoint string) *lambda.Client {
	return lambda.NewFromConfig(aws.Config{
		Region:      "us-east-1",
		Credentials: credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "secret", ""),
	}, func(o *lambda.Options) {
		o.BaseEndpoint = aws.String(endpoint)
	})
}

// testRetryPolicy is the default attempt count with a short backoff.
var testRetryPolicy = invoke.RetryPolicy{MaxAttempts: 3, MaxBackoff: 10 * time.Millisecond}

func testServiceClient(endpoint string) testpb.TestServiceLambdaClient {
	cc := invoke.NewClientConn(sdkLambdaClient(endpoint), "orders-function", invoke.WithRetryPolicy(testRetryPolicy))
	return testpb.NewTestServiceLambdaClient(cc)
}

// Retry classes of a row: how many attempts a non-idempotent method (Echo)
// and an idempotent one (Retry) get.
type retryClass int

const (
	// neverRetried: the answer is final (or the function ran).
	neverRetried retryClass = iota
	// idempotentOnly: the function may have run; only methods marked
	// idempotent in the proto are retried.
	idempotentOnly
	// alwaysRetried: Lambda refused before running the function.
	alwaysRetried
)

func (r retryClass) attempts(idempotent bool) int {
	if r == alwaysRetried || r == idempotentOnly && idempotent {
		return testRetryPolicy.MaxAttempts
	}
	return 1
}

// lambdaAPIError is an Invoke API error answer, as Lambda writes them.
func lambdaAPIError(status int, errorType, message string) invokeAPIAnswer {
	return invokeAPIAnswer{status: status, errorType: errorType, body: fmt.Sprintf(`{"Type":"User","message":%q}`, message)}
}

// functionErr is a failed invocation as Lambda reports it: HTTP 200,
// X-Amz-Function-Error and the error document.
func functionErr(kind, errorType, message string) invokeAPIAnswer {
	return invokeAPIAnswer{functionError: kind, body: fmt.Sprintf(`{"errorType":%q,"errorMessage":%q}`, errorType, message)}
}

// errorMappingRows is the table of docs/errors.md, row by row: each answer
// of the Invoke API, the gRPC code and message the caller gets, and its
// retry class.
var errorMappingRows = []struct {
	name   string
	answer invokeAPIAnswer
	code   codes.Code
	msg    string // the status message contains it
	retry  retryClass
}{
	// Refused before the function ran: retried for any method.
	{"TooManyRequestsException", invokeAPIAnswer{status: 429, errorType: "TooManyRequestsException", body: `{"Reason":"ReservedFunctionConcurrentInvocationLimitExceeded","Type":"User","message":"Rate Exceeded."}`},
		codes.Unavailable, "TooManyRequestsException: Rate Exceeded.", alwaysRetried},
	{"ThrottlingException", lambdaAPIError(429, "ThrottlingException", "Rate exceeded"), codes.Unavailable, "ThrottlingException", alwaysRetried},
	{"EC2ThrottledException", lambdaAPIError(502, "EC2ThrottledException", "Lambda was throttled by Amazon EC2 during Lambda function initialization."), codes.Unavailable, "EC2ThrottledException", alwaysRetried},
	{"ResourceNotReadyException", lambdaAPIError(502, "ResourceNotReadyException", "The function is currently in the following state: Pending"), codes.Unavailable, "ResourceNotReadyException", alwaysRetried},
	{"ResourceConflictException", lambdaAPIError(409, "ResourceConflictException", "The operation cannot be performed at this time. An update is in progress for resource"), codes.Unavailable, "ResourceConflictException", alwaysRetried},
	{"SnapStartNotReadyException", lambdaAPIError(409, "SnapStartNotReadyException", "Lambda is initializing your function."), codes.Unavailable, "SnapStartNotReadyException", alwaysRetried},

	// The service failed; the function may have run.
	{"ServiceException", lambdaAPIError(500, "ServiceException", "An internal error occurred."), codes.Unavailable, "ServiceException", idempotentOnly},

	// Lambda could not prepare the function's environment (HTTP 502): the
	// caller's request is fine, the function's configuration is not.
	{"EC2AccessDeniedException", lambdaAPIError(502, "EC2AccessDeniedException", "Lambda needs EC2 permissions."), codes.Unavailable, "EC2AccessDeniedException", idempotentOnly},
	{"EC2UnexpectedException", lambdaAPIError(502, "EC2UnexpectedException", "EC2 error."), codes.Unavailable, "EC2UnexpectedException", idempotentOnly},
	{"ENILimitReachedException", lambdaAPIError(502, "ENILimitReachedException", "ENI limit reached."), codes.Unavailable, "ENILimitReachedException", idempotentOnly},
	{"SubnetIPAddressLimitReachedException", lambdaAPIError(502, "SubnetIPAddressLimitReachedException", "No free IP addresses."), codes.Unavailable, "SubnetIPAddressLimitReachedException", idempotentOnly},
	{"InvalidSubnetIDException", lambdaAPIError(502, "InvalidSubnetIDException", "Invalid subnet."), codes.Unavailable, "InvalidSubnetIDException", idempotentOnly},
	{"InvalidSecurityGroupIDException", lambdaAPIError(502, "InvalidSecurityGroupIDException", "Invalid security group."), codes.Unavailable, "InvalidSecurityGroupIDException", idempotentOnly},
	{"InvalidRuntimeException", lambdaAPIError(502, "InvalidRuntimeException", "The runtime is not supported."), codes.Unavailable, "InvalidRuntimeException", idempotentOnly},
	{"InvalidZipFileException", lambdaAPIError(502, "InvalidZipFileException", "Could not unzip the deployment package."), codes.Unavailable, "InvalidZipFileException", idempotentOnly},
	{"KMSAccessDeniedException", lambdaAPIError(502, "KMSAccessDeniedException", "Lambda was unable to decrypt the environment variables because KMS access was denied."), codes.Unavailable, "KMSAccessDeniedException", idempotentOnly},
	{"KMSDisabledException", lambdaAPIError(502, "KMSDisabledException", "The KMS key is disabled."), codes.Unavailable, "KMSDisabledException", idempotentOnly},
	{"KMSInvalidStateException", lambdaAPIError(502, "KMSInvalidStateException", "The KMS key is in an invalid state."), codes.Unavailable, "KMSInvalidStateException", idempotentOnly},
	{"ENINotReadyException", lambdaAPIError(502, "ENINotReadyException", "Lambda was not able to create an elastic network interface yet."), codes.Unavailable, "ENINotReadyException", idempotentOnly},
	{"KMSNotFoundException", lambdaAPIError(502, "KMSNotFoundException", "The KMS key was not found."), codes.Unavailable, "KMSNotFoundException", idempotentOnly},

	// The function does not exist, or the request cannot be served as is.
	{"ResourceNotFoundException", lambdaAPIError(404, "ResourceNotFoundException", "Function not found: arn:aws:lambda:us-east-1:123456789012:function:orders-function"), codes.Unimplemented, "Function not found", neverRetried},
	{"RequestTooLargeException", lambdaAPIError(413, "RequestTooLargeException", "Request must be smaller than 6291456 bytes for the InvokeFunction operation"), codes.ResourceExhausted, "RequestTooLargeException", neverRetried},
	{"SerializedRequestEntityTooLargeException", lambdaAPIError(413, "SerializedRequestEntityTooLargeException", "Request entity too large."), codes.ResourceExhausted, "SerializedRequestEntityTooLargeException", neverRetried},
	{"InvalidRequestContentException", lambdaAPIError(400, "InvalidRequestContentException", "Could not parse request body into json"), codes.Internal, "InvalidRequestContentException", neverRetried},
	{"InvalidParameterValueException", lambdaAPIError(400, "InvalidParameterValueException", "Invalid qualifier."), codes.Internal, "InvalidParameterValueException", neverRetried},
	{"RecursiveInvocationException", lambdaAPIError(400, "RecursiveInvocationException", "Lambda detected a recursive loop."), codes.Internal, "RecursiveInvocationException", neverRetried},
	{"SnapStartException", lambdaAPIError(400, "SnapStartException", "The afterRestore() runtime hook failed."), codes.Internal, "SnapStartException", neverRetried},
	{"UnsupportedMediaTypeException", lambdaAPIError(415, "UnsupportedMediaTypeException", "Unsupported media type."), codes.Unknown, "UnsupportedMediaTypeException", neverRetried},
	{"EFSMountFailureException", lambdaAPIError(403, "EFSMountFailureException", "The function couldn't mount the file system."), codes.PermissionDenied, "EFSMountFailureException", neverRetried},
	{"EFSMountConnectivityException", lambdaAPIError(408, "EFSMountConnectivityException", "The function couldn't reach the file system."), codes.Unknown, "EFSMountConnectivityException", neverRetried},
	{"EFSMountTimeoutException", lambdaAPIError(408, "EFSMountTimeoutException", "Mounting the file system timed out."), codes.Unknown, "EFSMountTimeoutException", neverRetried},
	{"EFSIOException", lambdaAPIError(410, "EFSIOException", "An error occurred when reading from or writing to the file system."), codes.Unknown, "EFSIOException", neverRetried},
	{"S3FilesMountFailureException", lambdaAPIError(403, "S3FilesMountFailureException", "The function couldn't mount the file system."), codes.PermissionDenied, "S3FilesMountFailureException", neverRetried},
	{"S3FilesMountConnectivityException", lambdaAPIError(408, "S3FilesMountConnectivityException", "The function couldn't reach the file system."), codes.Unknown, "S3FilesMountConnectivityException", neverRetried},
	{"S3FilesMountTimeoutException", lambdaAPIError(408, "S3FilesMountTimeoutException", "Mounting the file system timed out."), codes.Unknown, "S3FilesMountTimeoutException", neverRetried},
	{"DurableExecutionAlreadyStartedException", lambdaAPIError(409, "DurableExecutionAlreadyStartedException", "A durable execution with this name already started."), codes.Unknown, "DurableExecutionAlreadyStartedException", neverRetried},
	{"SnapStartTimeoutException", lambdaAPIError(408, "SnapStartTimeoutException", "Restoring the snapshot timed out."), codes.Unknown, "SnapStartTimeoutException", neverRetried},

	// The caller's identity.
	{"AccessDeniedException", invokeAPIAnswer{status: 403, errorType: "AccessDeniedException:http://internal.amazon.com/coral/com.amazon.coral.service/",
		body: `{"Message":"User: arn:aws:iam::123456789012:user/ci is not authorized to perform: lambda:InvokeFunction on resource: arn:aws:lambda:us-east-1:123456789012:function:orders-function"}`},
		codes.PermissionDenied, "is not authorized to perform: lambda:InvokeFunction", neverRetried},
	{"UnrecognizedClientException", lambdaAPIError(403, "UnrecognizedClientException", "The security token included in the request is invalid."), codes.Unauthenticated, "UnrecognizedClientException", neverRetried},
	{"InvalidSignatureException", lambdaAPIError(403, "InvalidSignatureException", "The request signature we calculated does not match the signature you provided."), codes.Unauthenticated, "InvalidSignatureException", neverRetried},
	{"ExpiredTokenException", lambdaAPIError(403, "ExpiredTokenException", "The security token included in the request is expired"), codes.Unauthenticated, "ExpiredTokenException", neverRetried},
	{"IncompleteSignature", lambdaAPIError(403, "IncompleteSignature", "Authorization header requires 'Signature' parameter."), codes.Unauthenticated, "IncompleteSignature", neverRetried},
	{"MissingAuthenticationTokenException", lambdaAPIError(403, "MissingAuthenticationTokenException", "Missing Authentication Token"), codes.Unauthenticated, "MissingAuthenticationTokenException", neverRetried},
	{"InvalidClientTokenId", lambdaAPIError(403, "InvalidClientTokenId", "The security token included in the request is invalid."), codes.Unauthenticated, "InvalidClientTokenId", neverRetried},

	// HTTP errors without an Invoke API error type (a proxy, a load
	// balancer): grpc's HTTP to gRPC mapping.
	{"HTTP401", invokeAPIAnswer{status: 401}, codes.Unauthenticated, "StatusCode: 401", neverRetried},
	{"HTTP429", invokeAPIAnswer{status: 429, body: "slow down"}, codes.Unavailable, "StatusCode: 429", alwaysRetried},
	{"HTTP500", invokeAPIAnswer{status: 500}, codes.Unknown, "StatusCode: 500", idempotentOnly},
	{"HTTP502", invokeAPIAnswer{status: 502, body: "<html>Bad Gateway</html>"}, codes.Unavailable, "StatusCode: 502", idempotentOnly},
	{"HTTP503", invokeAPIAnswer{status: 503}, codes.Unavailable, "StatusCode: 503", idempotentOnly},
	{"HTTP504", invokeAPIAnswer{status: 504}, codes.Unavailable, "StatusCode: 504", idempotentOnly},

	// The function ran and failed without answering (HTTP 200,
	// X-Amz-Function-Error). Never retried: the call did run.
	{"Runtime.ExitError", functionErr("Unhandled", "Runtime.ExitError", "RequestId: 8e1c Error: Runtime exited with error: exit status 3"),
		codes.Unavailable, "lambda: invocation failed: Runtime.ExitError (Unhandled): RequestId: 8e1c Error: Runtime exited with error: exit status 3", neverRetried},
	{"Runtime.InvalidEntrypoint", functionErr("Unhandled", "Runtime.InvalidEntrypoint", "RequestId: 8e1c Error: fork/exec /var/task/bootstrap: exec format error"), codes.Unavailable, "Runtime.InvalidEntrypoint", neverRetried},
	{"Sandbox.Timedout", functionErr("Unhandled", "Sandbox.Timedout", "RequestId: 8e1c Error: Task timed out after 3.00 seconds"), codes.DeadlineExceeded, "Task timed out after 3.00 seconds", neverRetried},
	{"TaskTimedOutWithoutErrorType", invokeAPIAnswer{functionError: "Unhandled", body: `{"errorMessage":"2026-11-26T06:22:37.000Z 8e1c Task timed out after 3.00 seconds"}`}, codes.DeadlineExceeded, "Task timed out after 3.00 seconds", neverRetried},
	{"Runtime.OutOfMemory", functionErr("Unhandled", "Runtime.OutOfMemory", "RequestId: 8e1c Error: Runtime exited with error: signal: killed"), codes.ResourceExhausted, "Runtime.OutOfMemory", neverRetried},
	{"Function.ResponseSizeTooLarge", functionErr("Unhandled", "Function.ResponseSizeTooLarge", "Response payload size exceeded maximum allowed payload size (6291556 bytes)."), codes.ResourceExhausted, "Function.ResponseSizeTooLarge", neverRetried},
	{"HandledFunctionError", functionErr("Handled", "errorString", "boom"), codes.Unknown, "lambda: invocation failed: errorString (Handled): boom", neverRetried},
	{"UnhandledNotADocument", invokeAPIAnswer{functionError: "Unhandled", body: "Internal Server Error"}, codes.Unknown, "Internal Server Error", neverRetried},

	// The emulator's dialect (observed with aws-lambda-rie): no
	// X-Amz-Function-Error, ever.
	{"EmulatorReturnedError", invokeAPIAnswer{body: `{"errorMessage":"boom","errorType":"errorString"}`}, codes.Unknown, "errorString: boom", neverRetried},
	{"EmulatorCrash502", invokeAPIAnswer{status: 502, body: `{"errorType":"Runtime.ExitError","errorMessage":"RequestId: 5bcf Error: Runtime exited with error: exit status 3"}`},
		codes.Unavailable, "Runtime.ExitError (Unhandled): RequestId: 5bcf Error: Runtime exited with error: exit status 3", neverRetried},
	{"EmulatorTimeoutText", invokeAPIAnswer{body: "Task timed out after 1.00 seconds"}, codes.DeadlineExceeded, "Task timed out after 1.00 seconds", neverRetried},

	// A successful invocation whose payload is not a usable envelope (the
	// emulator cuts payloads over 6 MB off; a function that is not a
	// protoc-gen-go-lambda server).
	{"TruncatedEnvelope", invokeAPIAnswer{body: `{"v":1,"code":0,"body":"AAAA`}, codes.Internal, "not a protoc-gen-go-lambda envelope", neverRetried},
	{"NotAnEnvelope", invokeAPIAnswer{body: `"hello"`}, codes.Internal, "not a protoc-gen-go-lambda envelope", neverRetried},
	{"EnvelopeVersion2", invokeAPIAnswer{body: `{"v":2,"code":0,"body":""}`}, codes.Internal, "response envelope version 2 is not supported", neverRetried},

	// No answer at all: the connection broke after the request was sent.
	{"ConnectionDropped", invokeAPIAnswer{dropConn: true}, codes.Unavailable, "lambda: invoke failed", idempotentOnly},
	// The function ran, but its answer was cut off: the connection broke
	// while the body was read.
	{"ResponseCutOff", invokeAPIAnswer{cutOff: true}, codes.Unavailable, "StatusCode: 200, RequestID: , deserialization failed", idempotentOnly},
}

// TestInvokeErrorMapping sends a non-idempotent call (Echo) and an idempotent
// one (Retry, idempotency_level = IDEMPOTENT) to a fake Invoke API that
// answers with each row's failure, and checks the gRPC status the caller
// gets and how many attempts the SDK made.
func TestInvokeErrorMapping(t *testing.T) {
	for _, row := range errorMappingRows {
		t.Run(row.name, func(t *testing.T) {
			t.Parallel()
			for _, idempotent := range []bool{false, true} {
				api := newFakeInvokeAPI(t, row.answer)
				c := testServiceClient(api.srv.URL)
				var err error
				method := "Echo"
				if idempotent {
					method = "Retry"
					_, err = c.Retry(context.Background(), &testpb.EchoRequest{Message: "hi"})
				} else {
					_, err = c.Echo(context.Background(), &testpb.EchoRequest{Message: "hi"})
				}
				st, ok := status.FromError(err)
				if !ok || st.Code() != row.code || !strings.Contains(st.Message(), row.msg) {
					t.Errorf("%s: got %v %q (status error: %v), want %v containing %q", method, st.Code(), st.Message(), ok, row.code, row.msg)
				}
				if want := row.retry.attempts(idempotent); api.Requests() != want {
					t.Errorf("%s: %d attempts, want %d", method, api.Requests(), want)
				}
			}
		})
	}
}

// TestInvokeErrorMappingConnectionRefused: nothing listens at the endpoint,
// so no invocation can have run; any method is retried, then UNAVAILABLE.
func TestInvokeErrorMappingConnectionRefused(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	// Count attempts at the HTTP client: one round trip each.
	attempts := 0
	client := lambda.NewFromConfig(aws.Config{
		Region:      "us-east-1",
		Credentials: credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "secret", ""),
		HTTPClient: &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
			attempts++
			return http.DefaultTransport.RoundTrip(r)
		})},
	}, func(o *lambda.Options) { o.BaseEndpoint = aws.String("http://" + addr) })
	c := testpb.NewTestServiceLambdaClient(invoke.NewClientConn(client, "orders-function", invoke.WithRetryPolicy(testRetryPolicy)))
	_, err = c.Echo(context.Background(), &testpb.EchoRequest{})
	if st := status.Convert(err); st.Code() != codes.Unavailable || !strings.Contains(st.Message(), "connection refused") {
		t.Errorf("got %v %q, want Unavailable (connection refused)", st.Code(), st.Message())
	}
	if attempts != testRetryPolicy.MaxAttempts {
		t.Errorf("%d attempts, want %d: a refused connection ran nothing", attempts, testRetryPolicy.MaxAttempts)
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// TestThrottledCallSucceedsOnRetry: Lambda throttles twice, then runs the
// call; the caller sees only the success.
func TestThrottledCallSucceedsOnRetry(t *testing.T) {
	throttled := errorMappingRows[0].answer
	api := newFakeInvokeAPI(t, throttled, throttled, invokeAPIAnswer{body: `{"v":1,"code":0,"body":"CgJoaQ=="}`})
	resp, err := testServiceClient(api.srv.URL).Echo(context.Background(), &testpb.EchoRequest{Message: "hi"})
	if err != nil || resp.GetMessage() != "hi" {
		t.Fatalf("got %v, %v; want the response after two throttled attempts", resp, err)
	}
	if api.Requests() != 3 {
		t.Errorf("%d attempts, want 3", api.Requests())
	}
}

// TestRetryPolicyMaxAttempts: the policy's attempt count holds (1 turns
// retries off), and the method's idempotency is read from the proto.
func TestRetryPolicyMaxAttempts(t *testing.T) {
	for _, attempts := range []int{1, 2, 5} {
		api := newFakeInvokeAPI(t, invokeAPIAnswer{status: 503})
		cc := invoke.NewClientConn(sdkLambdaClient(api.srv.URL), "f", invoke.WithRetryPolicy(invoke.RetryPolicy{MaxAttempts: attempts, MaxBackoff: time.Millisecond}))
		_, err := testpb.NewTestServiceLambdaClient(cc).Retry(context.Background(), &testpb.EchoRequest{})
		if status.Code(err) != codes.Unavailable || api.Requests() != attempts {
			t.Errorf("MaxAttempts %d: got %v after %d attempts", attempts, err, api.Requests())
		}
	}
}

// TestClientDeadlineAgainstSlowInvoke: the caller's deadline ends the SDK
// call (the HTTP request is cancelled): DEADLINE_EXCEEDED at the deadline,
// one attempt, although the function answers much later.
func TestClientDeadlineAgainstSlowInvoke(t *testing.T) {
	release := make(chan struct{})
	var requests int
	var mu sync.Mutex
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		requests++
		mu.Unlock()
		select {
		case <-release:
		case <-r.Context().Done():
		case <-time.After(10 * time.Second):
		}
		fmt.Fprint(w, `{"v":1,"code":0,"body":""}`)
	}))
	defer srv.Close()
	defer close(release)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := testServiceClient(srv.URL).Retry(ctx, &testpb.EchoRequest{})
	if status.Code(err) != codes.DeadlineExceeded {
		t.Errorf("got %v, want DeadlineExceeded", err)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("returned after %v, want at the 200 ms deadline", took)
	}
	mu.Lock()
	defer mu.Unlock()
	if requests != 1 {
		t.Errorf("%d attempts, want 1: a call past its deadline is not retried", requests)
	}
}

// TestDocumentedErrorTable keeps docs/errors.md and the tests in step: each
// table line that names a TestInvokeErrorMapping row states that row's gRPC
// code and retry class, every row is documented, and every test the page
// names exists.
func TestDocumentedErrorTable(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join("..", "..", "docs", "errors.md"))
	if err != nil {
		t.Fatal(err)
	}
	rows := map[string]int{}
	for i, row := range errorMappingRows {
		rows[row.name] = i
	}
	retryText := map[retryClass]string{neverRetried: "| never |", idempotentOnly: "| idempotent only |", alwaysRetried: "| any method |"}
	rowRef := regexp.MustCompile("`TestInvokeErrorMapping/([A-Za-z0-9.]+)`")
	documented := map[string]bool{}
	for _, line := range strings.Split(string(doc), "\n") {
		if !strings.HasPrefix(line, "|") {
			continue
		}
		for _, m := range rowRef.FindAllStringSubmatch(line, -1) {
			i, ok := rows[m[1]]
			if !ok {
				t.Errorf("docs/errors.md names %s, which is not a row of TestInvokeErrorMapping", m[0])
				continue
			}
			documented[m[1]] = true
			row := errorMappingRows[i]
			if code := "`" + rpccode.Code(row.code).String() + "`"; !strings.Contains(line, code) {
				t.Errorf("docs/errors.md: the line of %s does not say %s:\n%s", row.name, code, line)
			}
			if !strings.Contains(line, retryText[row.retry]) {
				t.Errorf("docs/errors.md: the line of %s does not say %q:\n%s", row.name, retryText[row.retry], line)
			}
		}
	}
	for _, row := range errorMappingRows {
		if !documented[row.name] {
			t.Errorf("TestInvokeErrorMapping/%s is not in docs/errors.md", row.name)
		}
	}

	// Every test the page names is a test of runtime/..., or e2e/.
	var sources strings.Builder
	for _, pattern := range []string{"*_test.go", filepath.Join("..", "*_test.go"), filepath.Join("..", "..", "e2e", "*_test.go")} {
		files, _ := filepath.Glob(pattern)
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			sources.Write(b)
		}
	}
	for _, m := range regexp.MustCompile("`(Test[A-Za-z0-9]+)").FindAllStringSubmatch(string(doc), -1) {
		if !strings.Contains(sources.String(), "func "+m[1]+"(t *testing.T)") {
			t.Errorf("docs/errors.md names %s, which is not a test in runtime/invoke, runtime/ or e2e/", m[1])
		}
	}
}
