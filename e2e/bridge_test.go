package e2e

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"debug/elf"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	goruntime "runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	ordersv1 "github.com/protoc-gen-go-lambda/protoc-gen-go-lambda/example/gen/orders/v1"
)

// These tests run the gRPC bridge's real command (cmd/lambda-grpc-bridge)
// in front of the example function's real bootstrap under the emulator,
// and call it with clients that know nothing of Lambda: grpcurl, grpc-go's
// own generated client, and (bridge_clients_test.go) grpc-js and grpcio.
// The bridge reaches the emulator through the harness's transport (a
// reverse proxy in front of it), so that its invocations take the
// emulator's slots like every other request of the suite.

var bridgeBuild build

// bridgeBinary builds cmd/lambda-grpc-bridge once per test binary run.
func bridgeBinary(t testing.TB) string {
	t.Helper()
	bridgeBuild.once.Do(func() {
		goTool, err := exec.LookPath("go")
		if err != nil {
			goTool = filepath.Join(goruntime.GOROOT(), "bin", "go")
		}
		out := filepath.Join(workDir, "bridge", "lambda-grpc-bridge")
		cmd := exec.Command(goTool, "build", "-buildvcs=false", "-o", out, "./cmd/lambda-grpc-bridge")
		cmd.Dir = moduleRoot(t)
		if msg, err := cmd.CombinedOutput(); err != nil {
			bridgeBuild.err = fmt.Errorf("building cmd/lambda-grpc-bridge: %v\n%s", err, msg)
			return
		}
		bridgeBuild.path = out
	})
	if bridgeBuild.err != nil {
		t.Fatal(bridgeBuild.err)
	}
	return bridgeBuild.path
}

// goTool finds a tool that scripts/install-tools installs with go install:
// on PATH or in $(go env GOPATH)/bin.
func goTool(t testing.TB, name string) string {
	t.Helper()
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	gopath, err := exec.Command("go", "env", "GOPATH").Output()
	if err == nil {
		for _, dir := range filepath.SplitList(strings.TrimSpace(string(gopath))) {
			p := filepath.Join(dir, "bin", name)
			if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() {
				return p
			}
		}
	}
	t.Fatalf("%s is not on PATH nor in $(go env GOPATH)/bin: run scripts/install-tools", name)
	return ""
}

// bridgeProcess is one lambda-grpc-bridge process.
type bridgeProcess struct {
	Addr   string // host:port it serves on
	cmd    *exec.Cmd
	log    *syncBuffer
	exited chan struct{}
	err    error // the process's exit, once exited is closed
}

// bridgeEnv is the environment the bridge gets: AWS settings for the
// emulator (which takes any credentials), and no instance metadata lookups.
func bridgeEnv(credentials bool) []string {
	env := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"),
		"AWS_REGION=us-east-1", "AWS_EC2_METADATA_DISABLED=true",
		"AWS_CONFIG_FILE=/nonexistent", "AWS_SHARED_CREDENTIALS_FILE=/nonexistent"}
	if credentials {
		env = append(env, "AWS_ACCESS_KEY_ID=e2e", "AWS_SECRET_ACCESS_KEY=e2e")
	}
	return env
}

