// Package templates holds the text/template sources of the generated code,
// embedded in the plugin binary.
package templates

import (
	"embed"
	"text/template"
)

//go:embed *.tmpl
var files embed.FS

// Standalone renders everything generated for one service in the
// standalone mode: self-contained server and client types. Reuse renders
// the default mode: aliases of protoc-gen-go-grpc's types and thin
// functions over its output. Each is parsed once; the generator clones it
// per file to bind the "ident" family of functions, which qualify Go
// identifiers through protogen so that protogen owns the import block.
var (
	Standalone = parse("standalone.go.tmpl")
	Reuse      = parse("reuse.go.tmpl")
)

func parse(name string) *template.Template {
	return template.Must(template.New(name).Funcs(template.FuncMap{
		"ident":   unbound,
		"grpc":    unbound,
		"context": unbound,
		"runtime": unbound,
		"status":  unbound,
		"codes":   unbound,
	}).ParseFS(files, name))
}

// unbound stands in for the per-file functions until the generator binds them.
func unbound(any) string { panic("templates: ident functions must be bound with Funcs before Execute") }
