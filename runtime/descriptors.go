package runtime

import (
	"context"
	"slices"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/known/emptypb"
)

// This file is the built-in method every Server answers besides its
// registered services: the descriptors of those services, so that a tool
// without their generated code (the gRPC bridge's server reflection,
// cmd/lambda-grpc-bridge) can describe and call them. docs/bridge.md
// documents it ("Built-in methods").

// Names of the built-in descriptor method.
const (
	// DescriptorsService is the built-in service. GetServiceInfo does not
	// list it: it is the server's, not the application's.
	DescriptorsService = "protoc_gen_go_lambda.v1.Descriptors"
	// FileDescriptorsMethod is its one method, a unary call whose request is
	// a google.protobuf.Empty and whose response is a
	// google.protobuf.FileDescriptorSet: the files that declare the
	// registered services and all their dependencies, each after the files
	// it imports.
	FileDescriptorsMethod = "/" + DescriptorsService + "/FileDescriptors"
	// ServicesHeader is the response header of FileDescriptorsMethod that
	// names the registered services, one value each, sorted. It lists
	// services whose descriptors the function does not link in too (a
	// hand-written grpc.ServiceDesc), which the set then lacks.
	ServicesHeader = "services"
)

// descriptorsServiceDesc describes the built-in service. Its implementation
// is the Server itself.
var descriptorsServiceDesc = grpc.ServiceDesc{
	ServiceName: DescriptorsService,
	Methods:     []grpc.MethodDesc{{MethodName: "FileDescriptors", Handler: fileDescriptorsHandler}},
}

// builtinRoutes is the route table of a new Server: the built-in method
// only. Registration copies it like any route; lookup finds it like any
// other; the services map, which GetServiceInfo lists, never holds it.
func builtinRoutes(s *Server) map[string]*route {
	svc := &service{desc: &descriptorsServiceDesc, impl: s}
	return map[string]*route{FileDescriptorsMethod: {service: svc, unary: fileDescriptorsHandler, method: FileDescriptorsMethod}}
}

// fileDescriptorsHandler is the built-in method's grpc.MethodHandler, shaped
// like generated ones: the request is decoded, and the server's interceptors
// run around the call, so an authenticating interceptor guards it too.
func fileDescriptorsHandler(srv any, ctx context.Context, dec func(any) error, interceptor grpc.UnaryServerInterceptor) (any, error) {
	in := new(emptypb.Empty)
	if err := dec(in); err != nil {
		return nil, err
	}
	s := srv.(*Server)
	if interceptor == nil {
		return s.fileDescriptors(ctx)
	}
	info := &grpc.UnaryServerInfo{Server: srv, FullMethod: FileDescriptorsMethod}
	return interceptor(ctx, in, info, func(ctx context.Context, _ any) (any, error) {
		return s.fileDescriptors(ctx)
	})
}

// fileDescriptors answers the built-in method for the services registered
// now. It is computed on every call: the method is called rarely (a bridge
// asks once, at its start), and a Server keeps no state for it.
func (s *Server) fileDescriptors(ctx context.Context) (*descriptorpb.FileDescriptorSet, error) {
	rt := s.routes.Load()
	services := make([]string, 0, len(rt.services))
	for name := range rt.services {
		services = append(services, name)
	}
	slices.Sort(services)
	if len(services) > 0 {
		if err := grpc.SetHeader(ctx, metadata.MD{ServicesHeader: services}); err != nil {
			return nil, err
		}
	}
	set := &descriptorpb.FileDescriptorSet{}
	seen := map[string]bool{}
	for _, name := range services {
		if fd := serviceFile(name, rt.services[name].desc); fd != nil {
			set.File = appendFile(set.File, fd, seen)
		}
	}
	return set, nil
}

// serviceFile finds the file that declares a service among the linked-in
// descriptors: by the service's name, or else by the file name that
// protoc-gen-go-grpc puts in ServiceDesc.Metadata, as grpc-go's reflection
// does. It is nil for a service with no linked-in descriptor.
func serviceFile(name string, desc *grpc.ServiceDesc) protoreflect.FileDescriptor {
	if d, err := protoregistry.GlobalFiles.FindDescriptorByName(protoreflect.FullName(name)); err == nil {
		if _, ok := d.(protoreflect.ServiceDescriptor); ok {
			return d.ParentFile()
		}
	}
	if path, ok := desc.Metadata.(string); ok {
		if fd, err := protoregistry.GlobalFiles.FindFileByPath(path); err == nil && fd.Services().ByName(protoreflect.FullName(name).Name()) != nil {
			return fd
		}
	}
	return nil
}

// appendFile appends fd after its imports, each file once. An import the
// binary does not link in (a placeholder) is left out: there is nothing to
// send.
func appendFile(files []*descriptorpb.FileDescriptorProto, fd protoreflect.FileDescriptor, seen map[string]bool) []*descriptorpb.FileDescriptorProto {
	if seen[fd.Path()] || fd.IsPlaceholder() {
		return files
	}
	seen[fd.Path()] = true
	imports := fd.Imports()
	for i := range imports.Len() {
		files = appendFile(files, imports.Get(i).FileDescriptor, seen)
	}
	return append(files, protodesc.ToFileDescriptorProto(fd))
}
