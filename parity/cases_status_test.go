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
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/protoc-gen-go-lambda/protoc-gen-go-lambda/internal/testing/testpb"
)

// payload returns n bytes of a repeating pattern.
func payload(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7 + i>>8)
	}
	return b
}

// messageCases: successful calls with messages of every size class.
func messageCases() []Case {
	return []Case{
		{Name: "empty request and response", Req: &testpb.EchoRequest{}},
		{Name: "small message", Req: &testpb.EchoRequest{Message: "hello", Payload: []byte("world")}},
		{Name: "1 MiB request echoed", Req: &testpb.EchoRequest{Payload: payload(1 << 20)}},
		{Name: "3 MiB request, small response", Req: &testpb.EchoRequest{Payload: payload(3 << 20), ResponseSize: 1}},
		{Name: "small request, 3 MiB response", Req: &testpb.EchoRequest{ResponseSize: 3 << 20}},
		// 4 MiB - 5 bytes of payload (plus a tag and a 4-byte length) make a
		// 4 MiB message both ways: exactly grpc-go's default receive limit on
		// the server and on the client.
		{
			Name: "4 MiB request and response (the default limits, exactly)",
			Service: &Service{EchoFunc: func(_ context.Context, req *testpb.EchoRequest) (*testpb.EchoResponse, error) {
				return &testpb.EchoResponse{Payload: req.GetPayload()}, nil
			}},
			Req: &testpb.EchoRequest{Payload: payload(4<<20 - 5)},
			Check: func(t *testing.T, o Outcome) {
				if n := proto.Size(o.Resp); n != 4<<20 {
					t.Errorf("response of %d bytes, want exactly 4 MiB", n)
				}
			},
		},
		{Name: "text with every kind of character", Req: &testpb.EchoRequest{Message: "tab\t cr\r lf\n nul\x00 é 中 😀 𝄞"}},
		{Name: "idempotent method (Retry)", Call: func(ctx context.Context, c Conn, opts ...grpc.CallOption) (proto.Message, error) {
			return c.Client.Retry(ctx, &testpb.EchoRequest{Message: "again"}, opts...)
		}},
		{
			Name: "handler returns a typed nil response and no error",
			Service: &Service{EchoFunc: func(context.Context, *testpb.EchoRequest) (*testpb.EchoResponse, error) {
				return nil, nil
			}},
			Req: &testpb.EchoRequest{},
		},
		{
			Name:               "interceptor returns a nil response and no error",
			ServerInterceptors: []grpc.UnaryServerInterceptor{func(context.Context, any, *grpc.UnaryServerInfo, grpc.UnaryHandler) (any, error) { return nil, nil }},
			Req:                &testpb.EchoRequest{},
		},
		{
			Name: "handler returns a response of the wrong type",
			ServerInterceptors: []grpc.UnaryServerInterceptor{func(context.Context, any, *grpc.UnaryServerInfo, grpc.UnaryHandler) (any, error) {
				return "not a message", nil
			}},
			Req: &testpb.EchoRequest{},
		},
		{
			Name: "response is a different message type",
			ServerInterceptors: []grpc.UnaryServerInterceptor{func(context.Context, any, *grpc.UnaryServerInfo, grpc.UnaryHandler) (any, error) {
				return &testpb.EchoRequest{Message: "a request where a response belongs", ResponseSize: 9}, nil
			}},
			Req: &testpb.EchoRequest{},
		},
	}
}

// fail is an Echo request whose handler fails with the given status.
func fail(code codes.Code, msg string, details ...proto.Message) *testpb.EchoRequest {
	st := &testpb.Status{Code: int32(code), Message: msg}
	for _, d := range details {
		a, err := anypb.New(d)
		if err != nil {
			panic(err)
		}
		st.Details = append(st.Details, a)
	}
	return &testpb.EchoRequest{Fail: st}
}

// returning is a Service whose Echo returns err.
func returning(err error) *Service {
	return &Service{EchoFunc: func(context.Context, *testpb.EchoRequest) (*testpb.EchoResponse, error) { return nil, err }}
}

