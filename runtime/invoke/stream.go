package invoke

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/smithy-go/middleware"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/stats"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/protoc-gen-go-lambda/protoc-gen-go-lambda/runtime/internal/wire"
)

// This file is the client side of server streaming: a server-streaming
// call is one invocation through the Lambda InvokeWithResponseStream API,
// whose answer is the frames of docs/protocol.md ("Streamed responses"),
// read as they come. The grpc.ClientStream it returns behaves as grpc-go's
// (stream.go, clientStream and clientStreamWrapper, v1.85):
//
//   - SendMsg takes the one request message and sends it: the invocation
//     starts then, as grpc-go's client writes the request when it is sent
//     (and closes the send side after it, a server-streaming call having
//     one request). A second SendMsg fails with INTERNAL "SendMsg called
//     after CloseSend"; CloseSend is a no-op after it, and without it ends
//     the call with the INTERNAL cardinality violation a grpc-go server
//     answers a request without a message.
//   - Header waits for the header metadata: the header frame, the first
//     message, or the end frame's header. A call that ends without any
//     (trailers-only: an error before the handler sent anything, a failed
//     invocation, the caller's context) makes Header return nil, nil and
//     end the call; RecvMsg then returns its status.
//   - RecvMsg returns the messages in order, then io.EOF when the call ended
//     OK or its status error; Trailer is the trailer once it has ended.
//   - When the call's context is done the call ends at once with CANCELLED
//     or DEADLINE_EXCEEDED ("context canceled", "context deadline
//     exceeded"), whatever is buffered, and the response stream is closed;
//     stats handlers and grpc.OnFinish hear of it without a RecvMsg.
//
// Stats handlers (WithStatsHandler) see grpc-go's events for a client
// stream: TagRPC, Begin and OutHeader in NewStream; OutPayload in SendMsg;
// InHeader when the header arrives (not for a trailers-only answer, as
// grpc-go reports none then); InPayload for each message, in RecvMsg;
// InTrailer when the call ends with the function's status (not when the
// caller's context or the client ended it); End with the call's error. As
// for unary calls, a message's WireLength is its frame (5 bytes more than
// the message) and InHeader's WireLength is 0.
//
// A stream is never retried: the SDK call carries no retryer, whatever the
// RetryPolicy (docs/errors.md, "Server-streaming calls").

// StreamInvoker calls a Lambda function with a streamed response.
// *lambda.Client from github.com/aws/aws-sdk-go-v2/service/lambda satisfies
// it, and so does *lambdatest.Invoker. A ClientConn whose Invoker is also a
// StreamInvoker carries server-streaming methods.
type StreamInvoker interface {
	InvokeWithResponseStream(ctx context.Context, params *lambda.InvokeWithResponseStreamInput, optFns ...func(*lambda.Options)) (*lambda.InvokeWithResponseStreamOutput, error)
}

// errMissingStatus ends a response stream that stops before its end frame
// without a function error from Lambda, as grpc-go's client reports a
// stream closed without trailers.
var errMissingStatus = status.Error(codes.Internal, "lambda: the response stream ended without a status")

// maxMetadataFrame bounds a header or end frame: grpc-go's client refuses
// header lists over 16 MiB by default (MaxHeaderListSize).
const maxMetadataFrame = 16 << 20

// streamSDKOptions are the SDK options of a stream's invocation, without
// and with the check that secure credentials go out over HTTPS: no
// retryer; the attempt's request body without WriteTo (attempt.go; the
// response is read long after the SDK has closed the request body); and a
// protocol of the call's own. smithy-go keeps per-call event stream
// decoding state in the codec of the client's protocol, shared by all of
// the client's calls: concurrent streams on one *lambda.Client are a data
// race (aws/smithy-go#714, benign today but reported by the race
// detector). A fresh protocol per call (StreamProtocol) has its own codec.
var streamSDKOptions = [2]func(*lambda.Options){streamOptions(), streamOptions(addSecureEndpointGuard)}

func streamOptions(extra ...func(*middleware.Stack) error) func(*lambda.Options) {
	apis := append([]func(*middleware.Stack) error{addAttemptMiddleware}, extra...)
	return func(o *lambda.Options) {
		o.Retryer = aws.NopRetryer{}
		StreamProtocol(o)
		o.APIOptions = append(o.APIOptions[:len(o.APIOptions):len(o.APIOptions)], apis...)
	}
}

