package parity

import (
	"context"
	"fmt"
	"net"
	"strings"
	"testing"

	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/test/bufconn"
	"google.golang.org/protobuf/proto"

	"github.com/protoc-gen-go-lambda/protoc-gen-go-lambda/internal/bridge"
	"github.com/protoc-gen-go-lambda/protoc-gen-go-lambda/internal/testing/testpb"
	"github.com/protoc-gen-go-lambda/protoc-gen-go-lambda/internal/testing/testserver"
	"github.com/protoc-gen-go-lambda/protoc-gen-go-lambda/runtime"
	"github.com/protoc-gen-go-lambda/protoc-gen-go-lambda/runtime/lambdatest"
)

// The gRPC bridge path: grpc-go's client → the bridge (internal/bridge, over
// bufconn) → invoke.ClientConn → lambdatest.Invoker → runtime.Server, the
// path of any gRPC client that calls a function through
// cmd/lambda-grpc-bridge. TestBridgeParity runs every in-process case of the
// suite on it and compares the caller's outcome with grpc-go's client →
// grpc-go server, as TestParity does for the generated Lambda client; the
// table of docs/bridge.md is generated from the run and checked by it.

// bridgeDocPath is the document whose parity table this test generates.
const bridgeDocPath = "../docs/bridge.md"

// sameAsLambda is the verdict of a case whose Lambda-path difference (a
// function's: the Invoke API's and runtime.Server's) reaches a grpc-go
// client through the bridge: the case's own Diff checks it.
const sameAsLambda = "as on the Lambda path (the function's side of the difference; see docs/compatibility.md)"

// lambdaClientDifferences are the cases whose Lambda-path difference comes
// from the generated Lambda client's side, which a caller of the bridge
// does not use: through the bridge they come out equal. The value says why.
var lambdaClientDifferences = map[string]string{
	"caller: upper-case key in a hand-built MD":       "the caller's client is grpc-go's, which refuses the key itself",
	"grpc.PerRPCCredentials sees the call's audience": "the credentials run in the caller's grpc-go client, which passes its own channel's audience",
}

// bridgeDifferences are the cases whose outcome through the bridge differs
// from grpc-go's other than as on the Lambda path, by name, with the reason
// and the check of exactly what differs.
var bridgeDifferences = map[string]struct {
	reason string
	check  func(t *testing.T, grpcGo, bridge Outcome)
}{}

// runBridge runs the case through the bridge.
func runBridge(t *testing.T, c *Case) Outcome {
	opts := []runtime.ServerOption{runtime.ChainUnaryInterceptor(c.ServerInterceptors...)}
	if c.MaxRecv > 0 {
		opts = append(opts, runtime.MaxRecvMsgSize(c.MaxRecv))
	}
	if c.MaxSend > 0 {
		opts = append(opts, runtime.MaxSendMsgSize(c.MaxSend))
	}
	srv := runtime.NewServer(opts...)
	c.register(srv, true)
	inv := lambdatest.NewInvoker(srv)
	defer inv.Close()
	// The bridge's own receive limit is the function's when that is larger,
	// as an operator running a function with raised limits would set
	// --max-recv-msg-size.
	maxRecv := bridge.DefaultMaxRecvMsgSize
	if c.MaxRecv > maxRecv {
		maxRecv = c.MaxRecv
	}
	b, err := bridge.New(bridge.Config{Invoker: inv, Function: functionName, MaxRecvMsgSize: maxRecv})
	if err != nil {
		t.Fatalf("bridge.New: %v", err)
	}
	lis := bufconn.Listen(1 << 20)
	served := make(chan struct{})
	go func() {
		defer close(served)
		_ = b.Serve(lis)
	}()
	defer func() {
		ctx, cancel := context.WithCancel(context.Background())
		cancel() // calls still running (a handler that ignores its deadline) are cut off
		b.Shutdown(ctx)
		<-served
	}()
	conn, err := grpc.NewClient("passthrough:///"+functionName,
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) }),
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithChainUnaryInterceptor(c.ClientInterceptors...),
	)
	if err != nil {
		t.Fatalf("grpc.NewClient: %v", err)
	}
	defer conn.Close()
	// The caller is a grpc-go client: its outcome is normalized as grpc-go's.
	return c.call(t, Conn{CC: conn, Client: testpb.NewTestServiceClient(conn)})
}

// bridgeRow is one line of the bridge's parity table.
type bridgeRow struct {
	Case, GRPC, Bridge, Verdict string
}

// TestBridgeParity runs every case that runs in-process on the grpc-go
// path and the bridge path and compares the outcomes; when all ran and
// passed, it checks (or with -update rewrites) the table of docs/bridge.md.
func TestBridgeParity(t *testing.T) {
	gs := groups()
	rows := make([][]bridgeRow, len(gs))
	total := 0
	for _, g := range gs {
		total += len(g.Cases)
	}
	t.Run("cases", func(t *testing.T) {
		for i, g := range gs {
			rows[i] = make([]bridgeRow, len(g.Cases))
			t.Run(g.Name, func(t *testing.T) {
				t.Parallel()
				for j := range g.Cases {
					c := &g.Cases[j]
					t.Run(c.Name, func(t *testing.T) {
						rows[i][j] = runBridgeCase(t, c)
					})
				}
			})
		}
	})
	ran := 0
	for i := range rows {
		for _, r := range rows[i] {
			if r.Case != "" {
				ran++
			}
		}
	}
	for name := range bridgeDifferences {
		found := false
		for _, g := range gs {
			for _, c := range g.Cases {
				found = found || c.Name == name
			}
		}
		if !found {
			t.Errorf("bridgeDifferences names %q, which is no case", name)
		}
	}
	if ran != total || t.Failed() {
		t.Logf("%d of %d cases ran; %s not checked", ran, total, bridgeDocPath)
		return
	}
	checkBridgeDoc(t, gs, rows)
}

