package parity

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/protoc-gen-go-lambda/protoc-gen-go-lambda/internal/testing/testpb"
	"github.com/protoc-gen-go-lambda/protoc-gen-go-lambda/internal/testing/testserver"
)

// The server-streaming cases (stream_test.go runs them).

type echoStream = grpc.ServerStreamingServer[testpb.EchoResponse]

// sendTexts sends one message per text.
func sendTexts(ss echoStream, texts ...string) error {
	for _, s := range texts {
		if err := ss.Send(&testpb.EchoResponse{Message: s}); err != nil {
			return err
		}
	}
	return nil
}

// okStatusError is an error whose gRPC status is OK.
type okStatusError struct{}

func (okStatusError) Error() string { return "an error whose status is OK" }
func (okStatusError) GRPCStatus() *status.Status {
	return status.New(codes.OK, "an error whose status is OK")
}

func streamMessageCases() []StreamCase {
	hdr, trl := pairs("x-h", "1"), pairs("x-t", "2")
	return []StreamCase{
		{Name: "0 messages then OK, with header and trailer", Req: &testpb.EchoRequest{Message: "m", Header: hdr, Trailer: trl}},
		{Name: "1 message then OK, with header and trailer", Req: &testpb.EchoRequest{Message: "m", Count: 1, Header: hdr, Trailer: trl}},
		{Name: "3 messages then OK, with header and trailer", Req: &testpb.EchoRequest{Message: "m", Count: 3, Header: hdr, Trailer: trl}},
		{Name: "3 messages then OK, Header() called first", HeaderFirst: true, Req: &testpb.EchoRequest{Message: "m", Count: 3, Header: hdr, Trailer: trl}},
		{Name: "handler sends nothing and returns OK", HeaderFirst: true, Req: &testpb.EchoRequest{}},
		{Name: "handler sends nothing and returns OK, Header() after the end", Req: &testpb.EchoRequest{}},
		{
			Name: "error after 2 messages, with details, header and trailer",
			Req: &testpb.EchoRequest{Message: "m", Count: 2, Header: hdr, Trailer: trl, Fail: fail(codes.Aborted, "gave up after two",
				&errdetails.ErrorInfo{Reason: "TOO_MANY", Domain: "parity.test", Metadata: map[string]string{"k": "v"}},
				&errdetails.RetryInfo{RetryDelay: durationpb.New(3 * time.Second)},
			).Fail},
		},
		{Name: "error with no messages (trailers-only), Header() first", HeaderFirst: true, Req: &testpb.EchoRequest{Trailer: trl, Fail: fail(codes.NotFound, "missing").Fail}},
		{Name: "error with no messages (trailers-only), Header() after the end", Req: &testpb.EchoRequest{Trailer: trl, Fail: fail(codes.NotFound, "missing").Fail}},
		{Name: "error with no messages after SetHeader, Header() first", HeaderFirst: true, Req: &testpb.EchoRequest{Header: hdr, Trailer: trl, Fail: fail(codes.NotFound, "missing").Fail}},
		{Name: "plain Go error after 1 message", Handler: func(_ *streamProbe, _ *testpb.EchoRequest, ss echoStream) error {
			if err := sendTexts(ss, "one"); err != nil {
				return err
			}
			return errors.New("plain error")
		}},
		{Name: "error whose status is OK after 1 message", Handler: func(_ *streamProbe, _ *testpb.EchoRequest, ss echoStream) error {
			if err := sendTexts(ss, "one"); err != nil {
				return err
			}
			return okStatusError{}
		}},
		{Name: "messages of every kind of content", Handler: func(_ *streamProbe, _ *testpb.EchoRequest, ss echoStream) error {
			for _, m := range []*testpb.EchoResponse{
				{},
				{Message: "héllo 😀 \x00 \u2028"},
				{Payload: payload(256)},
				{Incoming: []*testpb.Pair{{Key: "k", Value: []byte{0, 255}}}, HasDeadline: true, DeadlineMs: -1, Method: "m"},
				{},
			} {
				if err := ss.Send(m); err != nil {
					return err
				}
			}
			return nil
		}},
		{Name: "100 messages of 64 KiB (over a buffered invocation's 6 MB)", Req: &testpb.EchoRequest{Message: "big", Count: 100, ResponseSize: 64 << 10}},
		{Name: "handler sends a message of the wrong type", Handler: func(_ *streamProbe, _ *testpb.EchoRequest, ss echoStream) error {
			if err := sendTexts(ss, "one"); err != nil {
				return err
			}
			return ss.SendMsg("not a message")
		}},
	}
}

