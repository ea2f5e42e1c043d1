package runtime

import (
	"context"
	"encoding/base64"
	"net/http"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/protoc-gen-go-lambda/protoc-gen-go-lambda/runtime/internal/wire"
)

// This file is server streaming on the HTTP front end: Connect streaming
// (application/connect+proto|json) and gRPC-Web answer a server-streaming
// method with a message frame per message and an end frame (Connect's
// end-of-stream message, gRPC-Web's trailer frame). Under InvokeStream the
// frames leave the function as the handler sends them, behind a Function
// URL in RESPONSE_STREAM mode; under Invoke they are the body of one
// buffered answer.

// decodeConnectStream reads a Connect streaming request: its headers and
// the one message a server-streaming call takes.
func (hc *httpCall) decodeConnectStream(body []byte) *status.Status {
	if st := hc.connectHeaders(hc.req.connectEncoding); st != nil {
		return st
	}
	hc.respGzip = hc.reqGzip || acceptsGzip(hc.req.connectAccept)
	if v := hc.req.connectVersion; v != "" && v != "1" {
		return status.Newf(codes.InvalidArgument, "connect-protocol-version must be %q: got %q", "1", v)
	}
	msg, compressed, st := readUnaryFrame(body, hc.srv.opts.maxRecvMsgSize)
	if st != nil {
		return st
	}
	if compressed && !hc.reqGzip {
		return status.New(codes.Internal, "protocol error: sent compressed message without compression support")
	}
	return hc.setMessage(msg, compressed)
}

// httpStream writes a server-streaming call's answer in its protocol.
type httpStream struct {
	hc      *httpCall
	out     *streamOut
	header  []wire.Field // the answer's headers, once started
	started bool
	scratch []byte
}

// runStream serves a decoded server-streaming call. Buffered, it leaves the
// answer in hc.resp; streamed (hc.st set), it hands the call to a goroutine
// that writes the answer as it comes, and sets hc.handedOff.
func (s *Server) runStream(ctx context.Context, hc *httpCall) {
	if !hc.prepare() {
		return
	}
	hs := &httpStream{hc: hc}
	hc.stream.sink = hs
	if hc.st != nil {
		hc.handedOff = true
		hc.st.start(wire.StreamingHTTPContentType, func(out *streamOut) {
			hs.out = out
			hs.end(hc.dispatch(ctx))
		})
		return
	}
	limit := MaxPayloadSize
	if hc.ev.Shape == wire.ShapeALB {
		limit = wire.MaxALBPayloadSize
	}
	// Base64 in the event grows the body by a third.
	hs.out = &streamOut{limit: limit/4*3 - endFrameReserve}
	hs.end(hc.dispatch(ctx))
}

func (hs *httpStream) sendHeader(md metadata.MD) error {
	hc := hs.hc
	var h []wire.Field
	if hc.protocol == protoConnectStream {
		h = make([]wire.Field, 0, len(md)+3)
		h = append(h, wire.Field{Name: "content-type", Value: hc.contentType}, wire.Field{Name: "connect-accept-encoding", Value: "gzip"})
		if hc.respGzip {
			h = append(h, wire.Field{Name: "connect-content-encoding", Value: "gzip"})
		}
	} else {
		h = grpcWebHeaderFields(hc, len(md), hc.respGzip)
	}
	return hs.start(responseHeaders(h, md, ""), nil)
}

// start sets the answer's headers; streamed, it writes them, with body.
func (hs *httpStream) start(h []wire.Field, body []byte) error {
	hs.header, hs.started = h, true
	if hs.out.w == nil {
		return hs.out.write(body)
	}
	resp := wire.HTTPResponse{Status: http.StatusOK, Header: h}
	if cors := hs.hc.srv.opts.cors; cors != nil && hs.hc.req.origin != "" {
		cors.decorate(&resp, hs.hc.req.origin)
	}
	return hs.out.write(append(wire.AppendStreamingPrelude(nil, resp.Status, resp.Header), body...))
}

