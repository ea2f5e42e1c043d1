package e2e

import (
	"bytes"
	"debug/elf"
	"fmt"
	"go/format"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	goruntime "runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The README's quick start, as marked blocks: each `<!-- quickstart:NAME -->`
// line is followed by the fenced block NAME stands for. Names with a slash or
// a dot are files of the user's module; the others are shell commands and the
// expected output.
const (
	qsProto      = "proto/inventory/v1/inventory.proto"
	qsBufYAML    = "buf.yaml"
	qsBufGenYAML = "buf.gen.yaml"
	qsProtoc     = "protoc"
	qsFunction   = "function/main.go"
	qsBuild      = "build"
	qsEmulator   = "emulator"
	qsClient     = "client/main.go"
	qsRun        = "run"
	qsOutput     = "output"
)

var quickstartFiles = []string{qsProto, qsBufYAML, qsBufGenYAML, qsFunction, qsClient}

var quickstartBlocks = append([]string{qsProtoc, qsBuild, qsEmulator, qsRun, qsOutput}, quickstartFiles...)

// quickstartEndpoint is the endpoint the README's run block names: the
// emulator's default address.
const quickstartEndpoint = "http://127.0.0.1:8080"

// TestQuickStart follows the README's quick start the way a new user pastes
// it: the files and commands are taken from README.md itself, not copied, into
// a fresh module example.com/inventory outside the repository. It generates
// with buf and with protoc (the two outputs must match), builds the function
// for AWS (compiled only) and for this machine, runs it under the emulator
// with the README's command, runs the README's client against it and compares
// what it prints with the README's output, byte for byte. It fails when a
// snippet stops compiling or behaving as the README says.
func TestQuickStart(t *testing.T) {
	t.Parallel()
	phase := phases(t)

	readme, err := os.ReadFile(filepath.Join(moduleRoot(t), "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	blocks, err := parseQuickstart(readme)
	if err != nil {
		t.Fatalf("README.md: %v", err)
	}
	for _, name := range quickstartBlocks {
		if _, ok := blocks[name]; !ok {
			t.Fatalf("README.md has no <!-- quickstart:%s --> block", name)
		}
	}

	// The Go files are pasted as they are: they should be gofmt'ed already.
	for _, name := range []string{qsFunction, qsClient} {
		if formatted, err := format.Source([]byte(blocks[name])); err != nil {
			t.Errorf("README.md %s: %v", name, err)
		} else if string(formatted) != blocks[name] {
			t.Errorf("README.md %s is not gofmt'ed:\n%s", name, lineDiff(blocks[name], string(formatted)))
		}
	}

	env := quickstartEnv(t)
	dir := t.TempDir()
	writeQuickstartModule(t, dir, blocks)
	phase("plugin built, module")

	// buf generate, as the README says, then the README's protoc command into
	// a gen/ that does not exist yet, as for a user who never ran buf: the two
	// must write the same files.
	run(t, dir, env, "buf", "generate")
	bufGen := readTree(t, filepath.Join(dir, "gen"))
	if _, ok := bufGen["inventory/v1/inventory_lambda.pb.go"]; !ok {
		t.Fatalf("buf generate wrote no gen/inventory/v1/inventory_lambda.pb.go; it wrote %v", keys(bufGen))
	}
	phase("buf generate")
	if err := os.RemoveAll(filepath.Join(dir, "gen")); err != nil {
		t.Fatal(err)
	}
	shell(t, dir, env, blocks[qsProtoc])
	compareGenerated(t, bufGen, readTree(t, filepath.Join(dir, "gen")))
	phase("protoc")

	// The module's requirements: the plugin's runtime is replaced by this
	// repository; the rest comes from the module proxy.
	run(t, dir, append(env, "GOFLAGS=-mod=mod"), "go", "mod", "tidy")
	phase("go mod tidy")

	// The build block: the first line is for AWS (compiled, never run here),
	// the second for this machine.
	build := commandLines(blocks[qsBuild])
	if len(build) != 2 {
		t.Fatalf("the build block has %d command lines, want 2 (AWS, then here):\n%s", len(build), blocks[qsBuild])
	}
	shell(t, dir, env, build[0])
	checkELF(t, filepath.Join(dir, "deploy", "bootstrap"), elf.EM_AARCH64)
	shell(t, dir, env, build[1])
	checkELF(t, filepath.Join(dir, "bootstrap"), map[string]elf.Machine{
		"amd64": elf.EM_X86_64, "arm64": elf.EM_AARCH64,
	}[goruntime.GOARCH])
	phase("go build (AWS and here)")

	endpoint, log := startQuickstartEmulator(t, dir, env, blocks[qsEmulator])
	phase("emulator ready")

	runCmd := strings.TrimSpace(blocks[qsRun])
	if !strings.Contains(runCmd, quickstartEndpoint) {
		t.Fatalf("the run block does not call the emulator's default endpoint %s:\n%s", quickstartEndpoint, runCmd)
	}
	stdout := shell(t, dir, env, strings.ReplaceAll(runCmd, quickstartEndpoint, endpoint))
	phase("go run ./client")
	if want := blocks[qsOutput]; stdout != want {
		t.Errorf("the client printed\n%s\nthe README's output block says\n%s", stdout, want)
	}

	// The function's interceptor logs each unary call it served: the client's
	// three calls reached it, and WatchItem (streaming) did not.
	fnLog := log.String()
	for _, line := range []string{
		"/inventory.v1.InventoryService/GetItem: OK",
		"/inventory.v1.InventoryService/GetItem: NotFound",
		"/inventory.v1.InventoryService/ReserveItem: OK",
	} {
		if !strings.Contains(fnLog, line) {
			t.Errorf("the function's log has no %q (logCalls did not see the call)", line)
		}
	}
	if strings.Contains(fnLog, "WatchItem") {
		t.Errorf("the streaming call reached the function's interceptor:\n%s", fnLog)
	}
	if t.Failed() {
		t.Logf("emulator and function log:\n%s", fnLog)
	}
}

// phases returns a function that logs how long the phase that just ended
// took.
func phases(t *testing.T) func(name string) {
	start := time.Now()
	last := start
	return func(name string) {
		now := time.Now()
		t.Logf("%-24s %6.1fs (total %.1fs)", name, now.Sub(last).Seconds(), now.Sub(start).Seconds())
		last = now
	}
}

var quickstartMarker = regexp.MustCompile(`^<!-- quickstart:(\S+) -->$`)

// parseQuickstart returns the README's marked blocks by name: the content of
// the fenced block on the line after each marker (blank lines between them
// are allowed, nothing else).
func parseQuickstart(readme []byte) (map[string]string, error) {
	lines := strings.Split(strings.ReplaceAll(string(readme), "\r\n", "\n"), "\n")
	blocks := map[string]string{}
	for i := 0; i < len(lines); i++ {
		m := quickstartMarker.FindStringSubmatch(strings.TrimSpace(lines[i]))
		if m == nil {
			continue
		}
		name := m[1]
		if _, dup := blocks[name]; dup {
			return nil, fmt.Errorf("line %d: a second <!-- quickstart:%s --> marker", i+1, name)
		}
		j := i + 1
		for j < len(lines) && strings.TrimSpace(lines[j]) == "" {
			j++
		}
		if j == len(lines) || !strings.HasPrefix(lines[j], "```") {
			return nil, fmt.Errorf("line %d: <!-- quickstart:%s --> is not followed by a fenced block", i+1, name)
		}
		fence := lines[j][:len(lines[j])-len(strings.TrimLeft(lines[j], "`"))]
		var body strings.Builder
		k := j + 1
		for ; k < len(lines) && strings.TrimRight(lines[k], " \t") != fence; k++ {
			body.WriteString(lines[k])
			body.WriteByte('\n')
		}
		if k == len(lines) {
			return nil, fmt.Errorf("line %d: the block of <!-- quickstart:%s --> is not closed", j+1, name)
		}
		blocks[name] = body.String()
		i = k
	}
	return blocks, nil
}

// commandLines returns a shell block's lines that are not blank, joining
// lines continued with a backslash.
func commandLines(block string) []string {
	var lines []string
	var cur strings.Builder
	for _, l := range strings.Split(block, "\n") {
		if strings.HasSuffix(l, "\\") {
			cur.WriteString(strings.TrimSuffix(l, "\\"))
			continue
		}
		cur.WriteString(l)
		if s := strings.TrimSpace(cur.String()); s != "" {
			lines = append(lines, s)
		}
		cur.Reset()
	}
	return lines
}

// quickstartEnv is the environment a new user's shell would have after the
// README's go install lines, with the tools this repository pins instead of
// @latest ones: protoc-gen-go-lambda built from this repository into a
// directory of its own, first on PATH; then $(go env GOPATH)/bin with the
// pinned protoc-gen-go, protoc-gen-go-grpc, buf and aws-lambda-rie that
// scripts/install-tools installs from tools.env; then the go in use and the
// rest of PATH (protoc). Go settings that would change the build (a
// workspace, GOFLAGS, a target platform) are removed.
func quickstartEnv(t *testing.T) []string {
	t.Helper()
	goTool, err := exec.LookPath("go")
	if err != nil {
		goTool = filepath.Join(goruntime.GOROOT(), "bin", "go")
	}
	out, err := exec.Command(goTool, "env", "GOPATH").Output()
	if err != nil {
		t.Fatalf("go env GOPATH: %v", err)
	}
	var gopathBins []string
	for _, d := range filepath.SplitList(strings.TrimSpace(string(out))) {
		gopathBins = append(gopathBins, filepath.Join(d, "bin"))
	}

	bin := t.TempDir()
	build := exec.Command(goTool, "build", "-buildvcs=false", "-o", filepath.Join(bin, "protoc-gen-go-lambda"), "./cmd/protoc-gen-go-lambda")
	build.Dir = moduleRoot(t)
	build.Env = append(os.Environ(), "GOWORK=off")
	if msg, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building protoc-gen-go-lambda: %v\n%s", err, msg)
	}

	path := append([]string{bin}, gopathBins...)
	path = append(path, filepath.Dir(goTool))
	path = append(path, filepath.SplitList(os.Getenv("PATH"))...)
	for _, tool := range []string{"buf", "protoc-gen-go", "protoc-gen-go-grpc", "aws-lambda-rie", "protoc"} {
		if findIn(path, tool) == "" {
			t.Fatalf("%s is not on PATH nor in $(go env GOPATH)/bin: run scripts/install-tools", tool)
		}
	}
	if goruntime.GOOS != "linux" {
		t.Fatalf("the quick start runs a linux bootstrap under aws-lambda-rie: run it on linux (GOOS is %s)", goruntime.GOOS)
	}

	var env []string
	for _, kv := range emulatorEnviron() {
		k, _, _ := strings.Cut(kv, "=")
		switch k {
		case "PATH", "GOWORK", "GOFLAGS", "GOOS", "GOARCH", "CGO_ENABLED", "GOBIN":
			continue
		}
		env = append(env, kv)
	}
	return append(env, "PATH="+strings.Join(path, string(filepath.ListSeparator)), "GOWORK=off")
}

// findIn returns the executable name in the first of dirs that has it.
func findIn(dirs []string, name string) string {
	for _, d := range dirs {
		p := filepath.Join(d, name)
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
			return p
		}
	}
	return ""
}

// writeQuickstartModule writes the README's files and a go.mod that requires
// this repository's module, replaced by the working tree.
func writeQuickstartModule(t *testing.T, dir string, blocks map[string]string) {
	t.Helper()
	root := moduleRoot(t)
	repoMod, err := os.ReadFile(filepath.Join(root, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	goLine := regexp.MustCompile(`(?m)^go \S+$`).Find(repoMod)
	if goLine == nil {
		t.Fatal("the repository's go.mod has no go line")
	}
	gomod := fmt.Sprintf("module example.com/inventory\n\n%s\n\nrequire github.com/protoc-gen-go-lambda/protoc-gen-go-lambda v0.0.0\n\nreplace github.com/protoc-gen-go-lambda/protoc-gen-go-lambda => %s\n", goLine, root)
	files := map[string]string{"go.mod": gomod}
	sum, err := os.ReadFile(filepath.Join(root, "go.sum"))
	if err != nil {
		t.Fatal(err)
	}
	files["go.sum"] = string(sum)
	for _, name := range quickstartFiles {
		files[name] = blocks[name]
	}
	for name, content := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// run runs a program in dir and fails the test with its output if it fails.
func run(t *testing.T, dir string, env []string, name string, args ...string) string {
	t.Helper()
	path := findIn(filepath.SplitList(envValue(env, "PATH")), name)
	if path == "" {
		t.Fatalf("%s is not on PATH", name)
	}
	return runCommand(t, exec.Command(path, args...), dir, env)
}

// shell runs a README command line with sh in dir, as a user's shell would,
// and returns its standard output.
func shell(t *testing.T, dir string, env []string, script string) string {
	t.Helper()
	return runCommand(t, exec.Command("/bin/sh", "-c", script), dir, env)
}

func runCommand(t *testing.T, cmd *exec.Cmd, dir string, env []string) string {
	t.Helper()
	var stdout, stderr bytes.Buffer
	cmd.Dir, cmd.Env, cmd.Stdout, cmd.Stderr = dir, env, &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s: %v\nstdout:\n%s\nstderr:\n%s", strings.Join(cmd.Args, " "), err, stdout.String(), stderr.String())
	}
	return stdout.String()
}

func envValue(env []string, key string) string {
	v := ""
	for _, kv := range env {
		if k, val, _ := strings.Cut(kv, "="); k == key {
			v = val
		}
	}
	return v
}

// readTree returns the regular files under dir by slash path.
func readTree(t *testing.T, dir string) map[string]string {
	t.Helper()
	files := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		files[filepath.ToSlash(rel)] = string(b)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

func keys(m map[string]string) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	return ks
}

// protocVersionLine is the generated headers' protoc version line: buf
// writes "(unknown)", protoc its version.
var protocVersionLine = regexp.MustCompile(`(?m)^//( \t| - )protoc +\S+$`)

// compareGenerated fails unless buf's and protoc's files are the same, apart
// from the protoc version in their headers.
func compareGenerated(t *testing.T, bufGen, protocGen map[string]string) {
	t.Helper()
	norm := func(s string) string { return protocVersionLine.ReplaceAllString(s, "//${1}protoc VERSION") }
	for name, b := range bufGen {
		p, ok := protocGen[name]
		switch {
		case !ok:
			t.Errorf("the protoc command did not write gen/%s, which buf generate writes", name)
		case norm(p) != norm(b):
			t.Errorf("gen/%s differs between buf generate and the protoc command:\n%s", name, lineDiff(norm(b), norm(p)))
		}
	}
	for name := range protocGen {
		if _, ok := bufGen[name]; !ok {
			t.Errorf("the protoc command wrote gen/%s, which buf generate does not", name)
		}
	}
	if t.Failed() {
		t.FailNow()
	}
}

// lineDiff shows the lines of a (buf's, or as written) and b (protoc's, or
// as gofmt writes them) that differ, by line number, up to ten.
func lineDiff(a, b string) string {
	al, bl := strings.Split(a, "\n"), strings.Split(b, "\n")
	var out strings.Builder
	shown := 0
	for i := 0; i < max(len(al), len(bl)) && shown < 10; i++ {
		var x, y string
		if i < len(al) {
			x = al[i]
		}
		if i < len(bl) {
			y = bl[i]
		}
		if x != y {
			fmt.Fprintf(&out, "line %d:\n  - %q\n  + %q\n", i+1, x, y)
			shown++
		}
	}
	return out.String()
}

// checkELF fails unless path is a linux executable for machine.
func checkELF(t *testing.T, path string, machine elf.Machine) {
	t.Helper()
	f, err := elf.Open(path)
	if err != nil {
		t.Fatalf("the build did not write a linux executable: %v", err)
	}
	defer f.Close()
	if f.Machine != machine || f.Type != elf.ET_EXEC {
		t.Fatalf("%s is a %v %v, want an executable for %v", path, f.Machine, f.Type, machine)
	}
}

// startQuickstartEmulator runs the README's emulator command with sh in dir,
// on free loopback ports rather than the defaults 8080 and 9001 (other tests
// and programs may hold them): the address flags go right after the
// command's first word. It returns the Invoke API endpoint and the
// emulator's log, with the function's; the emulator is killed when the test
// ends.
func startQuickstartEmulator(t *testing.T, dir string, env []string, block string) (string, *syncBuffer) {
	t.Helper()
	lines := commandLines(block)
	if len(lines) != 1 || !strings.HasPrefix(lines[0], "aws-lambda-rie ") {
		t.Fatalf("the emulator block is not one aws-lambda-rie command:\n%s", block)
	}
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		ports, err := freePorts(2)
		if err != nil {
			t.Fatal(err)
		}
		endpoint := "http://127.0.0.1:" + strconv.Itoa(ports[0])
		script := "exec aws-lambda-rie --runtime-interface-emulator-address 127.0.0.1:" + strconv.Itoa(ports[0]) +
			" --runtime-api-address 127.0.0.1:" + strconv.Itoa(ports[1]) +
			strings.TrimPrefix(lines[0], "aws-lambda-rie")
		log := &syncBuffer{}
		cmd := exec.Command("/bin/sh", "-c", script)
		cmd.Dir, cmd.Env, cmd.Stdout, cmd.Stderr = dir, env, log, log
		// Its own process group, so that the function's process is killed
		// with it.
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		em := &emulator{Endpoint: endpoint, exited: make(chan struct{})}
		go func() {
			_ = cmd.Wait()
			close(em.exited)
		}()
		stop := func() {
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-em.exited
		}
		if err := em.waitReady(10 * time.Second); err != nil {
			stop()
			lastErr = fmt.Errorf("%s: %v\nlog:\n%s", script, err, log.String())
			continue
		}
		t.Cleanup(stop)
		return endpoint, log
	}
	t.Fatalf("starting the emulator: %v", lastErr)
	return "", nil
}