// NewStream begins a server-streaming call, one invocation through the
// InvokeWithResponseStream API; the ClientConn's Invoker must implement
// StreamInvoker (*lambda.Client does). The returned stream behaves as
// grpc-go's client stream (see the top of stream.go). Client-streaming and
// bidirectional methods fail with UNIMPLEMENTED: a Lambda invocation takes
// its whole request before the function starts. Unary interceptors do not
// run around streams, as on grpc-go.
func (cc *ClientConn) NewStream(ctx context.Context, desc *grpc.StreamDesc, method string, opts ...grpc.CallOption) (_ grpc.ClientStream, err error) {
	if len(cc.opts.callOptions) > 0 {
		opts = append(cc.opts.callOptions[:len(cc.opts.callOptions):len(cc.opts.callOptions)], opts...)
	}
	ci := newCallInfo(opts)
	defer func() {
		if err != nil {
			// grpc-go runs OnFinish for a stream it could not create.
			for _, f := range ci.onFinish {
				f(err)
			}
		}
	}()
	if desc.ClientStreams {
		return nil, status.Errorf(codes.Unimplemented, "lambda: %s is a %s method; a Lambda invocation takes its whole request before the function starts, so only unary and server-streaming methods are carried", method, wire.StreamKind(desc))
	}
	si, ok := cc.invoker.(StreamInvoker)
	if !ok && !cc.opts.buffered {
		return nil, status.Errorf(codes.Unimplemented, "lambda: %s is a %s method, and the ClientConn's Invoker (%T) does not implement invoke.StreamInvoker (InvokeWithResponseStream)", method, wire.StreamKind(desc), cc.invoker)
	}
	if err := ctx.Err(); err != nil {
		return nil, status.FromContextError(err).Err()
	}
	var cs *callStats
	if cc.opts.stats != nil {
		ctx, cs = cc.opts.stats.beginCall(ctx, method, ci.failFast, desc.ServerStreams)
	}
	md, err := cc.outgoingMetadata(ctx, method, ci.creds)
	if err != nil {
		if cs != nil {
			cs.finish(err, nil)
		}
		return nil, err
	}
	if cs != nil {
		cs.sendHeader(method, md, ci.creds != nil)
	}
	s := &clientStream{
		cc:          cc,
		si:          si,
		desc:        desc,
		method:      method,
		ci:          ci,
		md:          md,
		stats:       cs,
		secureCreds: ci.creds != nil && ci.creds.RequireTransportSecurity(),
		headerReady: make(chan struct{}),
		items:       make(chan streamItem, 1),
		free:        make(chan []byte, 2),
		done:        make(chan struct{}),
		finishDone:  make(chan struct{}),
	}
	s.ctx, s.cancel = context.WithCancel(ctx)
	// The caller's context ends the call without waiting for a RecvMsg, as
	// grpc-go's client stream watches it.
	s.stopWatch = context.AfterFunc(ctx, func() {
		s.finish(status.FromContextError(ctx.Err()).Err(), nil)
	})
	return s, nil
}

// clientStream is one server-streaming call. The goroutine started by
// SendMsg (run) invokes the function and reads the answer's frames; it
// publishes the header (headerReady) and hands the messages and the end to
// RecvMsg through items, in order. finish ends the call once, whoever gets
// there first: RecvMsg at the end, Header for a trailers-only answer,
// SendMsg's failure, or the caller's context.
type clientStream struct {
	cc          *ClientConn
	si          StreamInvoker
	desc        *grpc.StreamDesc
	method      string
	ci          callInfo
	md          metadata.MD
	stats       *callStats // nil without stats handlers
	secureCreds bool

	ctx       context.Context // the call's; canceled by finish
	cancel    context.CancelFunc
	stopWatch func() bool

	// The send side, used by SendMsg and CloseSend (one goroutine at a time,
	// as grpc-go requires).
	sentLast bool

	// Written by run (or CloseSend) before headerReady is closed, read after.
	headerReady  chan struct{}
	header       metadata.MD
	trailersOnly *streamEnd // the end, when it came without a header

	items chan streamItem
	free  chan []byte // message buffers RecvMsg is done with, for run

	// RecvMsg's own state.
	received int

	mu       sync.Mutex
	finished bool
	err      error // the call's status; nil for OK
	trailer  metadata.MD
	es       *lambda.InvokeWithResponseStreamEventStream
	done     chan struct{} // closed by finish
	// finishDone is closed when finish has also filled in the call
	// options and run OnFinish.
	finishDone chan struct{}
}

