package bridge

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/dynamicpb"
	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/protoc-gen-go-lambda/protoc-gen-go-lambda/runtime"
)

// This file keeps the descriptors of the functions' services: fetched from
// each function (runtime.FileDescriptorsMethod) and read from protoset
// files, merged into one catalog that server reflection, health and the
// forwarding of client-streaming calls read.

// fetchTimeout bounds a request for descriptors made for reflection, which
// has no caller's deadline to go by.
const fetchTimeout = 30 * time.Second

// descriptorState is what the bridge knows of one function's descriptors.
type descriptorState struct {
	fetching sync.Mutex // held while the function is asked

	mu      sync.Mutex
	fetched *fetched  // the last successful answer, or nil
	err     error     // the last attempt's failure, or nil
	last    time.Time // when the last attempt started
}

// fetched is one function's answer to runtime.FileDescriptorsMethod.
type fetched struct {
	services []string
	files    *protoregistry.Files
}

// catalog is an immutable snapshot of every descriptor the bridge knows.
type catalog struct {
	files    *protoregistry.Files                     // the functions' files, then the protosets'
	types    *protoregistry.Types                     // their extensions
	services map[string]*target                       // the services reflection lists, by the function serving them
	methods  map[string]protoreflect.MethodDescriptor // every method of files, by "/service/Method"
}

