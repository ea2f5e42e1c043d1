// Package generator turns proto services into the Go code of
// protoc-gen-go-lambda: for each service a typed Lambda client and handler
// over the runtime package. It reads protogen's view of the request, builds
// a small model of services and methods (model.go) and renders it with the
// templates package into a protogen.GeneratedFile, which owns the imports
// and the formatting.
package generator

import (
	"fmt"
	"go/token"
	"path"
	"strconv"
	"strings"
	"text/template"

	"google.golang.org/protobuf/compiler/protogen"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/pluginpb"

	"github.com/protoc-gen-go-lambda/protoc-gen-go-lambda/templates"
)

// Version is the version of protoc-gen-go-lambda, printed by --version and
// written into every generated file.
const Version = "0.1.0"

// FileSuffix ends the name of every generated file.
const FileSuffix = "_lambda.pb.go"

// Go packages the generated code refers to.
const (
	contextPackage = protogen.GoImportPath("context")
	grpcPackage    = protogen.GoImportPath("google.golang.org/grpc")
	codesPackage   = protogen.GoImportPath("google.golang.org/grpc/codes")
	statusPackage  = protogen.GoImportPath("google.golang.org/grpc/status")
	runtimePackage = protogen.GoImportPath("github.com/protoc-gen-go-lambda/protoc-gen-go-lambda/runtime")
)

// Options are the plugin's parameters.
type Options struct {
	// PackageSuffix, when set, puts the generated code in a sub-package of
	// the messages' package: for Go package "foov1" and suffix "lambda",
	// package "foov1lambda" in directory "foov1lambda" beside the .pb.go
	// files, as protoc-gen-connect-go's package_suffix does.
	PackageSuffix string

	// Standalone makes the generated code self-contained: it declares its
	// own server and client types instead of aliasing the ones
	// protoc-gen-go-grpc generates in the messages' package, for projects
	// that do not run protoc-gen-go-grpc. See docs/generated-code.md.
	Standalone bool
}

// Set sets the parameter name to value; it is protogen.Options.ParamFunc.
// Parameters protogen knows itself (paths, module, M...) never reach it.
// A boolean parameter given bare ("standalone") is true.
func (o *Options) Set(name, value string) error {
	switch name {
	case "package_suffix":
		o.PackageSuffix = value
		return nil
	case "standalone":
		if value == "" {
			o.Standalone = true
			return nil
		}
		b, err := strconv.ParseBool(value)
		if err != nil {
			return fmt.Errorf("standalone=%q: want true or false", value)
		}
		o.Standalone = b
		return nil
	}
	return fmt.Errorf("unknown parameter %q (known: package_suffix, standalone)", name)
}

// A mode is what differs between the default and the standalone output:
// the template, the oldest grpc-go the generated code compiles against, and
// the grpc-go constant that asserts it.
type mode struct {
	template    *template.Template
	grpcVersion string // the oldest grpc-go release the generated code needs
	grpcSupport string // grpc.SupportPackageIsVersionN of that release
}

var (
	// reuseMode aliases and calls protoc-gen-go-grpc's output, so it needs
	// what that refers to: grpc.ServiceRegistrar and
	// grpc.ClientConnInterface, both in grpc-go since v1.32.0 (with
	// SupportPackageIsVersion7).
	reuseMode = mode{templates.Reuse, "v1.32.0", "SupportPackageIsVersion7"}
	// standaloneMode uses the generic stream types (grpc.ServerStreamingServer
	// and friends) and grpc.StaticMethod: grpc-go v1.64.0 and later, with
	// SupportPackageIsVersion9.
	standaloneMode = mode{templates.Standalone, "v1.64.0", "SupportPackageIsVersion9"}
)

// Generate writes a file for every requested proto file that has services.
func Generate(gen *protogen.Plugin, opts Options) error {
	gen.SupportedFeatures = uint64(pluginpb.CodeGeneratorResponse_FEATURE_PROTO3_OPTIONAL) |
		uint64(pluginpb.CodeGeneratorResponse_FEATURE_SUPPORTS_EDITIONS)
	gen.SupportedEditionsMinimum = descriptorpb.Edition_EDITION_PROTO2
	gen.SupportedEditionsMaximum = descriptorpb.Edition_EDITION_2024
	if opts.PackageSuffix != "" && !token.IsIdentifier(opts.PackageSuffix) {
		return fmt.Errorf("package_suffix %q is not a valid Go identifier", opts.PackageSuffix)
	}
	for _, f := range gen.Files {
		if !f.Generate || len(f.Services) == 0 {
			continue
		}
		if err := generateFile(gen, f, opts); err != nil {
			return fmt.Errorf("%s: %w", f.Desc.Path(), err)
		}
	}
	return nil
}

