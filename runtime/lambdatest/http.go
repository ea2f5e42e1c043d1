package lambdatest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/aws"
	awslambda "github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/smithy-go"
)

// FrontEnd is one of the AWS services that turn an HTTP request into a
// Lambda event and the function's answer back into an HTTP response. Each
// builds its own event shape and reads its own response shape, and a
// function written for one breaks behind another: NewHTTPHandler takes the
// front end the function will be deployed behind so that local requests meet
// the same shapes, limits and error answers.
//
// What each models, and from where (the AWS documentation unless said
// otherwise):
//
//   - FunctionURL: Lambda function URLs, "Invoking Lambda function URLs"
//     (Lambda Developer Guide, urls-invocation). Payload format 2.0.
//   - HTTPAPI: API Gateway HTTP APIs with a Lambda proxy integration of
//     payload format 2.0 on the $default route and stage, "Working with AWS
//     Lambda proxy integrations for HTTP APIs" (API Gateway Developer Guide,
//     http-api-develop-integrations-lambda).
//   - RESTAPI: API Gateway REST APIs with a Lambda proxy integration on
//     ANY / and ANY /{proxy+}, deployed to a stage, "Set up Lambda proxy
//     integrations in API Gateway" (set-up-lambda-proxy-integrations) and
//     "Binary media types for REST APIs" (api-gateway-payload-encodings,
//     lambda-proxy-binary-media). Payload format 1.0.
//   - ALB and ALBMultiValue: an Application Load Balancer target group of
//     type lambda, with multi-value headers off or on, "Lambda functions as
//     targets" and "Troubleshoot your Application Load Balancers" (Elastic
//     Load Balancing, lambda-functions, load-balancer-troubleshooting).
type FrontEnd int

const (
	// FunctionURL is a Lambda function URL with auth type NONE and invoke
	// mode BUFFERED (RESPONSE_STREAM with WithResponseStream): payload
	// format 2.0, header names lower-cased, repeated headers and query
	// parameters comma-joined, cookies in "cookies", a body that is not
	// text base64-encoded; 6 MB each way (Lambda's synchronous limit); a
	// failed function is a 502. The response is read as format 2.0 has it:
	// statusCode, headers, cookies (each a Set-Cookie), body,
	// isBase64Encoded, and no multiValueHeaders; valid JSON without a
	// statusCode is the body of a 200 application/json. An answer in
	// Lambda's streamed HTTP format (see WithResponseStream) is read as one.
	FunctionURL FrontEnd = iota
	// HTTPAPI is an API Gateway HTTP API: the same event as FunctionURL
	// (payload format 2.0, routeKey and stage "$default"), but for
	// requestContext.accountId (the API's account, where a function URL
	// with auth type NONE says "anonymous"), and the gateway's own answers:
	// {"message":...} documents, a 10 MB body limit before Lambda's 6 MB,
	// and a 30-second integration timeout (503). In every event,
	// requestContext.domainName is the Host the client used, as it is on
	// AWS for the API's or URL's domain.
	HTTPAPI
	// RESTAPI is an API Gateway REST API with a Lambda proxy integration
	// (payload format 1.0), deployed to a stage (WithStage): the client's
	// path starts with /<stage>, the event's "path" does not, and
	// requestContext.path does. Header names keep their case (as net/http
	// canonicalises them: the original case is not available to a Go
	// server); "headers" and "queryStringParameters" hold the last value of
	// a repeated name, the multiValue fields all of them. A body is
	// base64-encoded only when its Content-Type matches the API's binary
	// media types (WithBinaryMediaTypes), and a response with
	// isBase64Encoded is decoded only when the request's Accept does. A
	// failed function is a 502, the 29-second integration timeout a 504.
	// The integration's response transfer mode is BUFFERED (STREAM with
	// WithResponseStream); an answer in Lambda's streamed HTTP format is
	// read as one either way.
	RESTAPI
	// ALB is an Application Load Balancer with multi-value headers off:
	// header names lower-cased, the last value of a repeated header or query
	// parameter wins, query parameters are passed without URL-decoding, a
	// body is base64-encoded unless its type is text/*, application/json,
	// application/javascript or application/xml. The request body may be at
	// most 1 MB (413) and the response JSON 1 MB (502). The response's
	// "headers" are read; its "multiValueHeaders" are not. Its
	// statusDescription is not sent: net/http writes the standard reason
	// phrase.
	ALB
	// ALBMultiValue is ALB with the target group's
	// lambda.multi_value_headers.enabled attribute on: the event has
	// multiValueHeaders and multiValueQueryStringParameters instead of
	// headers and queryStringParameters, and the response must use
	// multiValueHeaders (its "headers" are not read).
	ALBMultiValue
)

// String returns the front end's name.
func (fe FrontEnd) String() string {
	switch fe {
	case FunctionURL:
		return "FunctionURL"
	case HTTPAPI:
		return "HTTPAPI"
	case RESTAPI:
		return "RESTAPI"
	case ALB:
		return "ALB"
	case ALBMultiValue:
		return "ALBMultiValue"
	}
	return "FrontEnd(" + strconv.Itoa(int(fe)) + ")"
}

// Limits the front ends enforce besides Lambda's own 6 MB (MaxPayloadSize).
const (
	// MaxAPIGatewayPayloadSize is API Gateway's payload limit, 10 MB, for
	// REST and HTTP APIs; with a Lambda integration the event must also fit
	// in Lambda's 6 MB.
	MaxAPIGatewayPayloadSize = 10 * 1024 * 1024
	// MaxALBBodySize is the ALB's limit for a request body sent to a Lambda
	// function and for the function's response JSON: 1 MB.
	MaxALBBodySize = 1024 * 1024
	// maxRESTPreludeSize is where a REST API in STREAM mode gives up
	// looking for the end of the prelude: the metadata must be in the
	// first 16 KB of the stream (response-transfer-mode-lambda).
	maxRESTPreludeSize = 16 * 1024
)

// Integration timeouts of API Gateway; the other front ends wait for the
// function's own timeout.
const (
	// DefaultRESTAPIIntegrationTimeout is a REST API's default (and, for
	// edge-optimized APIs, maximum) integration timeout.
	DefaultRESTAPIIntegrationTimeout = 29 * time.Second
	// DefaultHTTPAPIIntegrationTimeout is an HTTP API's maximum integration
	// timeout.
	DefaultHTTPAPIIntegrationTimeout = 30 * time.Second
)

