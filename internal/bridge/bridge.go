// Package bridge is a gRPC server that forwards every call to AWS Lambda
// functions through the Invoke API, so that clients that speak only HTTP/2
// gRPC (grpcurl, grpc-js, grpcio, grpc-java, any generated stub) reach
// functions served by protoc-gen-go-lambda's runtime. cmd/lambda-grpc-bridge
// is its command; docs/bridge.md documents both.
//
// The bridge needs no generated code: it forwards each call's message bytes
// as they are (invoke.RawMessage, through grpc.UnknownServiceHandler), with
// its metadata, deadline, status, details, header and trailer. It routes by
// service to one or more functions, answers server reflection from the
// descriptors the functions report (runtime.FileDescriptorsMethod) or from
// protoset files, and answers grpc.health.v1 for itself and, for a service,
// from the function that serves it.
package bridge

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	goruntime "runtime"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"

	"github.com/protoc-gen-go-lambda/protoc-gen-go-lambda/runtime"
	"github.com/protoc-gen-go-lambda/protoc-gen-go-lambda/runtime/invoke"
)

// DefaultMaxRecvMsgSize is the largest request message the bridge accepts by
// default: Lambda's synchronous payload limit, which no larger message can
// fit in. Within it, the function's own limit (4 MiB by default, as
// grpc-go's) decides, with grpc-go's status.
const DefaultMaxRecvMsgSize = runtime.MaxPayloadSize

// InitialWindowSize and InitialConnWindowSize are the HTTP/2 flow-control
// windows the bridge gives each call and each connection: what a client may
// send before the bridge reads it. Fixed (grpc-go's estimator, which the
// windows turn off, would grow them to this size for a client that sends
// large messages fast) so that no call pays for the estimator's pings.
// Config.ServerOptions can set others.
const (
	InitialWindowSize     = 4 << 20
	InitialConnWindowSize = 16 << 20
)

// DefaultRefreshInterval is how often at most the bridge asks a function for
// its descriptors again after a failed attempt or a reflection lookup that
// found nothing.
const DefaultRefreshInterval = 10 * time.Second

// Config says where the bridge sends calls and how.
type Config struct {
	// Invoker invokes the functions; the command passes one *lambda.Client,
	// shared by every call.
	Invoker invoke.Invoker
	// Function receives the calls of every service that Routes does not
	// name. Empty: such calls fail UNIMPLEMENTED ("unknown service").
	Function string
	// Routes maps full service names ("example.orders.v1.OrderService") to
	// the function that serves them.
	Routes map[string]string
	// Qualifier is the version or alias invoked (the Invoke API's
	// Qualifier), for every function; empty: $LATEST, or what a function
	// name such as "orders:live" says.
	Qualifier string
	// Protosets describe the services of functions that do not answer
	// runtime.FileDescriptorsMethod (built with an older runtime, or not
	// protoc-gen-go-lambda servers), for server reflection.
	Protosets []*descriptorpb.FileDescriptorSet
	// MaxRecvMsgSize is the largest request message accepted; 0 means
	// DefaultMaxRecvMsgSize.
	MaxRecvMsgSize int
	// Credentials, when set, are retrieved before each call: a call the
	// bridge has no AWS credentials for fails UNAUTHENTICATED, naming the
	// reason, without reaching the Invoke API.
	Credentials aws.CredentialsProvider
	// Logger gets one line per call (method, function, code, duration) and
	// the bridge's own events; nil discards them.
	Logger *slog.Logger
	// RefreshInterval: see DefaultRefreshInterval; 0 means the default, a
	// negative value no wait at all.
	RefreshInterval time.Duration
	// InvokeOptions are added to every function's invoke.ClientConn.
	InvokeOptions []invoke.Option
	// ServerOptions are added to the bridge's grpc.Server (grpc.Creds for
	// TLS, keepalive, ...).
	ServerOptions []grpc.ServerOption
}

// Bridge is the gRPC server and the state behind it. It is safe for
// concurrent use.
type Bridge struct {
	cfg      Config
	log      *slog.Logger
	server   *grpc.Server
	fallback *target            // Config.Function's, or nil
	routes   map[string]*target // by service
	targets  []*target          // one per function, sorted by name

	protosets   []*protoregistry.Files // Config.Protosets, built
	own         *protoregistry.Files   // the files of the bridge's own services
	ownServices map[string]bool        // the bridge's own services, by name

	catalog atomic.Pointer[catalog] // the descriptors known now
	rebuild sync.Mutex              // serialises catalog rebuilds

	shuttingDown atomic.Bool
	shutdown     chan struct{} // closed when Shutdown starts
	shutdownOnce sync.Once
}

// target is one function and the connection that invokes it.
type target struct {
	function string
	cc       *invoke.ClientConn
	desc     descriptorState
}

