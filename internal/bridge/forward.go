package bridge

import (
	"context"
	"errors"
	"io"
	"math"
	"strconv"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/protoc-gen-go-lambda/protoc-gen-go-lambda/runtime/invoke"
)

// This file forwards one call: the grpc.UnknownServiceHandler that every
// method of every service the bridge does not serve itself reaches.

// forward receives the call's request, invokes the function that serves the
// call's service with it, and answers with what the function answered:
// header, response or status (code, message, details), trailer.
func (b *Bridge) forward(_ any, stream grpc.ServerStream) (err error) {
	start := time.Now()
	ctx := stream.Context()
	method, _ := grpc.MethodFromServerStream(stream)
	service, _ := splitMethod(method)
	t := b.target(service)
	function := ""
	if t != nil {
		function = t.function
	}
	defer func() { b.logCall(ctx, method, function, err, start) }()
	if t == nil {
		// grpc-go's words for a service no one registered.
		return status.Errorf(codes.Unimplemented, "unknown service %v", service)
	}

	md := b.method(method)
	in := &request{}
	defer in.release()
	if err := receive(stream, md != nil && md.IsStreamingClient(), in); err != nil {
		return err
	}
	if err := b.checkCredentials(ctx, function); err != nil {
		return err
	}
	if md == nil {
		// Whether a method streams is in its descriptor: ask the function
		// for its descriptors once (a failure is asked again at most once
		// per RefreshInterval); a method they do not know is forwarded as
		// unary.
		_ = b.fetch(ctx, t, false)
		md = b.method(method)
	}
	ctx = outgoingContext(ctx)
	if md != nil && md.IsStreamingServer() && !md.IsStreamingClient() {
		return forwardStream(ctx, stream, t, method, &in.RawMessage)
	}
	out := responseMessage()
	var header, trailer metadata.MD
	// The caller's own client enforces its receive limit on the response;
	// the bridge passes on whatever the function sent.
	err = t.cc.Invoke(ctx, method, &in.RawMessage, out, grpc.Header(&header), grpc.Trailer(&trailer), grpc.MaxCallRecvMsgSize(math.MaxInt))
	// grpc.SetHeader and grpc.SetTrailer, as a handler sets them: the
	// function checked the metadata as grpc-go's server checks a handler's,
	// and the ServerStream's own methods would refuse more.
	if len(header) > 0 {
		if herr := grpc.SetHeader(ctx, header); herr != nil {
			return herr
		}
	}
	if len(trailer) > 0 {
		// A grpc-status-details-bin trailer that invoke rebuilt from the
		// status's details is replaced by grpc-go's own for the same status,
		// as the function's grpc-go server would do.
		_ = grpc.SetTrailer(ctx, trailer)
	}
	if err != nil {
		st, ok := sentStatus(err, trailer)
		if !ok {
			return err
		}
		if st.Code() != codes.OK {
			return st.Err()
		}
	}
	return stream.SendMsg(out)
}

// forwardStream forwards a server-streaming call: one streamed invocation
// (InvokeWithResponseStream), whose header, messages, status and trailer
// go to the caller as they come.
func forwardStream(ctx context.Context, stream grpc.ServerStream, t *target, method string, in *invoke.RawMessage) error {
	desc := &grpc.StreamDesc{ServerStreams: true}
	cs, err := t.cc.NewStream(ctx, desc, method, grpc.MaxCallRecvMsgSize(math.MaxInt))
	if err != nil {
		return err
	}
	if err := cs.SendMsg(in); err != nil {
		return endStream(stream, cs, err)
	}
	_ = cs.CloseSend()
	// The header goes on when it comes: before the first message, or with
	// the status (nil then when the function sent none).
	if header, err := cs.Header(); err == nil && header != nil {
		if err := stream.SendHeader(header); err != nil {
			return err
		}
	}
	for {
		out := responseMessage()
		if err := cs.RecvMsg(out); err != nil {
			if errors.Is(err, io.EOF) {
				return endStream(stream, cs, nil)
			}
			return endStream(stream, cs, err)
		}
		if err := stream.SendMsg(out); err != nil {
			return err
		}
	}
}