// Identifiers the events carry, the same in every event (the Invoker's
// function ARN uses the same account).
const (
	httpAccountID     = "123456789012"
	httpAPIID         = "lambdatest"
	httpTargetGroup   = "arn:aws:elasticloadbalancing:us-east-1:" + httpAccountID + ":targetgroup/lambdatest/0123456789abcdef"
	httpFunctionName  = "function"
	defaultStage      = "prod"
	defaultBinaryType = "*/*"
)

// An HTTPOption configures NewHTTPHandler. Every Option of NewInvoker is
// also an HTTPOption and configures the Invoker that runs the function
// (WithFunctionTimeout, WithMaxConcurrency), so one list of options sets up
// both the front end and the function behind it.
type HTTPOption interface {
	applyHTTP(*httpConfig)
}

func (o Option) applyHTTP(c *httpConfig) { c.invokerOpts = append(c.invokerOpts, o) }

type httpOptionFunc func(*httpConfig)

func (f httpOptionFunc) applyHTTP(c *httpConfig) { f(c) }

type httpConfig struct {
	invokerOpts      []Option
	stage            string
	binaryMediaTypes []string
	integration      time.Duration // 0: the front end's default
	stream           bool          // WithResponseStream
}

// WithStage sets the RESTAPI's stage, the first segment of every path its
// clients use; the default is "prod". Other front ends ignore it: a
// function URL has no stage, and the HTTPAPI is on its $default stage,
// which adds no path segment.
func WithStage(name string) HTTPOption {
	return httpOptionFunc(func(c *httpConfig) {
		if name = strings.Trim(name, "/"); name != "" {
			c.stage = name
		}
	})
}

// WithBinaryMediaTypes sets the RESTAPI's binaryMediaTypes: a request body
// whose Content-Type matches one is base64-encoded in the event, any other
// is passed as text (bytes that are not UTF-8 are replaced, as API Gateway
// mangles them), and a response with isBase64Encoded is decoded only when
// the request's first Accept media type matches one. The default, "*/*",
// is what AWS recommends for browsers and what makes every body binary-safe
// (Connect, gRPC-Web, protobuf); a real REST API has no binary media types
// until they are configured, so a function that works here with the
// default needs "*/*" (or its types) configured on the deployed API;
// WithBinaryMediaTypes() with no types models such an API before that.
// Other front ends ignore it.
func WithBinaryMediaTypes(types ...string) HTTPOption {
	return httpOptionFunc(func(c *httpConfig) {
		c.binaryMediaTypes = append([]string(nil), types...)
	})
}

// WithIntegrationTimeout sets how long API Gateway (HTTPAPI, RESTAPI) waits
// for the function before answering for it (HTTP API: 503 Service
// Unavailable; REST API: 504 Endpoint request timed out); the defaults are
// DefaultHTTPAPIIntegrationTimeout and DefaultRESTAPIIntegrationTimeout.
// The function itself runs on to its own timeout, as on AWS. FunctionURL
// and the ALBs have no integration timeout; they ignore it.
func WithIntegrationTimeout(d time.Duration) HTTPOption {
	return httpOptionFunc(func(c *httpConfig) {
		if d > 0 {
			c.integration = d
		}
	})
}

// WithResponseStream makes the front end stream the function's response,
// as a FunctionURL in invoke mode RESPONSE_STREAM and a RESTAPI whose
// Lambda integration has the response transfer mode STREAM do: the function
// is invoked as InvokeWithResponseStream invokes it, and what it writes
// reaches the client as it writes it. NewHTTPHandler panics when it is
// given for another front end: HTTP APIs and load balancers cannot stream
// a response.
//
// The function is invoked through the Invoker's InvokeWithResponseStream,
// as the front end invokes it on AWS. A handler that implements
// StreamHandler (a *runtime.Server, whose main is then
// lambda.Start(srv.InvokeStream)) is called through InvokeStream, and its
// io.Reader is read as Lambda reads a streamed response: Lambda's
// streamed HTTP format (content type
// application/vnd.awslambda.http-integration-response), a JSON prelude
// with statusCode (200 when absent), headers, cookies (each a Set-Cookie)
// and, for the RESTAPI, multiValueHeaders, then eight zero bytes, then
// the body's raw bytes. The front end writes the status and headers once
// it has the prelude (without Content-Length: HTTP/1.1 clients get a
// chunked body), then copies each read of the body to the client and
// flushes it, so that a client sees each message when the function writes
// it. Any other handler is called through Invoke, and its answer is read
// the same way, at once. An answer that is not in the streamed format (no
// zero byte in it: a JSON response event never has one) is read as the
// front end reads a buffered answer.
//
// What Lambda and the front end do to a streamed response is kept:
//
//   - the function gets a fresh context with the function timeout, and
//     the payload as aws-lambda-go gives it (a copy in a json.RawMessage
//     for InvokeStream; for Invoke, a buffer reused once it has returned);
//   - the request payload is limited to 6 MB as for Invoke, the streamed
//     response to MaxStreamedResponseSize instead of 6 MB (the answer of a
//     handler that does not stream, one buffered response, to 6 MB);
//   - a function that fails, times out or answers something the front end
//     cannot read before the prelude is complete gets the front end's
//     error response (502; the RESTAPI also wants the prelude within the
//     first 16 KB); once the headers are out, a failure, the function
//     timeout or the size limit cuts the response: the connection is
//     closed before the end of the body, so the client sees a broken
//     stream rather than a short one;
//   - the RESTAPI's integration timeout (WithIntegrationTimeout, up to 15
//     minutes in STREAM mode; 29 seconds by default) bounds the wait for
//     the prelude (504); the stream then runs to the function timeout;
//   - a client that goes away stops the copying, not the function: the
//     rest of its stream is read and dropped, as Lambda drops it.
//
// Not modelled: the bandwidth limit past the first 6 MB (function URLs)
// or 10 MB (REST APIs) of a stream, and API Gateway's idle timeout of a
// stream (5 minutes; 30 seconds for edge-optimized APIs).
func WithResponseStream() HTTPOption {
	return httpOptionFunc(func(c *httpConfig) { c.stream = true })
}

