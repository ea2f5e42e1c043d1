package runtime

import (
	"context"
	"fmt"
	"log"
	"math"
	"runtime/debug"
	"strconv"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/protoc-gen-go-lambda/protoc-gen-go-lambda/runtime/internal/wire"
)

// This file is the Invoke API front end: a request envelope in, a response
// envelope out (docs/protocol.md).

// envelopeCall is a call decoded from a request envelope, allocated once;
// the call's body is the envelope's own message fields.
type envelopeCall struct {
	call
	env wire.Request
}

// serveEnvelope serves one invocation whose payload is a request envelope.
// With st set (InvokeStream), a server-streaming call's frames are streamed
// through it and out is nil.
func (s *Server) serveEnvelope(ctx context.Context, payload []byte, st *streamer) (out []byte) {
	jsonMode := false
	defer func() {
		// A last resort for a bug in this package: the function keeps serving.
		if p := recover(); p != nil {
			log.Printf("protoc-gen-go-lambda: panic while serving: %v\n%s", p, debug.Stack())
			out = statusEnvelope(status.New(codes.Internal, fmt.Sprintf("lambda: internal error: %v", p)), nil, nil, nil, jsonMode)
		}
	}()
	ec := &envelopeCall{}
	env := &ec.env
	if err := wire.ParseRequest(payload, env); err != nil {
		return statusEnvelope(status.New(codes.Internal, "lambda: malformed request envelope: "+err.Error()), nil, nil, nil, false)
	}
	jsonMode = env.HasJSON
	if st := checkRequest(env); st != nil {
		return statusEnvelope(st, nil, nil, nil, jsonMode)
	}
	c := &ec.call
	c.srv, c.method, c.md, c.jsonMode, c.body = s, env.Method, env.MD, jsonMode, &env.Payload
	c.timeout, c.hasTimeout = env.Timeout, env.HasTimeout
	if r := s.routes.Load().methods[env.Method]; r != nil && r.serverStreaming() {
		es := &envelopeStream{c: c}
		c.stream.sink = es
		if st != nil {
			st.start(contentTypeFrames, func(out *streamOut) { es.out = out; es.run(ctx) })
			return nil
		}
		es.out = &streamOut{limit: MaxPayloadSize - endFrameReserve}
		es.run(ctx)
		return es.out.buf
	}
	c.endLater = true
	o := c.dispatch(ctx)
	if o.st != nil {
		c.end(o, nil)
		envelopeStatus(&o)
		return statusEnvelope(o.st, o.details, o.header, o.trailer, jsonMode)
	}
	out = wire.AppendResponse(make([]byte, 0, responseSize(len(o.body.B), o.header, o.trailer, jsonMode)), 0, "", nil, o.header, o.trailer, o.body.B, jsonMode)
	o.body.Free()
	if len(out) > MaxPayloadSize {
		st := status.Newf(codes.ResourceExhausted, "lambda: response payload of %d bytes exceeds the Lambda limit of %d bytes", len(out), MaxPayloadSize)
		c.end(o, st)
		return statusEnvelope(st, nil, o.header, o.trailer, jsonMode)
	}
	c.end(o, nil)
	return out
}

// errNoResponseMessage is what grpc-go's client reports for a unary call
// that ends OK without a message.
var errNoResponseMessage = status.New(codes.Internal, "cardinality violation: received no response message from non-server-streaming RPC")

// envelopeStatus gives the caller what grpc-go's client reports for two
// statuses grpc-go's server sends but this envelope does not carry: code 0
// without a message (a handler error whose GRPCStatus says OK; an OK
// response must have a body here), and a code beyond int32, which grpc-go's
// client cannot parse.
func envelopeStatus(o *outcome) {
	switch code := o.st.Code(); {
	case code == codes.OK:
		o.st, o.details = errNoResponseMessage, nil
	case code > math.MaxInt32:
		o.st = status.Newf(codes.Unknown, "transport: malformed grpc-status: strconv.ParseInt: parsing %q: value out of range", strconv.FormatUint(uint64(code), 10))
		o.details, o.trailer = nil, nil
	}
}