// startBridgeProcess starts the bridge in front of em's function with args
// (besides --listen and --endpoint) and waits until it serves. It is
// stopped with SIGTERM when the test ends, and must then exit cleanly.
func startBridgeProcess(t *testing.T, em *emulator, env []string, args ...string) *bridgeProcess {
	t.Helper()
	bin := bridgeBinary(t)
	target, err := url.Parse(em.Endpoint)
	if err != nil {
		t.Fatal(err)
	}
	proxy := httputil.NewSingleHostReverseProxy(target)
	proxy.Transport = em.tr
	front := httptest.NewServer(proxy)
	t.Cleanup(front.Close)

	ports, err := freePorts(1)
	if err != nil {
		t.Fatal(err)
	}
	p := &bridgeProcess{Addr: "127.0.0.1:" + strconv.Itoa(ports[0]), log: &syncBuffer{}, exited: make(chan struct{})}
	p.cmd = exec.Command(bin, append([]string{"--listen", p.Addr, "--endpoint", front.URL}, args...)...)
	p.cmd.Env = env
	p.cmd.Stdout, p.cmd.Stderr = p.log, p.log
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		p.err = p.cmd.Wait()
		close(p.exited)
	}()
	t.Cleanup(func() {
		p.stop(t)
		if t.Failed() {
			t.Logf("lambda-grpc-bridge %q log:\n%s", args, p.log.String())
		}
	})
	for deadline := time.Now().Add(30 * time.Second); !strings.Contains(p.log.String(), "msg=serving"); {
		select {
		case <-p.exited:
			t.Fatalf("lambda-grpc-bridge exited before serving: %v\n%s", p.err, p.log.String())
		case <-time.After(10 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("lambda-grpc-bridge did not serve within 30 s:\n%s", p.log.String())
		}
	}
	return p
}

// stop sends SIGTERM and checks that the bridge stops cleanly.
func (p *bridgeProcess) stop(t *testing.T) {
	select {
	case <-p.exited:
		return
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(bridgeHangLimit):
		_ = p.cmd.Process.Kill()
		<-p.exited
		t.Errorf("lambda-grpc-bridge did not stop within %v of SIGTERM", bridgeHangLimit)
		return
	}
	if p.err != nil || !strings.Contains(p.log.String(), "msg=stopped") {
		t.Errorf("lambda-grpc-bridge stopped with %v; want a clean exit", p.err)
	}
}

// bridgeHangLimit fails what never ends; it is not a timing assertion.
const bridgeHangLimit = 60 * time.Second

