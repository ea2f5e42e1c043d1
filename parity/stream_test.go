package parity

import (
	"context"
	"fmt"
	"io"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/test/bufconn"
	"google.golang.org/protobuf/proto"

	"github.com/protoc-gen-go-lambda/protoc-gen-go-lambda/internal/testing/testpb"
	"github.com/protoc-gen-go-lambda/protoc-gen-go-lambda/runtime"
	"github.com/protoc-gen-go-lambda/protoc-gen-go-lambda/runtime/invoke"
	"github.com/protoc-gen-go-lambda/protoc-gen-go-lambda/runtime/lambdatest"
)

// This file is the server-streaming half of the suite: one server-streaming
// call (TestService.Stream) made the same way on both paths, with the same
// service implementation and the same stream interceptors,
//
//   - grpc-go: protoc-gen-go-grpc's client, a grpc.Server over bufconn, its
//     stream interceptors in grpc.ChainStreamInterceptor;
//   - Lambda: the generated Lambda client, invoke.ClientConn.NewStream over
//     InvokeWithResponseStream, lambdatest.Invoker (the Lambda-faithful
//     streaming double) and runtime.Server.InvokeStream, the stream
//     interceptors in runtime.ChainStreamInterceptor; in binary mode and
//     in JSON mode (invoke.WithJSON),
//
// and what the caller sees is compared: Header() (and whether it returned
// while the handler was still waiting for it, before any message), every
// message received, the error that ended the stream (io.EOF, or the status:
// code, message, details), a second Recv after the end, Trailer(), and the
// header and trailer of the grpc.Header and grpc.Trailer call options. Where
// a case needs the handler and the caller to wait for each other, they do so
// on channels (streamProbe), never on time. docs/compatibility.md ("Server
// streaming") holds the generated table; TestStreamParity checks it.

// streamProbe lets a handler and the caller of one run wait for each other,
// and records what the handler observed. Each run of a case has its own.
type streamProbe struct {
	gotHeader   chan struct{} // the caller's Header() returned
	callerDone  chan struct{} // the caller's stream has ended (its last Recv returned)
	release     chan struct{} // see StreamCase.WaitHandler
	handlerDone chan struct{} // the handler returned (or panicked)

	closeOnce [4]sync.Once

	mu    sync.Mutex
	notes []string
}

func newStreamProbe() *streamProbe {
	return &streamProbe{
		gotHeader:   make(chan struct{}),
		callerDone:  make(chan struct{}),
		release:     make(chan struct{}),
		handlerDone: make(chan struct{}),
	}
}

func (p *streamProbe) headerSeen()      { p.closeOnce[0].Do(func() { close(p.gotHeader) }) }
func (p *streamProbe) callerEnded()     { p.closeOnce[1].Do(func() { close(p.callerDone) }) }
func (p *streamProbe) releaseHandler()  { p.closeOnce[2].Do(func() { close(p.release) }) }
func (p *streamProbe) handlerReturned() { p.closeOnce[3].Do(func() { close(p.handlerDone) }) }

// unblockAll lets every waiting handler go on, at the end of a run.
func (p *streamProbe) unblockAll() {
	p.headerSeen()
	p.callerEnded()
	p.releaseHandler()
}

// note records what the handler observed.
func (p *streamProbe) note(format string, args ...any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.notes = append(p.notes, fmt.Sprintf(format, args...))
}

func (p *streamProbe) observed() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.notes)
}

// headerGuard bounds how long a handler waits for the caller to have its
// header. It is not a timing assertion: a caller that gets the header while
// the handler waits passes however long that takes; one that cannot get it
// before a message would otherwise block the handler, and the call, for
// ever. The handler notes which happened, and the outcome compares it.
const headerGuard = 10 * time.Second

