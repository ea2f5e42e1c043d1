package runtime

import (
	"context"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/protoc-gen-go-lambda/protoc-gen-go-lambda/runtime/internal/wire"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Server serves gRPC services as a Lambda function: one invocation is one
// unary RPC, whether it comes through the Lambda Invoke API (a request
// envelope, docs/protocol.md) or as an HTTP event of a Function URL, API
// Gateway or a load balancer speaking Connect or gRPC-Web (docs/http.md).
// It implements lambda.Handler, so lambda.Start(srv) runs it without
// reflection, and grpc.ServiceRegistrar, so both the generated
// Register<Service>LambdaServer and protoc-gen-go-grpc's
// Register<Service>Server register services on it.
//
// Invoke never returns a Go error: every outcome, including bad input and
// panics, is an answer carrying a gRPC status (a response envelope, or the
// HTTP answer of the call's protocol), so application errors never show up
// as failed invocations.
type Server struct {
	opts              serverOptions
	interceptor       grpc.UnaryServerInterceptor
	streamInterceptor grpc.StreamServerInterceptor

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
// first invocation. Besides them it answers one built-in method,
// FileDescriptorsMethod (descriptors.go).
func NewServer(opts ...ServerOption) *Server {
	s := &Server{opts: newServerOptions(opts)}
	s.interceptor = chainUnaryServerInterceptors(s.opts.interceptors)
	s.streamInterceptor = chainStreamServerInterceptors(s.opts.streamInterceptors)
	s.routes.Store(&routeTable{services: map[string]*service{}, methods: builtinRoutes(s)})
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

// Invoke handles one Lambda invocation and returns its answer. It
// implements lambda.Handler. The payload is either a request envelope of the
// Invoke API (docs/protocol.md), answered with a response envelope, or the
// HTTP event of a Function URL, an API Gateway HTTP or REST API, or an
// Application Load Balancer carrying a Connect or gRPC-Web call, answered in
// that event's response shape (docs/http.md). A payload with a top-level
// "v" is an envelope; one with "httpMethod", "rawPath" or an HTTP request
// context is an event; anything else is answered as a malformed envelope.
// The returned error is always nil; see Server.
func (s *Server) Invoke(ctx context.Context, payload []byte) ([]byte, error) {
	if !wire.LooksLikeEnvelope(payload) {
		if out, _, ok := s.serveHTTP(ctx, payload, nil); ok {
			return out, nil
		}
	}
	return s.serveEnvelope(ctx, payload, nil), nil
}

// lookup finds the route of a method, or returns grpc-go's status for an
// unknown or malformed one.
func (s *Server) lookup(method string) (*route, *status.Status) {
	rt := s.routes.Load()
	if r, ok := rt.methods[method]; ok {
		if r.stream != nil && !r.serverStreaming() {
			return nil, streamingRefusal(method, r)
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

func chainStreamServerInterceptors(interceptors []grpc.StreamServerInterceptor) grpc.StreamServerInterceptor {
	switch len(interceptors) {
	case 0:
		return nil
	case 1:
		return interceptors[0]
	}
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
		return interceptors[0](srv, ss, info, chainStreamHandler(interceptors, 0, info, handler))
	}
}

func chainStreamHandler(interceptors []grpc.StreamServerInterceptor, curr int, info *grpc.StreamServerInfo, final grpc.StreamHandler) grpc.StreamHandler {
	if curr == len(interceptors)-1 {
		return final
	}
	return func(srv any, ss grpc.ServerStream) error {
		return interceptors[curr+1](srv, ss, info, chainStreamHandler(interceptors, curr+1, info, final))
	}
}