// httpFrontEnd is the http.Handler NewHTTPHandler returns.
type httpFrontEnd struct {
	fe  FrontEnd
	inv *Invoker
	cfg httpConfig
}

// NewHTTPHandler returns an http.Handler that stands in for the AWS front
// end fe in front of the function h, so that a function meant to serve HTTP
// through AWS can be tried with a browser, curl or `buf curl`, and tested
// with a real HTTP client, without AWS. For each request it:
//
//   - builds the event exactly as fe does (see FrontEnd), from the request
//     as the server received it;
//   - enforces fe's size limits (413 for a request too large) and, for API
//     Gateway, its integration timeout;
//   - invokes h as NewInvoker does (a fresh context with the function
//     timeout, the payload buffer reused after the call, Lambda's 6 MB
//     limits and error documents), with the options among opts;
//   - reads the function's answer in fe's response shape (statusCode,
//     headers, multiValueHeaders, cookies, body, isBase64Encoded) and writes
//     it, or fe's own error response when the function failed, timed out,
//     answered too much or answered something fe cannot read (502).
//
// Hop-by-hop headers are not passed either way, Content-Length is computed,
// and trailers are never sent: the front ends buffer whole messages (but
// with WithResponseStream, where the body is streamed, chunked, and has no
// Content-Length). A response without a Content-Type gets application/json
// from the function URL and API Gateway front ends (as LocalStack's
// function URLs answer), application/octet-stream when it is streamed, and
// none from the ALBs.
//
// The function URL and REST API front ends also read an answer in Lambda's
// streamed HTTP format (WithResponseStream) when they are not streaming:
// the bytes a function started with lambda.Start(srv.InvokeStream) gives
// to a buffered invocation, such as those an EmulatorHandler gets from the
// emulator, which cannot stream. (On AWS such a function belongs behind a
// function URL in RESPONSE_STREAM mode, or a REST API integration in
// STREAM mode.) The HTTP API and ALB front ends cannot read them: 502, as
// for any answer they cannot read. The client is answered over whatever the server
// speaks; the stand-in does not add TLS. Requests are not routed: every
// path reaches h (in the REST API, every path in the stage), as with a
// function URL or a catch-all route.
//
// The returned handler owns an Invoker for h that is never closed: a
// function still running when the server stops runs on until it returns or
// its timeout ends its context.
func NewHTTPHandler(h lambda.Handler, fe FrontEnd, opts ...HTTPOption) http.Handler {
	cfg := httpConfig{stage: defaultStage, binaryMediaTypes: []string{defaultBinaryType}}
	for _, o := range opts {
		o.applyHTTP(&cfg)
	}
	if cfg.integration == 0 {
		switch fe {
		case HTTPAPI:
			cfg.integration = DefaultHTTPAPIIntegrationTimeout
		case RESTAPI:
			cfg.integration = DefaultRESTAPIIntegrationTimeout
		}
	}
	if fe != HTTPAPI && fe != RESTAPI {
		cfg.integration = 0
	}
	if cfg.stream && fe != FunctionURL && fe != RESTAPI {
		panic("lambdatest: WithResponseStream: " + fe.String() + " cannot stream a response; only a FunctionURL (invoke mode RESPONSE_STREAM) and a RESTAPI (response transfer mode STREAM) can")
	}
	return &httpFrontEnd{fe: fe, inv: NewInvoker(h, cfg.invokerOpts...), cfg: cfg}
}

// request is what the event is built from.
type request struct {
	r        *http.Request
	body     []byte
	now      time.Time
	id       string // the front end's request ID
	sourceIP string
	proto    string // x-forwarded-proto
	port     string // x-forwarded-port
}

// ServeHTTP answers one request as the front end would (NewHTTPHandler).
func (f *httpFrontEnd) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	limit := int64(MaxPayloadSize) // the event can only be larger
	switch f.fe {
	case HTTPAPI, RESTAPI:
		limit = MaxAPIGatewayPayloadSize
	case ALB, ALBMultiValue:
		limit = MaxALBBodySize
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, limit+1))
	if err != nil {
		// The client went away, or sent a malformed body: every front end
		// refuses that before invoking anything.
		f.writeError(w, http.StatusBadRequest)
		return
	}
	if int64(len(body)) > limit {
		f.writeError(w, http.StatusRequestEntityTooLarge)
		return
	}
	req := &request{r: r, body: body, now: time.Now().UTC(), id: newRequestID(), sourceIP: remoteIP(r), proto: "http", port: localPort(r)}
	if r.TLS != nil {
		req.proto = "https"
	}
	var event any
	switch f.fe {
	case FunctionURL, HTTPAPI:
		event = f.eventV2(req)
	case RESTAPI:
		ev, ok := f.eventREST(req)
		if !ok {
			// Outside the stage: there is no such resource.
			f.writeError(w, http.StatusForbidden)
			return
		}
		event = ev
	case ALB, ALBMultiValue:
		event = f.eventALB(req)
	default:
		http.Error(w, "lambdatest: unknown front end "+f.fe.String(), http.StatusInternalServerError)
		return
	}
	payload, err := json.Marshal(event)
	if err != nil {
		http.Error(w, "lambdatest: "+err.Error(), http.StatusInternalServerError)
		return
	}
	if f.cfg.stream {
		f.serveStreamed(w, r, payload)
		return
	}
	ctx := r.Context()
	if f.cfg.integration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, f.cfg.integration)
		defer cancel()
	}
	out, err := f.inv.Invoke(ctx, &awslambda.InvokeInput{FunctionName: aws.String(httpFunctionName), Payload: payload})
	if err != nil {
		var apiErr smithy.APIError
		switch {
		case errors.As(err, &apiErr) && apiErr.ErrorCode() == "RequestTooLargeException":
			f.writeError(w, http.StatusRequestEntityTooLarge)
		case r.Context().Err() != nil:
			// The client is gone; there is no one to answer.
		case ctx.Err() != nil:
			f.writeError(w, http.StatusGatewayTimeout)
		default:
			f.writeError(w, http.StatusInternalServerError)
		}
		return
	}
	if out.FunctionError != nil {
		f.writeError(w, http.StatusBadGateway)
		return
	}
	if f.fe == FunctionURL || f.fe == RESTAPI {
		if i := bytes.IndexByte(out.Payload, 0); i >= 0 {
			// The streamed format, whole.
			resp, ok := f.parsePrelude(out.Payload, i)
			if !ok {
				f.writeError(w, http.StatusBadGateway)
				return
			}
			resp.body = out.Payload[i+len(preludeEnd):]
			resp.write(w)
			return
		}
	}
	resp, ok := f.parseResponse(out.Payload, r)
	if !ok {
		f.writeError(w, http.StatusBadGateway)
		return
	}
	resp.write(w)
}

