// Command protoc-gen-go-lambda is a protoc and buf plugin that generates,
// for every service in a .proto file, a typed AWS Lambda handler and a typed
// client that calls the function through the Lambda Invoke API, with gRPC's
// semantics. See https://github.com/protoc-gen-go-lambda/protoc-gen-go-lambda.
package main

import (
	"fmt"
	"os"

	"google.golang.org/protobuf/compiler/protogen"

	"github.com/protoc-gen-go-lambda/protoc-gen-go-lambda/generator"
)

const usage = `protoc-gen-go-lambda is a protoc plugin; protoc or buf runs it:

  protoc --go_out=. --go_opt=paths=source_relative \
         --go-grpc_out=. --go-grpc_opt=paths=source_relative \
         --go-lambda_out=. --go-lambda_opt=paths=source_relative foo.proto

By default the generated code reuses the server and client types that
protoc-gen-go-grpc (any version) generates in the messages' package, so run
protoc-gen-go-grpc too; standalone=true generates self-contained types.

Parameters (--go-lambda_opt or buf's opt):
  package_suffix=NAME  generate into a sub-package <package>NAME
  standalone[=BOOL]    declare the server and client types here instead of
                       reusing protoc-gen-go-grpc's (needs gRPC-Go v1.64+)
  paths, module, M...  as for protoc-gen-go

Flags:
  --version  print the version and exit
  --help     print this help and exit
`

func main() {
	if len(os.Args) > 1 {
		switch os.Args[1] {
		case "--version", "-version":
			fmt.Printf("protoc-gen-go-lambda v%s\n", generator.Version)
			return
		case "--help", "-help", "-h":
			fmt.Print(usage)
			return
		}
		fmt.Fprintf(os.Stderr, "protoc-gen-go-lambda: unknown argument %q\n\n%s", os.Args[1], usage)
		os.Exit(2)
	}
	var opts generator.Options
	protogen.Options{ParamFunc: opts.Set}.Run(func(gen *protogen.Plugin) error {
		return generator.Generate(gen, opts)
	})
}
