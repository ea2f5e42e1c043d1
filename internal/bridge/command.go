package bridge

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"github.com/protoc-gen-go-lambda/protoc-gen-go-lambda/runtime/invoke"
	"io"
	"log/slog"
	"net"
	"os"
	"runtime/debug"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/descriptorpb"
)

// This file is the command line of cmd/lambda-grpc-bridge.

// usage heads the command's help.
const usage = `lambda-grpc-bridge serves gRPC (HTTP/2, h2c or TLS) and forwards every call
to AWS Lambda functions served by protoc-gen-go-lambda, through the Invoke API.

Usage:
  lambda-grpc-bridge --function NAME [flags]
  lambda-grpc-bridge --route SERVICE=FUNCTION [--route ...] [flags]

AWS credentials and region come from the SDK's default chain (environment,
shared files, container or instance role). docs/bridge.md has the details.

Flags:
`

// options are the command's flags.
type options struct {
	listen          string
	function        string
	qualifier       string
	routes          routeFlag
	endpoint        string
	region          string
	tlsCert         string
	tlsKey          string
	protosets       listFlag
	maxRecvMsgSize  int
	shutdownTimeout time.Duration
	bufferedStreams bool
	version         bool
}

// routeFlag collects --route SERVICE=FUNCTION.
type routeFlag map[string]string

func (r routeFlag) String() string { return "" }

func (r routeFlag) Set(v string) error {
	service, function, ok := strings.Cut(v, "=")
	if !ok || service == "" || function == "" || strings.Contains(service, "/") {
		return fmt.Errorf("want SERVICE=FUNCTION, such as example.orders.v1.OrderService=orders-function")
	}
	if _, dup := r[service]; dup {
		return fmt.Errorf("%s is routed twice", service)
	}
	r[service] = function
	return nil
}

// listFlag collects a repeated flag.
type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }

func parseFlags(args []string, stderr io.Writer) (*options, error) {
	o := &options{routes: routeFlag{}}
	fs := flag.NewFlagSet("lambda-grpc-bridge", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, usage)
		fs.PrintDefaults()
	}
	fs.StringVar(&o.listen, "listen", "127.0.0.1:50051", "`address` to serve gRPC on")
	fs.StringVar(&o.function, "function", "", "the function (name, ARN or partial ARN) that serves every service without a --route")
	fs.StringVar(&o.qualifier, "qualifier", "", "version or alias to invoke, for every function")
	fs.Var(o.routes, "route", "SERVICE=FUNCTION: calls of the full service name SERVICE go to FUNCTION (repeatable)")
	fs.StringVar(&o.endpoint, "endpoint", "", "Invoke API endpoint `URL` instead of AWS's, such as the emulator's http://127.0.0.1:8080")
	fs.StringVar(&o.region, "region", "", "AWS region; default: the SDK's (AWS_REGION, shared config), or us-east-1 with --endpoint")
	fs.StringVar(&o.tlsCert, "tls-cert", "", "serve TLS with this certificate `file` (PEM; with --tls-key); default: h2c")
	fs.StringVar(&o.tlsKey, "tls-key", "", "the TLS certificate's private key `file` (PEM)")
	fs.Var(&o.protosets, "protoset", "a FileDescriptorSet `file` (buf build -o, protoc --descriptor_set_out --include_imports) for reflection, for functions that do not report their descriptors (repeatable)")
	fs.IntVar(&o.maxRecvMsgSize, "max-recv-msg-size", DefaultMaxRecvMsgSize, "largest request message accepted, in `bytes`")
	fs.DurationVar(&o.shutdownTimeout, "shutdown-timeout", 15*time.Minute, "on SIGTERM or SIGINT, how long calls in flight may run on before they are cancelled")
	fs.BoolVar(&o.bufferedStreams, "buffered-streams", false, "carry server-streaming calls with plain Invoke (the answer arrives whole when the function returns, at most 6 MB) instead of InvokeWithResponseStream, which the emulator does not serve")
	fs.BoolVar(&o.version, "version", false, "print the version and exit")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	switch {
	case o.version:
		return o, nil
	case fs.NArg() > 0:
		return nil, fmt.Errorf("unexpected arguments %q", fs.Args())
	case o.function == "" && len(o.routes) == 0:
		return nil, errors.New("no function: give --function or --route")
	case (o.tlsCert == "") != (o.tlsKey == ""):
		return nil, errors.New("--tls-cert and --tls-key go together")
	case o.maxRecvMsgSize <= 0:
		return nil, errors.New("--max-recv-msg-size must be positive")
	}
	return o, nil
}