// New returns a bridge for cfg; Serve starts it.
func New(cfg Config) (*Bridge, error) {
	if cfg.Invoker == nil {
		return nil, fmt.Errorf("bridge: no Invoker")
	}
	if cfg.Function == "" && len(cfg.Routes) == 0 {
		return nil, fmt.Errorf("bridge: no function: give a default function or a route for each service")
	}
	if cfg.MaxRecvMsgSize == 0 {
		cfg.MaxRecvMsgSize = DefaultMaxRecvMsgSize
	}
	if cfg.RefreshInterval == 0 {
		cfg.RefreshInterval = DefaultRefreshInterval
	}
	b := &Bridge{cfg: cfg, log: cfg.Logger, routes: map[string]*target{}, shutdown: make(chan struct{})}
	if b.log == nil {
		b.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	byFunction := map[string]*target{}
	targetFor := func(function string) (*target, error) {
		if function == "" {
			return nil, fmt.Errorf("bridge: empty function name")
		}
		if t, ok := byFunction[function]; ok {
			return t, nil
		}
		// Idempotent methods are retried as the function's own generated
		// client would retry them: the descriptors it reported say which.
		opts := append([]invoke.Option{invoke.WithDescriptors(catalogFiles{b})}, cfg.InvokeOptions...)
		if cfg.Qualifier != "" {
			opts = append(opts, invoke.WithQualifier(cfg.Qualifier))
		}
		t := &target{function: function, cc: invoke.NewClientConn(cfg.Invoker, function, opts...)}
		byFunction[function] = t
		b.targets = append(b.targets, t)
		return t, nil
	}
	var err error
	if cfg.Function != "" {
		if b.fallback, err = targetFor(cfg.Function); err != nil {
			return nil, err
		}
	}
	for service, function := range cfg.Routes {
		if service == "" || strings.Contains(service, "/") {
			return nil, fmt.Errorf("bridge: route %q=%q: want a full service name such as example.orders.v1.OrderService", service, function)
		}
		if b.routes[service], err = targetFor(function); err != nil {
			return nil, fmt.Errorf("bridge: route for %s: %w", service, err)
		}
	}
	sort.Slice(b.targets, func(i, j int) bool { return b.targets[i].function < b.targets[j].function })
	if b.protosets, err = loadProtosets(cfg.Protosets); err != nil {
		return nil, err
	}
	b.buildCatalog()

	opts := []grpc.ServerOption{
		grpc.UnknownServiceHandler(b.forward),
		// Calls run on reused goroutines, whose stacks have grown to what
		// forwarding needs, instead of a new goroutine growing its stack on
		// every call (a tenth of a small call's CPU); more calls than workers
		// still get goroutines of their own.
		grpc.NumStreamWorkers(uint32(goruntime.NumCPU())),
		// Fixed flow-control windows, as large as the ones grpc-go's
		// bandwidth-delay estimator grows to for a fast client, turn the
		// estimator off: it pings the client on the data of every call, a
		// frame each way and a wake-up on both sides (a tenth of the bridge's
		// own cost on a 16 KiB call). A request is read as soon as it
		// arrives, so the windows bound no memory that MaxRecvMsgSize does
		// not.
		grpc.InitialWindowSize(InitialWindowSize),
		grpc.InitialConnWindowSize(InitialConnWindowSize),
		grpc.ForceServerCodecV2(newRawCodec()),
		grpc.MaxRecvMsgSize(cfg.MaxRecvMsgSize),
		grpc.ChainUnaryInterceptor(b.logUnary),
		grpc.ChainStreamInterceptor(b.logStream),
	}
	b.server = grpc.NewServer(append(opts, cfg.ServerOptions...)...)
	b.registerHealth()
	b.registerReflection()
	return b, nil
}

// Server returns the bridge's grpc.Server, to serve on more listeners.
func (b *Bridge) Server() *grpc.Server { return b.server }

// Serve accepts connections on lis until Shutdown; it returns nil after a
// Shutdown, as grpc.Server.Serve does after a stop.
func (b *Bridge) Serve(lis net.Listener) error { return b.server.Serve(lis) }

// target returns the function serving a service, or nil.
func (b *Bridge) target(service string) *target {
	if t, ok := b.routes[service]; ok {
		return t
	}
	return b.fallback
}

// Shutdown stops the bridge: health checks answer NOT_SERVING and watches
// end, no new calls are accepted, and the calls in flight run to their end
// (grpc.Server.GracefulStop). When ctx ends first, the remaining calls are
// cancelled (grpc.Server.Stop).
func (b *Bridge) Shutdown(ctx context.Context) {
	b.shutdownOnce.Do(func() {
		b.shuttingDown.Store(true)
		close(b.shutdown)
	})
	done := make(chan struct{})
	go func() {
		b.server.GracefulStop()
		close(done)
	}()
	select {
	case <-done:
	case <-ctx.Done():
		b.log.Warn("shutdown: calls still running; cancelling them", "reason", context.Cause(ctx))
		b.server.Stop()
		<-done
	}
}
