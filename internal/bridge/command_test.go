package bridge

import (
	"context"
	"io"
	"strings"
	"testing"
)

// TestFlags: the command refuses flags it cannot serve with, before
// touching AWS, with exit code 2 and a message saying what to give.
func TestFlags(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{nil, "no function: give --function or --route"},
		{[]string{"--route", "orders"}, "want SERVICE=FUNCTION"},
		{[]string{"--route", "a.B=f", "--route", "a.B=g"}, "a.B is routed twice"},
		{[]string{"--route", "/a.B/C=f"}, "want SERVICE=FUNCTION"},
		{[]string{"--function", "f", "--tls-cert", "c.pem"}, "--tls-cert and --tls-key go together"},
		{[]string{"--function", "f", "--max-recv-msg-size", "0"}, "--max-recv-msg-size must be positive"},
		{[]string{"--function", "f", "extra"}, `unexpected arguments ["extra"]`},
	} {
		var out strings.Builder
		if code := Main(context.Background(), tc.args, &out); code != 2 || !strings.Contains(out.String(), tc.want) {
			t.Errorf("%q: exit %d, output %q; want 2 and %q", tc.args, code, out.String(), tc.want)
		}
	}
	o, err := parseFlags([]string{"--function", "f", "--route", "a.B=g", "--route", "c.D=h", "--qualifier", "live", "--protoset", "x", "--protoset", "y"}, io.Discard)
	if err != nil || o.function != "f" || o.routes["a.B"] != "g" || o.routes["c.D"] != "h" || o.qualifier != "live" || len(o.protosets) != 2 {
		t.Errorf("parsed %+v, %v", o, err)
	}
}

// TestMissingRegion: without a region and without --endpoint the command
// stops at once and says how to give one.
func TestMissingRegion(t *testing.T) {
	t.Setenv("AWS_REGION", "")
	t.Setenv("AWS_DEFAULT_REGION", "")
	t.Setenv("AWS_CONFIG_FILE", "/nonexistent")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
	var out strings.Builder
	if code := Main(context.Background(), []string{"--function", "f", "--listen", "127.0.0.1:0"}, &out); code != 1 || !strings.Contains(out.String(), "no AWS region: set AWS_REGION or --region") {
		t.Errorf("exit %d, output %q", code, out.String())
	}
}