var _ grpc.ClientStream = (*clientStream)(nil)

// streamItem is a message frame's data, or the end of the answer.
type streamItem struct {
	msg []byte
	end *streamEnd
}

// streamEnd is how a call ended.
type streamEnd struct {
	err     error       // nil for OK
	trailer metadata.MD // the trailer the caller gets
	status  bool        // the function's status arrived: InTrailer is reported
}

// Context returns the call's context.
func (s *clientStream) Context() context.Context { return s.ctx }

// SendMsg sends the request, the call's one message, and starts the
// invocation. It fails for a message that cannot be marshaled or is too
// large, and for a second message; the call then ends with that status.
func (s *clientStream) SendMsg(m any) (err error) {
	defer func() {
		if err != nil {
			s.finish(err, nil)
		}
	}()
	if s.sentLast {
		return status.Error(codes.Internal, "SendMsg called after CloseSend")
	}
	s.sentLast = true
	if s.isFinished() {
		// grpc-go's SendMsg on an ended call returns nil (io.EOF, hidden by
		// its wrapper for a non-client-streaming call); RecvMsg tells why.
		return nil
	}
	if err := s.ctx.Err(); err != nil {
		return status.FromContextError(err).Err()
	}
	buf, err := wire.MarshalMessage(m, s.cc.opts.jsonMode)
	if err != nil {
		return status.Errorf(codes.Internal, "grpc: error while marshaling: %v", err)
	}
	defer buf.Free()
	body := buf.B
	if len(body) > s.ci.maxSend {
		return status.Errorf(codes.ResourceExhausted, "trying to send message larger than max (%d vs. %d)", len(body), s.ci.maxSend)
	}
	var timeout time.Duration
	if d, ok := s.ctx.Deadline(); ok {
		if timeout = time.Until(d); timeout <= 0 {
			return status.FromContextError(context.DeadlineExceeded).Err()
		}
		if timeout > wire.MaxTimeout-time.Millisecond {
			timeout = wire.MaxTimeout // see ClientConn.invoke
		}
	}
	jsonMode := s.cc.opts.jsonMode
	payload := wire.AppendRequest(make([]byte, 0, wire.RequestSize(s.method, s.md, len(body), jsonMode)), s.method, timeout, s.md, body, jsonMode)
	if len(payload) > wire.MaxPayloadSize {
		return status.Errorf(codes.ResourceExhausted, "lambda: request payload of %d bytes exceeds the Lambda limit of %d bytes for a synchronous invocation", len(payload), wire.MaxPayloadSize)
	}
	if s.stats != nil {
		s.stats.sendPayload(m, body, jsonMode)
	}
	go s.run(payload)
	return nil
}

// CloseSend closes the send side. After SendMsg there is nothing to do;
// without it the call ends as a grpc-go server ends a call of a
// non-client-streaming method that got no request message.
func (s *clientStream) CloseSend() error {
	if s.sentLast {
		return nil
	}
	s.sentLast = true
	s.publishEnd(&streamEnd{err: status.Error(codes.Internal, "cardinality violation: received no request message from non-client-streaming RPC"), status: true})
	return nil
}

// Header returns the response header metadata once it has come. For a call
// that ended without one it returns nil, nil and ends the call; RecvMsg
// returns its status.
func (s *clientStream) Header() (metadata.MD, error) {
	select {
	case <-s.headerReady:
	case <-s.done:
		select {
		case <-s.headerReady:
		default:
			<-s.finishDone
			return nil, nil
		}
	}
	if s.trailersOnly != nil {
		s.finish(s.trailersOnly.err, s.trailersOnly)
		return nil, nil
	}
	return s.header.Copy(), nil
}

// Trailer returns the trailer metadata once the call has ended (RecvMsg
// returned an error or io.EOF); nil before.
func (s *clientStream) Trailer() metadata.MD {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.trailer
}

