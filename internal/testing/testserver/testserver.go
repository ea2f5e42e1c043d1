// Package testserver implements lambdatest.v1.TestService, whose every
// behaviour the request chooses, for the tests of this repository: the same
// implementation runs in-process, inside the test function under the Lambda
// emulator, and on a grpc.Server for side-by-side comparison.
package testserver

import (
	"context"
	"fmt"
	"slices"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	spb "google.golang.org/genproto/googleapis/rpc/status"

	"github.com/protoc-gen-go-lambda/protoc-gen-go-lambda/internal/testing/testpb"
)

// Server implements TestService for grpc.Server and Lambda alike.
type Server struct {
	testpb.UnimplementedTestServiceServer

	// ExitProcess ends the process for the Exit method. Only the test
	// function sets it (to os.Exit); in-process it is nil and Exit fails.
	ExitProcess func(code int)
}

var (
	_ testpb.TestServiceServer       = (*Server)(nil)
	_ testpb.TestServiceLambdaServer = (*Server)(nil)
)

// Echo implements TestService.Echo.
func (s *Server) Echo(ctx context.Context, req *testpb.EchoRequest) (*testpb.EchoResponse, error) {
	if err := grpc.SetHeader(ctx, MD(req.GetHeader())); err != nil {
		return nil, err
	}
	if p := req.GetSendHeader(); len(p) > 0 {
		if err := grpc.SendHeader(ctx, MD(p)); err != nil {
			return nil, err
		}
	}
	if err := grpc.SetTrailer(ctx, MD(req.GetTrailer())); err != nil {
		return nil, err
	}
	if f := req.GetFail(); f != nil {
		return nil, status.FromProto(&spb.Status{Code: f.GetCode(), Message: f.GetMessage(), Details: f.GetDetails()}).Err()
	}
	resp := &testpb.EchoResponse{Message: req.GetMessage(), Payload: req.GetPayload()}
	if n := req.GetResponseSize(); n > 0 {
		resp.Payload = make([]byte, n)
		for i := range resp.Payload {
			resp.Payload[i] = byte(i)
		}
	}
	md, _ := metadata.FromIncomingContext(ctx)
	resp.Incoming = Pairs(md)
	if d, ok := ctx.Deadline(); ok {
		resp.HasDeadline = true
		resp.DeadlineMs = time.Until(d).Milliseconds()
	}
	resp.Method, _ = grpc.Method(ctx)
	return resp, nil
}

// Retry implements TestService.Retry, an idempotent Echo.
func (s *Server) Retry(ctx context.Context, req *testpb.EchoRequest) (*testpb.EchoResponse, error) {
	return s.Echo(ctx, req)
}

// Sleep implements TestService.Sleep.
func (s *Server) Sleep(ctx context.Context, req *testpb.SleepRequest) (*testpb.EchoResponse, error) {
	d := time.Duration(req.GetMillis()) * time.Millisecond
	if req.GetIgnoreContext() {
		time.Sleep(d)
		return &testpb.EchoResponse{Message: "slept"}, nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return nil, status.FromContextError(ctx.Err()).Err()
	case <-t.C:
		return &testpb.EchoResponse{Message: "slept"}, nil
	}
}

// Panic implements TestService.Panic.
func (s *Server) Panic(_ context.Context, req *testpb.EchoRequest) (*testpb.EchoResponse, error) {
	panic(req.GetMessage())
}

// Exit implements TestService.Exit.
func (s *Server) Exit(_ context.Context, req *testpb.ExitRequest) (*testpb.EchoResponse, error) {
	if s.ExitProcess == nil {
		return nil, status.Error(codes.FailedPrecondition, "Exit works only in the test function")
	}
	s.ExitProcess(int(req.GetCode()))
	return nil, status.Error(codes.Internal, "still running after exit")
}

// Stream implements TestService.Stream.
func (s *Server) Stream(req *testpb.EchoRequest, stream grpc.ServerStreamingServer[testpb.EchoResponse]) error {
	ctx := stream.Context()
	if err := stream.SetHeader(MD(req.GetHeader())); err != nil {
		return err
	}
	if p := req.GetSendHeader(); len(p) > 0 {
		if err := stream.SendHeader(MD(p)); err != nil {
			return err
		}
	}
	for i := range int(req.GetCount()) {
		if d := time.Duration(req.GetIntervalMillis()) * time.Millisecond; i > 0 && d > 0 {
			t := time.NewTimer(d)
			select {
			case <-ctx.Done():
				t.Stop()
				return status.FromContextError(ctx.Err()).Err()
			case <-t.C:
			}
		}
		resp := &testpb.EchoResponse{Message: fmt.Sprintf("%s %d", req.GetMessage(), i), Payload: req.GetPayload()}
		if size := req.GetResponseSize(); size > 0 {
			resp.Payload = make([]byte, size)
			for j := range resp.Payload {
				resp.Payload[j] = byte(j)
			}
		}
		if err := stream.Send(resp); err != nil {
			return err
		}
	}
	stream.SetTrailer(MD(req.GetTrailer()))
	if f := req.GetFail(); f != nil {
		return status.FromProto(&spb.Status{Code: f.GetCode(), Message: f.GetMessage(), Details: f.GetDetails()}).Err()
	}
	return nil
}

// MD turns pairs into metadata, or nil for none.
func MD(pairs []*testpb.Pair) metadata.MD {
	if len(pairs) == 0 {
		return nil
	}
	md := metadata.MD{}
	for _, p := range pairs {
		md.Append(p.GetKey(), string(p.GetValue()))
	}
	return md
}

// Pairs turns metadata into pairs sorted by key, values in order.
func Pairs(md metadata.MD) []*testpb.Pair {
	keys := make([]string, 0, len(md))
	for k := range md {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var out []*testpb.Pair
	for _, k := range keys {
		for _, v := range md[k] {
			out = append(out, &testpb.Pair{Key: k, Value: []byte(v)})
		}
	}
	return out
}