// waitHeader blocks the handler until the caller's Header() returned, and
// notes whether it did while the handler waited (before the first message).
func (p *streamProbe) waitHeader(ctx context.Context) {
	t := time.NewTimer(headerGuard)
	defer t.Stop()
	select {
	case <-p.gotHeader:
		p.note("the caller had the header before any message was sent")
	case <-ctx.Done():
		p.note("context ended while waiting for the caller to have the header: %v", ctx.Err())
	case <-t.C:
		p.note("the caller did not get the header while the handler waited (%v)", headerGuard)
	}
}

// StreamHandler is a case's server-streaming handler; p is the run's probe.
type StreamHandler func(p *streamProbe, req *testpb.EchoRequest, ss grpc.ServerStreamingServer[testpb.EchoResponse]) error

// streamService is Service with a case's Stream handler: each run gets its
// own, with its own probe.
type streamService struct {
	Service
	probe   *streamProbe
	handler StreamHandler
}

func (s *streamService) Stream(req *testpb.EchoRequest, ss grpc.ServerStreamingServer[testpb.EchoResponse]) error {
	defer s.probe.handlerReturned()
	if s.handler != nil {
		return s.handler(s.probe, req, ss)
	}
	return s.Service.Stream(req, ss)
}

// StreamCase is one server-streaming scenario, run on both paths.
type StreamCase struct {
	Name string

	// Req is the request; Handler, when set, serves it instead of
	// testserver's Stream (which sets and sends the request's header, sends
	// count messages interval_millis apart, sets its trailer and fails with
	// its status).
	Req     *testpb.EchoRequest
	Handler StreamHandler

	// ServerInterceptors are the stream interceptors of both servers.
	ServerInterceptors []grpc.StreamServerInterceptor
	// GRPCRecovery adds, on the grpc-go server only and outermost, the
	// stream recovery interceptor that stands in for the runtime's own.
	GRPCRecovery bool
	// MaxSend sets both servers' send limit (0: default).
	MaxSend int
	// CallOptions are passed to the call, before grpc.Header and
	// grpc.Trailer.
	CallOptions []grpc.CallOption
	// Ctx derives the call's context; nil means no deadline.
	Ctx func(context.Context) (context.Context, context.CancelFunc)

	// HeaderFirst calls Header() before the first Recv; otherwise Header()
	// is called once the stream has ended.
	HeaderFirst bool
	// CancelAfter cancels the call's context once the caller has received
	// that many messages (0: never).
	CancelAfter int
	// WaitHandler waits, after the call, for the handler to return, so that
	// what it observed is compared. A handler that waits for a sign of the
	// caller's departure waits on its context or on the probe's release:
	// the harness releases it once the caller's stream has ended on the
	// Lambda path only, where nothing else can tell it (Lambda does not tell
	// a function that its caller left); on grpc-go it must learn of it from
	// its context.
	WaitHandler bool

	// MessageVaries: the final status message depends on timing (whose
	// deadline timer fires first); it is not compared.
	MessageVaries bool
	// CountVaries: how many messages arrive before the stream ends depends
	// on timing (a deadline mid-stream); each side's messages must be the
	// stream's first ones, as many as came, and only that is compared.
	CountVaries bool

	// Check, when set, checks each side's outcome further.
	Check func(t *testing.T, o StreamOutcome)
	// Difference says why the case cannot be equal by design; Diff then
	// asserts exactly what differs. docs/compatibility.md lists it.
	Difference string
	Diff       func(t *testing.T, grpcGo, lambda StreamOutcome)
	// JSONDifference says why JSON mode cannot give what binary mode gives;
	// JSONDiff asserts exactly what differs.
	JSONDifference string
	JSONDiff       func(t *testing.T, binary, json StreamOutcome)
}

