package invoke

import (
	"errors"
	"fmt"
	"net"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/smithy-go"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"

	"github.com/protoc-gen-go-lambda/protoc-gen-go-lambda/internal/testing/testpb"
)

// TestRetryClassification pins the rule that decides what a non-idempotent
// call may retry, for errors the SDK produces too rarely or too racily to
// drive from a server: above all the lost response of aws-sdk-go-v2#2737,
// which the SDK's default retryer would re-invoke.
func TestRetryClassification(t *testing.T) {
	lostResponse := fmt.Errorf("deserialization failed: %w", &net.OpError{Op: "read", Net: "tcp", Err: net.ErrClosed})
	for _, tc := range []struct {
		name string
		err  error
		safe bool
	}{
		{"refused connection", &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connection refused")}, true},
		{"throttled", &smithy.GenericAPIError{Code: "TooManyRequestsException"}, true},
		{"service exception", &smithy.GenericAPIError{Code: "ServiceException"}, false},
		{"response lost on a closed connection", lostResponse, false},
	} {
		if got := refusedBeforeRun(tc.err) == aws.TrueTernary; got != tc.safe {
			t.Errorf("%s: retried for any method = %v, want %v", tc.name, got, tc.safe)
		}
	}
	// The SDK's defaults retry the lost response: only idempotent methods
	// may use them.
	if retry.NewStandard().IsErrorRetryable(lostResponse) != true {
		t.Error("the SDK's standard retryer no longer retries net.ErrClosed; revisit docs/errors.md")
	}
}

// TestRetryCacheIsBounded: the per-method cache of idempotency keeps only
// methods of the registry of linked-in proto files. Method names are the
// caller's strings: 100,000 distinct ones that name no registered method
// (unknown services, unknown methods of a known service, malformed names)
// add nothing, while known methods are cached with the right answer.
func TestRetryCacheIsBounded(t *testing.T) {
	r := newRetryers(DefaultRetryPolicy, nil)
	registered := 0
	protoregistry.GlobalFiles.RangeFiles(func(fd protoreflect.FileDescriptor) bool {
		for i := 0; i < fd.Services().Len(); i++ {
			registered += fd.Services().Get(i).Methods().Len()
		}
		return true
	})
	entries := func() int {
		n := 0
		r.byMethod.Range(func(any, any) bool { n++; return true })
		return n
	}
	for i := range 100000 {
		var method string
		switch i % 4 {
		case 0:
			method = fmt.Sprintf("/bogus.v%d.Service/Method", i)
		case 1:
			method = fmt.Sprintf("/lambdatest.v1.TestService/Method%d", i)
		case 2:
			method = fmt.Sprintf("/lambdatest.v1.EchoRequest/M%d", i) // a message, not a service
		case 3:
			method = fmt.Sprintf("bogus%d", i)
		}
		if r.forMethod(method, false) == nil || r.idempotent(method) {
			t.Fatalf("%s: no option, or idempotent", method)
		}
	}
	if n := entries(); n != 0 {
		t.Errorf("%d cache entries after 100,000 unknown methods, want 0", n)
	}
	for method, want := range map[string]bool{testpb.TestService_Echo_FullMethodName: false, testpb.TestService_Retry_FullMethodName: true} {
		for range 2 {
			if got := r.idempotent(method); got != want {
				t.Errorf("%s: idempotent %v, want %v", method, got, want)
			}
		}
	}
	if n := entries(); n != 2 || n > registered {
		t.Errorf("%d cache entries for 2 known methods (%d registered)", n, registered)
	}
}