// RecvMsg receives the next message into m. At the end of the stream it
// returns io.EOF if the call succeeded, or its status error.
func (s *clientStream) RecvMsg(m any) error {
	err := s.recvMsg(m)
	if err != nil || s.desc.ServerStreams {
		return err
	}
	// A unary method through a stream: exactly one message, then the end,
	// as grpc-go's clientStreamWrapper checks.
	switch err = s.recvMsg(m); err {
	case io.EOF:
		return nil
	case nil:
		err = status.Error(codes.Internal, "cardinality violation: expected <EOF> for non server-streaming RPCs, but received another message")
		s.finish(err, nil)
	}
	return err
}

func (s *clientStream) recvMsg(m any) error {
	select {
	case <-s.done:
		return s.result()
	default:
	}
	var it streamItem
	select {
	case it = <-s.items:
	case <-s.done:
		return s.result()
	}
	if it.end != nil {
		if it.end.err == nil && !s.desc.ServerStreams && s.received == 0 {
			s.finish(status.Error(codes.Internal, "cardinality violation: received no response message from non-server-streaming RPC"), it.end)
		} else {
			s.finish(it.end.err, it.end)
		}
		return s.result()
	}
	s.received++
	err := s.unmarshal(it.msg, m)
	if err != nil {
		s.finish(err, nil)
		return s.result()
	}
	if s.stats != nil {
		s.stats.s.h.HandleRPC(s.stats.ctx, &stats.InPayload{Client: true, Payload: m, Length: len(it.msg), CompressedLength: len(it.msg), WireLength: len(it.msg) + wire.FramePrefixSize, RecvTime: time.Now()})
	}
	select {
	case s.free <- it.msg:
	default:
	}
	return nil
}

// result is the ended call's RecvMsg error: io.EOF for OK. It waits for
// finish to have filled in grpc.Header and grpc.Trailer and run OnFinish,
// as grpc-go's RecvMsg does, whoever ended the call.
func (s *clientStream) result() error {
	<-s.finishDone
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err == nil {
		return io.EOF
	}
	return s.err
}

// unmarshal decodes a message frame, with grpc-go's messages.
func (s *clientStream) unmarshal(data []byte, m any) error {
	pm, ok := m.(proto.Message)
	if !ok {
		return status.Errorf(codes.Internal, "grpc: failed to unmarshal the received message: failed to unmarshal, message is %T, want proto.Message", m)
	}
	var err error
	if s.cc.opts.jsonMode {
		err = protojson.UnmarshalOptions{DiscardUnknown: true}.Unmarshal(data, pm)
	} else {
		err = proto.Unmarshal(data, pm)
	}
	if err != nil {
		return status.Errorf(codes.Internal, "grpc: failed to unmarshal the received message: %v", err)
	}
	return nil
}

func (s *clientStream) isFinished() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.finished
}

// finish ends the call with err (nil for OK) once: the response stream is
// closed, the call options get the header and trailer, and stats handlers
// and OnFinish hear of the end. end is how the answer ended, when it did.
func (s *clientStream) finish(err error, end *streamEnd) {
	s.mu.Lock()
	if s.finished {
		s.mu.Unlock()
		return
	}
	s.finished = true
	s.err = err
	if end != nil {
		s.trailer = end.trailer
	}
	es := s.es
	s.mu.Unlock()
	close(s.done)
	s.stopWatch()
	s.cancel()
	if es != nil {
		es.Close()
	}
	var header metadata.MD
	select {
	case <-s.headerReady:
		if s.trailersOnly == nil {
			header = s.header.Copy()
		}
	default:
	}
	for _, h := range s.ci.headers {
		*h = header
	}
	for _, t := range s.ci.trailers {
		*t = s.trailer
	}
	if s.stats != nil {
		if end != nil && end.status {
			s.stats.receiveTrailer(end.trailer)
		}
		s.stats.finish(err, s.trailer)
	}
	for _, f := range s.ci.onFinish {
		f(err)
	}
	close(s.finishDone)
}

// publishHeader makes md the call's header (not nil: a header came).
func (s *clientStream) publishHeader(md metadata.MD) {
	if md == nil {
		md = metadata.MD{}
	}
	s.header = md
	if s.stats != nil {
		s.stats.inHeader = stats.InHeader{Client: true, Header: md}
		s.stats.s.h.HandleRPC(s.stats.ctx, &s.stats.inHeader)
	}
	close(s.headerReady)
}

