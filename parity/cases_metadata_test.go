package parity

import (
	"context"
	"slices"
	"strings"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/protoc-gen-go-lambda/protoc-gen-go-lambda/internal/testing/testpb"
)

// outgoing returns a Ctx that attaches md to the call.
func outgoing(md metadata.MD) func(context.Context) (context.Context, context.CancelFunc) {
	return func(ctx context.Context) (context.Context, context.CancelFunc) {
		return metadata.NewOutgoingContext(ctx, md), func() {}
	}
}

// appended returns a Ctx that adds kv with metadata.AppendToOutgoingContext.
func appended(kv ...string) func(context.Context) (context.Context, context.CancelFunc) {
	return func(ctx context.Context) (context.Context, context.CancelFunc) {
		return metadata.AppendToOutgoingContext(ctx, kv...), func() {}
	}
}

// pairs turns key, value, ... into Pairs.
func pairs(kv ...string) []*testpb.Pair {
	var out []*testpb.Pair
	for i := 0; i < len(kv); i += 2 {
		out = append(out, &testpb.Pair{Key: kv[i], Value: []byte(kv[i+1])})
	}
	return out
}

// setting is a Service whose Echo runs f on its context first, returning
// f's error if any, then answers as DefaultEcho.
func setting(f func(ctx context.Context) error) *Service {
	return &Service{EchoFunc: func(ctx context.Context, req *testpb.EchoRequest) (*testpb.EchoResponse, error) {
		if err := f(ctx); err != nil {
			return nil, err
		}
		return DefaultEcho(ctx, req)
	}}
}

// reservedMD has every key grpc-go reserves for its transport, with values.
func reservedMD() metadata.MD {
	return metadata.MD{
		":authority": {"evil.example"}, ":path": {"/other/Method"}, ":method": {"GET"}, ":scheme": {"ftp"}, ":status": {"500"},
		"content-type": {"text/plain"}, "user-agent": {"curl/8"}, "te": {"gzip"},
		"grpc-status": {"5"}, "grpc-message": {"forged"}, "grpc-timeout": {"1n"}, "grpc-encoding": {"gzip"}, "grpc-message-type": {"x"},
		"x-kept": {"yes"},
	}
}