func (hs *httpStream) coalesce() { hs.out.hold = hs.out.w != nil }

func (hs *httpStream) sendMessage(b []byte) error {
	flags := byte(0)
	if hs.hc.respGzip {
		b, flags = gzipAppend(make([]byte, 0, len(b)/2+64), b), frameCompressed
	}
	hs.scratch = appendFrame(hs.scratch[:0], flags, b)
	return hs.writeBody(hs.scratch)
}

// writeBody writes frames, as base64 text in gRPC-Web text mode (each
// write padded on its own, as text clients read it).
func (hs *httpStream) writeBody(frames []byte) error {
	if hs.hc.text {
		frames = base64.StdEncoding.AppendEncode(nil, frames)
	}
	return hs.out.write(frames)
}

// end writes the call's end: Connect's end-of-stream message or
// gRPC-Web's trailers.
func (hs *httpStream) end(o outcome) {
	hc := hs.hc
	hc.abandon(errCallEnded)
	if hc.protocol == protoConnectStream {
		if !hs.started {
			_ = hs.sendHeader(o.header)
		}
		_ = hs.endWrite(appendFrame(nil, 0x02, appendConnectEndStream(nil, o.st, o.trailer)))
	} else {
		st := o.st
		if st == nil {
			st = status.New(codes.OK, "")
		}
		if !hs.started && len(o.header) == 0 {
			// Trailers-only: the status and trailers are the headers.
			resp := grpcWebError(hc, st, nil, o.trailer)
			_ = hs.start(resp.Header, nil)
		} else {
			if !hs.started {
				_ = hs.sendHeader(o.header)
			}
			_ = hs.endWrite(appendFrame(nil, frameTrailer, appendTrailerBlock(nil, st, o.details, o.trailer)))
		}
	}
	if hs.out.w == nil {
		hc.resp = wire.HTTPResponse{Status: http.StatusOK, Header: hs.header, Body: hs.out.buf, Base64: !hc.text}
		if hc.resp.Body == nil {
			hc.resp.Body = []byte{}
		}
	}
}

// endWrite writes the end frame, beyond a buffered answer's limit (room is
// kept for it).
func (hs *httpStream) endWrite(frame []byte) error {
	if hs.out.w == nil {
		if hs.hc.text {
			frame = base64.StdEncoding.AppendEncode(nil, frame)
		}
		hs.out.buf = append(hs.out.buf, frame...)
		return nil
	}
	return hs.writeBody(frame)
}

// appendConnectEndStream writes Connect's end-of-stream message:
// {"error": {...}, "metadata": {"key": ["value"]}}, each part only when
// there is one.
func appendConnectEndStream(dst []byte, st *status.Status, trailer metadata.MD) []byte {
	dst = append(dst, '{')
	if st != nil && st.Code() != codes.OK {
		dst = append(dst, `"error":`...)
		dst = appendConnectError(dst, st)
	}
	fields := responseHeaders(nil, trailer, "")
	if len(fields) > 0 {
		if len(dst) > 1 {
			dst = append(dst, ',')
		}
		dst = append(dst, `"metadata":{`...)
		for i := 0; i < len(fields); {
			j := i + 1
			for j < len(fields) && fields[j].Name == fields[i].Name {
				j++
			}
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = wire.AppendJSONString(dst, fields[i].Name)
			dst = append(dst, ':', '[')
			for k, f := range fields[i:j] {
				if k > 0 {
					dst = append(dst, ',')
				}
				dst = wire.AppendJSONString(dst, f.Value)
			}
			dst = append(dst, ']')
			i = j
		}
		dst = append(dst, '}')
	}
	return append(dst, '}')
}

// encodeStreamedHTTP writes a whole answer as a streamed HTTP answer:
// the prelude, then the body as it is.
func encodeStreamedHTTP(resp *wire.HTTPResponse) []byte {
	return append(wire.AppendStreamingPrelude(make([]byte, 0, 128+len(resp.Body)), resp.Status, resp.Header), resp.Body...)
}
