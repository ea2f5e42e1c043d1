package runtime

import (
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"log"
	"math"
	"net/http"
	"strconv"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/protoc-gen-go-lambda/protoc-gen-go-lambda/runtime/internal/wire"
)

// This file is gRPC-Web on the HTTP front end
// (https://github.com/grpc/grpc/blob/master/doc/PROTOCOL-WEB.md), as
// connect-go's handler speaks it, plus the text mode browser clients use by
// default (application/grpc-web-text: the body base64-encoded both ways).
// The answer is always HTTP 200; the status and trailers travel in the
// body's trailer frame (flag 0x80), or, for an error with no header
// metadata, as headers ("trailers-only").

const (
	frameCompressed = 0x01
	frameTrailer    = 0x80
)

// decodeGRPCWeb reads a gRPC-Web request's headers and its one message frame.
func (hc *httpCall) decodeGRPCWeb(body []byte) *status.Status {
	if hc.text {
		var err error
		if body, err = decodeGRPCWebText(body); err != nil {
			return status.Newf(codes.InvalidArgument, "lambda: malformed application/grpc-web-text body: %v", err)
		}
	}
	var st *status.Status
	if hc.reqGzip, st = requestCompression(hc.req.grpcEncoding); st != nil {
		return st
	}
	hc.respGzip = hc.reqGzip || acceptsGzip(hc.req.grpcAcceptEncoding)
	if v := hc.req.grpcTimeout; v != "" {
		d, ok, err := parseGRPCTimeout(v)
		if err != nil {
			return status.New(codes.InvalidArgument, err.Error())
		}
		if ok {
			hc.timeout, hc.hasTimeout = d, true
		}
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

// readUnaryFrame reads the one message frame of a unary request, with
// connect-go's codes for a body that is not exactly that.
func readUnaryFrame(b []byte, maxSize int) (msg []byte, compressed bool, st *status.Status) {
	n := 0
	for len(b) > 0 {
		if len(b) < 5 {
			return nil, false, status.Newf(codes.Internal, "protocol error: incomplete envelope: %d bytes of a 5-byte prefix", len(b))
		}
		flags, size := b[0], binary.BigEndian.Uint32(b[1:5])
		if uint64(size) > uint64(maxSize) {
			return nil, false, status.Newf(codes.ResourceExhausted, "message size %d is larger than configured max %d", size, maxSize)
		}
		if got := len(b) - 5; uint64(got) < uint64(size) {
			return nil, false, status.Newf(codes.Internal, "protocol error: promised %d bytes in enveloped message, got %d bytes", size, got)
		}
		if flags&^frameCompressed != 0 {
			return nil, false, status.Newf(codes.Internal, "protocol error: invalid envelope flags %d", flags)
		}
		if n++; n > 1 {
			return nil, false, status.New(codes.Unimplemented, "unary request has multiple messages")
		}
		msg, compressed = b[5:5+size], flags&frameCompressed != 0
		b = b[5+size:]
	}
	if n == 0 {
		return nil, false, status.New(codes.Unimplemented, "unary request has zero messages")
	}
	return msg, compressed, nil
}

// decodeGRPCWebText decodes a text-mode body: base64, possibly several
// padded chunks one after another, as a client that encodes each write
// separately sends them.
func decodeGRPCWebText(src []byte) ([]byte, error) {
	dst := make([]byte, 0, base64.StdEncoding.DecodedLen(len(src)))
	for len(src) > 0 {
		// A chunk ends after the first 4-byte group that has padding.
		end := len(src)
		for i := 0; i+4 <= len(src); i += 4 {
			if src[i+3] == '=' {
				end = i + 4
				break
			}
		}
		var err error
		if dst, err = wire.DecodeBase64(dst, src[:end]); err != nil {
			return nil, err
		}
		src = src[end:]
	}
	return dst, nil
}

// parseGRPCTimeout reads grpc-timeout as connect-go does: at most eight
// digits and a unit; ok is false for a timeout too long for time.Duration,
// which means none.
func parseGRPCTimeout(v string) (d time.Duration, ok bool, err error) {
	if len(v) < 2 {
		return 0, false, fmt.Errorf("protocol error: invalid timeout %q", v)
	}
	var unit time.Duration
	switch v[len(v)-1] {
	case 'n':
		unit = time.Nanosecond
	case 'u':
		unit = time.Microsecond
	case 'm':
		unit = time.Millisecond
	case 'S':
		unit = time.Second
	case 'M':
		unit = time.Minute
	case 'H':
		unit = time.Hour
	default:
		return 0, false, fmt.Errorf("protocol error: timeout has invalid unit %q", v[len(v)-1])
	}
	num, err := strconv.ParseInt(v[:len(v)-1], 10, 64)
	if err != nil || num < 0 {
		return 0, false, fmt.Errorf("protocol error: invalid timeout %q", v)
	}
	if num > 99999999 {
		return 0, false, fmt.Errorf("protocol error: timeout %q is too long", v)
	}
	if num > math.MaxInt64/int64(unit) {
		return 0, false, nil
	}
	return time.Duration(num) * unit, true, nil
}

// grpcWebHeaderFields starts a gRPC-Web answer's headers.
func grpcWebHeaderFields(hc *httpCall, n int, compressed bool) []wire.Field {
	h := make([]wire.Field, 0, n+4)
	h = append(h, wire.Field{Name: "content-type", Value: hc.contentType}, wire.Field{Name: "grpc-accept-encoding", Value: "gzip"})
	if compressed {
		h = append(h, wire.Field{Name: "grpc-encoding", Value: "gzip"})
	}
	return h
}

// grpcWebSuccess answers a call that succeeded: header metadata as headers,
// the message frame, then the trailer frame with grpc-status 0 and the
// trailer metadata.
func grpcWebSuccess(hc *httpCall, o outcome) wire.HTTPResponse {
	h := grpcWebHeaderFields(hc, len(o.header), hc.respGzip)
	h = responseHeaders(h, o.header, "")
	msg := o.body.B
	flags := byte(0)
	var scratch []byte
	if hc.respGzip {
		scratch = gzipAppend(make([]byte, 0, len(msg)/2+64), msg)
		msg, flags = scratch, frameCompressed
	}
	trailer := appendTrailerBlock(make([]byte, 0, 64+wire.MetadataSize(o.trailer)), status.New(codes.OK, ""), nil, o.trailer)
	body := make([]byte, 0, 10+len(msg)+len(trailer))
	body = appendFrame(body, flags, msg)
	body = appendFrame(body, frameTrailer, trailer)
	return hc.grpcWebBody(wire.HTTPResponse{Status: http.StatusOK, Header: h}, body)
}

// grpcWebError answers a call that failed. Without header metadata the
// answer is trailers-only: the status and trailers are headers and the body
// is empty, as connect-go answers; otherwise they are the body's trailer
// frame.
func grpcWebError(hc *httpCall, st *status.Status, header, trailer metadata.MD) wire.HTTPResponse {
	details, err := wire.StatusDetails(st)
	if err != nil {
		log.Printf("protoc-gen-go-lambda: %v; status %v is sent without its details", err, st.Code())
	}
	h := grpcWebHeaderFields(hc, len(header)+len(trailer)+3, false)
	n := len(h)
	h = responseHeaders(h, header, "")
	if len(h) == n {
		h = appendStatusFields(h, st, details)
		h = responseHeaders(h, trailer, "")
		return wire.HTTPResponse{Status: http.StatusOK, Header: h, Body: []byte{}, Base64: !hc.text}
	}
	block := appendTrailerBlock(nil, st, details, trailer)
	return hc.grpcWebBody(wire.HTTPResponse{Status: http.StatusOK, Header: h}, appendFrame(nil, frameTrailer, block))
}

// grpcWebBody sets the answer's body: the frames, base64 text in text mode.
func (hc *httpCall) grpcWebBody(resp wire.HTTPResponse, frames []byte) wire.HTTPResponse {
	if hc.text {
		resp.Body = base64.StdEncoding.AppendEncode(make([]byte, 0, base64.StdEncoding.EncodedLen(len(frames))), frames)
		return resp
	}
	resp.Body, resp.Base64 = frames, true
	return resp
}

func appendFrame(dst []byte, flags byte, data []byte) []byte {
	dst = append(dst, flags, 0, 0, 0, 0)
	binary.BigEndian.PutUint32(dst[len(dst)-4:], uint32(len(data)))
	return append(dst, data...)
}

// appendStatusFields appends grpc-status, grpc-message (percent-encoded) and
// grpc-status-details-bin (base64, unpadded).
func appendStatusFields(h []wire.Field, st *status.Status, details []byte) []wire.Field {
	h = append(h, wire.Field{Name: "grpc-status", Value: strconv.FormatUint(uint64(st.Code()), 10)})
	if msg := st.Message(); msg != "" || st.Code() != codes.OK {
		h = append(h, wire.Field{Name: "grpc-message", Value: percentEncode(msg)})
	}
	if len(details) > 0 {
		h = append(h, wire.Field{Name: "grpc-status-details-bin", Value: base64.RawStdEncoding.EncodeToString(details)})
	}
	return h
}

// appendTrailerBlock writes a trailer frame's content: HTTP/1 header lines,
// names lower-case, the status first.
func appendTrailerBlock(dst []byte, st *status.Status, details []byte, trailer metadata.MD) []byte {
	var fields [3]wire.Field
	for _, f := range appendStatusFields(fields[:0], st, details) {
		dst = appendHeaderLine(dst, f)
	}
	for _, f := range responseHeaders(nil, trailer, "") {
		dst = appendHeaderLine(dst, f)
	}
	return dst
}

func appendHeaderLine(dst []byte, f wire.Field) []byte {
	dst = append(dst, f.Name...)
	dst = append(dst, ": "...)
	dst = append(dst, f.Value...)
	return append(dst, "\r\n"...)
}

// percentEncode encodes grpc-message as gRPC's HTTP/2 protocol says: bytes
// outside printable ASCII, and '%', as %XX.
func percentEncode(msg string) string {
	n := 0
	for i := 0; i < len(msg); i++ {
		if c := msg[i]; c < ' ' || c > '~' || c == '%' {
			n++
		}
	}
	if n == 0 {
		return msg
	}
	const hex = "0123456789ABCDEF"
	b := make([]byte, 0, len(msg)+2*n)
	for i := 0; i < len(msg); i++ {
		if c := msg[i]; c < ' ' || c > '~' || c == '%' {
			b = append(b, '%', hex[c>>4], hex[c&15])
		} else {
			b = append(b, c)
		}
	}
	return string(b)
}