// runBridgeCase runs one case on the grpc-go and bridge paths.
func runBridgeCase(t *testing.T, c *Case) bridgeRow {
	if c.Outcomes != nil {
		// The case ends a process or panics outside a call: it cannot run
		// in-process, and the bridge adds nothing to what the Lambda path
		// shows of it.
		return bridgeRow{Case: c.Name, GRPC: "—", Bridge: "—", Verdict: "not run: the case needs a process of its own (see docs/compatibility.md)"}
	}
	g := runGRPC(t, c)
	b := runBridge(t, c)
	for _, o := range []*Outcome{&g, &b} {
		normalize(t, o)
		if c.MessageVaries {
			o.Status = proto.Clone(o.Status).(*spb.Status)
			o.Status.Message = ""
			o.MessageIgnored = true
		}
		if c.Check != nil {
			c.Check(t, *o)
		}
	}
	gRow, bRow := g, b
	if c.TrailerVaries {
		// Both sides' grpc-go clients show the trailer or not by timing:
		// it is compared when both show it, and the table shows the one
		// the function sends.
		sent := testserver.MD(c.Req.GetTrailer())
		gRow.Trailer, bRow.Trailer = sent, sent
		if len(g.Trailer) == 0 || len(b.Trailer) == 0 {
			g.Trailer, b.Trailer = nil, nil
		}
	}
	verdict := "equal"
	d := diffOutcomes(g, b)
	bd, documented := bridgeDifferences[c.Name]
	_, lambdaOnly := lambdaClientDifferences[c.Name]
	switch {
	case documented && len(d) == 0:
		t.Errorf("documented bridge difference %q no longer differs; make it an equal case", bd.reason)
	case documented:
		verdict = bd.reason
		if bd.check == nil {
			t.Errorf("documented bridge difference without a check")
		} else {
			bd.check(t, g, b)
		}
	case lambdaOnly && c.Difference == "":
		t.Errorf("lambdaClientDifferences names a case without a Lambda-path difference")
	case lambdaOnly && len(d) > 0:
		t.Errorf("the Lambda path's difference %q was to stay on its client's side; through the bridge:\n%s", c.Difference, strings.Join(d, "\n"))
	case lambdaOnly:
		verdict = "equal: " + lambdaClientDifferences[c.Name]
	case c.Difference != "" && len(d) == 0:
		t.Errorf("the Lambda path's difference %q does not show through the bridge; if that is by design, list the case in lambdaClientDifferences", c.Difference)
	case c.Difference != "":
		verdict = sameAsLambda
		if c.Diff != nil {
			c.Diff(t, g, b)
		}
	case len(d) > 0:
		t.Errorf("the bridge path differs from grpc-go:\n%s", strings.Join(d, "\n"))
	}
	grpcCell, bridgeCell := summary(gRow), summary(bRow)
	if c.TrailerVaries {
		grpcCell += trailerVariesNote
		bridgeCell += trailerVariesNote
	}
	return bridgeRow{Case: c.Name, GRPC: grpcCell, Bridge: bridgeCell, Verdict: verdict}
}

const (
	bridgeBegin = "<!-- BEGIN GENERATED BRIDGE PARITY (go test ./parity -run TestBridgeParity -update) -->\n"
	bridgeEnd   = "<!-- END GENERATED BRIDGE PARITY -->\n"
)

// checkBridgeDoc compares the generated table of docs/bridge.md with the run.
func checkBridgeDoc(t *testing.T, gs []group, rows [][]bridgeRow) {
	checkGenerated(t, bridgeDocPath, "TestBridgeParity", generatedPart{bridgeBegin, bridgeEnd, bridgeTable(gs, rows)})
}

func bridgeTable(gs []group, rows [][]bridgeRow) string {
	var b strings.Builder
	n, equal, notRun := 0, 0, 0
	for i := range gs {
		for _, r := range rows[i] {
			n++
			switch {
			case strings.HasPrefix(r.Verdict, "equal"):
				equal++
			case strings.HasPrefix(r.Verdict, "not run"):
				notRun++
			}
		}
	}
	fmt.Fprintf(&b, "\n%d cases: %d equal, %d documented differences, %d not run in-process.\n", n, equal, n-equal-notRun, notRun)
	n = 0
	for i, g := range gs {
		fmt.Fprintf(&b, "\n#### %s\n\n", g.Name)
		b.WriteString("| # | Case | grpc-go | Through the bridge | Equal, or why not |\n|---|---|---|---|---|\n")
		for _, r := range rows[i] {
			n++
			v := r.Verdict
			if !strings.HasPrefix(v, "equal") && !strings.HasPrefix(v, "not run") {
				v = "**differs:** " + v
			}
			fmt.Fprintf(&b, "| %d | %s | %s | %s | %s |\n", n, cell(r.Case), cell(r.GRPC), cell(r.Bridge), cell(v))
		}
	}
	b.WriteString("\n")
	return b.String()
}