func streamMetadataCases() []StreamCase {
	return []StreamCase{
		{
			Name:        "header sent before the first message",
			HeaderFirst: true,
			WaitHandler: true,
			Check: func(t *testing.T, o StreamOutcome) {
				if len(o.Handler) == 0 || o.Handler[0] != "the caller had the header before any message was sent" || o.Header.Get("x-early") == nil {
					t.Errorf("lambda=%v: want Header() to return x-early while the handler waits, got %s", o.Lambda, streamSummary(o, true))
				}
			},
			Handler: func(p *streamProbe, _ *testpb.EchoRequest, ss echoStream) error {
				if err := ss.SendHeader(metadata.Pairs("x-early", "1")); err != nil {
					return err
				}
				// The handler sends nothing until the caller has the header.
				p.waitHeader(ss.Context())
				ss.SetTrailer(metadata.Pairs("x-t", "2"))
				return sendTexts(ss, "after the header 0", "after the header 1")
			},
		},
		{Name: "header set, Header() first: it comes with the first message", HeaderFirst: true, Req: &testpb.EchoRequest{Message: "m", Count: 2, Header: pairs("x-h", "1")}},
		{Name: "header set, no messages, Header() first: it comes with the end", HeaderFirst: true, Req: &testpb.EchoRequest{Header: pairs("x-h", "1"), Trailer: pairs("x-t", "2")}},
		{Name: "SendHeader and SetHeader from the request", HeaderFirst: true, Req: &testpb.EchoRequest{Message: "m", Count: 1, Header: pairs("x-set", "1"), SendHeader: pairs("x-sent", "2")}},
		{
			Name:        "SetHeader after SendHeader fails",
			WaitHandler: true,
			Handler: func(p *streamProbe, _ *testpb.EchoRequest, ss echoStream) error {
				if err := ss.SendHeader(metadata.Pairs("x-a", "1")); err != nil {
					return err
				}
				p.note("SetHeader: %v", ss.SetHeader(metadata.Pairs("x-b", "2")))
				p.note("SendHeader: %v", ss.SendHeader(metadata.Pairs("x-c", "3")))
				return sendTexts(ss, "one")
			},
		},
		{
			Name:        "SetHeader after the first message fails",
			WaitHandler: true,
			Handler: func(p *streamProbe, _ *testpb.EchoRequest, ss echoStream) error {
				if err := ss.SetHeader(metadata.Pairs("x-a", "1")); err != nil {
					return err
				}
				if err := sendTexts(ss, "one"); err != nil {
					return err
				}
				p.note("SetHeader: %v", ss.SetHeader(metadata.Pairs("x-b", "2")))
				p.note("SendHeader: %v", ss.SendHeader(metadata.Pairs("x-c", "3")))
				return nil
			},
		},
		{
			Name: "SetTrailer before, between and after messages",
			Handler: func(_ *streamProbe, _ *testpb.EchoRequest, ss echoStream) error {
				ss.SetTrailer(metadata.Pairs("x-t", "before"))
				if err := sendTexts(ss, "one"); err != nil {
					return err
				}
				ss.SetTrailer(metadata.Pairs("x-t", "between", "x-t-bin", "\x00\xff"))
				if err := sendTexts(ss, "two"); err != nil {
					return err
				}
				ss.SetTrailer(metadata.Pairs("x-u", "after"))
				return nil
			},
		},
		{
			Name: "binary and repeated values in header and trailer",
			Req: &testpb.EchoRequest{
				Message: "m", Count: 1,
				Header:  pairs("x-h", "a", "x-h", "b", "x-h-bin", "\x00\x01\xfe\xff", "x-empty", ""),
				Trailer: pairs("x-t", "c", "x-t", "d", "x-t-bin", "\xff\x00"),
			},
		},
		{
			Name: "caller metadata reaches the handler",
			Ctx: func(ctx context.Context) (context.Context, context.CancelFunc) {
				return metadata.AppendToOutgoingContext(ctx, "x-a", "1", "x-a", "2", "x-b-bin", "\x00\xff", "x-unicode-bin", "héllo"), func() {}
			},
			Handler: func(_ *streamProbe, _ *testpb.EchoRequest, ss echoStream) error {
				md, _ := metadata.FromIncomingContext(ss.Context())
				if err := ss.SetHeader(metadata.Pairs("x-echo", strings.Join(md.Get("x-a"), ","))); err != nil {
					return err
				}
				m, _ := grpc.Method(ss.Context())
				return ss.Send(&testpb.EchoResponse{Incoming: testserver.Pairs(md), Method: m})
			},
		},
		{
			Name: "caller metadata value that is not printable ASCII",
			Ctx: func(ctx context.Context) (context.Context, context.CancelFunc) {
				return metadata.AppendToOutgoingContext(ctx, "x-unicode", "héllo"), func() {}
			},
			Req: &testpb.EchoRequest{Count: 1},
		},
		{
			Name:        "grpc.Method, grpc.SetHeader and ServerTransportStream in a stream handler",
			WaitHandler: true,
			Handler: func(p *streamProbe, _ *testpb.EchoRequest, ss echoStream) error {
				ctx := ss.Context()
				m, ok := grpc.Method(ctx)
				p.note("grpc.Method: %s %v", m, ok)
				sts := grpc.ServerTransportStreamFromContext(ctx)
				if sts == nil {
					p.note("no ServerTransportStream")
				} else {
					p.note("ServerTransportStream.Method: %s", sts.Method())
					p.note("ServerTransportStream.SetHeader: %v", sts.SetHeader(metadata.Pairs("x-sts", "1")))
				}
				p.note("grpc.SetHeader: %v", grpc.SetHeader(ctx, metadata.Pairs("x-ctx", "2")))
				p.note("grpc.SetTrailer: %v", grpc.SetTrailer(ctx, metadata.Pairs("x-ctx-t", "3")))
				if err := sendTexts(ss, "one"); err != nil {
					return err
				}
				p.note("grpc.SendHeader after a message: %v", grpc.SendHeader(ctx, metadata.Pairs("x-late", "4")))
				return nil
			},
		},
	}
}