// StreamOutcome is what the caller of a server-streaming call observes,
// and what the handler noted.
type StreamOutcome struct {
	Lambda bool
	// Open is the error of the client's Stream method (NewStream and
	// SendMsg), nil when the stream opened.
	Open *spb.Status
	// Header is what Header() returned; HeaderErr its error.
	Header    metadata.MD
	HeaderErr string
	// Msgs are the messages Recv returned, in order.
	Msgs []*testpb.EchoResponse
	// Status is the status of the error that ended the stream: code OK for
	// io.EOF, which EOF then says it was.
	Status   *spb.Status
	EOF      bool
	IsStatus bool
	// Again is what a second Recv after the end returned.
	Again string
	// Trailer is what Trailer() returned after the end.
	Trailer metadata.MD
	// OptHeader and OptTrailer are what grpc.Header and grpc.Trailer got.
	OptHeader, OptTrailer metadata.MD
	// OnFinish is what grpc.OnFinish had been given when the Recv that
	// ended the stream returned (grpc-go runs it before that Recv returns).
	OnFinish string
	// Handler is what the handler noted, in order.
	Handler []string

	MessageIgnored, CountIgnored bool
}

// Code returns the code that ended the stream.
func (o StreamOutcome) Code() codes.Code { return codes.Code(o.Status.GetCode()) }

// streamRecoveryInterceptor is recoveryInterceptor for streams.
func streamRecoveryInterceptor(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, handler grpc.StreamHandler) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = status.Errorf(codes.Internal, "%s%v", recoveredPrefix, p)
		}
	}()
	return handler(srv, ss)
}

func (c *StreamCase) service(p *streamProbe) *streamService {
	return &streamService{probe: p, handler: c.Handler}
}

// runStreamGRPC runs the case through a grpc-go server and client over
// bufconn.
func runStreamGRPC(t *testing.T, c *StreamCase) StreamOutcome {
	p := newStreamProbe()
	lis := bufconn.Listen(1 << 20)
	var chain []grpc.StreamServerInterceptor
	if c.GRPCRecovery {
		chain = append(chain, streamRecoveryInterceptor)
	}
	chain = append(chain, c.ServerInterceptors...)
	opts := []grpc.ServerOption{grpc.ChainStreamInterceptor(chain...)}
	if c.MaxSend > 0 {
		opts = append(opts, grpc.MaxSendMsgSize(c.MaxSend))
	}
	gs := grpc.NewServer(opts...)
	testpb.RegisterTestServiceServer(gs, c.service(p))
	served := make(chan struct{})
	go func() {
		defer close(served)
		_ = gs.Serve(lis)
	}()
	defer func() {
		p.unblockAll()
		gs.Stop()
		<-served
	}()
	conn, err := grpc.NewClient("passthrough:///"+functionName,
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) }),
		grpc.WithTransportCredentials(insecure.NewCredentials()),
	)
	if err != nil {
		t.Fatalf("grpc.NewClient: %v", err)
	}
	defer conn.Close()
	return c.call(t, p, testpb.NewTestServiceClient(conn), false)
}

// runStreamLambda runs the case through the generated Lambda client,
// invoke.ClientConn, lambdatest.Invoker's InvokeWithResponseStream and
// runtime.Server's InvokeStream.
func runStreamLambda(t *testing.T, c *StreamCase, jsonMode bool) StreamOutcome {
	p := newStreamProbe()
	opts := []runtime.ServerOption{runtime.ChainStreamInterceptor(c.ServerInterceptors...)}
	if c.MaxSend > 0 {
		opts = append(opts, runtime.MaxSendMsgSize(c.MaxSend))
	}
	srv := runtime.NewServer(opts...)
	testpb.RegisterTestServiceLambdaServer(srv, c.service(p))
	inv := lambdatest.NewInvoker(srv)
	defer inv.Close()
	defer p.unblockAll()
	var copts []invoke.Option
	if jsonMode {
		copts = append(copts, invoke.WithJSON())
	}
	cc := invoke.NewClientConn(inv, functionName, copts...)
	return c.call(t, p, testpb.NewTestServiceLambdaClient(cc), true)
}

