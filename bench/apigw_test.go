package bench

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
	"github.com/awslabs/aws-lambda-go-api-proxy/handlerfunc"
)

// Fixed parts of the API Gateway events.
const (
	apiDomain    = "a1b2c3d4e5.execute-api.eu-west-1.amazonaws.com"
	apiSourceIP  = "203.0.113.17"
	apiUserAgent = "bench-client/1.0"
)

// apiGateway is an API Gateway HTTP API (payload format 2.0) in front of a
// Lambda function whose handler is aws-lambda-go-api-proxy around an
// http.Handler.
//
// A request goes the way it goes in AWS. The gateway's side turns the HTTP
// request into the event JSON; the function's side is aws-lambda-go's
// lambda.NewHandler (what lambda.Start runs for each invocation: decode the
// event JSON, call the proxy, encode the response event JSON); the gateway's
// side decodes the response event. All of it is counted: the two gateway
// steps match the JSON envelope encoding and decoding that a client of a
// directly invoked function must do.
type apiGateway struct {
	function lambda.Handler
}

// newAPIGateway returns a gateway in front of a function serving h through
// the api-proxy.
func newAPIGateway(h http.HandlerFunc) *apiGateway {
	return &apiGateway{function: lambda.NewHandler(handlerfunc.NewV2(h).ProxyWithContext)}
}

// post sends an HTTP POST of body to rawPath and returns the response event
// of a 200 response and the event JSON bytes in and out. A binary body is
// base64-encoded into the event, as API Gateway does for binary media.
func (g *apiGateway) post(ctx context.Context, rawPath, contentType string, body []byte, binary bool) (events.APIGatewayV2HTTPResponse, int, error) {
	var resp events.APIGatewayV2HTTPResponse
	in, err := json.Marshal(newHTTPEvent(rawPath, contentType, body, binary))
	if err != nil {
		return resp, 0, err
	}
	// out aliases a pooled buffer of the handler that the next Invoke reuses;
	// it is decoded before then.
	out, err := g.function.Invoke(ctx, in)
	if err != nil {
		return resp, 0, err
	}
	if err := json.Unmarshal(out, &resp); err != nil {
		return resp, 0, err
	}
	if resp.StatusCode != http.StatusOK {
		return resp, 0, fmt.Errorf("status %d: %s", resp.StatusCode, resp.Body)
	}
	return resp, len(in) + len(out), nil
}

// responseBody returns the decoded body of a response event.
func responseBody(resp events.APIGatewayV2HTTPResponse) ([]byte, error) {
	if resp.IsBase64Encoded {
		return base64.StdEncoding.DecodeString(resp.Body)
	}
	return []byte(resp.Body), nil
}

// newHTTPEvent returns the event that API Gateway delivers for a POST of
// body to rawPath, with the headers and request context of a real one.
func newHTTPEvent(rawPath, contentType string, body []byte, binary bool) events.APIGatewayV2HTTPRequest {
	ev := events.APIGatewayV2HTTPRequest{
		Version:  "2.0",
		RouteKey: "$default",
		RawPath:  rawPath,
		Headers: map[string]string{
			"accept":            contentType,
			"content-length":    strconv.Itoa(len(body)),
			"content-type":      contentType,
			"host":              apiDomain,
			"user-agent":        apiUserAgent,
			"x-amzn-trace-id":   "Root=1-6926a0b4-3f1c2a7d5e9b8c0a1d2e3f40",
			"x-forwarded-for":   apiSourceIP,
			"x-forwarded-port":  "443",
			"x-forwarded-proto": "https",
		},
		RequestContext: events.APIGatewayV2HTTPRequestContext{
			RouteKey:     "$default",
			AccountID:    "123456789012",
			Stage:        "$default",
			RequestID:    "UTcQJgY9iYcEMhw=",
			APIID:        "a1b2c3d4e5",
			DomainName:   apiDomain,
			DomainPrefix: "a1b2c3d4e5",
			Time:         "26/Nov/2025:06:13:00 +0000",
			TimeEpoch:    1764137580000,
			HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{
				Method:    http.MethodPost,
				Path:      rawPath,
				Protocol:  "HTTP/1.1",
				SourceIP:  apiSourceIP,
				UserAgent: apiUserAgent,
			},
		},
	}
	if binary {
		ev.Body = base64.StdEncoding.EncodeToString(body)
		ev.IsBase64Encoded = true
	} else {
		ev.Body = string(body)
	}
	return ev
}
