// Command lambdaconformance is the server under test of the Connect
// conformance suite (connectconformance --mode server): it reads a
// size-prefixed ServerCompatRequest from stdin, starts a server on
// 127.0.0.1 with an ephemeral port, writes a size-prefixed
// ServerCompatResponse with its address to stdout, then serves until
// SIGTERM.
//
// By default it serves the ConformanceService (package
// conformance/service) as a Lambda function would: registered on a
// runtime.Server through the generated RegisterConformanceServiceLambdaServer,
// behind lambdatest.NewHTTPHandler, which turns each HTTP/1.1 request into the
// event AWS would send (a Function URL's, or with -front-end that of an API
// Gateway HTTP API or REST API or of a load balancer) and the function's
// answer back into an HTTP response. The protocols are therefore those of
// the runtime's HTTP front door: Connect and gRPC-Web.
//
// With -grpc it serves the same implementation with a grpc-go server over
// HTTP/2 without TLS (h2c), for the gRPC protocol: that run checks the
// implementation itself against grpc-go.
package main

import (
	"context"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"google.golang.org/protobuf/proto"

	conformancev1 "github.com/protoc-gen-go-lambda/protoc-gen-go-lambda/conformance/gen/connectrpc/conformance/v1"
	"github.com/protoc-gen-go-lambda/protoc-gen-go-lambda/runtime/lambdatest"
)

func main() {
	useGRPC := flag.Bool("grpc", false, "serve with a grpc-go server over h2c (protocol gRPC) instead of the Lambda stand-in")
	frontEnd := flag.String("front-end", lambdatest.FunctionURL.String(), "the Lambda front end to stand in for: "+strings.Join(frontEndNames(), ", "))
	stream := flag.Bool("response-stream", false, "stream the function's responses: a FunctionURL in RESPONSE_STREAM mode or a RESTAPI in STREAM mode, the function started with lambda.Start(srv.InvokeStream)")
	flag.Parse()
	log.SetPrefix("lambdaconformance: ")
	log.SetFlags(0)
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	fe, ok := parseFrontEnd(*frontEnd)
	if !ok {
		log.Fatalf("-front-end %q: not one of %s", *frontEnd, strings.Join(frontEndNames(), ", "))
	}
	if *stream && fe != lambdatest.FunctionURL && fe != lambdatest.RESTAPI {
		log.Fatalf("-response-stream: %s cannot stream a response; only FunctionURL and RESTAPI can", fe)
	}
	if err := run(ctx, *useGRPC, fe, *stream, os.Stdin, os.Stdout); err != nil {
		log.Fatal(err)
	}
}

func run(ctx context.Context, useGRPC bool, fe lambdatest.FrontEnd, stream bool, in io.Reader, out io.Writer) error {
	req := &conformancev1.ServerCompatRequest{}
	if err := readMessage(in, req); err != nil {
		return fmt.Errorf("reading the ServerCompatRequest: %w", err)
	}
	if req.GetUseTls() {
		return errors.New("TLS is not supported")
	}
	var (
		lis   net.Listener
		start func(context.Context) error
		err   error
	)
	if useGRPC {
		lis, start, err = serveGRPC(req)
	} else {
		lis, start, err = serveLambda(req, fe, stream)
	}
	if err != nil {
		return err
	}
	addr := lis.Addr().(*net.TCPAddr)
	resp := &conformancev1.ServerCompatResponse{Host: addr.IP.String(), Port: uint32(addr.Port)}
	if err := writeMessage(out, resp); err != nil {
		return fmt.Errorf("writing the ServerCompatResponse: %w", err)
	}
	return start(ctx)
}

// frontEnds are the front ends lambdatest stands in for.
var frontEnds = []lambdatest.FrontEnd{lambdatest.FunctionURL, lambdatest.HTTPAPI, lambdatest.RESTAPI, lambdatest.ALB, lambdatest.ALBMultiValue}

func frontEndNames() []string {
	names := make([]string, len(frontEnds))
	for i, fe := range frontEnds {
		names[i] = fe.String()
	}
	return names
}

func parseFrontEnd(name string) (lambdatest.FrontEnd, bool) {
	for _, fe := range frontEnds {
		if fe.String() == name {
			return fe, true
		}
	}
	return 0, false
}

// readMessage reads one message prefixed with its size, a big-endian uint32.
func readMessage(r io.Reader, m proto.Message) error {
	var size [4]byte
	if _, err := io.ReadFull(r, size[:]); err != nil {
		return err
	}
	b := make([]byte, binary.BigEndian.Uint32(size[:]))
	if _, err := io.ReadFull(r, b); err != nil {
		return err
	}
	return proto.Unmarshal(b, m)
}

// writeMessage writes m prefixed with its size, a big-endian uint32.
func writeMessage(w io.Writer, m proto.Message) error {
	b, err := proto.Marshal(m)
	if err != nil {
		return err
	}
	b = append(binary.BigEndian.AppendUint32(nil, uint32(len(b))), b...)
	_, err = w.Write(b)
	return err
}
