package runtime

import (
	"net/http"
	"strings"

	"github.com/protoc-gen-go-lambda/protoc-gen-go-lambda/runtime/internal/wire"
)

// This file answers CORS (https://fetch.spec.whatwg.org/#http-cors-protocol)
// for front ends that do not answer it themselves: an API Gateway REST API,
// a load balancer, or a Function URL or HTTP API without a CORS
// configuration. It is off unless the CORS server option is given.

// The header lists are those of connectrpc.com/cors, which Connect and
// gRPC-Web browser clients need.
var (
	// corsAllowedHeaders are the request headers the protocols use.
	corsAllowedHeaders = []string{
		"Content-Type", "Connect-Protocol-Version", "Connect-Timeout-Ms",
		"Connect-Accept-Encoding", "Connect-Content-Encoding",
		"Accept-Encoding", "Content-Encoding",
		"Grpc-Timeout", "X-Grpc-Web", "X-User-Agent",
	}
	// corsExposedHeaders are the response headers the protocols use.
	corsExposedHeaders = []string{
		"Content-Encoding", "Connect-Content-Encoding",
		"Grpc-Status", "Grpc-Message", "Grpc-Status-Details-Bin",
	}
)

// corsMaxAge is how long, in seconds, a browser may cache a preflight's
// answer: two hours, what Chromium allows at most.
const corsMaxAge = "7200"

// corsPolicy is the CORS server option's configuration.
type corsPolicy struct {
	anyOrigin bool
	origins   []string // exact origins, or patterns with one "*"
}

func newCORSPolicy(origins []string) *corsPolicy {
	p := &corsPolicy{}
	for _, o := range origins {
		if o == "*" {
			p.anyOrigin = true
			continue
		}
		p.origins = append(p.origins, strings.ToLower(o))
	}
	return p
}

// allows reports whether a request from origin may read the answer.
func (p *corsPolicy) allows(origin string) bool {
	if p.anyOrigin {
		return true
	}
	origin = strings.ToLower(origin)
	for _, o := range p.origins {
		if o == origin {
			return true
		}
		if prefix, suffix, ok := strings.Cut(o, "*"); ok &&
			len(origin) > len(prefix)+len(suffix) && strings.HasPrefix(origin, prefix) && strings.HasSuffix(origin, suffix) {
			return true
		}
	}
	return false
}

// allowOrigin is the Access-Control-Allow-Origin value for an allowed origin.
func (p *corsPolicy) allowOrigin(origin string) string {
	if p.anyOrigin {
		return "*"
	}
	return origin
}

// preflight answers an OPTIONS preflight request. A preflight from an
// origin that is not allowed, or for a method other than GET or POST, gets a
// 204 without CORS headers, and the browser does not send the request.
func (p *corsPolicy) preflight(req *requestHeaders) wire.HTTPResponse {
	resp := wire.HTTPResponse{Status: http.StatusNoContent, Body: []byte{}}
	resp.Header = append(resp.Header, wire.Field{Name: "vary", Value: "Origin, Access-Control-Request-Method, Access-Control-Request-Headers"})
	if !p.allows(req.origin) || req.corsMethod != http.MethodPost && req.corsMethod != http.MethodGet {
		return resp
	}
	// Any request header is allowed: besides the protocols' own, metadata
	// names are the application's.
	allowed := strings.Join(corsAllowedHeaders, ", ")
	if req.corsHeaders != "" {
		allowed += ", " + req.corsHeaders
	}
	resp.Header = append(resp.Header,
		wire.Field{Name: "access-control-allow-origin", Value: p.allowOrigin(req.origin)},
		wire.Field{Name: "access-control-allow-methods", Value: "GET, POST"},
		wire.Field{Name: "access-control-allow-headers", Value: allowed},
		wire.Field{Name: "access-control-max-age", Value: corsMaxAge},
	)
	return resp
}

// decorate adds CORS headers to the answer to an allowed origin's request:
// every header the answer has is exposed to the page, so that header and
// trailer metadata reach a browser client.
func (p *corsPolicy) decorate(resp *wire.HTTPResponse, origin string) {
	addVary(resp, "Origin")
	if !p.allows(origin) {
		return
	}
	var exposed strings.Builder
	exposed.WriteString(strings.Join(corsExposedHeaders, ", "))
	seen := ""
	for _, f := range resp.Header {
		if f.Name == seen || corsSafelisted(f.Name) {
			continue
		}
		seen = f.Name
		exposed.WriteString(", ")
		exposed.WriteString(f.Name)
	}
	resp.Header = append(resp.Header,
		wire.Field{Name: "access-control-allow-origin", Value: p.allowOrigin(origin)},
		wire.Field{Name: "access-control-expose-headers", Value: exposed.String()},
	)
}

// addVary adds a name to the answer's Vary header.
func addVary(resp *wire.HTTPResponse, name string) {
	for i := range resp.Header {
		if resp.Header[i].Name == "vary" {
			resp.Header[i].Value += ", " + name
			return
		}
	}
	resp.Header = append(resp.Header, wire.Field{Name: "vary", Value: name})
}

// corsSafelisted reports whether a response header needs no exposing: a
// page may read it anyway, it is in corsExposedHeaders already, or it is
// CORS's own.
func corsSafelisted(name string) bool {
	switch name {
	case "cache-control", "content-language", "content-length", "content-type",
		"expires", "last-modified", "pragma", "vary",
		"content-encoding", "grpc-status", "grpc-message", "grpc-status-details-bin":
		return true
	}
	return strings.HasPrefix(name, "access-control-")
}
