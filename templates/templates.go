// Package templates holds the text/template sources of the generated code,
// embedded in the plugin binary.
package templates

import (
	"embed"
	"text/template"
)

//go:embed *.tmpl
var files embed.FS

// Service renders everything generated for one service. It is parsed once;
// the generator clones it per file to bind the "ident" family of functions,
// which qualify Go identifiers through protogen so that protogen owns the
// import block.
var Service = template.Must(template.New("service.go.tmpl").Funcs(template.FuncMap{
	"ident":   unbound,
	"grpc":    unbound,
	"context": unbound,
	"runtime": unbound,
	"status":  unbound,
	"codes":   unbound,
}).ParseFS(files, "service.go.tmpl"))

// unbound stands in for the per-file functions until the generator binds them.
func unbound(any) string { panic("templates: ident functions must be bound with Funcs before Execute") }