// dial connects a grpc-go client to the bridge.
func (p *bridgeProcess) dial(t *testing.T) *grpc.ClientConn {
	t.Helper()
	conn, err := grpc.NewClient(p.Addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// grpcurl runs grpcurl and returns its output and exit code.
func grpcurl(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errOut bytes.Buffer
	cmd := exec.Command(goTool(t, "grpcurl"), args...)
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		code = exit.ExitCode()
	case err != nil:
		t.Fatalf("grpcurl: %v", err)
	}
	return out.String(), errOut.String(), code
}

// grpcurlExitCode is grpcurl's exit code for a call that failed with code:
// 64 plus the code.
func grpcurlExitCode(c codes.Code) int { return 64 + int(c) }

// TestBridgeWithGrpcurl: grpcurl lists, describes and calls the example
// function through the bridge by name, with the descriptors the function
// reports itself: a success, errors whose details it decodes
// (-format-error), metadata both ways, health checks and a server-streaming
// call (buffered: the emulator does not stream).
func TestBridgeWithGrpcurl(t *testing.T) {
	t.Parallel()
	em := startEmulator(t, emulatorConfig{Function: exampleFunction})
	b := startBridgeProcess(t, em, bridgeEnv(true), "--function", functionName, "--buffered-streams")
	a := b.Addr

	t.Run("list", func(t *testing.T) {
		out, errOut, code := grpcurl(t, "-plaintext", a, "list")
		want := "example.orders.v1.OrderService\ngrpc.health.v1.Health\ngrpc.reflection.v1.ServerReflection\ngrpc.reflection.v1alpha.ServerReflection\n"
		if code != 0 || out != want {
			t.Errorf("grpcurl list: exit %d\n%s%s\nwant\n%s", code, out, errOut, want)
		}
	})
	t.Run("describe", func(t *testing.T) {
		out, errOut, code := grpcurl(t, "-plaintext", a, "describe", "example.orders.v1.OrderService")
		for _, want := range []string{
			"example.orders.v1.OrderService is a service:",
			"rpc GetOrder ( .example.orders.v1.GetOrderRequest ) returns ( .example.orders.v1.Order ) {\n    option idempotency_level = NO_SIDE_EFFECTS;",
			"rpc WatchOrder ( .example.orders.v1.WatchOrderRequest ) returns ( stream .example.orders.v1.OrderEvent );",
		} {
			if code != 0 || !strings.Contains(out, want) {
				t.Errorf("grpcurl describe: exit %d, output lacks %q:\n%s%s", code, want, out, errOut)
			}
		}
		out, _, code = grpcurl(t, "-plaintext", a, "describe", "example.orders.v1.Order")
		if code != 0 || !strings.Contains(out, ".google.protobuf.Timestamp create_time = 7;") {
			t.Errorf("grpcurl describe Order: exit %d\n%s", code, out)
		}
	})
	t.Run("call", func(t *testing.T) {
		out, errOut, code := grpcurl(t, "-plaintext", "-d", `{"id":"o-1001"}`, a, "example.orders.v1.OrderService/GetOrder")
		var order map[string]any
		if code != 0 || json.Unmarshal([]byte(out), &order) != nil || order["customerId"] != "c-42" || order["totalCents"] != "6499" || order["createTime"] != "2026-11-01T09:30:00Z" {
			t.Errorf("GetOrder: exit %d\n%s%s", code, out, errOut)
		}
	})
	t.Run("errors with details", func(t *testing.T) {
		for _, tc := range []struct {
			method, request string
			code            codes.Code
			want            string
		}{
			{"GetOrder", `{"id":"o-404"}`, codes.NotFound, `{
  "code": 5,
  "message": "order \"o-404\" not found",
  "details": [
    {
      "@type": "type.googleapis.com/google.rpc.ResourceInfo",
      "description": "no order has this id",
      "resourceName": "o-404",
      "resourceType": "example.orders.v1.Order"
    }
  ]
}`},
			{"CreateOrder", `{"customerId":"c-1"}`, codes.InvalidArgument, `{
  "code": 3,
  "message": "invalid order",
  "details": [
    {
      "@type": "type.googleapis.com/google.rpc.BadRequest",
      "fieldViolations": [
        {
          "field": "items",
          "description": "an order needs at least one item"
        },
        {
          "field": "shipping_address.country_code",
          "description": "must be an ISO 3166-1 alpha-2 code"
        }
      ]
    }
  ]
}`},
		} {
			out, errOut, code := grpcurl(t, "-plaintext", "-format-error", "-d", tc.request, a, "example.orders.v1.OrderService/"+tc.method)
			if code != grpcurlExitCode(tc.code) || strings.TrimSpace(errOut) != tc.want {
				t.Errorf("%s: exit %d (want %d)\nstdout %s\nstderr %s\nwant %s", tc.method, code, grpcurlExitCode(tc.code), out, errOut, tc.want)
			}
		}
	})
	t.Run("metadata", func(t *testing.T) {
		out, errOut, code := grpcurl(t, "-plaintext", "-v", "-H", "authorization: Bearer admin-token", "-d", "{}", a, "example.orders.v1.OrderService/WhoAmI")
		for _, want := range []string{"Response headers received:\ncontent-type: application/grpc\nx-request-id: req-", `"subject": "user:grace"`, "Response trailers received:\nx-elapsed: "} {
			if code != 0 || !strings.Contains(out, want) {
				t.Errorf("WhoAmI: exit %d, output lacks %q:\n%s%s", code, want, out, errOut)
			}
		}
		_, errOut, code = grpcurl(t, "-plaintext", "-d", "{}", a, "example.orders.v1.OrderService/WhoAmI")
		if code != grpcurlExitCode(codes.Unauthenticated) || !strings.Contains(errOut, `Message: missing "authorization" metadata`) {
			t.Errorf("WhoAmI without authorization: exit %d\n%s", code, errOut)
		}
	})
	t.Run("health", func(t *testing.T) {
		for _, req := range []string{`{}`, `{"service":"example.orders.v1.OrderService"}`} {
			out, errOut, code := grpcurl(t, "-plaintext", "-d", req, a, "grpc.health.v1.Health/Check")
			if code != 0 || !strings.Contains(out, `"status": "SERVING"`) {
				t.Errorf("Check %s: exit %d\n%s%s", req, code, out, errOut)
			}
		}
		_, errOut, code := grpcurl(t, "-plaintext", "-d", `{"service":"nope.v1.Nope"}`, a, "grpc.health.v1.Health/Check")
		if code != grpcurlExitCode(codes.NotFound) {
			t.Errorf("Check of an unknown service: exit %d\n%s", code, errOut)
		}
	})
	t.Run("streaming", func(t *testing.T) {
		out, errOut, code := grpcurl(t, "-plaintext", "-d", `{"id":"o-1001"}`, a, "example.orders.v1.OrderService/WatchOrder")
		if code != 0 || !strings.Contains(out, `"orderId": "o-1001"`) || !strings.Contains(out, `"status": "ORDER_STATUS_PENDING"`) {
			t.Errorf("WatchOrder: exit %d\n%s%s", code, out, errOut)
		}
		_, errOut, code = grpcurl(t, "-plaintext", "-format-error", "-d", `{"id":"o-404"}`, a, "example.orders.v1.OrderService/WatchOrder")
		if code != grpcurlExitCode(codes.NotFound) || !strings.Contains(errOut, "o-404") {
			t.Errorf("WatchOrder o-404: exit %d\n%s", code, errOut)
		}
	})
	// One line per call in the bridge's log.
	if lines := b.log.lines("msg=call", "method=/example.orders.v1.OrderService/GetOrder", "function=function", "code=NotFound", "duration="); len(lines) != 1 {
		t.Errorf("log lines for the failed GetOrder: %q", lines)
	}
}

// lines returns the log lines that contain all of words.
func (b *syncBuffer) lines(words ...string) []string {
	var out []string
	for _, l := range strings.Split(b.String(), "\n") {
		ok := l != ""
		for _, w := range words {
			ok = ok && strings.Contains(l, w)
		}
		if ok {
			out = append(out, l)
		}
	}
	return out
}

// TestBridgeBadInput: a call to an unknown service, to a function that does
// not exist, with an oversize message, and through a bridge without AWS
// credentials each get a clear status, and the bridge serves the next call.
func TestBridgeBadInput(t *testing.T) {
	t.Parallel()
	em := startEmulator(t, emulatorConfig{Function: exampleFunction})
	b := startBridgeProcess(t, em, bridgeEnv(true), "--function", functionName, "--route", "gone.v1.Gone=no-such-function")
	conn := b.dial(t)
	orders := ordersv1.NewOrderServiceClient(conn)
	ok := func(t *testing.T) {
		t.Helper()
		if o, err := orders.GetOrder(context.Background(), &ordersv1.GetOrderRequest{Id: "o-1001"}); err != nil || o.GetCustomerId() != "c-42" {
			t.Errorf("the bridge no longer serves: %v, %v", o, err)
		}
	}
	for _, tc := range []struct {
		name   string
		call   func() error
		code   codes.Code
		prefix string
	}{
		{"unknown service", func() error {
			return conn.Invoke(context.Background(), "/nope.v1.Nope/Do", &ordersv1.GetOrderRequest{}, &ordersv1.Order{})
		}, codes.Unimplemented, "unknown service nope.v1.Nope"},
		// The emulator answers 404 for any function name but its own.
		{"function that does not exist", func() error {
			return conn.Invoke(context.Background(), "/gone.v1.Gone/Do", &ordersv1.GetOrderRequest{}, &ordersv1.Order{})
		}, codes.Unimplemented, "lambda: invoke failed: operation error Lambda: Invoke, https response error StatusCode: 404"},
		{"oversize message", func() error {
			_, err := orders.GetOrder(context.Background(), &ordersv1.GetOrderRequest{Id: strings.Repeat("x", 5<<20)})
			return err
		}, codes.ResourceExhausted, "lambda: request payload of"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.call()
			if st := status.Convert(err); st.Code() != tc.code || !strings.HasPrefix(st.Message(), tc.prefix) {
				t.Errorf("got %v %q, want %v %q…", st.Code(), st.Message(), tc.code, tc.prefix)
			}
			ok(t)
		})
	}

	t.Run("no AWS credentials", func(t *testing.T) {
		nb := startBridgeProcess(t, em, bridgeEnv(false), "--function", functionName)
		nconn := nb.dial(t)
		_, err := ordersv1.NewOrderServiceClient(nconn).GetOrder(context.Background(), &ordersv1.GetOrderRequest{Id: "o-1001"})
		if st := status.Convert(err); st.Code() != codes.Unauthenticated || !strings.HasPrefix(st.Message(), "lambda-grpc-bridge: no AWS credentials to invoke function: ") {
			t.Errorf("got %v %q", st.Code(), st.Message())
		}
		resp, err := healthpb.NewHealthClient(nconn).Check(context.Background(), &healthpb.HealthCheckRequest{})
		if err != nil || resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
			t.Errorf("the bridge without credentials no longer serves: %v, %v", resp, err)
		}
	})
}