// publishEnd hands the end of the answer to RecvMsg (after the messages
// before it); with no header yet, the call was trailers-only.
func (s *clientStream) publishEnd(end *streamEnd) {
	select {
	case <-s.headerReady:
	default:
		s.trailersOnly = end
		close(s.headerReady)
	}
	select {
	case s.items <- streamItem{end: end}:
	case <-s.done:
	}
}

// run invokes the function and reads its answer.
func (s *clientStream) run(payload []byte) {
	if s.cc.opts.buffered {
		s.runBuffered(payload)
		return
	}
	in := &lambda.InvokeWithResponseStreamInput{
		FunctionName:   s.cc.fnName,
		Qualifier:      s.cc.qualifier,
		InvocationType: types.ResponseStreamingInvocationTypeRequestResponse,
		Payload:        payload,
	}
	out, err := s.si.InvokeWithResponseStream(s.ctx, in, streamSDKOptions[b2i(s.secureCreds)])
	switch {
	case err != nil:
		s.invokeFailed(err)
		return
	case out == nil || out.GetStream() == nil:
		s.publishEnd(&streamEnd{err: status.Error(codes.Internal, "lambda: the invoker returned neither a response stream nor an error")})
		return
	}
	es := out.GetStream()
	s.mu.Lock()
	if s.finished {
		s.mu.Unlock()
		es.Close()
		return
	}
	s.es = es
	s.mu.Unlock()
	r := &eventReader{events: es.Events(), done: s.ctx.Done()}
	end := s.read(r)
	if end == nil {
		return // the call has ended
	}
	if end.err != nil && !end.status {
		// The answer broke off: what Lambda said of it, if anything.
		if r.complete != nil && aws.ToString(r.complete.ErrorCode) != "" {
			end.err = completeStatus(r.complete).Err()
		} else if err := es.Err(); err != nil && errors.Is(end.err, errMissingStatus) {
			end.err = invokeErrorStatus(err).Err()
		}
	}
	if end.status {
		// The rest of the answer (InvokeComplete) is read before the status
		// goes out, so that the SDK's reader finishes and the connection
		// can be reused; the function has returned, or is about to.
		r.drain()
	}
	if s.ctx.Err() != nil {
		return
	}
	s.publishEnd(end)
}

// invokeFailed ends the call whose invocation failed with err, unless the
// caller's context ended it (finish has run, or will).
func (s *clientStream) invokeFailed(err error) {
	if s.ctx.Err() != nil {
		return
	}
	st := invokeErrorStatus(err)
	if isInsecureCredentialsError(err) {
		st = status.Convert(errInsecureCredentials)
	}
	s.publishEnd(&streamEnd{err: st.Err()})
}

// runBuffered invokes the function with plain Invoke (WithBufferedStreams)
// and reads the answer it returns all at once.
func (s *clientStream) runBuffered(payload []byte) {
	in := &lambda.InvokeInput{
		FunctionName:   s.cc.fnName,
		Qualifier:      s.cc.qualifier,
		InvocationType: types.InvocationTypeRequestResponse,
		Payload:        payload,
	}
	out, err := s.cc.invoker.Invoke(s.ctx, in, streamSDKOptions[b2i(s.secureCreds)])
	switch {
	case err != nil:
		s.invokeFailed(err)
		return
	case out == nil:
		s.publishEnd(&streamEnd{err: status.Error(codes.Internal, "lambda: the invoker returned neither an output nor an error")})
		return
	case out.FunctionError != nil:
		env, _ := wire.ParseResponse(out.Payload)
		s.publishEnd(&streamEnd{err: functionErrorStatus(aws.ToString(out.FunctionError), env, out.Payload).Err()})
		return
	}
	r := &eventReader{cur: out.Payload, eof: true, closed: true, done: s.ctx.Done()}
	end := s.read(r)
	if end == nil || s.ctx.Err() != nil {
		return
	}
	s.publishEnd(end)
}