func generateFile(gen *protogen.Plugin, file *protogen.File, opts Options) error {
	filename := file.GeneratedFilenamePrefix + FileSuffix
	importPath := file.GoImportPath
	pkgName := file.GoPackageName
	if opts.PackageSuffix != "" {
		pkgName += protogen.GoPackageName(opts.PackageSuffix)
		dir, base := path.Split(file.GeneratedFilenamePrefix)
		filename = path.Join(dir, string(pkgName), base+FileSuffix)
		importPath = protogen.GoImportPath(path.Join(string(file.GoImportPath), string(pkgName)))
	}
	g := gen.NewGeneratedFile(filename, importPath)
	m := reuseMode
	if opts.Standalone {
		m = standaloneMode
	}

	g.P("// Code generated by protoc-gen-go-lambda. DO NOT EDIT.")
	g.P("// versions:")
	g.P("// - protoc-gen-go-lambda v", Version)
	g.P("// - protoc               ", protocVersion(gen))
	if file.Proto.GetOptions().GetDeprecated() {
		g.P("// ", file.Desc.Path(), " is a deprecated file.")
	} else {
		g.P("// source: ", file.Desc.Path())
	}
	g.P("//")
	if opts.Standalone {
		g.P("// Mode: standalone=true. This file declares its own server and client")
		g.P("// types and needs no protoc-gen-go-grpc output. Without the standalone")
		g.P("// parameter the plugin reuses protoc-gen-go-grpc's types instead.")
	} else {
		g.P("// Mode: default. This file reuses the server and client types that")
		g.P("// protoc-gen-go-grpc (any version) generates for these services, so its")
		if importPath == file.GoImportPath {
			g.P("// output must be generated into this package too. Projects that do not")
			g.P("// run protoc-gen-go-grpc generate with standalone=true instead.")
		} else {
			g.P("// output must be generated into package ", string(file.GoImportPath), ",")
			g.P("// beside the messages. Projects that do not run protoc-gen-go-grpc")
			g.P("// generate with standalone=true instead.")
		}
	}
	g.P()
	g.P("package ", pkgName)
	g.P()
	g.P("// These are compile-time assertions that this generated file is compatible")
	g.P("// with the runtime and grpc packages it is compiled against.")
	g.P("// Requires gRPC-Go ", m.grpcVersion, " or later.")
	g.P("const (")
	g.P("_ = ", runtimePackage.Ident("SupportPackageIsVersion1"))
	g.P("_ = ", grpcPackage.Ident(m.grpcSupport))
	g.P(")")
	g.P()

	tmpl, err := m.template.Clone()
	if err != nil {
		return err
	}
	qualify := func(p protogen.GoImportPath) func(string) string {
		return func(name string) string { return g.QualifiedGoIdent(p.Ident(name)) }
	}
	tmpl.Funcs(map[string]any{
		"ident":   g.QualifiedGoIdent,
		"grpc":    qualify(grpcPackage),
		"context": qualify(contextPackage),
		"runtime": qualify(runtimePackage),
		"status":  qualify(statusPackage),
		"codes":   qualify(codesPackage),
	})
	for _, s := range file.Services {
		var b strings.Builder
		if err := tmpl.Execute(&b, newService(file, s)); err != nil {
			return fmt.Errorf("service %s: %w", s.Desc.FullName(), err)
		}
		g.P(b.String())
	}
	return nil
}

func protocVersion(gen *protogen.Plugin) string {
	v := gen.Request.GetCompilerVersion()
	if v == nil {
		return "(unknown)"
	}
	suffix := ""
	if s := v.GetSuffix(); s != "" {
		suffix = "-" + s
	}
	return fmt.Sprintf("v%d.%d.%d%s", v.GetMajor(), v.GetMinor(), v.GetPatch(), suffix)
}