// TestBridgeSIGTERMLetsCallsFinish: a call in flight when the bridge gets
// SIGTERM runs to its end and gets its answer; then the bridge exits
// cleanly.
func TestBridgeSIGTERMLetsCallsFinish(t *testing.T) {
	t.Parallel()
	em := startEmulator(t, emulatorConfig{Function: exampleFunction})
	b := startBridgeProcess(t, em, bridgeEnv(true), "--function", functionName)
	conn := b.dial(t)
	started, _ := em.Invocations()
	type result struct {
		order *ordersv1.Order
		err   error
	}
	done := make(chan result, 1)
	go func() {
		// 20 steps of 100 ms: long enough to still run when SIGTERM comes.
		o, err := ordersv1.NewOrderServiceClient(conn).ShipOrder(context.Background(), &ordersv1.ShipOrderRequest{Id: "o-1001", Steps: 20})
		done <- result{o, err}
	}()
	for n := started; n == started; n, _ = em.Invocations() {
		select {
		case r := <-done:
			t.Fatalf("ShipOrder ended before its invocation started: %v, %v", r.order, r.err)
		case <-time.After(5 * time.Millisecond):
		}
	}
	if err := b.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	r := <-done
	if r.err != nil || r.order.GetStatus() != ordersv1.OrderStatus_ORDER_STATUS_SHIPPED {
		t.Errorf("the call in flight got %v, %v; want the shipped order", r.order, r.err)
	}
	<-b.exited
	if b.err != nil {
		t.Errorf("exit: %v", b.err)
	}
	log := b.log.String()
	shutdown, call := strings.Index(log, "shutting down"), strings.Index(log, "method=/example.orders.v1.OrderService/ShipOrder")
	if shutdown < 0 || call < shutdown || !strings.Contains(log[call:], "code=OK") || !strings.Contains(log, "msg=stopped") {
		t.Errorf("want the shutdown logged before the call's end, then stopped:\n%s", log)
	}
}