// response is an HTTP response read from the function's answer.
type response struct {
	status int
	header http.Header
	body   []byte
}

func (resp *response) write(w http.ResponseWriter) {
	h := w.Header()
	for k, vs := range resp.header {
		h[k] = vs
	}
	if _, ok := h["Content-Type"]; !ok {
		h["Content-Type"] = nil // no sniffing: the front ends add none
	}
	h.Set("Content-Length", strconv.Itoa(len(resp.body)))
	w.WriteHeader(resp.status)
	_, _ = w.Write(resp.body)
}

// writeError answers for the function, or for the front end itself, as fe
// does. status is one of 400, 403, 413, 500, 502 and 504 (a gateway
// timeout; HTTP APIs answer it with 503).
func (f *httpFrontEnd) writeError(w http.ResponseWriter, status int) {
	var ctype, body string
	switch f.fe {
	case FunctionURL:
		// Lambda's own errors: a function error is a plain "Internal Server
		// Error" (as LocalStack's function URLs, checked against AWS,
		// answer); the others are Lambda API error documents.
		switch status {
		case http.StatusBadGateway:
			ctype, body = "text/plain; charset=utf-8", "Internal Server Error"
		case http.StatusRequestEntityTooLarge:
			w.Header().Set("X-Amzn-Errortype", "RequestTooLargeException")
			ctype, body = "application/json", fmt.Sprintf(`{"Message":"Request must be smaller than %d bytes for the InvokeFunction operation"}`, MaxPayloadSize)
		default:
			ctype, body = "application/json", `{"Message":"`+http.StatusText(status)+`"}`
		}
	case HTTPAPI:
		ctype = "application/json"
		switch status {
		case http.StatusBadGateway, http.StatusInternalServerError:
			body = `{"message":"Internal Server Error"}`
		case http.StatusGatewayTimeout:
			status, body = http.StatusServiceUnavailable, `{"message":"Service Unavailable"}`
		case http.StatusRequestEntityTooLarge:
			body = `{"message":"Request Entity Too Large"}`
		default:
			body = `{"message":"` + http.StatusText(status) + `"}`
		}
	case RESTAPI:
		// "Handling Lambda errors with an API Gateway API" (Lambda Developer
		// Guide, services-apigateway-errors): a function error or a response
		// in the wrong format is a 502, a rejected invocation a 500, both
		// with {"message": "Internal server error"}.
		ctype = "application/json"
		switch status {
		case http.StatusBadGateway, http.StatusInternalServerError:
			body = `{"message": "Internal server error"}`
		case http.StatusGatewayTimeout:
			body = `{"message": "Endpoint request timed out"}`
		case http.StatusRequestEntityTooLarge:
			body = `{"message":"Request Too Long"}`
		case http.StatusForbidden:
			body = `{"message":"Forbidden"}`
		default:
			body = `{"message":"` + http.StatusText(status) + `"}`
		}
	default: // the ALBs: their own HTML error pages
		text := strconv.Itoa(status) + " " + http.StatusText(status)
		ctype, body = "text/html", "<html>\r\n<head><title>"+text+"</title></head>\r\n<body>\r\n<center><h1>"+text+"</h1></center>\r\n</body>\r\n</html>\r\n"
	}
	w.Header().Set("Content-Type", ctype)
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = io.WriteString(w, body)
}

// eventV2 is payload format 2.0, as function URLs and HTTP APIs send it.
type eventV2 struct {
	Version               string            `json:"version"`
	RouteKey              string            `json:"routeKey"`
	RawPath               string            `json:"rawPath"`
	RawQueryString        string            `json:"rawQueryString"`
	Cookies               []string          `json:"cookies,omitempty"`
	Headers               map[string]string `json:"headers"`
	QueryStringParameters map[string]string `json:"queryStringParameters,omitempty"`
	RequestContext        contextV2         `json:"requestContext"`
	Body                  *string           `json:"body,omitempty"`
	IsBase64Encoded       bool              `json:"isBase64Encoded"`
}

type contextV2 struct {
	AccountID    string        `json:"accountId"`
	APIID        string        `json:"apiId"`
	DomainName   string        `json:"domainName"`
	DomainPrefix string        `json:"domainPrefix"`
	HTTP         contextV2HTTP `json:"http"`
	RequestID    string        `json:"requestId"`
	RouteKey     string        `json:"routeKey"`
	Stage        string        `json:"stage"`
	Time         string        `json:"time"`
	TimeEpoch    int64         `json:"timeEpoch"`
}

type contextV2HTTP struct {
	Method    string `json:"method"`
	Path      string `json:"path"`
	Protocol  string `json:"protocol"`
	SourceIP  string `json:"sourceIp"`
	UserAgent string `json:"userAgent"`
}

// clfTime is the time format of requestContext.time and requestTime.
const clfTime = "02/Jan/2006:15:04:05 -0700"

