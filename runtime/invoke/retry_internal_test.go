package invoke

import (
	"errors"
	"fmt"
	"net"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/smithy-go"
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
