package parity

import (
	"context"
	"fmt"
	"io"
	"log"
	"maps"
	"net"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/grpclog"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/test/bufconn"
	"google.golang.org/protobuf/proto"

	"github.com/protoc-gen-go-lambda/protoc-gen-go-lambda/internal/testing/testpb"
	"github.com/protoc-gen-go-lambda/protoc-gen-go-lambda/runtime"
	"github.com/protoc-gen-go-lambda/protoc-gen-go-lambda/runtime/invoke"
	"github.com/protoc-gen-go-lambda/protoc-gen-go-lambda/runtime/lambdatest"
)

// transportKeys are the metadata keys that grpc-go's HTTP/2 transport adds
// by itself, with the value it adds and the reason the Lambda path has no
// equivalent. They are the only keys removed before outcomes are compared,
// and only when they carry exactly that value: the Lambda path must never
// show them at all, and a caller's or handler's own use of these keys is
// compared like any other metadata (grpc-go drops them as reserved; so does
// the runtime).
var transportKeys = []struct {
	Key, Where, Value, Reason string
}{
	{":authority", "incoming (handler)", "parity", "HTTP/2 pseudo-header naming the server the channel dialled; an Invoke call names a function, not an authority"},
	{"content-type", "incoming (handler)", "application/grpc", "HTTP/2 content type of a gRPC request; the Lambda payload is a JSON envelope"},
	{"user-agent", "incoming (handler)", "grpc-go/" + grpc.Version, "grpc-go's HTTP/2 user agent; the AWS SDK sends its own User-Agent to the Lambda service, which does not reach the function"},
	{"content-type", "header and trailers-only trailer (caller)", "application/grpc", "HTTP/2 content type of a gRPC response; the Lambda response is a JSON envelope"},
}

// stripTransportKeys removes the transport keys from md in place when they
// carry the transport's value, and returns the keys it found with another
// value or on the Lambda path (which must have none).
func stripTransportKeys(md metadata.MD, lambda bool) (unexpected []string) {
	for _, tk := range transportKeys {
		vs, ok := md[tk.Key]
		if !ok {
			continue
		}
		if lambda || len(vs) != 1 || vs[0] != tk.Value {
			unexpected = append(unexpected, fmt.Sprintf("%s=%q", tk.Key, vs))
			continue
		}
		delete(md, tk.Key)
	}
	return unexpected
}

// Conn is what a case's call gets: the connection and the TestService
// client built on it (protoc-gen-go-grpc's on the grpc-go path, ours on the
// Lambda path).
type Conn struct {
	CC     grpc.ClientConnInterface
	Client testpb.TestServiceClient
	Lambda bool
}

// Case is one scenario, run on both paths with the same service object and
// the same interceptors.
type Case struct {
	Name string

	// Service serves both paths; nil means a new *Service with defaults.
	Service testpb.TestServiceServer
	// Register, when set, registers the services instead of the default
	// registration of Service (protoc-gen-go-grpc's RegisterTestServiceServer
	// on grpc-go, our RegisterTestServiceLambdaServer on Lambda).
	Register func(r grpc.ServiceRegistrar, lambda bool)

	ServerInterceptors []grpc.UnaryServerInterceptor
	ClientInterceptors []grpc.UnaryClientInterceptor
	// GRPCRecovery adds, on the grpc-go server only and outermost, the
	// recovery interceptor that stands in for the runtime's own recovery.
	GRPCRecovery bool
	// MaxRecv and MaxSend set the servers' message size limits (0: default).
	MaxRecv, MaxSend int
	// CallOptions are passed to the call, before grpc.Header and
	// grpc.Trailer.
	CallOptions []grpc.CallOption

	// Ctx derives the call's context; nil means no deadline.
	Ctx func(context.Context) (context.Context, context.CancelFunc)
	// Req is the request of the default call, Echo.
	Req *testpb.EchoRequest
	// Call makes the call instead of Echo(Req).
	Call func(ctx context.Context, c Conn, opts ...grpc.CallOption) (proto.Message, error)
	// Outcomes replaces the whole run for cases that cannot run in-process.
	Outcomes func(t *testing.T) (grpcGo, lambda Outcome)

	// MessageVaries says that grpc-go's status message for this case
	// depends on timing (whether its client's or its server's deadline timer
	// fires first: "context deadline exceeded" or "stream terminated by
	// RST_STREAM with error code: CANCEL"); the messages are then not
	// compared, everything else is.
	MessageVaries bool

	// TrailerVaries says that whether grpc-go's client shows the trailer
	// depends on timing (it gives up on an oversized message, and the
	// trailers may or may not have been read by then). When grpc-go's side
	// shows none, the Lambda side's trailer is not compared; when it shows
	// one, both are, and Check can require the Lambda side's.
	TrailerVaries bool

	// Check, when set, checks each side's outcome further.
	Check func(t *testing.T, o Outcome)
	// Difference, when set, says why the case cannot be equal by design;
	// Diff then asserts exactly what differs. docs/compatibility.md lists it.
	Difference string
	Diff       func(t *testing.T, grpcGo, lambda Outcome)

	// JSONDifference, when set, says why the Lambda path in JSON mode
	// (invoke.WithJSON: protojson bodies) cannot give what it gives in
	// binary mode; JSONDiff then asserts exactly what differs. Every other
	// case must come out the same in both modes.
	JSONDifference string
	JSONDiff       func(t *testing.T, binary, json Outcome)

	// jsonMode makes runLambda call in JSON mode.
	jsonMode bool
}