// read reads the answer's frames, handing messages to RecvMsg, and returns
// how it ended; nil when the call ended first.
func (s *clientStream) read(r *eventReader) *streamEnd {
	first, err := r.peek()
	if err != nil {
		return s.readError(err)
	}
	if first == '{' {
		return s.readEnvelope(r)
	}
	var prefix [wire.FramePrefixSize]byte
	for {
		if _, err := io.ReadFull(r, prefix[:]); err != nil {
			return s.readError(err)
		}
		flags, n := prefix[0], int64(binary.BigEndian.Uint32(prefix[1:]))
		switch flags {
		case wire.FrameMessage:
			if n > int64(s.ci.maxRecv) {
				return &streamEnd{err: status.Error(codes.ResourceExhausted, (&wire.FrameTooLargeError{Size: int(n), Max: s.ci.maxRecv}).Error())}
			}
		case wire.FrameHeader, wire.FrameEnd:
			if n > maxMetadataFrame {
				return &streamEnd{err: status.Errorf(codes.Internal, "lambda: malformed response stream: a frame of %d bytes of metadata", n)}
			}
		default:
			return &streamEnd{err: status.Errorf(codes.Internal, "lambda: malformed response stream: unknown frame flags 0x%02x", flags)}
		}
		var data []byte
		if flags == wire.FrameMessage {
			select {
			case data = <-s.free:
			default:
			}
		}
		if int64(cap(data)) < n {
			data = make([]byte, n)
		}
		data = data[:n]
		if _, err := io.ReadFull(r, data); err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return s.readError(err)
		}
		headerDone := false
		select {
		case <-s.headerReady:
			headerDone = true
		default:
		}
		switch flags {
		case wire.FrameHeader:
			if headerDone {
				return &streamEnd{err: status.Error(codes.Internal, "lambda: malformed response stream: a header frame after the header or a message")}
			}
			md, err := wire.ParseHeaderFrame(data)
			if err != nil {
				return &streamEnd{err: status.Errorf(codes.Internal, "lambda: malformed header frame: %v", err)}
			}
			s.publishHeader(md)
		case wire.FrameMessage:
			if !headerDone {
				s.publishHeader(nil)
			}
			select {
			case s.items <- streamItem{msg: data}:
			case <-s.done:
				return nil
			}
		case wire.FrameEnd:
			return s.endFrame(data, headerDone)
		}
	}
}

// endFrame reads the end frame: the call's status.
func (s *clientStream) endFrame(data []byte, headerDone bool) *streamEnd {
	env, err := wire.ParseResponse(data)
	switch {
	case err != nil || env.FunctionError != nil:
		return &streamEnd{err: status.Errorf(codes.Internal, "lambda: malformed end frame: %s", truncate(data))}
	case env.Version != wire.EnvelopeVersion:
		return &streamEnd{err: status.Errorf(codes.Internal, "lambda: stream framing version %d is not supported; this client speaks version %d", env.Version, wire.EnvelopeVersion)}
	case !env.HasCode:
		return &streamEnd{err: status.Error(codes.Internal, `lambda: malformed end frame: no "code"`)}
	}
	if !headerDone && len(env.Header) > 0 {
		// A call that failed before sending anything, with header metadata:
		// grpc-go's client sees the header, then the trailer.
		s.publishHeader(env.Header)
	}
	return envelopeEnd(env)
}

// envelopeEnd is the end of a call whose status env carries.
func envelopeEnd(env *wire.Response) *streamEnd {
	if env.Code != 0 {
		st, trailer := responseStatus(env)
		return &streamEnd{err: st.Err(), trailer: trailer, status: true}
	}
	end := &streamEnd{trailer: env.Trailer, status: true}
	if v, ok := env.Trailer[wire.StatusDetailsKey]; ok {
		end.err = detailsStatus(codes.OK, "", v).Err()
	}
	return end
}