func (f *httpFrontEnd) eventV2(req *request) *eventV2 {
	r := req.r
	ev := &eventV2{
		Version:        "2.0",
		RouteKey:       "$default",
		RawPath:        r.URL.EscapedPath(),
		RawQueryString: r.URL.RawQuery,
		Headers:        map[string]string{},
		RequestContext: contextV2{
			AccountID:    httpAccountID,
			APIID:        httpAPIID,
			DomainName:   r.Host,
			DomainPrefix: httpAPIID,
			HTTP: contextV2HTTP{
				Method:    r.Method,
				Path:      r.URL.EscapedPath(),
				Protocol:  r.Proto,
				SourceIP:  req.sourceIP,
				UserAgent: r.UserAgent(),
			},
			RequestID: req.id,
			RouteKey:  "$default",
			Stage:     "$default",
			Time:      req.now.Format(clfTime),
			TimeEpoch: req.now.UnixMilli(),
		},
	}
	if f.fe == FunctionURL {
		// A function URL with auth type NONE has no caller account.
		ev.RequestContext.AccountID = "anonymous"
	}
	// Payload format 2.0: cookies in their own field, one per cookie; every
	// other repeated header comma-joined under its lower-cased name.
	for name, values := range eventHeaders(req) {
		lower := strings.ToLower(name)
		if lower == "cookie" {
			for _, v := range values {
				for _, c := range strings.Split(v, ";") {
					if c = strings.TrimSpace(c); c != "" {
						ev.Cookies = append(ev.Cookies, c)
					}
				}
			}
			continue
		}
		if prev, ok := ev.Headers[lower]; ok {
			values = append([]string{prev}, values...)
		}
		ev.Headers[lower] = strings.Join(values, ",")
	}
	if q := parseQuery(r.URL.RawQuery); len(q) > 0 {
		ev.QueryStringParameters = map[string]string{}
		for k, vs := range q {
			ev.QueryStringParameters[k] = strings.Join(vs, ",")
		}
	}
	if len(req.body) > 0 {
		var body string
		body, ev.IsBase64Encoded = bodyV2(r.Header.Get("Content-Type"), req.body)
		ev.Body = &body
	}
	return ev
}

// bodyV2 encodes a body as function URLs and HTTP APIs do: as text when its
// Content-Type names text, JSON or XML and it is ASCII, base64 otherwise.
// AWS does not document the rule beyond "if the content type of the request
// is binary, the body is base64-encoded"; this is the one LocalStack's
// function URLs implement, whose behaviour is checked against AWS.
func bodyV2(contentType string, body []byte) (string, bool) {
	ct := strings.ToLower(contentType)
	text := strings.Contains(ct, "text") || strings.Contains(ct, "json") || strings.Contains(ct, "xml")
	if text && isASCII(body) {
		return string(body), false
	}
	return base64.StdEncoding.EncodeToString(body), true
}

