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
// Function URL event AWS would send and the function's answer back into an
// HTTP response. The protocols are therefore those of the runtime's HTTP
// front door: Connect and gRPC-Web.
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
	"syscall"

	"google.golang.org/protobuf/proto"

	conformancev1 "github.com/protoc-gen-go-lambda/protoc-gen-go-lambda/conformance/gen/connectrpc/conformance/v1"
)

func main() {
	useGRPC := flag.Bool("grpc", false, "serve with a grpc-go server over h2c (protocol gRPC) instead of the Lambda stand-in")
	flag.Parse()
	log.SetPrefix("lambdaconformance: ")
	log.SetFlags(0)
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	if err := run(ctx, *useGRPC, os.Stdin, os.Stdout); err != nil {
		log.Fatal(err)
	}
}

func run(ctx context.Context, useGRPC bool, in io.Reader, out io.Writer) error {
	req := &conformancev1.ServerCompatRequest{}
	if err := readMessage(in, req); err != nil {
		return fmt.Errorf("reading the ServerCompatRequest: %w", err)
	}
	if req.GetUseTls() {
		return errors.New("TLS is not supported")
	}
	serve := serveLambda
	if useGRPC {
		serve = serveGRPC
	}
	lis, start, err := serve(req)
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