// checkRequest validates what wire.ParseRequest cannot: the version and the body.
func checkRequest(env *wire.Request) *status.Status {
	switch {
	case env.Version == 0:
		return status.New(codes.Internal, `lambda: malformed request envelope: missing "v"`)
	case env.Version != EnvelopeVersion:
		return status.Newf(codes.Unimplemented, "lambda: envelope version %d is not supported; this function speaks version %d", env.Version, EnvelopeVersion)
	case env.HasBody && env.HasJSON:
		return status.New(codes.Internal, `lambda: malformed request envelope: both "body" and "json" are set`)
	case !env.HasBody && !env.HasJSON:
		return status.New(codes.Internal, `lambda: malformed request envelope: neither "body" nor "json" is set`)
	}
	return nil
}

// statusEnvelope writes a response envelope for a non-OK status; details is
// the status as a serialized google.rpc.Status, or nil.
func statusEnvelope(st *status.Status, details []byte, header, trailer metadata.MD, jsonMode bool) []byte {
	out := wire.AppendResponse(make([]byte, 0, responseSize(len(details), header, trailer, false)+len(st.Message())*2), uint32(st.Code()), st.Message(), details, header, trailer, nil, jsonMode)
	if len(out) > MaxPayloadSize {
		// Only huge metadata or details get here; keep the status, drop the rest.
		return wire.AppendResponse(nil, uint32(codes.ResourceExhausted), fmt.Sprintf("lambda: response payload of %d bytes exceeds the Lambda limit of %d bytes", len(out), MaxPayloadSize), nil, nil, nil, nil, jsonMode)
	}
	return out
}

func responseSize(bodyLen int, header, trailer metadata.MD, jsonMode bool) int {
	n := 64 + wire.MetadataSize(header) + wire.MetadataSize(trailer)
	if jsonMode {
		return n + bodyLen
	}
	return n + (bodyLen+2)/3*4
}

// endFrameReserve is the room a buffered stream keeps for its end frame.
const endFrameReserve = 64 << 10

// envelopeStream writes a server-streaming call's answer to the Invoke API
// in stream framing (docs/protocol.md, "Streamed responses").
type envelopeStream struct {
	c       *call
	out     *streamOut
	scratch []byte
}

func (es *envelopeStream) sendHeader(md metadata.MD) error {
	es.scratch = wire.AppendHeaderFrame(es.scratch[:0], md)
	return es.out.write(es.scratch)
}

func (es *envelopeStream) coalesce() { es.out.hold = es.out.w != nil }

func (es *envelopeStream) sendMessage(b []byte) error {
	es.scratch = append(wire.AppendFramePrefix(es.scratch[:0], wire.FrameMessage, len(b)), b...)
	return es.out.write(es.scratch)
}

// run serves the call and writes its end frame.
func (es *envelopeStream) run(ctx context.Context) {
	o := es.c.dispatch(ctx)
	var code uint32
	var msg string
	if o.st != nil {
		if o.st.Code() > math.MaxInt32 {
			envelopeStatus(&o)
		}
		code, msg = uint32(o.st.Code()), o.st.Message()
	}
	end := wire.AppendEndFrame(nil, code, msg, o.details, o.header, o.trailer)
	out := es.out
	if out.w != nil {
		_ = out.write(end)
		return
	}
	out.buf = append(out.buf, end...)
	if len(out.buf) > MaxPayloadSize {
		// Only huge metadata or details get here; keep the status, drop the rest.
		out.buf = wire.AppendEndFrame(out.buf[:0], uint32(codes.ResourceExhausted), fmt.Sprintf("lambda: response payload of %d bytes exceeds the Lambda limit of %d bytes", len(out.buf), MaxPayloadSize), nil, nil, nil)
	}
}