func isASCII(b []byte) bool {
	for _, c := range b {
		if c >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// eventREST is payload format 1.0, as a REST API's Lambda proxy integration
// sends it.
type eventREST struct {
	Resource                        string              `json:"resource"`
	Path                            string              `json:"path"`
	HTTPMethod                      string              `json:"httpMethod"`
	Headers                         map[string]string   `json:"headers"`
	MultiValueHeaders               map[string][]string `json:"multiValueHeaders"`
	QueryStringParameters           map[string]string   `json:"queryStringParameters"`
	MultiValueQueryStringParameters map[string][]string `json:"multiValueQueryStringParameters"`
	PathParameters                  map[string]string   `json:"pathParameters"`
	StageVariables                  map[string]string   `json:"stageVariables"`
	RequestContext                  contextREST         `json:"requestContext"`
	Body                            *string             `json:"body"`
	IsBase64Encoded                 bool                `json:"isBase64Encoded"`
}

type contextREST struct {
	AccountID         string          `json:"accountId"`
	APIID             string          `json:"apiId"`
	DomainName        string          `json:"domainName"`
	DomainPrefix      string          `json:"domainPrefix"`
	ExtendedRequestID string          `json:"extendedRequestId"`
	HTTPMethod        string          `json:"httpMethod"`
	Identity          identityREST    `json:"identity"`
	Path              string          `json:"path"`
	Protocol          string          `json:"protocol"`
	RequestID         string          `json:"requestId"`
	RequestTime       string          `json:"requestTime"`
	RequestTimeEpoch  int64           `json:"requestTimeEpoch"`
	ResourceID        string          `json:"resourceId"`
	ResourcePath      string          `json:"resourcePath"`
	Stage             string          `json:"stage"`
	Authorizer        json.RawMessage `json:"authorizer,omitempty"`
}

type identityREST struct {
	AccessKey                     *string `json:"accessKey"`
	AccountID                     *string `json:"accountId"`
	Caller                        *string `json:"caller"`
	CognitoAuthenticationProvider *string `json:"cognitoAuthenticationProvider"`
	CognitoAuthenticationType     *string `json:"cognitoAuthenticationType"`
	CognitoIdentityID             *string `json:"cognitoIdentityId"`
	CognitoIdentityPoolID         *string `json:"cognitoIdentityPoolId"`
	PrincipalOrgID                *string `json:"principalOrgId"`
	SourceIP                      string  `json:"sourceIp"`
	User                          *string `json:"user"`
	UserAgent                     string  `json:"userAgent"`
	UserArn                       *string `json:"userArn"`
}

// eventREST builds the event of a REST API deployed to the stage, with the
// resources ANY / and ANY /{proxy+}. It reports false for a path outside
// the stage.
func (f *httpFrontEnd) eventREST(req *request) (*eventREST, bool) {
	r := req.r
	stage := "/" + f.cfg.stage
	escaped := r.URL.EscapedPath()
	if escaped != stage && !strings.HasPrefix(escaped, stage+"/") {
		return nil, false
	}
	path := strings.TrimPrefix(r.URL.Path, stage)
	if path == "" {
		path = "/"
	}
	ev := &eventREST{
		Resource:   "/",
		Path:       path,
		HTTPMethod: r.Method,
		RequestContext: contextREST{
			AccountID:         httpAccountID,
			APIID:             httpAPIID,
			DomainName:        r.Host,
			DomainPrefix:      httpAPIID,
			ExtendedRequestID: req.id,
			HTTPMethod:        r.Method,
			Identity:          identityREST{SourceIP: req.sourceIP, UserAgent: r.UserAgent()},
			Path:              escaped,
			Protocol:          r.Proto,
			RequestID:         req.id,
			RequestTime:       req.now.Format(clfTime),
			RequestTimeEpoch:  req.now.UnixMilli(),
			ResourceID:        "root",
			ResourcePath:      "/",
			Stage:             f.cfg.stage,
		},
	}
	if path != "/" {
		ev.Resource, ev.RequestContext.ResourcePath, ev.RequestContext.ResourceID = "/{proxy+}", "/{proxy+}", "proxy"
		ev.PathParameters = map[string]string{"proxy": strings.TrimPrefix(path, "/")}
	}
	if hs := eventHeaders(req); len(hs) > 0 {
		ev.Headers, ev.MultiValueHeaders = map[string]string{}, map[string][]string{}
		for name, values := range hs {
			ev.Headers[name] = values[len(values)-1]
			ev.MultiValueHeaders[name] = values
		}
	}
	if q := parseQuery(r.URL.RawQuery); len(q) > 0 {
		ev.QueryStringParameters, ev.MultiValueQueryStringParameters = map[string]string{}, q
		for k, vs := range q {
			ev.QueryStringParameters[k] = vs[len(vs)-1]
		}
	}
	if len(req.body) > 0 {
		var body string
		// Without a Content-Type, API Gateway takes the body for JSON.
		ct := r.Header.Get("Content-Type")
		if ct == "" {
			ct = "application/json"
		}
		if mediaTypeMatches(ct, f.cfg.binaryMediaTypes) {
			body, ev.IsBase64Encoded = base64.StdEncoding.EncodeToString(req.body), true
		} else {
			body = strings.ToValidUTF8(string(req.body), "\uFFFD")
		}
		ev.Body = &body
	}
	return ev, true
}

// eventALB is the event of an ALB target group of type lambda; with
// multi-value headers on, the multiValue fields replace the single ones.
type eventALB struct {
	RequestContext                  contextALB           `json:"requestContext"`
	HTTPMethod                      string               `json:"httpMethod"`
	Path                            string               `json:"path"`
	QueryStringParameters           *map[string]string   `json:"queryStringParameters,omitempty"`
	MultiValueQueryStringParameters *map[string][]string `json:"multiValueQueryStringParameters,omitempty"`
	Headers                         *map[string]string   `json:"headers,omitempty"`
	MultiValueHeaders               *map[string][]string `json:"multiValueHeaders,omitempty"`
	Body                            string               `json:"body"`
	IsBase64Encoded                 bool                 `json:"isBase64Encoded"`
}

type contextALB struct {
	ELB struct {
		TargetGroupArn string `json:"targetGroupArn"`
	} `json:"elb"`
}

func (f *httpFrontEnd) eventALB(req *request) *eventALB {
	r := req.r
	ev := &eventALB{HTTPMethod: r.Method, Path: r.URL.EscapedPath()}
	ev.RequestContext.ELB.TargetGroupArn = httpTargetGroup
	multi := f.fe == ALBMultiValue
	// Header names lower-cased; without multi-value headers the last value
	// of a repeated one wins.
	headers := map[string][]string{}
	for name, values := range eventHeaders(req) {
		lower := strings.ToLower(name)
		headers[lower] = append(headers[lower], values...)
	}
	// Query parameters are not URL-decoded; the last value wins too.
	query := map[string][]string{}
	for _, kv := range strings.Split(r.URL.RawQuery, "&") {
		if kv == "" {
			continue
		}
		k, v, _ := strings.Cut(kv, "=")
		query[k] = append(query[k], v)
	}
	// The fields of the mode in use are there even when empty ({}); the
	// other mode's are not.
	if multi {
		ev.MultiValueHeaders, ev.MultiValueQueryStringParameters = &headers, &query
	} else {
		single, singleQuery := map[string]string{}, map[string]string{}
		for k, vs := range headers {
			single[k] = vs[len(vs)-1]
		}
		for k, vs := range query {
			singleQuery[k] = vs[len(vs)-1]
		}
		ev.Headers, ev.QueryStringParameters = &single, &singleQuery
	}
	if len(req.body) > 0 {
		mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
		text := strings.HasPrefix(mt, "text/") || mt == "application/json" || mt == "application/javascript" || mt == "application/xml"
		switch {
		case text && r.Header.Get("Content-Encoding") == "" && utf8.Valid(req.body):
			// The documented text types go as they are. A compressed body,
			// or bytes that are not UTF-8, cannot be a JSON string as they
			// are: base64, the only way the event can carry them (the
			// documentation is silent on this case).
			ev.Body = string(req.body)
		default:
			ev.Body, ev.IsBase64Encoded = base64.StdEncoding.EncodeToString(req.body), true
		}
	}
	return ev
}

// hopByHop are the headers a proxy does not pass on (RFC 9110, 7.6.1); the
// front ends pass neither these nor the client's Content-Length onwards in
// a response.
var hopByHop = []string{"Connection", "Keep-Alive", "Proxy-Connection", "Te", "Trailer", "Transfer-Encoding", "Upgrade"}

// eventHeaders is the request's headers as the front ends pass them: the
// client's, without hop-by-hop ones, with Host, and with the headers every
// front end adds (X-Forwarded-For with the client's address appended,
// X-Forwarded-Proto, X-Forwarded-Port, X-Amzn-Trace-Id). Names are as
// net/http canonicalises them.
func eventHeaders(req *request) http.Header {
	h := req.r.Header.Clone()
	if h == nil {
		h = http.Header{}
	}
	for _, name := range hopByHop {
		h.Del(name)
	}
	h.Set("Host", req.r.Host)
	xff := req.sourceIP
	if prev := h.Values("X-Forwarded-For"); len(prev) > 0 {
		xff = strings.Join(prev, ", ") + ", " + xff
	}
	h.Set("X-Forwarded-For", xff)
	h.Set("X-Forwarded-Proto", req.proto)
	if req.port != "" {
		h.Set("X-Forwarded-Port", req.port)
	}
	if h.Get("X-Amzn-Trace-Id") == "" {
		h.Set("X-Amzn-Trace-Id", fmt.Sprintf("Root=1-%08x-%s", req.now.Unix(), randomHex(12)))
	}
	return h
}

// parseQuery URL-decodes a query string as API Gateway and function URLs
// do; a malformed pair is dropped.
func parseQuery(raw string) map[string][]string {
	q, _ := url.ParseQuery(raw)
	return q
}

// mediaTypeMatches reports whether a Content-Type or Accept media type
// matches one of patterns ("type/subtype", with * for either part), as a
// REST API matches its binaryMediaTypes.
func mediaTypeMatches(contentType string, patterns []string) bool {
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return false
	}
	typ, sub, _ := strings.Cut(mt, "/")
	for _, p := range patterns {
		pt, ps, _ := strings.Cut(strings.ToLower(strings.TrimSpace(p)), "/")
		if (pt == "*" || pt == typ) && (ps == "*" || ps == sub) {
			return true
		}
	}
	return false
}

// parseResponse reads the function's answer in fe's response shape. It
// reports false for an answer fe cannot read, which fe answers with a 502.
func (f *httpFrontEnd) parseResponse(out []byte, r *http.Request) (*response, bool) {
	switch f.fe {
	case FunctionURL, HTTPAPI:
		return parseResponseV2(out)
	case RESTAPI:
		return f.parseResponseREST(out, r)
	case ALB, ALBMultiValue:
		if len(out) > MaxALBBodySize {
			return nil, false
		}
		return parseResponseALB(out, f.fe == ALBMultiValue)
	}
	return nil, false
}

// statusCode reads a statusCode field, a number or a string holding one.
func statusCode(raw json.RawMessage) (int, bool) {
	var n int
	if err := json.Unmarshal(raw, &n); err != nil {
		var s string
		if json.Unmarshal(raw, &s) != nil {
			return 0, false
		}
		if n, err = strconv.Atoi(s); err != nil {
			return 0, false
		}
	}
	return n, n >= 100 && n <= 599
}

// responseBody decodes body when isBase64Encoded says so.
func responseBody(body *string, isBase64 bool) ([]byte, bool) {
	if body == nil {
		return nil, true
	}
	if !isBase64 {
		return []byte(*body), true
	}
	b, err := base64.StdEncoding.DecodeString(*body)
	return b, err == nil
}

// parseResponseV2 reads payload format 2.0's response. An answer that is
// valid JSON without a statusCode is the body of a 200 with Content-Type
// application/json (a JSON string: its value), as the format infers it.
func parseResponseV2(out []byte) (*response, bool) {
	if !json.Valid(out) {
		return nil, false
	}
	var probe map[string]json.RawMessage
	if json.Unmarshal(out, &probe) != nil || probe["statusCode"] == nil {
		body := out
		var s string
		if json.Unmarshal(out, &s) == nil {
			body = []byte(s)
		}
		return &response{status: http.StatusOK, header: http.Header{"Content-Type": {"application/json"}}, body: body}, true
	}
	var v struct {
		StatusCode      json.RawMessage   `json:"statusCode"`
		Headers         map[string]string `json:"headers"`
		Cookies         []string          `json:"cookies"`
		Body            *string           `json:"body"`
		IsBase64Encoded bool              `json:"isBase64Encoded"`
	}
	if json.Unmarshal(out, &v) != nil {
		return nil, false
	}
	status, ok := statusCode(v.StatusCode)
	if !ok {
		return nil, false
	}
	body, ok := responseBody(v.Body, v.IsBase64Encoded)
	if !ok {
		return nil, false
	}
	resp := &response{status: status, header: http.Header{"Content-Type": {"application/json"}}, body: body}
	setHeaders(resp.header, v.Headers, nil)
	for _, c := range v.Cookies {
		resp.header.Add("Set-Cookie", c)
	}
	return resp, true
}

// parseResponseREST reads payload format 1.0's response, as a REST API
// does: statusCode is required, headers and multiValueHeaders are merged
// (multiValueHeaders win for a name in both), and a base64 body is decoded
// only when the request's first Accept media type (or, without one, the
// response's Content-Type) matches the binary media types; otherwise the
// client gets the base64 text.
func (f *httpFrontEnd) parseResponseREST(out []byte, r *http.Request) (*response, bool) {
	var v struct {
		StatusCode        json.RawMessage     `json:"statusCode"`
		Headers           map[string]string   `json:"headers"`
		MultiValueHeaders map[string][]string `json:"multiValueHeaders"`
		Body              *string             `json:"body"`
		IsBase64Encoded   bool                `json:"isBase64Encoded"`
	}
	if json.Unmarshal(out, &v) != nil || v.StatusCode == nil {
		return nil, false
	}
	status, ok := statusCode(v.StatusCode)
	if !ok {
		return nil, false
	}
	resp := &response{status: status, header: http.Header{"Content-Type": {"application/json"}}}
	setHeaders(resp.header, v.Headers, v.MultiValueHeaders)
	decode := false
	if v.IsBase64Encoded {
		accept, _, _ := strings.Cut(r.Header.Get("Accept"), ",")
		if strings.TrimSpace(accept) == "" {
			accept = resp.header.Get("Content-Type")
		}
		decode = mediaTypeMatches(accept, f.cfg.binaryMediaTypes)
	}
	body, ok := responseBody(v.Body, decode)
	if !ok {
		return nil, false
	}
	resp.body = body
	return resp, true
}

// parseResponseALB reads an ALB target's response: with multi-value headers
// on only its multiValueHeaders, otherwise only its headers.
func parseResponseALB(out []byte, multi bool) (*response, bool) {
	var v struct {
		StatusCode        json.RawMessage     `json:"statusCode"`
		StatusDescription string              `json:"statusDescription"`
		Headers           map[string]string   `json:"headers"`
		MultiValueHeaders map[string][]string `json:"multiValueHeaders"`
		Body              *string             `json:"body"`
		IsBase64Encoded   bool                `json:"isBase64Encoded"`
	}
	if json.Unmarshal(out, &v) != nil || v.StatusCode == nil {
		return nil, false
	}
	status, ok := statusCode(v.StatusCode)
	if !ok {
		return nil, false
	}
	body, ok := responseBody(v.Body, v.IsBase64Encoded)
	if !ok {
		return nil, false
	}
	resp := &response{status: status, header: http.Header{}, body: body}
	if multi {
		setHeaders(resp.header, nil, v.MultiValueHeaders)
	} else {
		setHeaders(resp.header, v.Headers, nil)
	}
	return resp, true
}

// setHeaders sets the function's response headers on h, single values
// first and then multiple ones (which replace a single value of the same
// name); Content-Length and hop-by-hop headers are the front end's own.
func setHeaders(h http.Header, single map[string]string, multi map[string][]string) {
	skip := func(name string) bool {
		c := http.CanonicalHeaderKey(name)
		if c == "Content-Length" {
			return true
		}
		for _, hh := range hopByHop {
			if c == hh {
				return true
			}
		}
		return false
	}
	for k, v := range single {
		if !skip(k) {
			h.Set(k, v)
		}
	}
	for k, vs := range multi {
		if skip(k) {
			continue
		}
		h.Del(k)
		for _, v := range vs {
			h.Add(k, v)
		}
	}
}

// remoteIP is the client's address, as sourceIp and X-Forwarded-For carry
// it.
func remoteIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// localPort is the port the client connected to.
func localPort(r *http.Request) string {
	if addr, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr); ok {
		if _, port, err := net.SplitHostPort(addr.String()); err == nil {
			return port
		}
	}
	return ""
}

