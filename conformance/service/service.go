// Package service implements the Connect conformance suite's
// ConformanceService (connectrpc.conformance.v1) the way any grpc-go service
// is written: a plain struct implementing the ConformanceServiceServer
// interface of protoc-gen-go-grpc, reading request metadata with
// metadata.FromIncomingContext, setting response metadata with
// grpc.SetHeader and grpc.SetTrailer, failing with status errors that carry
// details. It follows the semantics of the suite's own grpc-go reference
// server (internal/app/grpcserver in connectrpc.com/conformance).
//
// The unary methods and ServerStream are implemented: the client- and
// bidi-streaming ones answer UNIMPLEMENTED (one invocation of a Lambda
// function carries one request message), as does Unimplemented, which the
// suite expects never to be implemented.
package service

import (
	"context"
	"encoding/base64"
	"strings"
	"time"

	"google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	grpcstatus "google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"

	conformancev1 "github.com/protoc-gen-go-lambda/protoc-gen-go-lambda/conformance/gen/connectrpc/conformance/v1"
)

// Server is the ConformanceService.
type Server struct {
	conformancev1.UnimplementedConformanceServiceServer

	// Timeout reports the timeout the caller set on the call, which the
	// service echoes back. Nil means the time left until the context's
	// deadline, which is what a grpc-go server sees; a server whose handlers
	// always have a deadline, the caller's or not, says which is the
	// caller's.
	Timeout func(ctx context.Context) (time.Duration, bool)
}

var _ conformancev1.ConformanceServiceServer = (*Server)(nil)

// Unary answers as the request's response definition says.
func (s *Server) Unary(ctx context.Context, req *conformancev1.UnaryRequest) (*conformancev1.UnaryResponse, error) {
	payload, err := s.unary(ctx, req, req.GetResponseDefinition())
	if err != nil {
		return nil, err
	}
	return &conformancev1.UnaryResponse{Payload: payload}, nil
}

// IdempotentUnary answers as Unary does. Connect clients call it with GET.
func (s *Server) IdempotentUnary(ctx context.Context, req *conformancev1.IdempotentUnaryRequest) (*conformancev1.IdempotentUnaryResponse, error) {
	payload, err := s.unary(ctx, req, req.GetResponseDefinition())
	if err != nil {
		return nil, err
	}
	return &conformancev1.IdempotentUnaryResponse{Payload: payload}, nil
}

// ServerStream sends the response headers of the request's definition
// at once, then each of its response data in a message, waiting its
// response delay before each, then ends with its trailers and its error,
// if any. The first message echoes what the server saw of the request; an
// error with no message before it carries that echo in its details.
func (s *Server) ServerStream(req *conformancev1.ServerStreamRequest, stream grpc.ServerStreamingServer[conformancev1.ServerStreamResponse]) error {
	ctx := stream.Context()
	reqAny, err := anypb.New(req)
	if err != nil {
		return grpcstatus.Errorf(codes.Internal, "unable to convert message: %v", err)
	}
	def := req.GetResponseDefinition()
	if def == nil {
		return nil
	}
	// The headers go out now, so that the client sees them before the
	// first message (or the error).
	if err := stream.SendHeader(toMetadata(def.GetResponseHeaders())); err != nil {
		return err
	}
	stream.SetTrailer(toMetadata(def.GetResponseTrailers()))
	sent := 0
	for _, data := range def.GetResponseData() {
		if err := sleep(ctx, time.Duration(def.GetResponseDelayMs())*time.Millisecond); err != nil {
			return err
		}
		resp := &conformancev1.ServerStreamResponse{Payload: &conformancev1.ConformancePayload{Data: data}}
		if sent == 0 {
			// The request info cannot change after the first message.
			resp.Payload.RequestInfo = s.requestInfo(ctx, reqAny)
		}
		if err := stream.Send(resp); err != nil {
			return err
		}
		sent++
	}
	e := def.GetError()
	if e == nil {
		return nil
	}
	details := append([]*anypb.Any(nil), e.GetDetails()...)
	if sent == 0 {
		infoAny, err := anypb.New(s.requestInfo(ctx, reqAny))
		if err != nil {
			return grpcstatus.Errorf(codes.Internal, "unable to convert request info: %v", err)
		}
		details = append(details, infoAny)
	}
	return grpcstatus.ErrorProto(&status.Status{Code: int32(e.GetCode()), Message: e.GetMessage(), Details: details})
}