// call makes the case's call and records what the caller saw.
func (c *StreamCase) call(t *testing.T, p *streamProbe, client testpb.TestServiceClient, lambda bool) StreamOutcome {
	ctx := context.Background()
	stop := context.CancelFunc(func() {})
	if c.Ctx != nil {
		ctx, stop = c.Ctx(ctx)
	}
	defer stop()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var optHeader, optTrailer metadata.MD
	var finishMu sync.Mutex
	finishCalled := false
	var finishErr error
	onFinish := func(err error) {
		finishMu.Lock()
		defer finishMu.Unlock()
		finishCalled, finishErr = true, err
	}
	opts := append(slices.Clip(c.CallOptions), grpc.Header(&optHeader), grpc.Trailer(&optTrailer), grpc.OnFinish(onFinish))
	req := c.Req
	if req == nil {
		req = &testpb.EchoRequest{}
	}
	o := StreamOutcome{Lambda: lambda}
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer p.callerEnded()
		stream, err := client.Stream(ctx, req, opts...)
		if err != nil {
			o.Open = status.Convert(err).Proto()
			return
		}
		if c.HeaderFirst {
			o.Header, o.HeaderErr = headerOf(stream)
			p.headerSeen()
		}
		for {
			m, err := stream.Recv()
			if err != nil {
				o.Status, o.EOF, o.IsStatus = endStatus(err)
				// grpc-go has filled in the call options' header and
				// trailer, and run OnFinish, before this Recv returns.
				o.OptHeader, o.OptTrailer = optHeader, optTrailer
				finishMu.Lock()
				o.OnFinish = describeFinish(finishCalled, finishErr, err, c.MessageVaries)
				finishMu.Unlock()
				break
			}
			o.Msgs = append(o.Msgs, m)
			if c.CancelAfter > 0 && len(o.Msgs) == c.CancelAfter {
				cancel()
			}
		}
		_, err = stream.Recv()
		o.Again = describeEnd(err)
		o.Trailer = stream.Trailer()
		if !c.HeaderFirst {
			o.Header, o.HeaderErr = headerOf(stream)
		}
	}()
	side := "grpc-go"
	if lambda {
		side = "lambda"
	}
	select {
	case <-done:
	case <-time.After(hangLimit):
		t.Fatalf("%s: the call did not end within %v", side, hangLimit)
	}
	if o.Open != nil {
		o.OptHeader, o.OptTrailer = optHeader, optTrailer
	}
	if c.WaitHandler {
		if lambda {
			p.releaseHandler()
		}
		select {
		case <-p.handlerDone:
		case <-time.After(hangLimit):
			t.Fatalf("%s: the handler did not return within %v of the call's end", side, hangLimit)
		}
	}
	o.Handler = p.observed()
	return o
}

// headerOf calls Header().
func headerOf(s grpc.ClientStream) (metadata.MD, string) {
	md, err := s.Header()
	if err != nil {
		return md, describeEnd(err)
	}
	return md, ""
}

// endStatus is the status of the error that ended a stream.
func endStatus(err error) (st *spb.Status, eof, isStatus bool) {
	if err == io.EOF {
		return &spb.Status{}, true, true
	}
	s, ok := status.FromError(err)
	return s.Proto(), false, ok
}

// describeFinish describes what grpc.OnFinish had been given when the Recv
// that ended the stream returned end; with codeOnly, a status of the same
// code counts as the stream's (grpc-go's words for a deadline depend on
// which of its goroutines saw it first).
func describeFinish(called bool, err, end error, codeOnly bool) string {
	switch {
	case !called:
		return "not yet called"
	case err == nil && end == io.EOF:
		return "called with nil"
	case err == nil || end == io.EOF:
	case proto.Equal(status.Convert(err).Proto(), status.Convert(end).Proto()),
		codeOnly && status.Code(err) == status.Code(end):
		return "called with the stream's status"
	}
	return "called with " + describeEnd(err)
}