// newRequestID is a random UUID, as the front ends' request IDs are.
func newRequestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// preludeEnd ends the prelude of an answer in Lambda's streamed HTTP format.
var preludeEnd = []byte{0, 0, 0, 0, 0, 0, 0, 0}

// parsePrelude reads the prelude of an answer in the streamed HTTP format,
// whose first zero byte is at i: a JSON object with statusCode (200 when
// absent), headers, cookies and, for a REST API, multiValueHeaders, then
// preludeEnd. It reports false for anything else, which the front end
// cannot read (502). The returned response has no body.
func (f *httpFrontEnd) parsePrelude(answer []byte, i int) (*response, bool) {
	if len(answer) < i+len(preludeEnd) || !bytes.Equal(answer[i:i+len(preludeEnd)], preludeEnd) {
		return nil, false
	}
	prelude := bytes.TrimSpace(answer[:i])
	if len(prelude) == 0 || prelude[0] != '{' {
		return nil, false
	}
	var v struct {
		StatusCode        json.RawMessage     `json:"statusCode"`
		Headers           map[string]string   `json:"headers"`
		MultiValueHeaders map[string][]string `json:"multiValueHeaders"`
		Cookies           []string            `json:"cookies"`
	}
	if json.Unmarshal(prelude, &v) != nil {
		return nil, false
	}
	status := http.StatusOK
	if v.StatusCode != nil {
		var ok bool
		if status, ok = statusCode(v.StatusCode); !ok {
			return nil, false
		}
	}
	resp := &response{status: status, header: http.Header{"Content-Type": {"application/octet-stream"}}}
	if f.fe == RESTAPI {
		setHeaders(resp.header, v.Headers, v.MultiValueHeaders)
	} else {
		setHeaders(resp.header, v.Headers, nil)
	}
	for _, c := range v.Cookies {
		resp.header.Add("Set-Cookie", c)
	}
	return resp, true
}

