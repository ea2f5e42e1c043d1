package generator

import (
	"go/token"
	"strings"

	"google.golang.org/protobuf/compiler/protogen"
	"google.golang.org/protobuf/types/descriptorpb"
)

// service is what the template needs to render one service. Every generated
// name is decided here, in one place, from the service and method Go names,
// with the token "Lambda" so that nothing clashes with the output of
// protoc-gen-go (messages) or protoc-gen-go-grpc (FooClient, FooServer,
// UnimplementedFooServer, RegisterFooServer, Foo_ServiceDesc,
// Foo_Bar_FullMethodName) in the same package.
type service struct {
	GoName     string // Foo
	FullName   string // pkg.Foo
	Source     string // the .proto path, for ServiceDesc.Metadata
	Comments   string // the proto's leading comments, as Go comment lines
	Deprecated bool
	Methods    []*method

	Client        string // FooLambdaClient
	ClientImpl    string // fooLambdaClient
	NewClient     string // NewFooLambdaClient
	Server        string // FooLambdaServer
	Unimplemented string // UnimplementedFooLambdaServer
	Register      string // RegisterFooLambdaServer
	NewHandler    string // NewFooLambdaHandler
	ServiceDesc   string // FooLambda_ServiceDesc

	// Grpc names what protoc-gen-go-grpc generates for the service in the
	// messages' Go package; the default (non-standalone) mode refers to it.
	Grpc grpcNames
}

// grpcNames are protoc-gen-go-grpc's identifiers for one service, as every
// version since v1.0 names them.
type grpcNames struct {
	Server        protogen.GoIdent // FooServer
	Unimplemented protogen.GoIdent // UnimplementedFooServer
	Register      protogen.GoIdent // RegisterFooServer
	Client        protogen.GoIdent // FooClient
	NewClient     protogen.GoIdent // NewFooClient
	ServiceDesc   protogen.GoIdent // Foo_ServiceDesc
}

type method struct {
	GoName     string // Bar
	Name       string // the proto name, as on the wire
	FullMethod string // /pkg.Foo/Bar
	Comments   string
	Deprecated bool
	Input      protogen.GoIdent
	Output     protogen.GoIdent

	Unary           bool
	ClientStreaming bool
	ServerStreaming bool
	StreamIndex     int // index in ServiceDesc.Streams, for streaming methods

	FullMethodConst string // FooLambda_Bar_FullMethodName
	Handler         string // _FooLambda_Bar_Handler
}

func newService(file *protogen.File, s *protogen.Service) *service {
	base := s.GoName + "Lambda"
	svc := &service{
		GoName:        s.GoName,
		FullName:      string(s.Desc.FullName()),
		Source:        file.Desc.Path(),
		Comments:      comments(s.Comments.Leading),
		Deprecated:    s.Desc.Options().(*descriptorpb.ServiceOptions).GetDeprecated(),
		Client:        base + "Client",
		ClientImpl:    unexport(base + "Client"),
		NewClient:     "New" + base + "Client",
		Server:        base + "Server",
		Unimplemented: "Unimplemented" + base + "Server",
		Register:      "Register" + base + "Server",
		NewHandler:    "New" + base + "Handler",
		ServiceDesc:   base + "_ServiceDesc",
		Grpc:          newGrpcNames(file.GoImportPath, s.GoName),
	}
	streams := 0
	for _, m := range s.Methods {
		cs, ss := m.Desc.IsStreamingClient(), m.Desc.IsStreamingServer()
		mm := &method{
			GoName:          m.GoName,
			Name:            string(m.Desc.Name()),
			FullMethod:      "/" + svc.FullName + "/" + string(m.Desc.Name()),
			Comments:        comments(m.Comments.Leading),
			Deprecated:      m.Desc.Options().(*descriptorpb.MethodOptions).GetDeprecated(),
			Input:           m.Input.GoIdent,
			Output:          m.Output.GoIdent,
			Unary:           !cs && !ss,
			ClientStreaming: cs,
			ServerStreaming: ss,
			FullMethodConst: base + "_" + m.GoName + "_FullMethodName",
			Handler:         "_" + base + "_" + m.GoName + "_Handler",
		}
		if !mm.Unary {
			mm.StreamIndex = streams
			streams++
		}
		svc.Methods = append(svc.Methods, mm)
	}
	return svc
}

// newGrpcNames returns protoc-gen-go-grpc's names for service goName, which
// it writes into the Go package of the .proto file (pkg): the package of
// the messages, before any package_suffix.
func newGrpcNames(pkg protogen.GoImportPath, goName string) grpcNames {
	return grpcNames{
		Server:        pkg.Ident(goName + "Server"),
		Unimplemented: pkg.Ident("Unimplemented" + goName + "Server"),
		Register:      pkg.Ident("Register" + goName + "Server"),
		Client:        pkg.Ident(goName + "Client"),
		NewClient:     pkg.Ident("New" + goName + "Client"),
		ServiceDesc:   pkg.Ident(goName + "_ServiceDesc"),
	}
}

// comments renders proto comments as Go comment lines, without the final
// newline, or "" when there are none.
func comments(c protogen.Comments) string {
	return strings.TrimSuffix(c.String(), "\n")
}

// unexport lower-cases the first letter of an identifier, escaping a Go
// keyword that results (connect-go#346: an rpc named Import).
func unexport(s string) string {
	if s == "" {
		return s
	}
	s = strings.ToLower(s[:1]) + s[1:]
	if token.IsKeyword(s) {
		s += "_"
	}
	return s
}
