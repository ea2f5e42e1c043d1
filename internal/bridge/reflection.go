package bridge

import (
	"context"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/reflection"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"

	spb "google.golang.org/genproto/googleapis/rpc/status"
	v1reflectiongrpc "google.golang.org/grpc/reflection/grpc_reflection_v1"
	v1alphareflectiongrpc "google.golang.org/grpc/reflection/grpc_reflection_v1alpha"
)

// This file serves gRPC server reflection (grpc.reflection.v1 and
// v1alpha) from the catalog: grpc-go's own implementation, handed the
// functions' services and descriptors instead of the server's.

// registerReflection registers both reflection services on the bridge;
// call it after the bridge's other services.
func (b *Bridge) registerReflection() {
	opts := reflection.ServerOptions{
		Services:           reflectionServices{b},
		DescriptorResolver: reflectionFiles{b},
		ExtensionResolver:  reflectionTypes{b},
	}
	v1 := reflection.NewServerV1(opts)
	v1reflectiongrpc.RegisterServerReflectionServer(b.server, v1)
	v1alphareflectiongrpc.RegisterServerReflectionServer(b.server, reflection.NewServer(opts))
	b.own = ownFiles(b.server)
	b.ownServices = map[string]bool{}
	for name := range b.server.GetServiceInfo() {
		b.ownServices[name] = true
	}
}

// ownFiles are the files of the services s serves itself (reflection,
// health) and their imports, from the files linked into the bridge, and the
// files of gRPC's richer error model (google.rpc.Status and the
// errdetails messages), so that tools such as grpcurl -format-error can
// decode the details of a status, as a grpc-go server that links them in
// lets them. Only those: whatever else is linked in is no function's.
func ownFiles(s *grpc.Server) *protoregistry.Files {
	files := &protoregistry.Files{}
	var add func(fd protoreflect.FileDescriptor)
	add = func(fd protoreflect.FileDescriptor) {
		if _, err := files.FindFileByPath(fd.Path()); err == nil || fd.IsPlaceholder() {
			return
		}
		imports := fd.Imports()
		for i := range imports.Len() {
			add(imports.Get(i).FileDescriptor)
		}
		_ = files.RegisterFile(fd) // linked-in files do not clash
	}
	for name := range s.GetServiceInfo() {
		if d, err := protoregistry.GlobalFiles.FindDescriptorByName(protoreflect.FullName(name)); err == nil {
			add(d.ParentFile())
		}
	}
	add(errdetails.File_google_rpc_error_details_proto)
	add(spb.File_google_rpc_status_proto)
	return files
}

// reflectionContext is the context of the fetches reflection makes: the
// reflection API passes none, and a fetch is one bounded invocation.
func reflectionContext() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), fetchTimeout)
}

// reflectionServices lists the bridge's own services (reflection, health)
// and the functions' services that the bridge routes to them.
type reflectionServices struct{ b *Bridge }

func (r reflectionServices) GetServiceInfo() map[string]grpc.ServiceInfo {
	ctx, cancel := reflectionContext()
	defer cancel()
	r.b.refreshDue(ctx)
	out := r.b.server.GetServiceInfo()
	for s := range r.b.catalog.Load().services {
		if _, ok := out[s]; !ok {
			out[s] = grpc.ServiceInfo{}
		}
	}
	return out
}

// reflectionFiles finds descriptors in the catalog, then among the files of
// the bridge's own services. A name found in neither makes the bridge ask
// the functions again (at most once per RefreshInterval).
type reflectionFiles struct{ b *Bridge }

func (r reflectionFiles) FindFileByPath(path string) (protoreflect.FileDescriptor, error) {
	return lookup(r.b, func(files *protoregistry.Files) (protoreflect.FileDescriptor, error) {
		return files.FindFileByPath(path)
	})
}

func (r reflectionFiles) FindDescriptorByName(name protoreflect.FullName) (protoreflect.Descriptor, error) {
	return lookup(r.b, func(files *protoregistry.Files) (protoreflect.Descriptor, error) {
		return files.FindDescriptorByName(name)
	})
}

func lookup[T any](b *Bridge, find func(*protoregistry.Files) (T, error)) (T, error) {
	if d, err := find(b.catalog.Load().files); err == nil {
		return d, nil
	}
	if d, err := find(b.own); err == nil {
		return d, nil
	}
	ctx, cancel := reflectionContext()
	defer cancel()
	b.refreshMissing(ctx)
	return find(b.catalog.Load().files)
}

// reflectionTypes resolves extensions from the catalog: the bridge's own
// services declare none.
type reflectionTypes struct{ b *Bridge }

func (r reflectionTypes) FindExtensionByName(field protoreflect.FullName) (protoreflect.ExtensionType, error) {
	return r.b.catalog.Load().types.FindExtensionByName(field)
}

func (r reflectionTypes) FindExtensionByNumber(message protoreflect.FullName, field protoreflect.FieldNumber) (protoreflect.ExtensionType, error) {
	return r.b.catalog.Load().types.FindExtensionByNumber(message, field)
}

func (r reflectionTypes) RangeExtensionsByMessage(message protoreflect.FullName, f func(protoreflect.ExtensionType) bool) {
	r.b.catalog.Load().types.RangeExtensionsByMessage(message, f)
}