// TestBridgeTLS: with --tls-cert and --tls-key the bridge serves TLS.
func TestBridgeTLS(t *testing.T) {
	t.Parallel()
	em := startEmulator(t, emulatorConfig{Function: exampleFunction})
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	writeSelfSigned(t, certFile, keyFile)
	b := startBridgeProcess(t, em, bridgeEnv(true), "--function", functionName, "--tls-cert", certFile, "--tls-key", keyFile)
	out, errOut, code := grpcurl(t, "-cacert", certFile, "-d", `{"id":"o-1001"}`, b.Addr, "example.orders.v1.OrderService/GetOrder")
	if code != 0 || !strings.Contains(out, `"customerId": "c-42"`) {
		t.Errorf("over TLS: exit %d\n%s%s", code, out, errOut)
	}
	_, errOut, code = grpcurl(t, "-plaintext", b.Addr, "list")
	if code == 0 {
		t.Errorf("plaintext to a TLS bridge succeeded:\n%s", errOut)
	}
	if !strings.Contains(b.log.String(), "transport=TLS") {
		t.Errorf("the log does not say TLS")
	}
}

// writeSelfSigned writes a certificate for 127.0.0.1 and its key.
func writeSelfSigned(t *testing.T, certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "lambda-grpc-bridge e2e"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IsCA:         true, BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestBridgeDockerfile: the container recipe (cmd/lambda-grpc-bridge/
// Dockerfile) copies every package of this module that the command
// imports, builds it with its own command into a static executable (no
// interpreter, no shared libraries) that runs, and runs it as a non-root
// user. The image itself is not built here: its base images come from
// registries the tests do not reach.
func TestBridgeDockerfile(t *testing.T) {
	t.Parallel()
	root := moduleRoot(t)
	text, err := os.ReadFile(filepath.Join(root, "cmd", "lambda-grpc-bridge", "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	var copied []string
	var build string
	var env []string
	stages := 0
	var lastFrom, user string
	for _, line := range strings.Split(string(text), "\n") {
		f := strings.Fields(line)
		if len(f) == 0 || strings.HasPrefix(f[0], "#") {
			continue
		}
		switch f[0] {
		case "FROM":
			stages++
			lastFrom, user = f[1], ""
		case "COPY":
			if stages == 1 && len(f) == 3 {
				copied = append(copied, strings.TrimSuffix(f[1], "/"))
			}
		case "ENV":
			env = append(env, f[1:]...)
		case "RUN":
			if len(f) > 2 && f[1] == "go" && f[2] == "build" {
				build = strings.Join(f[1:], " ")
			}
		case "USER":
			user = f[1]
		}
	}
	if !strings.HasPrefix(lastFrom, "gcr.io/distroless/static") || !strings.HasPrefix(user, "nonroot") {
		t.Errorf("final stage FROM %s USER %q; want distroless static, as nonroot", lastFrom, user)
	}

	list := exec.Command("go", "list", "-deps", "-f", "{{if .Module}}{{if .Module.Main}}{{.Dir}}{{end}}{{end}}", "./cmd/lambda-grpc-bridge")
	list.Dir = root
	out, err := list.Output()
	if err != nil {
		t.Fatal(err)
	}
	for _, dir := range strings.Fields(string(out)) {
		rel, err := filepath.Rel(root, dir)
		if err != nil {
			t.Fatal(err)
		}
		covered := false
		for _, c := range copied {
			covered = covered || rel == c || strings.HasPrefix(rel, c+string(filepath.Separator))
		}
		if !covered {
			t.Errorf("the Dockerfile does not copy %s, which the command imports (it copies %q)", rel, copied)
		}
	}

	// The build command as the Dockerfile runs it (a shell command line),
	// writing to a temporary file instead of /out.
	const out0 = "/out/lambda-grpc-bridge"
	if !strings.Contains(build, out0) {
		t.Fatalf("the Dockerfile's go build does not write %s: %q", out0, build)
	}
	bin := filepath.Join(t.TempDir(), "lambda-grpc-bridge")
	cmd := exec.Command("sh", "-c", strings.Replace(build, out0, bin, 1))
	cmd.Dir = root
	cmd.Env = append(os.Environ(), env...)
	if msg, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", build, err, msg)
	}
	f, err := elf.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	libs, _ := f.ImportedLibraries()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Errorf("the binary asks for an interpreter: it is not static")
		}
	}
	if len(libs) > 0 {
		t.Errorf("the binary needs %q: it is not static", libs)
	}
	if msg, err := exec.Command(bin, "--version").CombinedOutput(); err != nil || !strings.HasPrefix(string(msg), "lambda-grpc-bridge ") {
		t.Errorf("--version: %v %s", err, msg)
	}
}