// describeEnd describes a Recv error in a few words.
func describeEnd(err error) string {
	switch {
	case err == nil:
		return "a message"
	case err == io.EOF:
		return "io.EOF"
	}
	s, ok := status.FromError(err)
	if !ok {
		return fmt.Sprintf("non-status error %T %q", err, err)
	}
	return fmt.Sprintf("%s %q", codeName(s.Code()), s.Message())
}

// normalizeStream strips the transport keys (reporting unexpected ones) and
// turns empty metadata into nil, which a caller cannot tell apart, in the
// metadata and in the incoming metadata that messages echo.
func normalizeStream(t *testing.T, o *StreamOutcome) {
	t.Helper()
	side := "grpc-go"
	if o.Lambda {
		side = "lambda"
	}
	for _, md := range []*metadata.MD{&o.Header, &o.Trailer, &o.OptHeader, &o.OptTrailer} {
		*md = md.Copy()
		if bad := stripTransportKeys(*md, o.Lambda); len(bad) > 0 {
			t.Errorf("%s: unexpected transport keys in the caller's metadata: %v", side, bad)
		}
		if len(*md) == 0 {
			*md = nil
		}
	}
	for i, m := range o.Msgs {
		if len(m.GetIncoming()) == 0 {
			continue
		}
		r := proto.Clone(m).(*testpb.EchoResponse)
		md := metadata.MD{}
		for _, p := range r.Incoming {
			md.Append(p.GetKey(), string(p.GetValue()))
		}
		if bad := stripTransportKeys(md, o.Lambda); len(bad) > 0 {
			t.Errorf("%s: unexpected transport keys in the handler's incoming metadata: %v", side, bad)
		}
		r.Incoming = nil
		for _, k := range slices.Sorted(func(yield func(string) bool) {
			for k := range md {
				if !yield(k) {
					return
				}
			}
		}) {
			for _, v := range md[k] {
				r.Incoming = append(r.Incoming, &testpb.Pair{Key: k, Value: []byte(v)})
			}
		}
		o.Msgs[i] = r
	}
}

// diffStream returns what differs between two normalized outcomes.
func diffStream(g, l StreamOutcome) []string {
	var d []string
	if !proto.Equal(g.Open, l.Open) {
		d = append(d, fmt.Sprintf("opening the stream:\n  grpc-go %v\n  lambda  %v", short(g.Open), short(l.Open)))
	}
	if !mdEqual(g.Header, l.Header) || g.HeaderErr != l.HeaderErr {
		d = append(d, fmt.Sprintf("Header():\n  grpc-go %v %s\n  lambda  %v %s", shortMD(g.Header), g.HeaderErr, shortMD(l.Header), l.HeaderErr))
	}
	if len(g.Msgs) != len(l.Msgs) {
		d = append(d, fmt.Sprintf("messages: grpc-go %d, lambda %d", len(g.Msgs), len(l.Msgs)))
	}
	for i := range min(len(g.Msgs), len(l.Msgs)) {
		if !proto.Equal(g.Msgs[i], l.Msgs[i]) {
			d = append(d, fmt.Sprintf("message %d:\n  grpc-go %v\n  lambda  %v", i, short(g.Msgs[i]), short(l.Msgs[i])))
		}
	}
	if !proto.Equal(g.Status, l.Status) || g.EOF != l.EOF {
		d = append(d, fmt.Sprintf("end:\n  grpc-go %v (io.EOF %v)\n  lambda  %v (io.EOF %v)", short(g.Status), g.EOF, short(l.Status), l.EOF))
	}
	if g.IsStatus != l.IsStatus {
		d = append(d, fmt.Sprintf("the end is a status: grpc-go %v, lambda %v", g.IsStatus, l.IsStatus))
	}
	if g.Again != l.Again {
		d = append(d, fmt.Sprintf("Recv after the end: grpc-go %s, lambda %s", g.Again, l.Again))
	}
	if !mdEqual(g.Trailer, l.Trailer) {
		d = append(d, fmt.Sprintf("Trailer():\n  grpc-go %v\n  lambda  %v", shortMD(g.Trailer), shortMD(l.Trailer)))
	}
	if !mdEqual(g.OptHeader, l.OptHeader) {
		d = append(d, fmt.Sprintf("grpc.Header:\n  grpc-go %v\n  lambda  %v", shortMD(g.OptHeader), shortMD(l.OptHeader)))
	}
	if !mdEqual(g.OptTrailer, l.OptTrailer) {
		d = append(d, fmt.Sprintf("grpc.Trailer:\n  grpc-go %v\n  lambda  %v", shortMD(g.OptTrailer), shortMD(l.OptTrailer)))
	}
	if g.OnFinish != l.OnFinish {
		d = append(d, fmt.Sprintf("grpc.OnFinish when the stream's end was received: grpc-go %s, lambda %s", g.OnFinish, l.OnFinish))
	}
	if !slices.Equal(g.Handler, l.Handler) {
		d = append(d, fmt.Sprintf("the handler observed:\n  grpc-go %q\n  lambda  %q", g.Handler, l.Handler))
	}
	return d
}