// Main runs the command until ctx ends (the command's main cancels it on
// SIGTERM and SIGINT), then shuts the bridge down, letting calls in flight
// finish. It returns the process's exit code: 2 for bad flags, 1 when the
// bridge cannot start.
func Main(ctx context.Context, args []string, stderr io.Writer) int {
	o, err := parseFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "lambda-grpc-bridge: %v\n", err)
		return 2
	}
	if o.version {
		fmt.Fprintf(stderr, "lambda-grpc-bridge %s\n", version())
		return 0
	}
	log := slog.New(slog.NewTextHandler(stderr, nil))
	if err := run(ctx, o, log); err != nil {
		log.Error("lambda-grpc-bridge", "err", err)
		return 1
	}
	return 0
}

func run(ctx context.Context, o *options, log *slog.Logger) error {
	cfg, err := bridgeConfig(ctx, o, log)
	if err != nil {
		return err
	}
	b, err := New(cfg)
	if err != nil {
		return err
	}
	lis, err := net.Listen("tcp", o.listen)
	if err != nil {
		return err
	}
	// The descriptors, asked for before the first call: a failure is logged
	// and asked again when reflection needs them.
	fetchCtx, cancel := context.WithTimeout(ctx, fetchTimeout)
	_ = b.Refresh(fetchCtx)
	cancel()

	served := make(chan error, 1)
	go func() { served <- b.Serve(lis) }()
	tls := "h2c"
	if o.tlsCert != "" {
		tls = "TLS"
	}
	log.Info("serving", "address", lis.Addr().String(), "transport", tls, "function", o.function, "routes", len(o.routes), "qualifier", o.qualifier, "version", version())
	select {
	case err := <-served:
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down: calls in flight finish", "timeout", o.shutdownTimeout)
	sctx, cancel := context.WithTimeout(context.Background(), o.shutdownTimeout)
	defer cancel()
	b.Shutdown(sctx)
	<-served
	log.Info("stopped")
	return nil
}

// bridgeConfig turns the flags into a Config: one Lambda client from the
// SDK's default configuration, shared by every call.
func bridgeConfig(ctx context.Context, o *options, log *slog.Logger) (Config, error) {
	var loadOpts []func(*config.LoadOptions) error
	if o.region != "" {
		loadOpts = append(loadOpts, config.WithRegion(o.region))
	}
	awsCfg, err := config.LoadDefaultConfig(ctx, loadOpts...)
	if err != nil {
		return Config{}, fmt.Errorf("AWS configuration: %w", err)
	}
	if awsCfg.Region == "" {
		if o.endpoint == "" {
			return Config{}, errors.New("no AWS region: set AWS_REGION or --region")
		}
		awsCfg.Region = "us-east-1" // any will do for an endpoint such as the emulator's
	}
	client := lambda.NewFromConfig(awsCfg, func(lo *lambda.Options) {
		if o.endpoint != "" {
			lo.BaseEndpoint = aws.String(o.endpoint)
		}
	})
	cfg := Config{
		Invoker:        client,
		Function:       o.function,
		Routes:         o.routes,
		Qualifier:      o.qualifier,
		MaxRecvMsgSize: o.maxRecvMsgSize,
		Credentials:    awsCfg.Credentials,
		Logger:         log,
	}
	if o.bufferedStreams {
		cfg.InvokeOptions = append(cfg.InvokeOptions, invoke.WithBufferedStreams())
	}
	for _, path := range o.protosets {
		set, err := readProtoset(path)
		if err != nil {
			return Config{}, err
		}
		cfg.Protosets = append(cfg.Protosets, set)
	}
	if o.tlsCert != "" {
		creds, err := credentials.NewServerTLSFromFile(o.tlsCert, o.tlsKey)
		if err != nil {
			return Config{}, fmt.Errorf("TLS: %w", err)
		}
		cfg.ServerOptions = append(cfg.ServerOptions, grpc.Creds(creds))
	}
	return cfg, nil
}

// readProtoset reads a serialized FileDescriptorSet.
func readProtoset(path string) (*descriptorpb.FileDescriptorSet, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("protoset: %w", err)
	}
	set := &descriptorpb.FileDescriptorSet{}
	if err := proto.Unmarshal(b, set); err != nil {
		return nil, fmt.Errorf("protoset %s is not a FileDescriptorSet: %w", path, err)
	}
	return set, nil
}

// version is the module version the binary was built from ("(devel)" in a
// checkout).
func version() string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		return bi.Main.Version
	}
	return "unknown"
}