// allErrdetails returns one populated message of every errdetails type.
func allErrdetails() []proto.Message {
	return []proto.Message{
		&errdetails.ErrorInfo{Reason: "API_DISABLED", Domain: "example.com", Metadata: map[string]string{"service": "lambdatest", "region": "eu-west-1"}},
		&errdetails.RetryInfo{RetryDelay: durationpb.New(1500 * time.Millisecond)},
		&errdetails.DebugInfo{StackEntries: []string{"main.go:1", "handler.go:42"}, Detail: "debug détail"},
		&errdetails.QuotaFailure{Violations: []*errdetails.QuotaFailure_Violation{{Subject: "project:1", Description: "daily limit", QuotaMetric: "calls", QuotaId: "daily", QuotaDimensions: map[string]string{"region": "us"}, QuotaValue: 100, FutureQuotaValue: proto.Int64(200)}}},
		&errdetails.PreconditionFailure{Violations: []*errdetails.PreconditionFailure_Violation{{Type: "TOS", Subject: "user:1", Description: "terms not accepted"}}},
		&errdetails.BadRequest{FieldViolations: []*errdetails.BadRequest_FieldViolation{{Field: "message", Description: "too short", Reason: "MIN_LENGTH", LocalizedMessage: &errdetails.LocalizedMessage{Locale: "fr-FR", Message: "trop court"}}}},
		&errdetails.RequestInfo{RequestId: "req-1", ServingData: "opaque"},
		&errdetails.ResourceInfo{ResourceType: "book", ResourceName: "shelves/1/books/2", Owner: "user:1", Description: "not found"},
		&errdetails.Help{Links: []*errdetails.Help_Link{{Description: "docs", Url: "https://example.com/help"}}},
		&errdetails.LocalizedMessage{Locale: "ja-JP", Message: "見つかりません"},
	}
}

// customStatusError has a GRPCStatus method without being a status error.
type customStatusError struct{ st *status.Status }

func (e customStatusError) Error() string              { return "custom: " + e.st.Message() }
func (e customStatusError) GRPCStatus() *status.Status { return e.st }