// Outcome is what a caller observes.
type Outcome struct {
	Lambda   bool
	Resp     proto.Message // nil unless the call succeeded
	Status   *spb.Status   // code 0 for success
	IsStatus bool          // the error was a status error (or nil)
	Header   metadata.MD
	Trailer  metadata.MD
	// Note describes an outcome beyond an RPC (a process exit, a panic).
	Note string
	// MessageIgnored is set when the case's messages are not compared.
	MessageIgnored bool
}

// Code returns the outcome's status code.
func (o Outcome) Code() codes.Code { return codes.Code(o.Status.GetCode()) }

// hangLimit fails a call that never returns; it is not a timing assertion:
// a 4 MiB call under the race detector on a loaded 2-vCPU machine took over
// 30 s once.
const hangLimit = 2 * time.Minute

const functionName = "parity"

func TestMain(m *testing.M) {
	if sub := os.Getenv(subprocessEnv); sub != "" {
		runSubprocess(sub)
		return
	}
	// grpc-go warns about large headers and the runtime logs recovered
	// panics; the suite provokes both on purpose.
	grpclog.SetLoggerV2(grpclog.NewLoggerV2(io.Discard, io.Discard, io.Discard))
	log.SetOutput(io.Discard)
	os.Exit(m.Run())
}

func (c *Case) service() testpb.TestServiceServer {
	if c.Service == nil {
		c.Service = &Service{}
	}
	return c.Service
}

func (c *Case) register(r grpc.ServiceRegistrar, lambda bool) {
	if c.Register != nil {
		c.Register(r, lambda)
		return
	}
	if lambda {
		testpb.RegisterTestServiceLambdaServer(r, c.service())
	} else {
		testpb.RegisterTestServiceServer(r, c.service())
	}
}