// cancellationUnseen is the difference of the cancellation cases.
const cancellationUnseen = "Lambda does not tell a function that its caller went away: the caller sees CANCELED as on grpc-go, with the same messages and header, but the handler's context stays live and its sends succeed (their bytes are discarded), where grpc-go cancels the handler's context and fails its sends"

func streamDeadlineCases() []StreamCase {
	// afterCancel is the handler of the cancellation cases: it sends two
	// messages, waits for the caller to have cancelled and seen CANCELED,
	// then for a sign of it (its context, or the harness's release on the
	// Lambda path), tries one more send, and notes what it saw.
	afterCancel := func(p *streamProbe, _ *testpb.EchoRequest, ss echoStream) error {
		ctx := ss.Context()
		if err := ss.SetHeader(metadata.Pairs("x-h", "1")); err != nil {
			return err
		}
		if err := sendTexts(ss, "m 0", "m 1"); err != nil {
			return err
		}
		<-p.callerDone
		select {
		case <-ctx.Done():
			p.note("context done: %v", ctx.Err())
		case <-p.release:
			p.note("context still live after the caller saw CANCELED: %v", ctx.Err())
		}
		err := ss.Send(&testpb.EchoResponse{Message: "m 2"})
		if err == nil {
			p.note("a send after that: nil")
		} else {
			p.note("a send after that: %s", codeName(status.Code(err)))
		}
		return err
	}
	return []StreamCase{
		{
			// How many messages come before the deadline depends on timing:
			// the harness checks that each side's are the stream's first
			// ones and compares the rest (header, code, trailer).
			Name:          "deadline expires mid-stream (messages 20 ms apart, deadline 300 ms)",
			Ctx:           timeout(300 * time.Millisecond),
			HeaderFirst:   true,
			MessageVaries: true,
			CountVaries:   true,
			Req:           &testpb.EchoRequest{Message: "tick", Count: 1000, IntervalMillis: 20, SendHeader: pairs("x-h", "1")},
		},
		{
			Name:          "deadline expires while the handler waits after 2 messages",
			Ctx:           timeout(time.Second),
			MessageVaries: true,
			Handler: func(_ *streamProbe, _ *testpb.EchoRequest, ss echoStream) error {
				if err := ss.SetHeader(metadata.Pairs("x-h", "1")); err != nil {
					return err
				}
				if err := sendTexts(ss, "m 0", "m 1"); err != nil {
					return err
				}
				<-ss.Context().Done()
				return status.FromContextError(ss.Context().Err()).Err()
			},
		},
		{Name: "deadline already expired", Ctx: func(ctx context.Context) (context.Context, context.CancelFunc) {
			return context.WithDeadline(ctx, time.Now().Add(-time.Second))
		}, Req: &testpb.EchoRequest{Count: 1}},
		{Name: "cancelled before the call", Ctx: func(ctx context.Context) (context.Context, context.CancelFunc) {
			ctx, cancel := context.WithCancel(ctx)
			cancel()
			return ctx, cancel
		}, Req: &testpb.EchoRequest{Count: 1}},
		{
			Name:        "caller cancels after 2 messages",
			CancelAfter: 2,
			WaitHandler: true,
			Handler:     afterCancel,
			Difference:  cancellationUnseen,
			Diff:        diffCancellation,
		},
		{
			Name:        "caller cancels after 2 messages, Header() first",
			CancelAfter: 2,
			HeaderFirst: true,
			WaitHandler: true,
			Handler:     afterCancel,
			Difference:  cancellationUnseen,
			Diff:        diffCancellation,
		},
	}
}

