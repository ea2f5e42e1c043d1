package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	goruntime "runtime"
	"strings"
	"testing"
)

// clientOnlyModules are module paths whose packages a Lambda function must
// not link: the AWS SDK is the client side's (runtime/invoke). Every package
// a function links is initialised at each cold start, and the SDK's Lambda
// client alone costs several milliseconds of init and megabytes of binary
// (docs/performance.md).
var clientOnlyModules = []string{
	"github.com/aws/aws-sdk-go-v2",
	"github.com/aws/smithy-go",
}

// TestFunctionDoesNotLinkTheAWSSDK lists, with the go tool, every package
// the example function and the server runtime link when built as Lambda
// builds them (GOOS=linux, CGO_ENABLED=0, -tags lambda.norpc), and fails if
// any belongs to the AWS SDK.
func TestFunctionDoesNotLinkTheAWSSDK(t *testing.T) {
	t.Parallel()
	goTool, err := exec.LookPath("go")
	if err != nil {
		goTool = filepath.Join(goruntime.GOROOT(), "bin", "go")
	}
	for _, pkg := range []string{"./example/function", "./runtime"} {
		cmd := exec.Command(goTool, "list", "-deps", "-tags", "lambda.norpc", "-f", "{{.ImportPath}}", pkg)
		cmd.Dir = moduleRoot(t)
		cmd.Env = append(os.Environ(), "GOOS=linux", "GOARCH="+goruntime.GOARCH, "CGO_ENABLED=0")
		out, err := cmd.Output()
		if err != nil {
			msg := ""
			if ee, ok := err.(*exec.ExitError); ok {
				msg = string(ee.Stderr)
			}
			t.Fatalf("go list -deps %s: %v\n%s", pkg, err, msg)
		}
		deps := strings.Fields(string(out))
		if len(deps) == 0 {
			t.Fatalf("go list -deps %s listed nothing", pkg)
		}
		var bad []string
		for _, dep := range deps {
			for _, mod := range clientOnlyModules {
				if dep == mod || strings.HasPrefix(dep, mod+"/") {
					bad = append(bad, dep)
				}
			}
		}
		if len(bad) > 0 {
			t.Errorf("%s links %d package(s) of the AWS SDK, the client's side (runtime/invoke):\n  %s\nrun `go list -deps %s` and follow the imports to the one that brings them in",
				pkg, len(bad), strings.Join(bad, "\n  "), pkg)
		}
	}
}