// unary is both unary methods: it sets the response headers and trailers of
// def, waits its response delay, then returns its response data or error,
// echoing what the server saw of the request (headers, timeout, the request
// itself) in the payload or, for an error, in the error's details.
func (s *Server) unary(ctx context.Context, req proto.Message, def *conformancev1.UnaryResponseDefinition) (*conformancev1.ConformancePayload, error) {
	reqAny, err := anypb.New(req)
	if err != nil {
		return nil, grpcstatus.Errorf(codes.Internal, "unable to convert message: %v", err)
	}
	info := s.requestInfo(ctx, reqAny)
	if def != nil {
		if err := grpc.SetHeader(ctx, toMetadata(def.GetResponseHeaders())); err != nil {
			return nil, err
		}
		if err := grpc.SetTrailer(ctx, toMetadata(def.GetResponseTrailers())); err != nil {
			return nil, err
		}
		if err := sleep(ctx, time.Duration(def.GetResponseDelayMs())*time.Millisecond); err != nil {
			return nil, err
		}
	}
	if e := def.GetError(); e != nil {
		infoAny, err := anypb.New(info)
		if err != nil {
			return nil, grpcstatus.Errorf(codes.Internal, "unable to convert request info: %v", err)
		}
		return nil, grpcstatus.ErrorProto(&status.Status{
			Code:    int32(e.GetCode()),
			Message: e.GetMessage(),
			Details: append(append([]*anypb.Any(nil), e.GetDetails()...), infoAny),
		})
	}
	return &conformancev1.ConformancePayload{Data: def.GetResponseData(), RequestInfo: info}, nil
}

// requestInfo is what the server saw of the call.
func (s *Server) requestInfo(ctx context.Context, req *anypb.Any) *conformancev1.ConformancePayload_RequestInfo {
	md, _ := metadata.FromIncomingContext(ctx)
	info := &conformancev1.ConformancePayload_RequestInfo{
		RequestHeaders: fromMetadata(md),
		Requests:       []*anypb.Any{req},
	}
	timeout := s.Timeout
	if timeout == nil {
		timeout = DeadlineTimeout
	}
	if d, ok := timeout(ctx); ok {
		info.TimeoutMs = proto.Int64(max(d, 0).Milliseconds())
	}
	return info
}

// DeadlineTimeout is the time left until ctx's deadline, if it has one.
func DeadlineTimeout(ctx context.Context) (time.Duration, bool) {
	deadline, ok := ctx.Deadline()
	if !ok {
		return 0, false
	}
	return time.Until(deadline), true
}

// sleep waits d, or fails as grpc-go would answer if the call ends first.
func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return grpcstatus.FromContextError(ctx.Err()).Err()
	}
}

// toMetadata converts the suite's headers to metadata. The suite gives the
// values of "-bin" keys base64-encoded; metadata holds them raw.
func toMetadata(hdrs []*conformancev1.Header) metadata.MD {
	md := make(metadata.MD, len(hdrs))
	for _, h := range hdrs {
		key := strings.ToLower(h.GetName())
		for _, v := range h.GetValue() {
			if strings.HasSuffix(key, "-bin") {
				if b, err := decodeBinary(v); err == nil {
					v = string(b)
				}
			}
			md[key] = append(md[key], v)
		}
	}
	return md
}

// fromMetadata converts metadata to the suite's headers, "-bin" values
// base64-encoded.
func fromMetadata(md metadata.MD) []*conformancev1.Header {
	hdrs := make([]*conformancev1.Header, 0, len(md))
	for key, vals := range md {
		h := &conformancev1.Header{Name: key, Value: append([]string(nil), vals...)}
		if strings.HasSuffix(key, "-bin") {
			for i, v := range h.Value {
				h.Value[i] = base64.RawStdEncoding.EncodeToString([]byte(v))
			}
		}
		hdrs = append(hdrs, h)
	}
	return hdrs
}

// decodeBinary decodes a "-bin" value, padded or not, as connect-go does.
func decodeBinary(v string) ([]byte, error) {
	if len(v)%4 != 0 {
		return base64.RawStdEncoding.DecodeString(v)
	}
	return base64.StdEncoding.DecodeString(v)
}