// readEnvelope reads an answer that is not framed: one response envelope,
// as a unary call's (a request the server refused before dispatching it), or
// a function error document.
func (s *clientStream) readEnvelope(r *eventReader) *streamEnd {
	payload, err := io.ReadAll(io.LimitReader(r, wire.MaxPayloadSize+1))
	if err != nil {
		return s.readError(err)
	}
	if r.complete != nil && aws.ToString(r.complete.ErrorCode) != "" {
		return &streamEnd{err: completeStatus(r.complete).Err()}
	}
	if len(payload) > wire.MaxPayloadSize {
		return &streamEnd{err: nonEnvelopeStatus(payload).Err()}
	}
	env, st := decodeResponse(&lambda.InvokeOutput{Payload: payload}, false)
	if st != nil {
		return &streamEnd{err: st.Err()}
	}
	if env.Code == 0 || len(env.Header) > 0 {
		s.publishHeader(env.Header)
	}
	if env.Code == 0 {
		// A unary answer (a unary method called through a stream): its
		// message, then OK.
		var msg []byte
		if env.HasJSON {
			msg = env.JSON
		} else {
			if n := wire.Base64DecodedLen(env.Body); n > s.ci.maxRecv {
				return &streamEnd{err: status.Errorf(codes.ResourceExhausted, "grpc: received message larger than max (%d vs. %d)", n, s.ci.maxRecv)}
			}
			if msg, err = wire.DecodeBase64(nil, env.Body); err != nil {
				return &streamEnd{err: status.Errorf(codes.Internal, "grpc: failed to unmarshal the received message: body is not valid base64: %v", err)}
			}
		}
		if len(msg) > s.ci.maxRecv {
			return &streamEnd{err: status.Errorf(codes.ResourceExhausted, "grpc: received message larger than max (%d vs. %d)", len(msg), s.ci.maxRecv)}
		}
		select {
		case s.items <- streamItem{msg: msg}:
		case <-s.done:
			return nil
		}
	}
	return envelopeEnd(env)
}

// readError is the end of an answer whose reading failed with err.
func (s *clientStream) readError(err error) *streamEnd {
	switch {
	case errors.Is(err, errStreamDone):
		return nil
	case err == io.EOF || err == io.ErrUnexpectedEOF:
		return &streamEnd{err: errMissingStatus}
	}
	return &streamEnd{err: status.Errorf(codes.Internal, "lambda: reading the response stream: %v", err)}
}

// completeStatus maps a function error that Lambda reported in the
// InvokeComplete event, as errors.go maps one reported by Invoke.
// ErrorCode is the kind ("Unhandled", "Handled") or the error type
// ("Sandbox.Timedout"); ErrorDetails is Lambda's error document or a
// message.
func completeStatus(c *types.InvokeWithResponseStreamCompleteEvent) *status.Status {
	code, details := aws.ToString(c.ErrorCode), aws.ToString(c.ErrorDetails)
	var fe wire.FunctionError
	if env, err := wire.ParseResponse([]byte(details)); err == nil && env.FunctionError != nil {
		fe = *env.FunctionError
	} else {
		fe.Message = details
	}
	kind := ""
	switch {
	case code == "Unhandled" || code == "Handled":
		kind = code
	case fe.Type == "":
		fe.Type = code
	case fe.Type != code:
		kind = code
	}
	return functionErrorStatus(kind, &wire.Response{FunctionError: &fe}, nil)
}

// errStreamDone is what eventReader returns once the call has ended.
var errStreamDone = errors.New("lambda: the call has ended")

// eventReader reads the payload chunks of a response stream as one byte
// stream. It stops at the InvokeComplete event, or when done is closed.
type eventReader struct {
	events   <-chan types.InvokeWithResponseStreamResponseEvent
	done     <-chan struct{}
	cur      []byte
	eof      bool // no more payload
	closed   bool // events is closed
	complete *types.InvokeWithResponseStreamCompleteEvent
}

func (r *eventReader) fill() error {
	for len(r.cur) == 0 {
		if r.eof {
			return io.EOF
		}
		select {
		case ev, ok := <-r.events:
			if !ok {
				r.eof, r.closed = true, true
				continue
			}
			switch ev := ev.(type) {
			case *types.InvokeWithResponseStreamResponseEventMemberPayloadChunk:
				r.cur = ev.Value.Payload
			case *types.InvokeWithResponseStreamResponseEventMemberInvokeComplete:
				c := ev.Value
				r.complete = &c
				r.eof = true
			}
		case <-r.done:
			return errStreamDone
		}
	}
	return nil
}

// drain reads the events left, to the end of the response stream.
func (r *eventReader) drain() {
	for !r.closed {
		select {
		case _, ok := <-r.events:
			r.closed = !ok
		case <-r.done:
			return
		}
	}
}

func (r *eventReader) peek() (byte, error) {
	if err := r.fill(); err != nil {
		return 0, err
	}
	return r.cur[0], nil
}

func (r *eventReader) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	if err := r.fill(); err != nil {
		return 0, err
	}
	n := copy(p, r.cur)
	r.cur = r.cur[n:]
	return n, nil
}

// String describes the stream for debugging.
func (s *clientStream) String() string {
	return fmt.Sprintf("lambda stream %s to %s", s.method, s.cc)
}