// serveStreamed answers a request with the function's streamed response
// (WithResponseStream): it invokes the function through the Invoker's
// InvokeWithResponseStream, as a function URL in RESPONSE_STREAM mode and a
// REST API integration in STREAM mode do, and copies its PayloadChunk
// events to the client as they come.
func (f *httpFrontEnd) serveStreamed(w http.ResponseWriter, r *http.Request, payload []byte) {
	// Cancelling abandons the rest of the stream, which Lambda then drops;
	// the function is not told.
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	var integration <-chan time.Time // until the prelude
	if f.cfg.integration > 0 {
		t := time.NewTimer(f.cfg.integration)
		defer t.Stop()
		integration = t.C
	}
	type invoked struct {
		out *awslambda.InvokeWithResponseStreamOutput
		err error
	}
	// The invocation may wait for a concurrency slot.
	done := make(chan invoked, 1)
	go func() {
		out, err := f.inv.InvokeWithResponseStream(ctx, &awslambda.InvokeWithResponseStreamInput{FunctionName: aws.String(httpFunctionName), Payload: payload})
		done <- invoked{out, err}
	}()
	var res invoked
	select {
	case res = <-done:
	case <-integration:
		f.writeError(w, http.StatusGatewayTimeout)
		return
	}
	if res.err != nil {
		var apiErr smithy.APIError
		switch {
		case errors.As(res.err, &apiErr) && apiErr.ErrorCode() == "RequestTooLargeException":
			f.writeError(w, http.StatusRequestEntityTooLarge)
		case r.Context().Err() != nil:
			// The client is gone.
		default:
			f.writeError(w, http.StatusInternalServerError)
		}
		return
	}
	stream := res.out.GetStream()
	defer stream.Close()
	events := stream.Events()
	rc := http.NewResponseController(w)
	var head []byte // the answer until the end of its prelude
	started := false
	fail := func() {
		if !started {
			f.writeError(w, http.StatusBadGateway)
			return
		}
		// Cut the response: the client sees its body end early.
		panic(http.ErrAbortHandler)
	}
	for {
		var (
			chunk []byte
			eof   bool
		)
		select {
		case ev, ok := <-events:
			if !ok {
				// The stream broke off without InvokeComplete.
				if r.Context().Err() == nil {
					fail()
				}
				return
			}
			switch ev := ev.(type) {
			case *types.InvokeWithResponseStreamResponseEventMemberPayloadChunk:
				chunk = ev.Value.Payload
			case *types.InvokeWithResponseStreamResponseEventMemberInvokeComplete:
				if ev.Value.ErrorCode != nil {
					// A function error, its timeout, a stream over the limit.
					fail()
					return
				}
				eof = true
			default:
				continue
			}
		case <-r.Context().Done():
			return // the client is gone
		case <-integration:
			f.writeError(w, http.StatusGatewayTimeout)
			return
		}
		if started {
			if len(chunk) > 0 {
				if _, err := w.Write(chunk); err != nil {
					return
				}
				_ = rc.Flush()
			}
			if eof {
				return
			}
			continue
		}
		head = append(head, chunk...)
		i := bytes.IndexByte(head, 0)
		if i < 0 {
			if f.fe == RESTAPI && len(head) > maxRESTPreludeSize {
				fail()
				return
			}
			if eof {
				// Not the streamed format: read as a buffered answer.
				resp, ok := f.parseResponse(head, r)
				if !ok {
					fail()
					return
				}
				resp.write(w)
				return
			}
			continue
		}
		if f.fe == RESTAPI && i > maxRESTPreludeSize {
			fail()
			return
		}
		if len(head) < i+len(preludeEnd) && !eof {
			continue // the rest of the zero bytes is still to come
		}
		resp, ok := f.parsePrelude(head, i)
		if !ok {
			fail()
			return
		}
		integration = nil
		resp.writeHeader(w)
		started = true
		if body := head[i+len(preludeEnd):]; len(body) > 0 {
			if _, err := w.Write(body); err != nil {
				return
			}
		}
		_ = rc.Flush()
		head = nil
		if eof {
			return
		}
	}
}

// writeHeader writes a streamed response's status and headers: no
// Content-Length, the body follows as it comes.
func (resp *response) writeHeader(w http.ResponseWriter) {
	h := w.Header()
	for k, vs := range resp.header {
		h[k] = vs
	}
	w.WriteHeader(resp.status)
}