// streamPrefix checks that msgs are the first messages of the stream that
// testserver's Stream sends for a request with message text.
func streamPrefix(t *testing.T, side, text string, msgs []*testpb.EchoResponse) {
	t.Helper()
	for i, m := range msgs {
		if want := fmt.Sprintf("%s %d", text, i); m.GetMessage() != want {
			t.Errorf("%s: message %d is %q, want %q", side, i, m.GetMessage(), want)
		}
	}
}

// runStreamCase runs one case on both paths, the Lambda path in binary and
// in JSON mode, and checks the outcomes.
func runStreamCase(t *testing.T, c *StreamCase) row {
	g := runStreamGRPC(t, c)
	l := runStreamLambda(t, c, false)
	lj := runStreamLambda(t, c, true)
	for _, o := range []*StreamOutcome{&g, &l, &lj} {
		normalizeStream(t, o)
		if c.MessageVaries {
			o.Status = proto.Clone(o.Status).(*spb.Status)
			o.Status.Message = ""
			o.MessageIgnored = true
			o.Again = ""
		}
		if c.CountVaries {
			side := "grpc-go"
			if o.Lambda {
				side = "lambda"
			}
			streamPrefix(t, side, c.Req.GetMessage(), o.Msgs)
			o.Msgs, o.CountIgnored = nil, true
		}
		if c.Check != nil && (o != &lj || c.JSONDifference == "") {
			c.Check(t, *o)
		}
	}
	verdict := "equal"
	d := diffStream(g, l)
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
	canon := func(o StreamOutcome) StreamOutcome {
		c := canonicalDetails(t, Outcome{Status: o.Status, Trailer: o.Trailer})
		o.Status, o.Trailer = c.Status, c.Trailer
		o.OptTrailer = canonicalDetails(t, Outcome{Status: o.Status, Trailer: o.OptTrailer}).Trailer
		return o
	}
	dj := diffStream(canon(l), canon(lj))
	switch {
	case c.JSONDifference == "" && len(dj) > 0:
		t.Errorf("JSON mode differs from binary mode:\n%s", strings.Join(dj, "\n"))
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
	return row{Case: c.Name, GRPC: streamSummary(g, c.HeaderFirst), Lambda: streamSummary(l, c.HeaderFirst), Verdict: verdict, JSON: jsonVerdict}
}

// streamSummary describes an outcome in a few words for the table.
func streamSummary(o StreamOutcome, headerFirst bool) string {
	var parts []string
	if o.Open != nil {
		return "Stream fails: " + codeName(codes.Code(o.Open.GetCode())) + fmt.Sprintf(" %q", cutRunes(o.Open.GetMessage(), 70))
	}
	when := "after the end"
	if headerFirst {
		when = "first"
	}
	h := "none"
	if len(o.Header) > 0 {
		h = mdKeys(o.Header)
	}
	if o.HeaderErr != "" {
		h += ", error " + o.HeaderErr
	}
	parts = append(parts, fmt.Sprintf("Header() %s: %s", when, h))
	switch {
	case o.CountIgnored:
		parts = append(parts, "the first messages (how many not compared)")
	case len(o.Msgs) == 1:
		parts = append(parts, "1 message")
	default:
		parts = append(parts, fmt.Sprintf("%d messages", len(o.Msgs)))
	}
	var end strings.Builder
	if o.EOF {
		end.WriteString("io.EOF")
	} else {
		end.WriteString(codeName(o.Code()))
		if o.MessageIgnored {
			end.WriteString(" (message not compared)")
		}
		if m := o.Status.GetMessage(); m != "" {
			fmt.Fprintf(&end, " %q", cutRunes(m, 70))
		}
		if n := len(o.Status.GetDetails()); n > 0 {
			fmt.Fprintf(&end, ", %d details", n)
		}
	}
	parts = append(parts, end.String())
	if len(o.Trailer) > 0 {
		parts = append(parts, "trailer "+mdKeys(o.Trailer))
	}
	s := strings.Join(parts, "; ")
	if len(o.Handler) > 0 {
		s += "; the handler: " + strings.Join(o.Handler, ", ")
	}
	return s
}

// streamGroups returns every streaming case, in the order of the document.
func streamGroups() []streamGroup {
	return []streamGroup{
		{"messages and status", streamMessageCases()},
		{"header and metadata", streamMetadataCases()},
		{"deadlines and cancellation", streamDeadlineCases()},
		{"limits and panics", streamLimitCases()},
		{"stream interceptors", streamInterceptorCases()},
	}
}

type streamGroup struct {
	Name  string
	Cases []StreamCase
}

const (
	streamCasesBegin = "<!-- BEGIN GENERATED STREAM CASES (go test ./parity -run TestStreamParity -update) -->\n"
	streamCasesEnd   = "<!-- END GENERATED STREAM CASES -->\n"
)

// TestStreamParity runs every server-streaming case on both paths and
// compares the outcomes; when the whole table ran and passed, it checks
// (or with -update rewrites) the generated streaming table of
// docs/compatibility.md.
func TestStreamParity(t *testing.T) {
	gs := streamGroups()
	names := map[string]bool{}
	total := 0
	for _, g := range gs {
		for _, c := range g.Cases {
			if names[c.Name] {
				t.Fatalf("duplicate case name %q", c.Name)
			}
			names[c.Name] = true
			total++
		}
	}
	rows := make([][]row, len(gs))
	t.Run("cases", func(t *testing.T) {
		for i, g := range gs {
			rows[i] = make([]row, len(g.Cases))
			// The groups run one after the other, so that a data race the
			// race detector finds is reported in the case that caused it.
			t.Run(g.Name, func(t *testing.T) {
				for j := range g.Cases {
					c := &g.Cases[j]
					t.Run(c.Name, func(t *testing.T) {
						rows[i][j] = runStreamCase(t, c)
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
	if ran != total || t.Failed() {
		t.Logf("%d of %d cases ran; %s not checked", ran, total, docPath)
		return
	}
	checkStreamDoc(t, gs, rows)
}

// checkStreamDoc compares the generated streaming table with the run.
func checkStreamDoc(t *testing.T, gs []streamGroup, rows [][]row) {
	names := make([]string, len(gs))
	for i, g := range gs {
		names[i] = g.Name
	}
	checkGenerated(t, docPath, "TestStreamParity",
		generatedPart{streamCasesBegin, streamCasesEnd, casesTable(names, rows, "streaming cases", "streaming: ", "S")})
}
