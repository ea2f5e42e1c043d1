package main_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/protoc-gen-go-lambda/protoc-gen-go-lambda/generator"
)

// These tests run the real plugin binary under the real protoc (Debian's
// protobuf-compiler) and the real buf CLI, as users do; scripts/install-tools
// installs both at the versions pinned in tools.env.

// repoRoot is the module root, two levels up from this package.
var repoRoot = func() string {
	wd, err := os.Getwd()
	if err != nil {
		panic(err)
	}
	return filepath.Join(wd, "..", "..")
}()

// tool finds a binary on PATH or in $(go env GOPATH)/bin.
func tool(t *testing.T, name string) string {
	t.Helper()
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	out, err := exec.Command("go", "env", "GOPATH").Output()
	if err == nil {
		p := filepath.Join(strings.TrimSpace(string(out)), "bin", name)
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	t.Fatalf("%s not found on PATH or in $(go env GOPATH)/bin: run scripts/install-tools", name)
	return ""
}

// pluginDir builds the plugin once per test binary and returns a directory
// holding it and the other plugins, for PATH.
func pluginDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	build := exec.Command("go", "build", "-o", filepath.Join(dir, "protoc-gen-go-lambda"), ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building the plugin: %v\n%s", err, out)
	}
	for _, p := range []string{"protoc-gen-go", "protoc-gen-go-grpc", "buf"} {
		if err := os.Symlink(tool(t, p), filepath.Join(dir, p)); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func run(t *testing.T, dir, pathDir string, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "PATH="+pathDir+string(os.PathListSeparator)+os.Getenv("PATH"))
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

func TestVersionAndHelp(t *testing.T) {
	bin := filepath.Join(pluginDir(t), "protoc-gen-go-lambda")
	out, err := exec.Command(bin, "--version").Output()
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(out), "protoc-gen-go-lambda v"+generator.Version+"\n"; got != want {
		t.Errorf("--version printed %q, want %q", got, want)
	}
	out, err = exec.Command(bin, "--help").Output()
	if err != nil || !strings.Contains(string(out), "package_suffix") {
		t.Errorf("--help: err %v, output %q", err, out)
	}
	if err := exec.Command(bin, "--bogus").Run(); err == nil {
		t.Error("an unknown argument did not fail")
	}
}

// versionLine is the header line naming the compiler, which differs
// between protoc and buf.
var versionLine = regexp.MustCompile(`(?m)^// - protoc +.*$`)

// TestProtocAndBufAgree generates the example and test protos with plain
// protoc and with buf generate (the repository's buf.gen.yaml), and checks
// that the two outputs and the checked-in code are identical apart from the
// compiler version line. (Formatting needs no check: protogen formats
// every file it writes, and fails on code it cannot parse.)
func TestProtocAndBufAgree(t *testing.T) {
	path := pluginDir(t)
	protocOut, bufOut := t.TempDir(), t.TempDir()
	const module = "github.com/protoc-gen-go-lambda/protoc-gen-go-lambda"
	for _, src := range []struct{ dir, file string }{
		{"example/proto", "orders/v1/orders.proto"},
		{"internal/testing/proto", "lambdatest/v1/test.proto"},
	} {
		run(t, repoRoot, path, tool(t, "protoc"), "-I", src.dir, "-I", "/usr/include",
			"--go_out="+protocOut, "--go_opt=module="+module,
			"--go-grpc_out="+protocOut, "--go-grpc_opt=module="+module,
			"--go-lambda_out="+protocOut, "--go-lambda_opt=module="+module,
			src.file)
	}
	run(t, repoRoot, path, "buf", "generate", "--template", "buf.gen.yaml", "-o", bufOut)

	files := []string{
		"example/gen/orders/v1/orders_lambda.pb.go",
		"internal/testing/testpb/test_lambda.pb.go",
	}
	for _, f := range files {
		p := readFile(t, filepath.Join(protocOut, f))
		b := readFile(t, filepath.Join(bufOut, f))
		checked := readFile(t, filepath.Join(repoRoot, f))
		if !strings.Contains(p, "// - protoc               v") {
			t.Errorf("%s from protoc does not name the protoc version:\n%s", f, p[:200])
		}
		p, b, checked = strip(p), strip(b), strip(checked)
		if p != b {
			t.Errorf("%s: protoc and buf outputs differ beyond the version line", f)
		}
		if b != checked {
			t.Errorf("%s: the checked-in file is stale; run buf generate", f)
		}
	}
}

// TestGeneratedCodeCompiles generates the golden fixtures with protoc
// (and the editions one with buf, as Debian's protoc predates editions)
// together with protoc-gen-go and protoc-gen-go-grpc output in the same
// packages (standalone_suffix without protoc-gen-go-grpc, which standalone
// mode does not need), then builds and vets them: no name clashes, and the
// generated code compiles against this runtime. TestGrpcMatrix runs the
// generated code under several protoc-gen-go-grpc versions.
func TestGeneratedCodeCompiles(t *testing.T) {
	path := pluginDir(t)
	out := t.TempDir()
	const module = "example.com/golden"
	fixtures := filepath.Join(repoRoot, "generator", "testdata")
	protoc := func(dir string, lambdaOpt string, files ...string) {
		args := []string{"-I", filepath.Join(fixtures, dir), "-I", "/usr/include",
			"--go_out=" + out, "--go_opt=module=" + module,
			"--go-lambda_out=" + out, "--go-lambda_opt=module=" + module + lambdaOpt}
		if dir != "standalone_suffix" { // the one fixture generated without protoc-gen-go-grpc
			args = append(args, "--go-grpc_out="+out, "--go-grpc_opt=module="+module)
		}
		run(t, repoRoot, path, tool(t, "protoc"), append(args, files...)...)
	}
	protoc("basic", "", "services.proto")
	protoc("multifile", "", "a.proto", "b.proto", "other/v1/other.proto")
	protoc("proto2", "", "legacy.proto")
	protoc("suffix", ",package_suffix=lambda", "suffix.proto")
	protoc("standalone", ",standalone=true", "services.proto")
	protoc("standalone_suffix", ",package_suffix=lambda,standalone", "suffix.proto")
	template := `{"version":"v2","plugins":[` +
		`{"local":"protoc-gen-go","out":".","opt":"module=` + module + `"},` +
		`{"local":"protoc-gen-go-grpc","out":".","opt":"module=` + module + `"},` +
		`{"local":"protoc-gen-go-lambda","out":".","opt":"module=` + module + `"}]}`
	run(t, filepath.Join(fixtures, "editions"), path, "buf", "generate", "--template", template, "-o", out)

	for _, want := range []string{
		"basic/v1/services.pb.go", "basic/v1/services_grpc.pb.go", "basic/v1/services_lambda.pb.go",
		"multi/v1/a_lambda.pb.go", "multi/v1/b_lambda.pb.go",
		"suffix/v1/suffixv1lambda/suffix_lambda.pb.go",
		"editions/v1/editions_lambda.pb.go", "proto2/v1/legacy_lambda.pb.go",
		"standalone/v1/services_grpc.pb.go", "standalone/v1/services_lambda.pb.go",
		"standalonesuffix/v1/suffixv1lambda/suffix_lambda.pb.go",
	} {
		if _, err := os.Stat(filepath.Join(out, want)); err != nil {
			t.Errorf("expected generated file: %v", err)
		}
	}

	goMod := "module " + module + "\n\ngo 1.25\n\nrequire github.com/protoc-gen-go-lambda/protoc-gen-go-lambda v0.0.0\n\n" +
		"replace github.com/protoc-gen-go-lambda/protoc-gen-go-lambda => " + repoRoot + "\n"
	writeFile(t, filepath.Join(out, "go.mod"), goMod)
	writeFile(t, filepath.Join(out, "go.sum"), readFile(t, filepath.Join(repoRoot, "go.sum")))
	run(t, out, path, "go", "mod", "tidy")
	run(t, out, path, "go", "vet", "./...")
}

func strip(s string) string { return versionLine.ReplaceAllString(s, "") }

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}