// recoveryInterceptor is a typical recovery interceptor (grpc-go has no
// recovery of its own): INTERNAL with its own words, so that the panic cases
// compare what can differ (code, metadata) and show the message that does.
func recoveryInterceptor(ctx context.Context, req any, _ *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (resp any, err error) {
	defer func() {
		if p := recover(); p != nil {
			resp, err = nil, status.Errorf(codes.Internal, "%s%v", recoveredPrefix, p)
		}
	}()
	return handler(ctx, req)
}

// runGRPC runs the case through a grpc-go server and client over bufconn.
func runGRPC(t *testing.T, c *Case) Outcome {
	lis := bufconn.Listen(1 << 20)
	var chain []grpc.UnaryServerInterceptor
	if c.GRPCRecovery {
		chain = append(chain, recoveryInterceptor)
	}
	chain = append(chain, c.ServerInterceptors...)
	opts := []grpc.ServerOption{grpc.ChainUnaryInterceptor(chain...)}
	if c.MaxRecv > 0 {
		opts = append(opts, grpc.MaxRecvMsgSize(c.MaxRecv))
	}
	if c.MaxSend > 0 {
		opts = append(opts, grpc.MaxSendMsgSize(c.MaxSend))
	}
	gs := grpc.NewServer(opts...)
	c.register(gs, false)
	served := make(chan struct{})
	go func() {
		defer close(served)
		_ = gs.Serve(lis)
	}()
	defer func() {
		gs.Stop()
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
	return c.call(t, Conn{CC: conn, Client: testpb.NewTestServiceClient(conn)})
}

// runLambda runs the case through the generated Lambda client,
// invoke.ClientConn, lambdatest.Invoker and runtime.Server.
func runLambda(t *testing.T, c *Case) Outcome {
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
	copts := []invoke.Option{invoke.WithChainUnaryInterceptor(c.ClientInterceptors...)}
	if c.jsonMode {
		copts = append(copts, invoke.WithJSON())
	}
	cc := invoke.NewClientConn(inv, functionName, copts...)
	return c.call(t, Conn{CC: cc, Client: testpb.NewTestServiceLambdaClient(cc), Lambda: true})
}

// call makes the case's call and records what the caller saw.
func (c *Case) call(t *testing.T, conn Conn) Outcome {
	ctx, cancel := context.Background(), context.CancelFunc(func() {})
	if c.Ctx != nil {
		ctx, cancel = c.Ctx(ctx)
	}
	defer cancel()
	var header, trailer metadata.MD
	opts := append(slices.Clip(c.CallOptions), grpc.Header(&header), grpc.Trailer(&trailer))
	call := c.Call
	if call == nil {
		call = func(ctx context.Context, c2 Conn, opts ...grpc.CallOption) (proto.Message, error) {
			return c2.Client.Echo(ctx, c.Req, opts...)
		}
	}
	var resp proto.Message
	var err error
	done := make(chan struct{})
	go func() {
		defer close(done)
		resp, err = call(ctx, conn, opts...)
	}()
	select {
	case <-done:
	case <-time.After(hangLimit):
		t.Fatalf("lambda=%v: the call did not return within %v", conn.Lambda, hangLimit)
	}
	o := Outcome{Lambda: conn.Lambda, Header: header, Trailer: trailer}
	if err == nil && resp != nil && resp.ProtoReflect().IsValid() {
		o.Resp = resp
	}
	st, ok := status.FromError(err)
	o.Status, o.IsStatus = st.Proto(), ok
	return o
}

// normalize strips transport keys (reporting unexpected ones) and turns
// empty metadata into nil, which a caller cannot tell apart.
func normalize(t *testing.T, o *Outcome) {
	t.Helper()
	side := "grpc-go"
	if o.Lambda {
		side = "lambda"
	}
	for _, md := range []*metadata.MD{&o.Header, &o.Trailer} {
		*md = md.Copy()
		if bad := stripTransportKeys(*md, o.Lambda); len(bad) > 0 {
			t.Errorf("%s: unexpected transport keys in the caller's metadata: %v", side, bad)
		}
		if len(*md) == 0 {
			*md = nil
		}
	}
	if r, ok := o.Resp.(*testpb.EchoResponse); ok && len(r.GetIncoming()) > 0 {
		r = proto.Clone(r).(*testpb.EchoResponse)
		md := metadata.MD{}
		for _, p := range r.Incoming {
			md.Append(p.GetKey(), string(p.GetValue()))
		}
		if bad := stripTransportKeys(md, o.Lambda); len(bad) > 0 {
			t.Errorf("%s: unexpected transport keys in the handler's incoming metadata: %v", side, bad)
		}
		r.Incoming = nil
		for _, k := range slices.Sorted(maps.Keys(md)) {
			for _, v := range md[k] {
				r.Incoming = append(r.Incoming, &testpb.Pair{Key: k, Value: []byte(v)})
			}
		}
		o.Resp = r
	}
}

// diffOutcomes returns what differs between two normalized outcomes.
func diffOutcomes(g, l Outcome) []string {
	var d []string
	if g.Note != l.Note {
		d = append(d, fmt.Sprintf("note: grpc-go %q, lambda %q", g.Note, l.Note))
	}
	if !proto.Equal(g.Status, l.Status) {
		d = append(d, fmt.Sprintf("status:\n  grpc-go %v\n  lambda  %v", short(g.Status), short(l.Status)))
	}
	if g.IsStatus != l.IsStatus {
		d = append(d, fmt.Sprintf("error is a status: grpc-go %v, lambda %v", g.IsStatus, l.IsStatus))
	}
	if !proto.Equal(g.Resp, l.Resp) {
		d = append(d, fmt.Sprintf("response:\n  grpc-go %v\n  lambda  %v", short(g.Resp), short(l.Resp)))
	}
	if !mdEqual(g.Header, l.Header) {
		d = append(d, fmt.Sprintf("header:\n  grpc-go %v\n  lambda  %v", shortMD(g.Header), shortMD(l.Header)))
	}
	if !mdEqual(g.Trailer, l.Trailer) {
		d = append(d, fmt.Sprintf("trailer:\n  grpc-go %v\n  lambda  %v", shortMD(g.Trailer), shortMD(l.Trailer)))
	}
	return d
}

func mdEqual(a, b metadata.MD) bool {
	if len(a) != len(b) {
		return false
	}
	for k, va := range a {
		if vb, ok := b[k]; !ok || !slices.Equal(va, vb) {
			return false
		}
	}
	return true
}

// short prints a message for a failure report, cut to a readable length.
func short(m proto.Message) string {
	if m == nil {
		return "<nil>"
	}
	return cut(fmt.Sprint(m), 400)
}

func shortMD(md metadata.MD) string { return cut(fmt.Sprintf("%q", map[string][]string(md)), 400) }

func cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + fmt.Sprintf("... (%d bytes)", len(s))
}

// row is one line of the compatibility table.
type row struct {
	Case, GRPC, Lambda, Verdict, JSON string
}

// trailerVariesNote marks a table cell whose trailer grpc-go's client shows
// or not by timing (Case.TrailerVaries).
const trailerVariesNote = " (the trailer when its client reads it before giving up)"

// runCase runs one case on both paths, the Lambda path in binary and in
// JSON mode, and checks the outcomes.
func runCase(t *testing.T, c *Case) row {
	var g, l, lj Outcome
	if c.Outcomes != nil {
		c.jsonMode = false
		g, l = c.Outcomes(t)
		c.jsonMode = true
		_, lj = c.Outcomes(t)
	} else {
		g = runGRPC(t, c)
		c.jsonMode = false
		l = runLambda(t, c)
		c.jsonMode = true
		lj = runLambda(t, c)
	}
	c.jsonMode = false
	for _, o := range []*Outcome{&g, &l, &lj} {
		normalize(t, o)
		if c.MessageVaries {
			o.Status = proto.Clone(o.Status).(*spb.Status)
			o.Status.Message = ""
			o.MessageIgnored = true
		}
		if c.Check != nil && (o != &lj || c.JSONDifference == "") {
			c.Check(t, *o)
		}
	}
	// The table must not depend on the timing that decides whether
	// grpc-go's client shows the trailer: both cells show the trailer the
	// Lambda path always shows, grpc-go's marked as timing-dependent.
	gRow, lRow := g, l
	if c.TrailerVaries {
		gRow.Trailer, lRow.Trailer = l.Trailer, l.Trailer
	}
	if c.TrailerVaries && len(g.Trailer) == 0 {
		l.Trailer, lj.Trailer = nil, nil
	}
	verdict := "equal"
	d := diffOutcomes(g, l)
	switch {
	case c.Difference == "" && len(d) > 0:
		t.Errorf("the Lambda path differs from grpc-go:\n%s", strings.Join(d, "\n"))
	case c.Difference != "" && len(d) == 0:
		t.Errorf("documented difference %q no longer differs; make it an equal case", c.Difference)
	case c.Difference != "":
		verdict = c.Difference
		if c.Diff == nil {
			t.Errorf("documented difference without a Diff check")
		} else {
			c.Diff(t, g, l)
		}
	}
	jsonVerdict := "same"
	dj := diffOutcomes(canonicalDetails(t, l), canonicalDetails(t, lj))
	switch {
	case c.JSONDifference == "" && len(dj) > 0:
		t.Errorf("JSON mode differs from binary mode:\n  binary: %s\n  json:   %s\n%s", summary(l), summary(lj), strings.Join(dj, "\n"))
	case c.JSONDifference != "" && len(dj) == 0:
		t.Errorf("documented JSON mode difference %q no longer differs", c.JSONDifference)
	case c.JSONDifference != "":
		jsonVerdict = "**differs:** " + c.JSONDifference
		if c.JSONDiff == nil {
			t.Errorf("documented JSON mode difference without a JSONDiff check")
		} else {
			c.JSONDiff(t, l, lj)
		}
	}
	grpcCell := summary(gRow)
	if c.TrailerVaries {
		grpcCell += trailerVariesNote
	}
	return row{Case: c.Name, GRPC: grpcCell, Lambda: summary(lRow), Verdict: verdict, JSON: jsonVerdict}
}