// metadataCases: metadata both ways, every key class, headers and trailers
// at every moment of a call.
func metadataCases() []Case {
	big := strings.Repeat("v", 1<<20)
	manyKeys := metadata.MD{}
	for i := range 500 {
		manyKeys.Append("x-key-"+strings.Repeat("k", i%7)+string(rune('a'+i%26))+string(rune('a'+i/26)), strings.Repeat("w", 100))
	}
	return []Case{
		// From the caller.
		{Name: "caller: ASCII keys and printable values", Ctx: outgoing(metadata.Pairs("x-ascii", "hello world", "x-printable", " !\"#$%&'()*+,-./09:;<=>?@AZ[\\]^_`az{|}~ ", "x-dots.and_underscores", "v")), Req: &testpb.EchoRequest{}},
		{Name: "caller: -bin keys with binary values", Ctx: outgoing(metadata.Pairs("x-data-bin", "\x00\x01\x02\xff\xfe binary \r\n", "x-empty-bin", "", "x-text-bin", "é 😀")), Req: &testpb.EchoRequest{}},
		{Name: "caller: several values per key, order kept", Ctx: outgoing(metadata.MD{"x-multi": {"one", "two", "three", "two"}, "x-multi-bin": {"\x01", "\x02"}}), Req: &testpb.EchoRequest{}},
		{Name: "caller: empty value and key without values", Ctx: outgoing(metadata.MD{"x-empty": {""}, "x-none": {}}), Req: &testpb.EchoRequest{}},
		{Name: "caller: upper-case keys through metadata.Pairs", Ctx: outgoing(metadata.Pairs("X-Upper-Case", "v1", "X-UPPER-BIN", "\x00")), Req: &testpb.EchoRequest{}},
		{Name: "caller: upper-case keys through AppendToOutgoingContext", Ctx: appended("X-Appended", "v", "x-appended", "w"), Req: &testpb.EchoRequest{}},
		{
			Name:       "caller: upper-case key in a hand-built MD",
			Ctx:        outgoing(metadata.MD{"X-Hand-Built": {"v"}}),
			Req:        &testpb.EchoRequest{},
			Difference: "grpc-go validates the raw map attached to the context and fails INTERNAL; a ClientConn outside package grpc can only read it through metadata.FromOutgoingContext, which lower-cases keys, so the call goes through with x-hand-built (metadata.Pairs, metadata.New and AppendToOutgoingContext lower-case keys themselves and are equal)",
			Diff: func(t *testing.T, g, l Outcome) {
				r, _ := l.Resp.(*testpb.EchoResponse)
				if g.Code() != codes.Internal || l.Code() != codes.OK || len(r.GetIncoming()) != 1 || r.GetIncoming()[0].GetKey() != "x-hand-built" {
					t.Errorf("want INTERNAL on grpc-go and x-hand-built delivered on Lambda, got %s and %s", summary(g), summary(l))
				}
			},
		},
		{Name: "caller: keys grpc-go reserves (pseudo-headers, content-type, user-agent, te, grpc-status, ...)", Ctx: outgoing(reservedMD()), Req: &testpb.EchoRequest{}},
		{Name: "caller: unreserved grpc- keys", Ctx: outgoing(metadata.Pairs("grpc-custom", "1", "grpc-previous-rpc-attempts", "2", "grpc-retry-pushback-ms", "3", "grpc-trace-bin", "\x00\x01", "grpc-accept-encoding", "identity", "grpc-status-details-bin", "junk")), Req: &testpb.EchoRequest{}},
		{Name: "caller: connection-specific HTTP header keys", Ctx: outgoing(metadata.Pairs("keep-alive", "1", "proxy-connection", "x", "transfer-encoding", "chunked", "upgrade", "h2c", "host", "h")), Req: &testpb.EchoRequest{}},
		{Name: "caller: host key with two values", Ctx: outgoing(metadata.MD{"host": {"a", "b"}}), Req: &testpb.EchoRequest{}},
		{Name: "caller: connection key", Ctx: outgoing(metadata.Pairs("connection", "close")), Req: &testpb.EchoRequest{}},
		{Name: "caller: key with an illegal character", Ctx: outgoing(metadata.Pairs("bad key", "v")), Req: &testpb.EchoRequest{}},
		{Name: "caller: empty key", Ctx: outgoing(metadata.MD{"": {"v"}}), Req: &testpb.EchoRequest{}},
		{Name: "caller: value with a newline", Ctx: outgoing(metadata.Pairs("x-newline", "a\nb")), Req: &testpb.EchoRequest{}},
		{Name: "caller: value with non-ASCII text", Ctx: outgoing(metadata.Pairs("x-unicode", "é")), Req: &testpb.EchoRequest{}},
		{Name: "caller: 1 MiB value", Ctx: outgoing(metadata.Pairs("x-big", big)), Req: &testpb.EchoRequest{}},
		{Name: "caller: 500 keys of 100 bytes", Ctx: outgoing(manyKeys), Req: &testpb.EchoRequest{}},

		// From the handler.
		{Name: "handler: header sent explicitly with SendHeader", Req: &testpb.EchoRequest{SendHeader: pairs("x-sent", "1", "x-sent-bin", "\x00\xff")}},
		{Name: "handler: header set, sent implicitly with the response", Req: &testpb.EchoRequest{Header: pairs("x-set", "1", "x-set", "2")}},
		{Name: "handler: header set and then sent with SendHeader (merged)", Req: &testpb.EchoRequest{Header: pairs("x-set", "1"), SendHeader: pairs("x-set", "2", "x-sent", "3")}},
		{Name: "handler: trailer only", Req: &testpb.EchoRequest{Trailer: pairs("x-trailer", "t", "x-trailer-bin", "\x01\x02")}},
		{Name: "handler: header and trailer on success", Req: &testpb.EchoRequest{Header: pairs("x-h", "h"), Trailer: pairs("x-t", "t")}},
		{Name: "handler: header and trailer on an error", Req: &testpb.EchoRequest{Header: pairs("x-h", "h"), Trailer: pairs("x-t", "t"), Fail: &testpb.Status{Code: int32(codes.NotFound), Message: "gone"}}},
		{Name: "handler: header sent, trailer set, then an error", Req: &testpb.EchoRequest{SendHeader: pairs("x-h", "h"), Trailer: pairs("x-t", "t"), Fail: &testpb.Status{Code: int32(codes.Aborted), Message: "aborted"}}},
		{Name: "handler: trailer only on an error", Req: &testpb.EchoRequest{Trailer: pairs("x-t", "t"), Fail: &testpb.Status{Code: int32(codes.Unavailable), Message: "later"}}},
		{Name: "handler: trailer set several times", Service: setting(func(ctx context.Context) error {
			for _, v := range []string{"1", "2", "3"} {
				if err := grpc.SetTrailer(ctx, metadata.Pairs("x-t", v)); err != nil {
					return err
				}
			}
			return nil
		}), Req: &testpb.EchoRequest{}},
		{Name: "handler: SetHeader after SendHeader fails", Service: setting(func(ctx context.Context) error {
			if err := grpc.SendHeader(ctx, metadata.Pairs("x-first", "1")); err != nil {
				return err
			}
			return grpc.SetHeader(ctx, metadata.Pairs("x-late", "2"))
		}), Req: &testpb.EchoRequest{}},
		{Name: "handler: SendHeader twice fails", Service: setting(func(ctx context.Context) error {
			if err := grpc.SendHeader(ctx, metadata.Pairs("x-first", "1")); err != nil {
				return err
			}
			return grpc.SendHeader(ctx, metadata.Pairs("x-second", "2"))
		}), Req: &testpb.EchoRequest{}},
		{Name: "handler: SendHeader with no metadata", Service: setting(func(ctx context.Context) error {
			return grpc.SendHeader(ctx, nil)
		}), Req: &testpb.EchoRequest{}},
		{Name: "handler: SetHeader and SetTrailer with empty metadata after SendHeader", Service: setting(func(ctx context.Context) error {
			if err := grpc.SendHeader(ctx, metadata.Pairs("x-h", "1")); err != nil {
				return err
			}
			if err := grpc.SetHeader(ctx, metadata.MD{}); err != nil {
				return err
			}
			return grpc.SetTrailer(ctx, metadata.MD{})
		}), Req: &testpb.EchoRequest{}},
		{Name: "handler: keys grpc-go reserves, in header and trailer", Service: setting(func(ctx context.Context) error {
			if err := grpc.SetHeader(ctx, reservedMD()); err != nil {
				return err
			}
			return grpc.SetTrailer(ctx, reservedMD())
		}), Req: &testpb.EchoRequest{}},
		{Name: "handler: upper-case key in a hand-built header", Service: setting(func(ctx context.Context) error {
			return grpc.SetHeader(ctx, metadata.MD{"X-Upper": {"v"}})
		}), Req: &testpb.EchoRequest{}},
		{Name: "handler: header value with a newline", Service: setting(func(ctx context.Context) error {
			return grpc.SetHeader(ctx, metadata.MD{"x-newline": {"a\nb"}})
		}), Req: &testpb.EchoRequest{}},
		{Name: "handler: header value with non-ASCII text", Service: setting(func(ctx context.Context) error {
			return grpc.SetHeader(ctx, metadata.MD{"x-unicode": {"é"}})
		}), Req: &testpb.EchoRequest{}},
		{Name: "handler: grpc-status-details-bin trailer with a status without details", Service: setting(func(ctx context.Context) error {
			raw := mustMarshal(mustDetails(status.New(codes.NotFound, "from trailer"), &testpb.Pair{Key: "detail"}).Proto())
			if err := grpc.SetTrailer(ctx, metadata.Pairs("grpc-status-details-bin", string(raw))); err != nil {
				return err
			}
			return status.Error(codes.NotFound, "from the handler")
		}), Req: &testpb.EchoRequest{}},
		{Name: "handler: grpc-status-details-bin trailer with a status with details", Service: setting(func(ctx context.Context) error {
			raw := mustMarshal(mustDetails(status.New(codes.NotFound, "from trailer"), &testpb.Pair{Key: "trailer"}).Proto())
			if err := grpc.SetTrailer(ctx, metadata.Pairs("grpc-status-details-bin", string(raw))); err != nil {
				return err
			}
			return mustDetails(status.New(codes.NotFound, "from the handler"), &testpb.Pair{Key: "handler"}).Err()
		}), Req: &testpb.EchoRequest{}},
		{Name: "handler: grpc-status-details-bin trailer on success, code OK", Service: setting(func(ctx context.Context) error {
			raw := mustMarshal(mustDetails(status.New(codes.OK, ""), &testpb.Pair{Key: "ok"}).Proto())
			return grpc.SetTrailer(ctx, metadata.Pairs("grpc-status-details-bin", string(raw)))
		}), Req: &testpb.EchoRequest{}},
		{Name: "handler: grpc-status-details-bin trailer on success, code NOT_FOUND", Service: setting(func(ctx context.Context) error {
			raw := mustMarshal(mustDetails(status.New(codes.NotFound, "not really"), &testpb.Pair{Key: "nf"}).Proto())
			return grpc.SetTrailer(ctx, metadata.Pairs("grpc-status-details-bin", string(raw)))
		}), Req: &testpb.EchoRequest{}},
		{Name: "handler: grpc-status-details-bin trailer that is not a status", Service: setting(func(ctx context.Context) error {
			if err := grpc.SetTrailer(ctx, metadata.Pairs("grpc-status-details-bin", "\xff\xff not proto")); err != nil {
				return err
			}
			return status.Error(codes.NotFound, "from the handler")
		}), Req: &testpb.EchoRequest{}},
		{Name: "handler: grpc-status-details-bin trailer with a mismatched code", Service: setting(func(ctx context.Context) error {
			raw := mustMarshal(status.New(codes.Aborted, "other code").Proto())
			if err := grpc.SetTrailer(ctx, metadata.Pairs("grpc-status-details-bin", string(raw))); err != nil {
				return err
			}
			return status.Error(codes.NotFound, "from the handler")
		}), Req: &testpb.EchoRequest{}},
		{Name: "handler: two grpc-status-details-bin trailer values", Service: setting(func(ctx context.Context) error {
			raw := string(mustMarshal(status.New(codes.NotFound, "one").Proto()))
			if err := grpc.SetTrailer(ctx, metadata.MD{"grpc-status-details-bin": {raw, raw}}); err != nil {
				return err
			}
			return status.Error(codes.NotFound, "from the handler")
		}), Req: &testpb.EchoRequest{}},
		{Name: "handler: key with an illegal character in the trailer on an error", Service: setting(func(ctx context.Context) error {
			_ = grpc.SetHeader(ctx, metadata.Pairs("x-fine", "1"))
			_ = grpc.SetTrailer(ctx, metadata.MD{"x@bad": {"1"}})
			return status.Error(codes.NotFound, "from the handler")
		}), Req: &testpb.EchoRequest{}},
		{Name: "handler: value with a control character in the trailer on success", Service: setting(func(ctx context.Context) error {
			_ = grpc.SetHeader(ctx, metadata.Pairs("x-fine", "1"))
			return grpc.SetTrailer(ctx, metadata.MD{"x-ctl": {"a\x01b"}})
		}), Req: &testpb.EchoRequest{}},
		{Name: "handler: tab in a header value", Service: setting(func(ctx context.Context) error {
			return grpc.SetHeader(ctx, metadata.MD{"x-tab": {"a\tb"}})
		}), Req: &testpb.EchoRequest{}},
		{
			Name: "handler: header value that is not UTF-8",
			Service: setting(func(ctx context.Context) error {
				return grpc.SetHeader(ctx, metadata.MD{"x-latin1": {"caf\xe9 \x80\xff"}})
			}),
			Req:        &testpb.EchoRequest{},
			Difference: "the envelope is JSON, whose strings are Unicode: invalid UTF-8 in a value of a key without -bin becomes U+FFFD; grpc-go forwards the raw bytes (only grpc.SetHeader and grpc.SetTrailer let such a value through; grpc-go's client refuses to send one, and ServerStream.SetHeader rejects it). Binary values belong in -bin keys, which are exact",
			Diff: func(t *testing.T, g, l Outcome) {
				if !slices.Equal(g.Header.Get("x-latin1"), []string{"caf\xe9 \x80\xff"}) || !slices.Equal(l.Header.Get("x-latin1"), []string{"caf\ufffd \ufffd\ufffd"}) {
					t.Errorf("want raw bytes on grpc-go and U+FFFD on Lambda, got %q and %q", g.Header, l.Header)
				}
			},
		},
		{Name: "handler: empty key in the header", Service: setting(func(ctx context.Context) error {
			return grpc.SetHeader(ctx, metadata.MD{"": {"v"}})
		}), Req: &testpb.EchoRequest{}},
		{Name: "handler: 1 MiB header value", Req: &testpb.EchoRequest{Header: pairs("x-big", big)}},
		{Name: "handler: 1 MiB trailer value on an error", Req: &testpb.EchoRequest{Trailer: pairs("x-big", big), Fail: &testpb.Status{Code: int32(codes.Internal), Message: "big trailer"}}},
	}
}

func mustMarshal(m proto.Message) []byte {
	b, err := proto.Marshal(m)
	if err != nil {
		panic(err)
	}
	return b
}