// Refresh asks every function for its descriptors now, and returns the
// failures joined. The command calls it at startup; the bridge serves
// either way and asks again when reflection or health needs what failed.
func (b *Bridge) Refresh(ctx context.Context) error {
	var errs []error
	for _, t := range b.targets {
		if err := b.fetch(ctx, t, true); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// fetch asks t's function for its descriptors unless it answered already;
// a failed or missing answer is asked for again at most once per
// RefreshInterval (force: now), and the catalog is rebuilt after a change.
func (b *Bridge) fetch(ctx context.Context, t *target, force bool) error {
	s := &t.desc
	s.fetching.Lock() // one request at a time per function
	defer s.fetching.Unlock()
	s.mu.Lock()
	if !force && (s.fetched != nil || time.Since(s.last) < b.cfg.RefreshInterval) {
		err := s.err
		s.mu.Unlock()
		return err
	}
	s.last = time.Now()
	s.mu.Unlock()

	f, err := t.fetchDescriptors(ctx)
	s.mu.Lock()
	if err != nil {
		// A previous answer, if any, stays in use.
		s.err = fmt.Errorf("descriptors of %s: %w", t.function, err)
		err = s.err
	} else {
		s.fetched, s.err = f, nil
	}
	s.mu.Unlock()
	if err != nil {
		b.log.Warn("descriptors", "function", t.function, "err", err)
		return err
	}
	b.log.Info("descriptors", "function", t.function, "services", f.services, "files", f.files.NumFiles())
	b.buildCatalog()
	return nil
}

// fetchDescriptors calls the function's built-in method.
func (t *target) fetchDescriptors(ctx context.Context) (*fetched, error) {
	set := &descriptorpb.FileDescriptorSet{}
	var header metadata.MD
	if err := t.cc.Invoke(ctx, runtime.FileDescriptorsMethod, &emptypb.Empty{}, set, grpc.Header(&header)); err != nil {
		return nil, err
	}
	files, err := (protodesc.FileOptions{AllowUnresolvable: true}).NewFiles(set)
	if err != nil {
		return nil, fmt.Errorf("the function's descriptors do not build: %w", err)
	}
	return &fetched{services: header.Get(runtime.ServicesHeader), files: files}, nil
}

// buildCatalog merges what is known now into a new catalog. A file that
// several functions report is kept once, from the first; a file that
// clashes with one kept already (another file declaring the same names) is
// left out and logged.
func (b *Bridge) buildCatalog() {
	b.rebuild.Lock()
	defer b.rebuild.Unlock()
	c := &catalog{files: &protoregistry.Files{}, services: map[string]*target{}}
	add := func(fd protoreflect.FileDescriptor) {
		if _, err := c.files.FindFileByPath(fd.Path()); err == nil {
			return
		}
		if err := c.files.RegisterFile(fd); err != nil {
			b.log.Warn("descriptors: file left out", "file", fd.Path(), "err", err)
		}
	}
	for _, t := range b.targets {
		t.desc.mu.Lock()
		f := t.desc.fetched
		t.desc.mu.Unlock()
		if f == nil {
			continue
		}
		f.files.RangeFiles(func(fd protoreflect.FileDescriptor) bool {
			add(fd)
			return true
		})
		for _, s := range f.services {
			if b.target(s) == t {
				c.services[s] = t
			}
		}
	}
	for _, files := range b.protosets {
		files.RangeFiles(func(fd protoreflect.FileDescriptor) bool {
			add(fd)
			svcs := fd.Services()
			for j := range svcs.Len() {
				name := string(svcs.Get(j).FullName())
				if t := b.target(name); t != nil && c.services[name] == nil {
					c.services[name] = t
				}
			}
			return true
		})
	}
	c.types = extensionTypes(c.files)
	c.methods = map[string]protoreflect.MethodDescriptor{}
	c.files.RangeFiles(func(fd protoreflect.FileDescriptor) bool {
		for i := range fd.Services().Len() {
			sd := fd.Services().Get(i)
			for j := range sd.Methods().Len() {
				md := sd.Methods().Get(j)
				c.methods["/"+string(sd.FullName())+"/"+string(md.Name())] = md
			}
		}
		return true
	})
	b.catalog.Store(c)
}

// extensionTypes registers every extension the files declare, at the top
// level or inside messages.
func extensionTypes(files *protoregistry.Files) *protoregistry.Types {
	types := &protoregistry.Types{}
	var addExtensions func(xds protoreflect.ExtensionDescriptors)
	var addMessages func(mds protoreflect.MessageDescriptors)
	addExtensions = func(xds protoreflect.ExtensionDescriptors) {
		for i := range xds.Len() {
			_ = types.RegisterExtension(dynamicpb.NewExtensionType(xds.Get(i))) // a clash keeps the first
		}
	}
	addMessages = func(mds protoreflect.MessageDescriptors) {
		for i := range mds.Len() {
			addExtensions(mds.Get(i).Extensions())
			addMessages(mds.Get(i).Messages())
		}
	}
	files.RangeFiles(func(fd protoreflect.FileDescriptor) bool {
		addExtensions(fd.Extensions())
		addMessages(fd.Messages())
		return true
	})
	return types
}

// loadProtosets builds the protoset files of the configuration.
func loadProtosets(sets []*descriptorpb.FileDescriptorSet) ([]*protoregistry.Files, error) {
	var out []*protoregistry.Files
	for i, set := range sets {
		files, err := (protodesc.FileOptions{AllowUnresolvable: true}).NewFiles(set)
		if err != nil {
			return nil, fmt.Errorf("bridge: protoset %d does not build: %w", i+1, err)
		}
		out = append(out, files)
	}
	return out, nil
}

// refreshDue fetches again from every function whose descriptors are
// missing, at most once per RefreshInterval each.
func (b *Bridge) refreshDue(ctx context.Context) {
	for _, t := range b.targets {
		_ = b.fetch(ctx, t, false)
	}
}

// refreshMissing is refreshDue for a lookup that found nothing: a function
// may have been deployed with new services since; it asks again the
// functions that answered, too, at most once per RefreshInterval.
func (b *Bridge) refreshMissing(ctx context.Context) {
	for _, t := range b.targets {
		t.desc.mu.Lock()
		due := time.Since(t.desc.last) >= b.cfg.RefreshInterval
		t.desc.mu.Unlock()
		if due {
			_ = b.fetch(ctx, t, true)
		}
	}
}

// catalogFiles looks descriptors up in the bridge's catalog as it is at
// the time: an invoke.DescriptorResolver.
type catalogFiles struct{ b *Bridge }

func (c catalogFiles) FindDescriptorByName(name protoreflect.FullName) (protoreflect.Descriptor, error) {
	cat := c.b.catalog.Load()
	if cat == nil {
		return nil, protoregistry.NotFound
	}
	return cat.files.FindDescriptorByName(name)
}

// method finds a method's descriptor in the catalog.
func (b *Bridge) method(method string) protoreflect.MethodDescriptor {
	return b.catalog.Load().methods[method]
}

// servedBy returns the services the catalog lists for t, sorted.
func (c *catalog) servedBy(t *target) []string {
	var out []string
	for s, st := range c.services {
		if st == t {
			out = append(out, s)
		}
	}
	slices.Sort(out)
	return out
}