// endStream passes on a forwarded stream's trailer and status.
func endStream(stream grpc.ServerStream, cs grpc.ClientStream, err error) error {
	trailer := cs.Trailer()
	if len(trailer) > 0 {
		stream.SetTrailer(trailer)
	}
	if err == nil {
		return nil
	}
	if st, ok := sentStatus(err, trailer); ok && st.Code() != codes.OK {
		return st.Err()
	}
	return err
}

// receive reads the call's one request message. Like grpc-go's server for a
// method that is not client-streaming, it then waits for the client to
// close its side and refuses a second message; for a method known to be
// client-streaming it forwards the first message at once, and the function
// answers that it does not serve such methods.
func receive(stream grpc.ServerStream, clientStreams bool, in *request) error {
	err := stream.RecvMsg(in)
	switch {
	case errors.Is(err, io.EOF) && clientStreams:
		return nil // an empty stream: the function says what it thinks of it
	case errors.Is(err, io.EOF):
		return status.Error(codes.Internal, "cardinality violation: received no request message from non-client-streaming RPC")
	case err != nil:
		return err
	case clientStreams:
		return nil
	}
	var extra invoke.RawMessage
	switch err := stream.RecvMsg(&extra); {
	case errors.Is(err, io.EOF):
		return nil
	case err != nil:
		return err
	}
	return status.Error(codes.Internal, "cardinality violation: received multiple request messages for non-client-streaming RPC")
}

// checkCredentials fails a call the bridge has no AWS credentials for.
func (b *Bridge) checkCredentials(ctx context.Context, function string) error {
	if b.cfg.Credentials == nil {
		return nil
	}
	if _, err := b.cfg.Credentials.Retrieve(ctx); err != nil {
		if ctxErr := ctx.Err(); ctxErr != nil {
			return status.FromContextError(ctxErr).Err()
		}
		return status.Errorf(codes.Unauthenticated, "lambda-grpc-bridge: no AWS credentials to invoke %s: %v", function, err)
	}
	return nil
}

// outgoingContext passes the caller's metadata on. The keys its HTTP/2
// transport added (:authority, content-type, user-agent) are reserved:
// invoke.ClientConn leaves them out of the request, as a grpc-go client
// leaves them out of its metadata, so the function's handler sees what a
// grpc-go server's handler sees without them (the Lambda path's
// difference, docs/compatibility.md).
func outgoingContext(ctx context.Context) context.Context {
	md, _ := metadata.FromIncomingContext(ctx)
	return metadata.NewOutgoingContext(ctx, md)
}

// sentStatus undoes invoke's reading of a grpc-status-details-bin trailer
// whose status disagrees with the call's (grpc-go's client rule): the
// status the function sent is passed on with the trailer, so that the
// caller's own client applies the rule, as it would to a grpc-go server's
// answer. ok is false for any other error.
func sentStatus(err error, trailer metadata.MD) (st *status.Status, ok bool) {
	const prefix = "grpc-status-details-bin mismatch: grpc-status="
	s := status.Convert(err)
	rest, found := strings.CutPrefix(s.Message(), prefix)
	if s.Code() != codes.Internal || !found || len(trailer[detailsKey]) != 1 {
		return nil, false
	}
	name, rest, found := strings.Cut(rest, ", grpc-message=")
	if !found {
		return nil, false
	}
	code, known := codeByName[name]
	msg, perr := strconv.QuotedPrefix(rest)
	if !known || perr != nil {
		return nil, false
	}
	msg, perr = strconv.Unquote(msg)
	if perr != nil {
		return nil, false
	}
	return status.New(code, msg), true
}

// detailsKey is the trailer that carries a status's details.
const detailsKey = "grpc-status-details-bin"

// codeByName maps codes.Code's String forms back to the codes.
var codeByName = func() map[string]codes.Code {
	m := map[string]codes.Code{}
	for c := codes.OK; c <= codes.Unauthenticated; c++ {
		m[c.String()] = c
	}
	return m
}()

// splitMethod splits "/pkg.Service/Method".
func splitMethod(method string) (service, name string) {
	sm := strings.TrimPrefix(method, "/")
	if i := strings.LastIndex(sm, "/"); i >= 0 {
		return sm[:i], sm[i+1:]
	}
	return sm, ""
}