// statusCases: every code, messages that HTTP/2 headers must encode, every
// kind of details and every kind of error a handler can return.
func statusCases() []Case {
	var cs []Case
	for c := codes.Canceled; c <= codes.Unauthenticated; c++ {
		cs = append(cs, Case{
			Name: fmt.Sprintf("status %s with a message", codeName(c)),
			Req:  fail(c, fmt.Sprintf("the %v message", c)),
		})
	}
	cs = append(cs,
		Case{Name: "status OK with a message (typed nil response)", Req: fail(codes.OK, "ignored")},
		Case{Name: "status code 17 (beyond the 16)", Req: fail(17, "seventeen")},
		Case{Name: "status code 1000", Req: fail(1000, "a thousand")},
		Case{Name: "status code 2^31-1", Req: fail(1<<31-1, "largest int32")},
		Case{Name: "status code 2^31", Service: returning(status.Error(1<<31, "beyond int32"))},
		Case{Name: "status code -1 (4294967295)", Req: fail(codes.Code(1<<32-1), "minus one")},
		Case{Name: "status without a message", Req: fail(codes.NotFound, "")},
	)
	messages := []struct{ name, msg string }{
		{"message with leading and trailing spaces and tabs", "  \tspaced out\t  "},
		{"message with CR, LF and CRLF", "line 1\r\nline 2\nline 3\rend"},
		{"message with BMP Unicode", "héllo wörld — 中文 ☃ ü"},
		{"message with non-BMP Unicode", "emoji 😀, music 𝄞, CJK ext B 𠜎"},
		{"message with percent signs and escapes", `100% sure, %41 is not A, %zz, \n \u00e9 "quoted"`},
		{"message with control characters", "nul\x00 bell\a del\x7f esc\x1b"},
		{"message with invalid UTF-8", "bad \xff\xfe bytes \xc3"},
		{"message with U+2028 and U+FEFF", "line\u2028separator \ufeffbom"},
		{"message of 16 KiB", strings.Repeat("0123456789abcdef", 1024)},
	}
	for _, m := range messages {
		cs = append(cs, Case{Name: m.name, Req: fail(codes.InvalidArgument, m.msg)})
	}
	for _, d := range allErrdetails() {
		name := string(d.ProtoReflect().Descriptor().Name())
		cs = append(cs, Case{Name: "details: " + name, Req: fail(codes.FailedPrecondition, "with "+name, d)})
	}
	unknownAny := &anypb.Any{TypeUrl: "type.googleapis.com/example.NotLinkedIn", Value: []byte("\x0a\x03abc")}
	cs = append(cs,
		Case{Name: "details: all ten errdetails types at once", Req: fail(codes.Aborted, "everything", allErrdetails()...)},
		Case{Name: "details: a message of another package", Req: fail(codes.Internal, "custom detail", &testpb.EchoRequest{Message: "as a detail"})},
		Case{Name: "details: an Any of an unknown type", Req: &testpb.EchoRequest{Fail: &testpb.Status{Code: int32(codes.DataLoss), Message: "opaque", Details: []*anypb.Any{unknownAny}}}},
		Case{Name: "details with a message in invalid UTF-8", Req: fail(codes.Internal, "bad \xff", &errdetails.ErrorInfo{Reason: "R"})},
		Case{Name: "details of 64 KiB", Req: fail(codes.Internal, "big details", &errdetails.DebugInfo{Detail: strings.Repeat("x", 64<<10)})},
		Case{Name: "plain Go error", Service: returning(errors.New("plain error"))},
		Case{Name: "status error wrapped with %w", Service: returning(fmt.Errorf("outer context: %w", status.Error(codes.NotFound, "inner")))},
		Case{Name: "status error with details wrapped with %w", Service: returning(fmt.Errorf("wrapped: %w", mustDetails(status.New(codes.NotFound, "inner"), &errdetails.ResourceInfo{ResourceName: "r"}).Err()))},
		Case{Name: "errors.Join of a status error and another", Service: returning(errors.Join(errors.New("first"), status.Error(codes.Unavailable, "second")))},
		Case{Name: "error type with a GRPCStatus method", Service: returning(customStatusError{status.New(codes.PermissionDenied, "from GRPCStatus")})},
		Case{Name: "error type whose GRPCStatus is nil", Service: returning(customStatusError{nil})},
		Case{Name: "error type whose GRPCStatus is OK", Service: returning(customStatusError{status.New(codes.OK, "fine?")})},
		Case{Name: "error type whose GRPCStatus is OK, with header and trailer", Service: &Service{EchoFunc: func(ctx context.Context, _ *testpb.EchoRequest) (*testpb.EchoResponse, error) {
			_ = grpc.SetHeader(ctx, metadata.Pairs("x-h", "1"))
			_ = grpc.SetTrailer(ctx, metadata.Pairs("x-t", "2"))
			return &testpb.EchoResponse{Message: "dropped"}, customStatusError{status.New(codes.OK, "")}
		}}},
		Case{Name: "context.Canceled returned", Service: returning(context.Canceled)},
		Case{Name: "context.DeadlineExceeded wrapped with %w", Service: returning(fmt.Errorf("db query: %w", context.DeadlineExceeded))},
		Case{Name: "status proto with code OK and details", Service: returning(status.FromProto(&spb.Status{Code: 0, Message: "ok?", Details: []*anypb.Any{mustAny(&errdetails.ErrorInfo{Reason: "R"})}}).Err())},
	)
	return cs
}

func mustAny(m proto.Message) *anypb.Any {
	a, err := anypb.New(m)
	if err != nil {
		panic(err)
	}
	return a
}

func mustDetails(st *status.Status, details ...proto.Message) *status.Status {
	p := st.Proto()
	for _, d := range details {
		p.Details = append(p.Details, mustAny(d))
	}
	return status.FromProto(p)
}
