package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"

	spb "google.golang.org/genproto/googleapis/rpc/status"

	ordersv1 "github.com/protoc-gen-go-lambda/protoc-gen-go-lambda/example/gen/orders/v1"
)

// These tests run gRPC clients in other languages against the example
// function through the bridge: Node.js with @grpc/grpc-js (e2e/bridge-node,
// its packages pinned by its package-lock.json and installed by npm ci) and
// Python with grpcio (e2e/bridge-python, Debian's python3-grpcio). Their
// own tests assert codes, messages, details and metadata; these run them
// and require them to pass.

// clientDescriptors writes the descriptors the clients build their
// messages from: orders.proto, google.rpc's Status and error details, and
// their imports, as a FileDescriptorSet (what buf build -o writes).
func clientDescriptors(t *testing.T) string {
	t.Helper()
	set := &descriptorpb.FileDescriptorSet{}
	seen := map[string]bool{}
	var add func(fd protoreflect.FileDescriptor)
	add = func(fd protoreflect.FileDescriptor) {
		if seen[fd.Path()] {
			return
		}
		seen[fd.Path()] = true
		for i := range fd.Imports().Len() {
			add(fd.Imports().Get(i).FileDescriptor)
		}
		set.File = append(set.File, protodesc.ToFileDescriptorProto(fd))
	}
	add(ordersv1.File_orders_v1_orders_proto)
	add(spb.File_google_rpc_status_proto)
	add(errdetails.File_google_rpc_error_details_proto)
	b, err := proto.Marshal(set)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "descriptors.binpb")
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// runClientTests runs a client's test command against a bridge in front of
// the example function and fails with its output unless it passes.
func runClientTests(t *testing.T, dir string, name string, args ...string) string {
	t.Helper()
	em := startEmulator(t, emulatorConfig{Function: exampleFunction})
	b := startBridgeProcess(t, em, bridgeEnv(true), "--function", functionName, "--buffered-streams")
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	// PYTHONDONTWRITEBYTECODE: no __pycache__ in the source tree.
	cmd.Env = append(os.Environ(), "BRIDGE_ADDR="+b.Addr, "DESCRIPTORS="+clientDescriptors(t), "PYTHONDONTWRITEBYTECODE=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s in %s: %v\n%s", name, strings.Join(args, " "), dir, err, out)
	}
	return string(out)
}

// TestBridgeNodeClient: @grpc/grpc-js calls the example through the bridge.
func TestBridgeNodeClient(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(moduleRoot(t), "e2e", "bridge-node")
	if _, err := exec.LookPath("node"); err != nil {
		t.Fatal("node is not on PATH: run scripts/install-tools")
	}
	if _, err := os.Stat(filepath.Join(dir, "node_modules", ".package-lock.json")); err != nil {
		t.Fatal("e2e/bridge-node/node_modules is missing: run scripts/install-tools (npm ci in e2e/bridge-node)")
	}
	out := runClientTests(t, dir, "node", "--test")
	if !strings.Contains(out, "# pass 8") || !strings.Contains(out, "# fail 0") {
		t.Errorf("node --test did not run and pass its 8 tests:\n%s", out)
	}
}

// TestBridgePythonClient: grpcio calls the example through the bridge.
func TestBridgePythonClient(t *testing.T) {
	t.Parallel()
	python := debianPython(t)
	dir := filepath.Join(moduleRoot(t), "e2e", "bridge-python")
	out := runClientTests(t, dir, python, "-m", "unittest", "-v", "test_bridge")
	if !strings.Contains(out, "Ran 7 tests") || !strings.HasSuffix(strings.TrimSpace(out), "OK") {
		t.Errorf("the Python tests did not run and pass all 7:\n%s", out)
	}
}

// debianPython is the python3 that Debian's python3-grpcio and
// python3-protobuf install into: /usr/bin/python3, whichever python3 comes
// first on PATH.
func debianPython(t *testing.T) string {
	t.Helper()
	const python = "/usr/bin/python3"
	if out, err := exec.Command(python, "-c", "import grpc, google.protobuf").CombinedOutput(); err != nil {
		t.Fatalf("%s cannot import grpc and google.protobuf: install Debian's python3-grpcio and python3-protobuf (APT=1 scripts/install-tools): %v\n%s", python, err, out)
	}
	return python
}