// diffCancellation asserts the cancellation cases' difference exactly:
// everything the caller sees is equal; the handlers saw what
// cancellationUnseen says.
func diffCancellation(t *testing.T, g, l StreamOutcome) {
	t.Helper()
	gh, lh := g.Handler, l.Handler
	g.Handler, l.Handler = nil, nil
	if d := diffStream(g, l); len(d) > 0 {
		t.Errorf("the callers' outcomes differ:\n%s", strings.Join(d, "\n"))
	}
	if g.Code() != codes.Canceled || len(g.Msgs) != 2 {
		t.Errorf("want CANCELED after 2 messages, got %s", streamSummary(g, false))
	}
	wantG := []string{"context done: context canceled", "a send after that: CANCELED"}
	wantL := []string{"context still live after the caller saw CANCELED: <nil>", "a send after that: nil"}
	if !equalStrings(gh, wantG) || !equalStrings(lh, wantL) {
		t.Errorf("the handlers observed\n  grpc-go %q, want %q\n  lambda  %q, want %q", gh, wantG, lh, wantL)
	}
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// diffStreamRecovered asserts the panic cases' difference: the recovering
// side's words, and nothing else.
func diffStreamRecovered(t *testing.T, g, l StreamOutcome) {
	t.Helper()
	gv, gok := strings.CutPrefix(g.Status.GetMessage(), recoveredPrefix)
	lv, lok := strings.CutPrefix(l.Status.GetMessage(), "panic in handler: ")
	if !gok || !lok || gv != lv || g.Code() != codes.Internal || l.Code() != codes.Internal {
		t.Errorf("want INTERNAL with the same panic value:\n  grpc-go %s\n  lambda  %s", streamSummary(g, false), streamSummary(l, false))
	}
	g.Status, l.Status = nil, nil
	g.Again, l.Again = "", ""
	if d := diffStream(g, l); len(d) > 0 {
		t.Errorf("beyond the status message:\n%s", strings.Join(d, "\n"))
	}
}

// recvAfterOversized is the difference of the cases where a message is over
// the caller's grpc.MaxCallRecvMsgSize.
const recvAfterOversized = "a Recv after the one that failed on a message over grpc.MaxCallRecvMsgSize: grpc-go's client reads on from the middle of the oversized message, taking its bytes for the next message's prefix, and fails again with a size made of them; the Lambda client returns the stream's status again, as after any other end. Everything else, including the first failure, is the same"

// diffRecvAfterOversized asserts recvAfterOversized exactly.
func diffRecvAfterOversized(t *testing.T, g, l StreamOutcome) {
	t.Helper()
	if l.Again != describeEnd(status.ErrorProto(l.Status)) || !strings.HasPrefix(g.Again, `RESOURCE_EXHAUSTED "grpc: received message larger than max (`) || g.Again == l.Again {
		t.Errorf("want RESOURCE_EXHAUSTED with another size from grpc-go's second Recv and the status again from Lambda's, got %s and %s", g.Again, l.Again)
	}
	g.Again, l.Again = "", ""
	if d := diffStream(g, l); len(d) > 0 {
		t.Errorf("beyond the second Recv:\n%s", strings.Join(d, "\n"))
	}
}

// checkStreamJSONSizes: in JSON mode the same failure, with other sizes in
// its message.
func checkStreamJSONSizes(t *testing.T, b, j StreamOutcome) {
	t.Helper()
	if b.Code() != codes.ResourceExhausted || j.Code() != codes.ResourceExhausted {
		t.Errorf("want RESOURCE_EXHAUSTED in both modes, got %s and %s", streamSummary(b, false), streamSummary(j, false))
	}
	for _, o := range []*StreamOutcome{&b, &j} {
		o.Status = proto.Clone(o.Status).(*spb.Status)
		o.Status.Message = digits.ReplaceAllString(o.Status.Message, "#")
		o.Again = digits.ReplaceAllString(o.Again, "#")
	}
	if d := diffStream(b, j); len(d) > 0 {
		t.Errorf("beyond the sizes:\n%s", strings.Join(d, "\n"))
	}
}

func streamLimitCases() []StreamCase {
	const kib = 1 << 10
	// smallThenBig sends two small messages, then one of 2 KiB; it sets a
	// header and a trailer, and returns only once the caller's stream has
	// ended, so that the trailer cannot reach a caller that gave up.
	smallThenBig := func(p *streamProbe, _ *testpb.EchoRequest, ss echoStream) error {
		if err := ss.SetHeader(metadata.Pairs("x-h", "1")); err != nil {
			return err
		}
		ss.SetTrailer(metadata.Pairs("x-t", "2"))
		if err := sendTexts(ss, "small 0", "small 1"); err != nil {
			return err
		}
		if err := ss.Send(&testpb.EchoResponse{Message: "big", Payload: payload(2 * kib)}); err != nil {
			return err
		}
		<-p.callerDone
		return nil
	}
	panicAfter := func(v any, n int) StreamHandler {
		return func(_ *streamProbe, _ *testpb.EchoRequest, ss echoStream) error {
			if err := ss.SetHeader(metadata.Pairs("x-h", "1")); err != nil {
				return err
			}
			ss.SetTrailer(metadata.Pairs("x-t", "2"))
			for i := range n {
				if err := sendTexts(ss, fmt.Sprintf("m %d", i)); err != nil {
					return err
				}
			}
			panic(v)
		}
	}
	return []StreamCase{
		{
			Name:           "message over grpc.MaxCallRecvMsgSize after 2 messages",
			CallOptions:    []grpc.CallOption{grpc.MaxCallRecvMsgSize(kib)},
			Handler:        smallThenBig,
			Difference:     recvAfterOversized,
			Diff:           diffRecvAfterOversized,
			JSONDifference: jsonSizes,
			JSONDiff:       checkStreamJSONSizes,
		},
		{
			Name:           "first message over grpc.MaxCallRecvMsgSize, Header() first",
			CallOptions:    []grpc.CallOption{grpc.MaxCallRecvMsgSize(kib)},
			HeaderFirst:    true,
			Difference:     recvAfterOversized,
			Diff:           diffRecvAfterOversized,
			JSONDifference: jsonSizes,
			JSONDiff:       checkStreamJSONSizes,
			Handler: func(p *streamProbe, _ *testpb.EchoRequest, ss echoStream) error {
				if err := ss.Send(&testpb.EchoResponse{Message: "big", Payload: payload(2 * kib)}); err != nil {
					return err
				}
				<-p.callerDone
				return nil
			},
		},
		{
			Name:           "server send limit exceeded after 2 messages",
			MaxSend:        kib,
			JSONDifference: jsonSizes,
			JSONDiff:       checkStreamJSONSizes,
			Handler: func(p *streamProbe, req *testpb.EchoRequest, ss echoStream) error {
				if err := ss.SetHeader(metadata.Pairs("x-h", "1")); err != nil {
					return err
				}
				ss.SetTrailer(metadata.Pairs("x-t", "2"))
				if err := sendTexts(ss, "small 0", "small 1"); err != nil {
					return err
				}
				return ss.Send(&testpb.EchoResponse{Message: "big", Payload: payload(2 * kib)})
			},
		},
		{Name: "handler panics after 2 messages, with header and trailer", GRPCRecovery: true, Handler: panicAfter("mid-stream", 2), Difference: panicRecovered, Diff: diffStreamRecovered},
		{Name: "handler panics before any message, after SetHeader", GRPCRecovery: true, HeaderFirst: true, Handler: panicAfter(errors.New("an error value"), 0), Difference: panicRecovered, Diff: diffStreamRecovered},
		{
			Name:         "stream interceptor panics",
			GRPCRecovery: true,
			ServerInterceptors: []grpc.StreamServerInterceptor{streamTracing("outer"), func(any, grpc.ServerStream, *grpc.StreamServerInfo, grpc.StreamHandler) error {
				panic("in the interceptor")
			}},
			Req:        &testpb.EchoRequest{Count: 1},
			Difference: panicRecovered,
			Diff:       diffStreamRecovered,
		},
	}
}

// tracedStream adds its interceptor's name to each message sent.
type tracedStream struct {
	grpc.ServerStream
	name string
}

func (s *tracedStream) SendMsg(m any) error {
	if r, ok := m.(*testpb.EchoResponse); ok {
		r = proto.Clone(r).(*testpb.EchoResponse)
		r.Message += " <" + s.name
		m = r
	}
	return s.ServerStream.SendMsg(m)
}

// streamTracing returns a stream interceptor that records its name and what
// it was told of the call in the header on the way in, its name in the
// trailer on the way out, and its name in each message sent.
func streamTracing(name string) grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
		md := metadata.Pairs("x-order", name+":in", "x-info-"+name, fmt.Sprintf("%s server=%v client=%v srv=%T", info.FullMethod, info.IsServerStream, info.IsClientStream, srv))
		if err := ss.SetHeader(md); err != nil {
			return err
		}
		err := handler(srv, &tracedStream{ServerStream: ss, name: name})
		ss.SetTrailer(metadata.Pairs("x-order", name+":out"))
		return err
	}
}

