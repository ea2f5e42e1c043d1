package runtime

import (
	"context"
	"fmt"
	"log"
	"math"
	"reflect"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/protoc-gen-go-lambda/protoc-gen-go-lambda/runtime/internal/wire"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// Server serves gRPC services as a Lambda function: one invocation is one
// unary RPC. It implements lambda.Handler, so lambda.Start(srv) runs it
// without reflection, and grpc.ServiceRegistrar, so both the generated
// Register<Service>LambdaServer and protoc-gen-go-grpc's
// Register<Service>Server register services on it.
//
// Invoke never returns a Go error: every outcome, including bad input and
// panics, is a response envelope carrying a gRPC status, so application
// errors never show up as failed invocations.
type Server struct {
	opts        serverOptions
	interceptor grpc.UnaryServerInterceptor

	mu     sync.Mutex                 // serialises registration
	routes atomic.Pointer[routeTable] // read without locks on every call
}

var (
	_ lambda.Handler        = (*Server)(nil)
	_ grpc.ServiceRegistrar = (*Server)(nil)
	_ interface {
		GetServiceInfo() map[string]grpc.ServiceInfo
	} = (*Server)(nil)
)

// routeTable is immutable once published; registration copies it.
type routeTable struct {
	services map[string]*service // by full service name
	methods  map[string]*route   // by full method name, "/pkg.Service/Method"
}

type service struct {
	desc *grpc.ServiceDesc
	impl any
}

type route struct {
	service *service
	unary   grpc.MethodHandler
	stream  *grpc.StreamDesc // set for streaming methods
	method  string           // full method name
}

// NewServer returns a Server with no services; register them before the
// first invocation.
func NewServer(opts ...ServerOption) *Server {
	s := &Server{opts: newServerOptions(opts)}
	s.interceptor = chainUnaryServerInterceptors(s.opts.interceptors)
	s.routes.Store(&routeTable{services: map[string]*service{}, methods: map[string]*route{}})
	return s
}

// RegisterService registers a service and its implementation, as
// grpc.Server.RegisterService does. Like grpc-go, it treats an
// implementation that does not satisfy desc.HandlerType, or a second
// registration of the same service, as a programming error; grpc-go exits
// the process, this panics with grpc-go's message.
func (s *Server) RegisterService(desc *grpc.ServiceDesc, impl any) {
	if impl != nil && desc.HandlerType != nil {
		ht := reflect.TypeOf(desc.HandlerType).Elem()
		if st := reflect.TypeOf(impl); !st.Implements(ht) {
			panic(fmt.Sprintf("grpc: Server.RegisterService found the handler of type %v that does not satisfy %v", st, ht))
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	old := s.routes.Load()
	if _, ok := old.services[desc.ServiceName]; ok {
		panic(fmt.Sprintf("grpc: Server.RegisterService found duplicate service registration for %q", desc.ServiceName))
	}
	next := &routeTable{
		services: make(map[string]*service, len(old.services)+1),
		methods:  make(map[string]*route, len(old.methods)+len(desc.Methods)+len(desc.Streams)),
	}
	for k, v := range old.services {
		next.services[k] = v
	}
	for k, v := range old.methods {
		next.methods[k] = v
	}
	svc := &service{desc: desc, impl: impl}
	next.services[desc.ServiceName] = svc
	for i := range desc.Methods {
		m := &desc.Methods[i]
		full := "/" + desc.ServiceName + "/" + m.MethodName
		next.methods[full] = &route{service: svc, unary: m.Handler, method: full}
	}
	for i := range desc.Streams {
		sd := &desc.Streams[i]
		full := "/" + desc.ServiceName + "/" + sd.StreamName
		next.methods[full] = &route{service: svc, stream: sd, method: full}
	}
	s.routes.Store(next)
}

// GetServiceInfo returns the registered services and their methods, in the
// same form as grpc.Server.GetServiceInfo.
func (s *Server) GetServiceInfo() map[string]grpc.ServiceInfo {
	rt := s.routes.Load()
	out := make(map[string]grpc.ServiceInfo, len(rt.services))
	for name, svc := range rt.services {
		methods := make([]grpc.MethodInfo, 0, len(svc.desc.Methods)+len(svc.desc.Streams))
		for _, m := range svc.desc.Methods {
			methods = append(methods, grpc.MethodInfo{Name: m.MethodName})
		}
		for _, sd := range svc.desc.Streams {
			methods = append(methods, grpc.MethodInfo{Name: sd.StreamName, IsClientStream: sd.ClientStreams, IsServerStream: sd.ServerStreams})
		}
		out[name] = grpc.ServiceInfo{Methods: methods, Metadata: svc.desc.Metadata}
	}
	return out
}

// Invoke handles one Lambda invocation whose payload is a request envelope
// and returns the response envelope. It implements lambda.Handler. The
// returned error is always nil; see Server.
func (s *Server) Invoke(ctx context.Context, payload []byte) ([]byte, error) {
	return s.serve(ctx, payload), nil
}

// call is the state of one invocation, allocated once.
type call struct {
	srv      *Server
	env      wire.Request
	jsonMode bool
	stream   serverStream

	// env's body aliases the invocation payload, which aws-lambda-go hands
	// to the next invocation as soon as Invoke returns. A handler that
	// outlives its call (it ignored its deadline) must not read it then:
	// abandon, under mu, ends the payload's life for decode.
	mu        sync.Mutex
	abandoned error // set once Invoke answers without the handler
}

func (s *Server) serve(ctx context.Context, payload []byte) (out []byte) {
	jsonMode := false
	defer func() {
		// A last resort for a bug in this package: the function keeps serving.
		if p := recover(); p != nil {
			log.Printf("protoc-gen-go-lambda: panic while serving: %v\n%s", p, debug.Stack())
			out = s.statusResponse(status.New(codes.Internal, fmt.Sprintf("lambda: internal error: %v", p)), nil, nil, jsonMode)
		}
	}()
	c := &call{srv: s}
	if err := wire.ParseRequest(payload, &c.env); err != nil {
		return s.statusResponse(status.New(codes.Internal, "lambda: malformed request envelope: "+err.Error()), nil, nil, false)
	}
	jsonMode = c.env.HasJSON
	c.jsonMode = jsonMode
	if st := checkRequest(&c.env); st != nil {
		return s.statusResponse(st, nil, nil, jsonMode)
	}
	if st := checkIncomingMetadata(c.env.MD); st != nil {
		return s.statusResponse(st, nil, nil, jsonMode)
	}
	rt, st := s.lookup(c.env.Method)
	if st != nil {
		return s.statusResponse(st, nil, nil, jsonMode)
	}
	return c.run(ctx, rt)
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

// lookup finds the route of a method, or returns grpc-go's status for an
// unknown or malformed one.
func (s *Server) lookup(method string) (*route, *status.Status) {
	rt := s.routes.Load()
	if r, ok := rt.methods[method]; ok {
		if r.stream != nil {
			return nil, status.Newf(codes.Unimplemented, "lambda: %s is a %s method; the Lambda Invoke transport carries unary calls only", method, wire.StreamKind(r.stream))
		}
		return r, nil
	}
	sm, ok := strings.CutPrefix(method, "/")
	pos := strings.LastIndex(sm, "/")
	if !ok || pos == -1 {
		return nil, status.Newf(codes.Unimplemented, "malformed method name: %q", method)
	}
	svc, name := sm[:pos], sm[pos+1:]
	if _, ok := rt.services[svc]; !ok {
		return nil, status.Newf(codes.Unimplemented, "unknown service %v", svc)
	}
	return nil, status.Newf(codes.Unimplemented, "unknown method %v for service %v", name, svc)
}

// result is what a handler returned.
type result struct {
	resp any
	err  error
}

func (c *call) run(ctx context.Context, r *route) []byte {
	s := c.srv
	ctx, cancel := c.handlerContext(ctx)
	defer cancel()
	stream := &c.stream
	stream.method = r.method
	ctx = grpc.NewContextWithServerTransportStream(ctx, stream)
	md := c.env.MD
	if md == nil {
		md = metadata.MD{}
	}
	ctx = metadata.NewIncomingContext(ctx, md)

	var res result
	handlerDone := true
	if _, ok := ctx.Deadline(); !ok {
		// Without a deadline nothing can end the call early but the handler
		// itself, which sees its context's cancellation.
		res = c.handle(ctx, r)
	} else {
		// The handler runs on its own goroutine so that one that ignores its
		// context still gets a DEADLINE_EXCEEDED answer out before Lambda
		// kills the invocation; grpc-go likewise leaves such a handler running.
		done := make(chan result, 1)
		go func() { done <- c.handle(ctx, r) }()
		select {
		case res = <-done:
		case <-ctx.Done():
			select {
			case res = <-done: // finished at the same moment: keep its answer
			default:
				handlerDone = false
				res.err = status.FromContextError(ctx.Err()).Err()
				c.abandon(res.err)
			}
		}
	}
	header, trailer := stream.finish(handlerDone)
	if msg := invalidWireMetadata(header); msg != "" {
		return s.statusResponse(status.New(codes.Internal, msg), nil, nil, c.jsonMode)
	}
	if msg := invalidWireMetadata(trailer); msg != "" {
		return s.statusResponse(status.New(codes.Internal, msg), header, nil, c.jsonMode)
	}
	if res.err != nil {
		return s.statusResponse(toStatus(res.err), header, trailer, c.jsonMode)
	}
	buf, st := s.marshal(res.resp, c.jsonMode)
	if st != nil {
		return s.statusResponse(st, header, trailer, c.jsonMode)
	}
	out := wire.AppendResponse(make([]byte, 0, responseSize(len(buf.B), header, trailer, c.jsonMode)), 0, "", nil, header, trailer, buf.B, c.jsonMode)
	buf.Free()
	if len(out) > MaxPayloadSize {
		return s.statusResponse(status.Newf(codes.ResourceExhausted, "lambda: response payload of %d bytes exceeds the Lambda limit of %d bytes", len(out), MaxPayloadSize), header, trailer, c.jsonMode)
	}
	return out
}

// handlerContext gives the handler the earlier of the caller's deadline and
// the Lambda deadline less the margin.
func (c *call) handlerContext(ctx context.Context) (context.Context, context.CancelFunc) {
	var deadline time.Time
	if c.env.HasTimeout {
		deadline = time.Now().Add(c.env.Timeout)
	}
	if d, ok := ctx.Deadline(); ok {
		if d = d.Add(-c.srv.opts.deadlineMargin); deadline.IsZero() || d.Before(deadline) {
			deadline = d
		}
	}
	if deadline.IsZero() {
		if ctx.Done() == nil {
			// Nothing can cancel the call: save the context (an allocation).
			return ctx, func() {}
		}
		return context.WithCancel(ctx)
	}
	return context.WithDeadline(ctx, deadline)
}

// handle runs the method handler with the interceptor chain and turns a
// panic into INTERNAL, so one bad request cannot take the function down.
func (c *call) handle(ctx context.Context, r *route) (res result) {
	defer func() {
		if p := recover(); p != nil {
			log.Printf("protoc-gen-go-lambda: panic in handler for %s: %v\n%s", r.method, p, debug.Stack())
			res = result{err: status.Errorf(codes.Internal, "panic in handler: %v", p)}
		}
	}()
	resp, err := r.unary(r.service.impl, ctx, c.decode, c.srv.interceptor)
	return result{resp: resp, err: err}
}

// decode is the handler's dec function: it reads the request body into m.
func (c *call) decode(m any) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.abandoned != nil {
		// The payload may hold another invocation's bytes by now.
		return c.abandoned
	}
	return c.env.Unmarshal(m, c.srv.opts.maxRecvMsgSize)
}

// abandon makes every later decode fail with err instead of reading the
// payload; it waits for a decode in progress to finish.
func (c *call) abandon(err error) {
	c.mu.Lock()
	c.abandoned = err
	c.mu.Unlock()
}

// toStatus converts a handler error as grpc-go's server does: a status error
// (wrapped or not) keeps its status, a context error its code, anything else
// becomes UNKNOWN with the error's text.
func toStatus(err error) *status.Status {
	if st, ok := status.FromError(err); ok {
		return st
	}
	return status.FromContextError(err)
}

func (s *Server) marshal(resp any, jsonMode bool) (*wire.Buffer, *status.Status) {
	buf, err := wire.MarshalMessage(resp, jsonMode)
	if err != nil {
		return nil, status.Newf(codes.Internal, "grpc: error while marshaling: %v", err)
	}
	if n := len(buf.B); n > s.opts.maxSendMsgSize {
		buf.Free()
		return nil, status.Newf(codes.ResourceExhausted, "trying to send message larger than max (%d vs. %d)", n, s.opts.maxSendMsgSize)
	}
	return buf, nil
}

// statusResponse writes a response envelope for a non-OK status.
func (s *Server) statusResponse(st *status.Status, header, trailer metadata.MD, jsonMode bool) []byte {
	switch code := st.Code(); {
	case code == codes.OK:
		// A handler error whose status is OK (an error type whose GRPCStatus
		// says OK): grpc-go's server ends the call OK without a message, and
		// its client reports this.
		st = status.New(codes.Internal, "cardinality violation: received no response message from non-server-streaming RPC")
	case code > math.MaxInt32:
		// grpc-go writes such a code, and its client cannot parse it back.
		st = status.Newf(codes.Unknown, "transport: malformed grpc-status: strconv.ParseInt: parsing %q: value out of range", strconv.FormatUint(uint64(code), 10))
		trailer = nil
	}
	if _, ok := trailer[wire.StatusDetailsKey]; ok && len(st.Details()) > 0 {
		// grpc-go drops a handler's own grpc-status-details-bin trailer when it
		// writes the status's details there (trailer is the call's own map).
		delete(trailer, wire.StatusDetailsKey)
	}
	details, err := wire.StatusDetails(st)
	if err != nil {
		// grpc-go's server logs this and sends the status without its
		// details (http2Server.writeStatus); so does this one.
		log.Printf("protoc-gen-go-lambda: %v; status %v is sent without its details", err, st.Code())
	}
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

func chainUnaryServerInterceptors(interceptors []grpc.UnaryServerInterceptor) grpc.UnaryServerInterceptor {
	switch len(interceptors) {
	case 0:
		return nil
	case 1:
		return interceptors[0]
	}
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		return interceptors[0](ctx, req, info, chainUnaryHandler(interceptors, 0, info, handler))
	}
}

func chainUnaryHandler(interceptors []grpc.UnaryServerInterceptor, curr int, info *grpc.UnaryServerInfo, final grpc.UnaryHandler) grpc.UnaryHandler {
	if curr == len(interceptors)-1 {
		return final
	}
	return func(ctx context.Context, req any) (any, error) {
		return interceptors[curr+1](ctx, req, info, chainUnaryHandler(interceptors, curr+1, info, final))
	}
}
