package parity

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/test/bufconn"

	"github.com/protoc-gen-go-lambda/protoc-gen-go-lambda/internal/testing/testpb"
	"github.com/protoc-gen-go-lambda/protoc-gen-go-lambda/runtime"
)

// Some grpc-go behaviours end the process, so they run in a child process:
// the test binary re-executed with subprocessEnv naming the scenario, which
// TestMain dispatches to runSubprocess.
const subprocessEnv = "PARITY_SUBPROCESS"

// Scenarios run in a child process.
const (
	subDuplicate = "grpc-duplicate-registration"
	subPanic     = "grpc-panic-without-recovery"
)

// runSubprocess runs a scenario; it returns only if the scenario did not end
// the process, which the parent reports as a failure.
func runSubprocess(name string) {
	switch name {
	case subDuplicate:
		s := grpc.NewServer()
		testpb.RegisterTestServiceServer(s, &Service{})
		testpb.RegisterTestServiceServer(s, &Service{})
	case subPanic:
		lis := bufconn.Listen(1 << 20)
		s := grpc.NewServer()
		testpb.RegisterTestServiceServer(s, &Service{})
		go s.Serve(lis)
		conn, err := grpc.NewClient("passthrough:///"+functionName,
			grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) }),
			grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(3)
		}
		_, err = testpb.NewTestServiceClient(conn).Panic(context.Background(), &testpb.EchoRequest{Message: "boom"})
		fmt.Fprintf(os.Stderr, "the call returned: %v\n", err)
	default:
		fmt.Fprintf(os.Stderr, "unknown scenario %q\n", name)
		os.Exit(3)
	}
	fmt.Fprintln(os.Stderr, "the process survived")
	os.Exit(0)
}

// subprocess runs a scenario in a child process and describes how it ended:
// the exit status and the first stderr line that contains marker.
func subprocess(t *testing.T, name, marker string) string {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), subprocessEnv+"="+name)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err := cmd.Run()
	var exitErr *exec.ExitError
	if !errors.As(err, &exitErr) {
		t.Fatalf("%s: the process did not fail (err %v); stderr:\n%s", name, err, stderr.String())
	}
	line := ""
	for l := range strings.Lines(stderr.String()) {
		if i := strings.Index(l, marker); i >= 0 {
			line = strings.TrimSpace(l[i:])
			break
		}
	}
	if line == "" {
		t.Fatalf("%s: no %q in stderr:\n%s", name, marker, stderr.String())
	}
	return fmt.Sprintf("process exits with status %d: %s", exitErr.ExitCode(), line)
}

// lambdaRegisterTwice registers TestService twice on a runtime.Server and
// describes the panic.
func lambdaRegisterTwice() (note string) {
	defer func() {
		if p := recover(); p != nil {
			note = fmt.Sprintf("RegisterService panics: %v", p)
		}
	}()
	s := runtime.NewServer()
	testpb.RegisterTestServiceLambdaServer(s, &Service{})
	testpb.RegisterTestServiceLambdaServer(s, &Service{})
	return "no panic"
}