// contextStream replaces a stream's context.
type contextStream struct {
	grpc.ServerStream
	ctx context.Context
}

func (s *contextStream) Context() context.Context { return s.ctx }

// recvStream notes the request its RecvMsg reads in the header.
type recvStream struct {
	grpc.ServerStream
}

func (s *recvStream) RecvMsg(m any) error {
	err := s.ServerStream.RecvMsg(m)
	if r, ok := m.(*testpb.EchoRequest); ok && err == nil {
		if err := s.SetHeader(metadata.Pairs("x-request", r.GetMessage())); err != nil {
			return err
		}
	}
	return err
}

// skipStream drops every other message.
type skipStream struct {
	grpc.ServerStream
	n int
}

func (s *skipStream) SendMsg(m any) error {
	s.n++
	if s.n%2 == 0 {
		return nil
	}
	return s.ServerStream.SendMsg(m)
}

func streamInterceptorCases() []StreamCase {
	return []StreamCase{
		{
			Name:               "chain order, FullMethod and IsServerStream, SendMsg wrapped",
			ServerInterceptors: []grpc.StreamServerInterceptor{streamTracing("a"), streamTracing("b"), streamTracing("c")},
			Req:                &testpb.EchoRequest{Message: "m", Count: 2, Header: pairs("x-h", "1"), Trailer: pairs("x-t", "2")},
		},
		{
			Name:               "chain order on an error after 1 message",
			ServerInterceptors: []grpc.StreamServerInterceptor{streamTracing("a"), streamTracing("b")},
			Req:                &testpb.EchoRequest{Message: "m", Count: 1, Fail: fail(codes.NotFound, "missing").Fail},
		},
		{
			Name: "interceptor short-circuits with an error",
			ServerInterceptors: []grpc.StreamServerInterceptor{streamTracing("outer"), func(_ any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, _ grpc.StreamHandler) error {
				_ = ss.SetHeader(metadata.Pairs("x-denied-by", "auth"))
				return status.Error(codes.PermissionDenied, "denied by the interceptor")
			}},
			HeaderFirst: true,
			Handler: func(*streamProbe, *testpb.EchoRequest, echoStream) error {
				return status.Error(codes.Internal, "the handler must not run")
			},
		},
		{
			Name: "interceptor sends a message of its own first",
			ServerInterceptors: []grpc.StreamServerInterceptor{func(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
				if err := ss.SendMsg(&testpb.EchoResponse{Message: "from the interceptor"}); err != nil {
					return err
				}
				return handler(srv, ss)
			}},
			Req: &testpb.EchoRequest{Message: "m", Count: 2},
		},
		{
			Name: "interceptor replaces the handler's error with OK",
			ServerInterceptors: []grpc.StreamServerInterceptor{func(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
				if err := handler(srv, ss); err != nil {
					ss.SetTrailer(metadata.Pairs("x-swallowed", status.Convert(err).Message()))
				}
				return nil
			}},
			Req: &testpb.EchoRequest{Message: "m", Count: 1, Fail: fail(codes.NotFound, "missing").Fail},
		},
		{
			Name: "interceptor replaces the stream's context",
			ServerInterceptors: []grpc.StreamServerInterceptor{func(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
				md, _ := metadata.FromIncomingContext(ss.Context())
				md = metadata.Join(md, metadata.Pairs("x-added", "by the interceptor"))
				return handler(srv, &contextStream{ServerStream: ss, ctx: metadata.NewIncomingContext(ss.Context(), md)})
			}},
			Ctx: func(ctx context.Context) (context.Context, context.CancelFunc) {
				return metadata.AppendToOutgoingContext(ctx, "x-caller", "1"), func() {}
			},
			Handler: func(_ *streamProbe, _ *testpb.EchoRequest, ss echoStream) error {
				md, _ := metadata.FromIncomingContext(ss.Context())
				m, _ := grpc.Method(ss.Context())
				return ss.Send(&testpb.EchoResponse{Incoming: testserver.Pairs(md), Method: m})
			},
		},
		{
			Name: "interceptor wraps RecvMsg and sees the request",
			ServerInterceptors: []grpc.StreamServerInterceptor{func(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
				return handler(srv, &recvStream{ServerStream: ss})
			}},
			Req: &testpb.EchoRequest{Message: "the request", Count: 1},
		},
		{
			Name: "interceptor's SendMsg drops every other message",
			ServerInterceptors: []grpc.StreamServerInterceptor{func(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
				return handler(srv, &skipStream{ServerStream: ss})
			}},
			Req: &testpb.EchoRequest{Message: "m", Count: 5},
		},
	}
}
