package parity

import (
	"regexp"
	"slices"
	"strings"
	"testing"

	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/proto"

	"github.com/protoc-gen-go-lambda/protoc-gen-go-lambda/internal/testing/testpb"
	"github.com/protoc-gen-go-lambda/protoc-gen-go-lambda/runtime/lambdatest"
)

// Which cases run over HTTP, and how the ones that cannot be equal differ.

// Why a case does not run over HTTP.
const (
	exclNoCall      = "no client call: the case compares what happens to a process (a child process that crashes or exits, a registration that panics), which the HTTP front ends do not change"
	exclCallOption  = "a grpc-go call option (grpc.WaitForReady, grpc.PerRPCCredentials, grpc.OnFinish) that connect-go's client has no counterpart for: the case is about the Go client, whose Lambda counterpart, invoke.ClientConn, the table above compares"
	exclTyped       = "the case is about what a ClientConn does with a request or reply that is not a message of the method, and connect-go's client, generic over its message types, cannot be given one"
	exclStreamingGo = "a streaming call through the generated client: the adapter makes unary calls (connect-go's unary client); server streaming over HTTP is compared with connect-go's streaming client in runtime/lambdatest (http_stream_test.go) and by the Connect conformance suite"
	exclUnaryStream = "a server-streaming method called as unary: over HTTP that is a Connect unary content type, which a streaming method refuses (415, as connect-go's handler does), or a gRPC-Web call that connect-go's unary client reads in its own words; the Invoke path's table compares it with grpc-go"
)

// httpExclusions names the cases that do not run over HTTP, with the
// reason; cases with an Outcomes function are excluded as exclNoCall.
var httpExclusions = map[string]string{
	"grpc.WaitForReady and grpc.StaticMethod":                                 exclCallOption,
	"grpc.OnFinish runs once with the result, success":                        exclCallOption,
	"grpc.OnFinish runs once with the result, error":                          exclCallOption,
	"grpc.PerRPCCredentials adds metadata":                                    exclCallOption,
	"grpc.PerRPCCredentials fails with a plain error":                         exclCallOption,
	"grpc.PerRPCCredentials fails with a status":                              exclCallOption,
	"grpc.PerRPCCredentials fails with a status a control plane must not use": exclCallOption,
	"grpc.PerRPCCredentials sees the call's audience":                         exclCallOption,
	"nil request through ClientConn.Invoke":                                   exclTyped,
	"request of the wrong type through ClientConn.Invoke":                     exclTyped,
	"reply of the wrong type through ClientConn.Invoke":                       exclTyped,
	"server-streaming method through the generated client":                    exclStreamingGo,
	"server-streaming method called as a unary method, one message":           exclUnaryStream,
	"server-streaming method called as a unary method, no message":            exclUnaryStream,
	"server-streaming method called as a unary method, two messages":          exclUnaryStream,
}

// httpExcluded returns why c does not run over HTTP, or "".
func httpExcluded(c *Case) string {
	if c.Outcomes != nil {
		return exclNoCall
	}
	return httpExclusions[c.Name]
}

// httpDiff is a documented difference of some combinations of a case from
// the baseline.
type httpDiff struct {
	Reason string
	// Check asserts exactly what differs; CheckFor, when set, returns it
	// for the combination.
	Check    func(t *testing.T, base, got Outcome)
	CheckFor func(cb combo) func(t *testing.T, base, got Outcome)
	// MayBeEqual says that timing decides whether the combination differs
	// (Reason says how); Check then runs only when it does.
	MayBeEqual bool
	// Bug marks a difference that is a runtime bug, reported and to be
	// fixed: the entry keeps the suite green meanwhile.
	Bug bool
	// Invoke says the case differs as on the Invoke path: Reason and Check
	// are the case's Difference and Diff.
	Invoke bool
}

// httpRule documents a difference of the named cases, in the combinations
// Applies selects (nil: all).
type httpRule struct {
	Cases   []string
	Applies func(cb combo) bool
	Diff    httpDiff
}

// httpDifference returns the documented difference of c for cb, or nil: the
// first rule naming c that applies.
func httpDifference(c *Case, cb combo) *httpDiff {
	for _, r := range httpRules {
		if !slices.Contains(r.Cases, c.Name) || r.Applies != nil && !r.Applies(cb) {
			continue
		}
		d := r.Diff
		if d.Invoke {
			d.Reason, d.Check = c.Difference, c.Diff
		}
		if d.CheckFor != nil {
			d.Check = d.CheckFor(cb)
		}
		return &d
	}
	return nil
}

// checkHTTPRules fails the suite for a rule that names no case, a case that
// is excluded, or (with Invoke) a case without its own difference.
func checkHTTPRules(t *testing.T, gs []group) {
	names := map[string]*Case{}
	for _, g := range gs {
		for i := range g.Cases {
			names[g.Cases[i].Name] = &g.Cases[i]
		}
	}
	for name := range httpExclusions {
		if names[name] == nil {
			t.Errorf("httpExclusions names %q, which is not a case", name)
		}
	}
	for _, r := range httpRules {
		if r.Diff.Check == nil && r.Diff.CheckFor == nil && !r.Diff.Invoke {
			t.Errorf("rule %q has no check", r.Diff.Reason)
		}
		for _, name := range r.Cases {
			c := names[name]
			switch {
			case c == nil:
				t.Errorf("httpRules names %q, which is not a case", name)
			case httpExcluded(c) != "":
				t.Errorf("httpRules names %q, which is excluded", name)
			case r.Diff.Invoke && (c.Difference == "" || c.Diff == nil):
				t.Errorf("httpRules says %q differs as on the Invoke path, where it does not", name)
			}
		}
	}
}

// Predicates on combinations.

func fes(fs ...lambdatest.FrontEnd) func(combo) bool {
	return func(cb combo) bool { return slices.Contains(fs, cb.FE) }
}

func protocols(names ...string) func(combo) bool {
	return func(cb combo) bool { return slices.Contains(names, cb.P.String()) }
}

func isJSON(cb combo) bool { return cb.P.JSON }

func all(ps ...func(combo) bool) func(combo) bool {
	return func(cb combo) bool {
		for _, p := range ps {
			if !p(cb) {
				return false
			}
		}
		return true
	}
}

func anyOf(ps ...func(combo) bool) func(combo) bool {
	return func(cb combo) bool {
		for _, p := range ps {
			if p(cb) {
				return true
			}
		}
		return false
	}
}

var (
	connectOnly = protocols("connect/proto", "connect/json")
	grpcWebOnly = protocols("grpcweb/proto", "grpcweb/json")
	albs        = fes(lambdatest.ALB, lambdatest.ALBMultiValue)
)

// Checks.

// wantStatus checks an outcome's code and message (a regular expression for
// the whole message).
func wantStatus(t *testing.T, what string, o Outcome, code codes.Code, msg string) {
	t.Helper()
	if o.Code() != code || !regexp.MustCompile(`\A(?:`+msg+`)\z`).MatchString(o.Status.GetMessage()) {
		t.Errorf("%s: want %s %q, got %s", what, codeName(code), msg, summary(o))
	}
}

// sameExcept checks that got is base once fix has been applied to a copy
// of base: fix says exactly what differs.
func sameExcept(t *testing.T, base, got Outcome, fix func(o *Outcome)) {
	t.Helper()
	want := base
	want.Status = proto.Clone(base.Status).(*spb.Status)
	want.Header, want.Trailer = base.Header.Copy(), base.Trailer.Copy()
	if base.Resp != nil {
		want.Resp = proto.Clone(base.Resp)
	}
	fix(&want)
	if len(want.Header) == 0 {
		want.Header = nil
	}
	if len(want.Trailer) == 0 {
		want.Trailer = nil
	}
	want.Lambda = got.Lambda
	if d := diffOutcomes(want, got); len(d) > 0 {
		t.Errorf("the combination is not the baseline with the documented difference:\n%s", strings.Join(d, "\n"))
	}
}

// mapIncoming applies f to the handler's incoming metadata in o's response.
func mapIncoming(o *Outcome, f func(md metadata.MD)) {
	r, ok := o.Resp.(*testpb.EchoResponse)
	if !ok {
		return
	}
	md := metadata.MD{}
	for _, p := range r.GetIncoming() {
		md.Append(p.GetKey(), string(p.GetValue()))
	}
	f(md)
	r.Incoming = nil
	for _, k := range slices.Sorted(func(yield func(string) bool) {
		for k := range md {
			if !yield(k) {
				return
			}
		}
	}) {
		for _, v := range md[k] {
			r.Incoming = append(r.Incoming, &testpb.Pair{Key: k, Value: []byte(v)})
		}
	}
}

// joinValues joins the values of every key of md with sep (or keeps the
// last, for sep ""); with bin false, -bin keys keep their values.
func joinValues(md metadata.MD, sep string, bin bool) {
	for k, vs := range md {
		if len(vs) < 2 || !bin && strings.HasSuffix(k, "-bin") {
			continue
		}
		if sep == "" {
			md[k] = vs[len(vs)-1:]
		} else {
			md[k] = []string{strings.Join(vs, sep)}
		}
	}
}

// checkRepeated checks reasonRepeated: the baseline with the front end's
// joining applied.
func checkRepeated(cb combo) func(t *testing.T, base, got Outcome) {
	return func(t *testing.T, base, got Outcome) {
		t.Helper()
		sameExcept(t, base, got, func(o *Outcome) {
			joined := cb.FE == lambdatest.FunctionURL || cb.FE == lambdatest.HTTPAPI
			switch {
			case joined:
				// Binary values are split again by the runtime.
				mapIncoming(o, func(md metadata.MD) { joinValues(md, ",", false) })
			case cb.FE == lambdatest.ALB:
				mapIncoming(o, func(md metadata.MD) { joinValues(md, "", true) })
			}
			if joined || cb.FE == lambdatest.ALB {
				joinValues(o.Header, ", ", true)
				// Connect's trailers are headers; gRPC-Web's are in the
				// body, unless the answer is trailers-only (an error
				// without header metadata).
				if cb.P.Name == "connect" || o.Code() != codes.OK && len(base.Header) == 0 {
					joinValues(o.Trailer, ", ", true)
				}
			}
		})
	}
}

// trimmedSpaces: the baseline with spaces around the status message (and,
// with incoming, around the handler's incoming values) removed.
func trimmedSpaces(incoming bool) func(t *testing.T, base, got Outcome) {
	return func(t *testing.T, base, got Outcome) {
		t.Helper()
		if base.Status.GetMessage() == strings.Trim(base.Status.GetMessage(), " ") && !incoming {
			t.Errorf("the baseline's message %q has no surrounding spaces", base.Status.GetMessage())
		}
		sameExcept(t, base, got, func(o *Outcome) {
			if o.Status != nil {
				o.Status.Message = strings.Trim(o.Status.Message, " ")
			}
			if incoming {
				mapIncoming(o, func(md metadata.MD) {
					for k, vs := range md {
						for i := range vs {
							vs[i] = strings.Trim(vs[i], " \t")
						}
						md[k] = vs
					}
				})
			}
		})
	}
}

var digitRuns = regexp.MustCompile(`[0-9]+`)

// limitMessage matches the messages of the message size limits: grpc-go's
// and the runtime's (connect-go's words) on the server, connect-go's on
// the client.
const limitMessage = `grpc: received message larger than max \([0-9]+ vs\. [0-9]+\)|message size [0-9]+ is larger than configured max [0-9]+|trying to send message larger than max \([0-9]+ vs\. [0-9]+\)|message size [0-9]+ exceeds sendMaxBytes [0-9]+`

// checkJSONLimit: with JSON the combination fails RESOURCE_EXHAUSTED at a
// size limit where the baseline succeeds or fails at one too; metadata is
// the baseline's (but trailers a Connect client reads, see
// reasonReadLimitTrailers, when trailer is set).
func checkJSONLimit(trailer metadata.MD) func(t *testing.T, base, got Outcome) {
	return func(t *testing.T, base, got Outcome) {
		t.Helper()
		wantStatus(t, "combination", got, codes.ResourceExhausted, limitMessage)
		if base.Code() != codes.OK {
			wantStatus(t, "baseline", base, codes.ResourceExhausted, limitMessage)
		}
		want := base.Trailer
		if trailer != nil {
			want = trailer
		}
		if got.Resp != nil || !mdEqual(base.Header, got.Header) || !mdEqual(want, got.Trailer) {
			t.Errorf("want the baseline's header and trailer %v and no response, got %s", shortMD(want), summary(got))
		}
	}
}

// checkLimitWording: the same code, sizes and metadata, connect-go's words.
func checkLimitWording(t *testing.T, base, got Outcome) {
	t.Helper()
	wantStatus(t, "baseline", base, codes.ResourceExhausted, `grpc: received message larger than max \([0-9]+ vs\. [0-9]+\)`)
	wantStatus(t, "combination", got, codes.ResourceExhausted, `message size [0-9]+ is larger than configured max [0-9]+`)
	if !slices.Equal(digitRuns.FindAllString(base.Status.GetMessage(), -1), digitRuns.FindAllString(got.Status.GetMessage(), -1)) {
		t.Errorf("the sizes differ: %q and %q", base.Status.GetMessage(), got.Status.GetMessage())
	}
	sameExcept(t, base, got, func(o *Outcome) { o.Status.Message = got.Status.GetMessage() })
}

// frontEndRefused: the front end's own error answer, which connect-go
// reports as UNKNOWN (the Connect client with the HTTP status text or the
// error document's message, gRPC-Web with "HTTP status ...").
func frontEndRefused(messages ...string) func(t *testing.T, base, got Outcome) {
	return func(t *testing.T, base, got Outcome) {
		t.Helper()
		alts := make([]string, len(messages))
		for i, m := range messages {
			alts[i] = regexp.QuoteMeta(m)
		}
		wantStatus(t, "combination", got, codes.Unknown, strings.Join(alts, "|"))
		if got.Resp != nil || got.Trailer != nil {
			t.Errorf("want no response and no trailer, got %s", summary(got))
		}
		if base.Code() == codes.Unknown {
			t.Errorf("the baseline failed UNKNOWN as well: %s", summary(base))
		}
	}
}

// refusedEarly is frontEndRefused for an answer that comes before the
// request is all sent (the ALB's 413 after 1 MB of body, net/http's 431
// after 1 MB of header): Go's HTTP/1.1 client, still sending, now and then
// fails with its write error instead, which connect-go reports as CANCELED
// or UNAVAILABLE "Post ...".
func refusedEarly(messages ...string) func(t *testing.T, base, got Outcome) {
	return func(t *testing.T, base, got Outcome) {
		t.Helper()
		if (got.Code() == codes.Canceled || got.Code() == codes.Unavailable) && strings.HasPrefix(got.Status.GetMessage(), "Post \"<server>/") {
			if got.Resp != nil || got.Header != nil || got.Trailer != nil {
				t.Errorf("want no response and no metadata with the client's error, got %s", summary(got))
			}
			return
		}
		frontEndRefused(messages...)(t, base, got)
	}
}

// checkEmptyRequest checks reasonEmptyRequest: the caller's status is the
// baseline's (messages compared by match), and the header shows each
// server's answer to a request without a message.
func checkEmptyRequest(p wireProtocol, msg string) func(t *testing.T, base, got Outcome) {
	return func(t *testing.T, base, got Outcome) {
		t.Helper()
		wantStatus(t, "baseline", base, codes.Code(base.Status.GetCode()), msg)
		wantStatus(t, "combination", got, codes.Code(base.Status.GetCode()), msg)
		grpcGo := metadata.MD{"grpc-status": {"13"}, "grpc-message": {"cardinality violation: received no request message from non-client-streaming RPC"}}
		var fn metadata.MD // Connect: the handler ran with the empty message
		if p.Name == "grpcweb" {
			fn = metadata.MD{"grpc-status": {"12"}, "grpc-message": {"unary request has zero messages"}}
		}
		if !mdEqual(base.Header, grpcGo) || !mdEqual(got.Header, fn) || base.Trailer != nil || got.Trailer != nil || base.Resp != nil || got.Resp != nil {
			t.Errorf("want header %v on the baseline and %v here, no trailers and no response; got\n  %s\n  %s", shortMD(grpcGo), shortMD(fn), summary(base), summary(got))
		}
	}
}

// Reasons of the differences, in the order of the document's footnotes.
const (
	reasonRepeated = "repeated metadata values: function URLs and HTTP APIs join a repeated request header's values with commas, and a single-value ALB passes the last one only; payload 2.0 answers and single-value ALB answers join a repeated response header's values with \", \" (docs/http.md, Metadata). REST APIs and multi-value ALBs keep them apart, and so does gRPC-Web's trailer frame"
	reasonTrimmed  = "HTTP/1.1 drops the spaces around a header value: a request value that starts or ends with spaces loses them (HTTP/2, to grpc-go, keeps them), and so does a gRPC-Web status message, which travels in a header or in the trailer frame, whose lines are headers too: grpc-message's percent-encoding leaves spaces as they are (connect-go's handler's too). The tabs of the case are percent-encoded and kept"
	reasonGRPCKeys = "the runtime keeps every grpc- request header but -bin ones out of the handler's metadata, as protocol headers (docs/http.md, Metadata); grpc-go hands on those it does not reserve"
	reasonUpgrade  = "Go's HTTP/2 client refuses a request with an Upgrade header; its HTTP/1.1 client sends the headers, and the front ends drop the hop-by-hop ones (keep-alive, proxy-connection, upgrade; transfer-encoding and host are never sent as such): the call succeeds"
	reasonHost     = "Go's HTTP/2 client sends a Host header's first value as the :authority, which grpc-go hands on; its HTTP/1.1 client sends the URL's host, and the runtime keeps host out of metadata"
	reasonRouting  = "the path names the method by its last two segments, after any stage or base path, percent-decoded, without the query string (docs/http.md); grpc-go takes the HTTP/2 :path, query and percent-escapes included, as the method name"
	reasonRESTPath = "a method name without a leading slash, appended to the REST API's stage URL, makes a path outside the stage (/prodlambdatest...), which the REST API answers 403 Forbidden itself; elsewhere the URL does not parse, in the client, on both sides"
	reasonCodes    = "connect-go's Connect client reads a code outside gRPC's 16 in an error body (the function writes code_17, as connect-go's handler does) as UNKNOWN; gRPC and gRPC-Web carry the number"
	reasonBigCodes = "a code beyond int32: the runtime sends it as grpc-go's server does (gRPC-Web's grpc-status, Connect's \"code_<n>\"), and connect-go's Connect client reads an unknown code name as UNKNOWN, where its gRPC client reads the number"
	reasonOKError  = "an error whose status is OK: grpc-go's server ends the call with status OK and no message, which connect-go's client reports as UNIMPLEMENTED \"unary response has zero messages\"; a Connect answer cannot say that (an empty body is the empty message), and the runtime answers INTERNAL \"cardinality violation: received no response message from non-server-streaming RPC\" (what grpc-go's client reports for it)"
	reasonDetails  = "a handler's own grpc-status-details-bin trailer: the runtime keeps it out of the answer, as it keeps every grpc- key (docs/http.md, Metadata), and sends the status the handler returned; grpc-go's server sends the handler's trailer as it is, and connect-go's client takes the call's status from it (code, message and details, or an INTERNAL error when it is not a google.rpc.Status)"
	reasonBadMD    = "a handler's header or trailer that HTTP cannot carry: grpc-go's server writes it and Go's HTTP/2 client resets the stream, which connect-go reports as UNAVAILABLE (or INTERNAL, with its envelope reader's words, when the trailers were invalid); the runtime refuses it itself, INTERNAL with the same words (grpc-go's client's words for it on the Invoke path)"
	reasonJSONSize = "with JSON, the message size limits (the function's and connect-go's read and send limits) apply to the protojson text, larger than the protobuf the baseline measures: a message within a limit in protobuf can exceed it in JSON, and the sizes in the messages differ"
	reasonWording  = "a request message over the function's MaxRecvMsgSize: the runtime answers as connect-go's handler words it (\"message size N is larger than configured max M\"), grpc-go as \"grpc: received message larger than max (N vs. M)\"; code and sizes are the same"
	reasonReadLim  = "connect-go stops reading a gRPC or gRPC-Web answer at a message over its read limit, before the trailers; Connect sends trailers as headers, which the client has already read"
	reasonEmptyReq = "connect-go's client, when it cannot send its request message (it does not marshal, or is over WithSendMaxBytes), fails the call but still sends the request without a message, and CallInfo shows the server's answer to that: grpc-go's (trailers-only INTERNAL \"cardinality violation: received no request message from non-client-streaming RPC\"), or the function's, which answers as connect-go's handler does: gRPC-Web UNIMPLEMENTED \"unary request has zero messages\", and a Connect request with an empty body, the empty message, by running the handler"
	reasonJSONUTF8 = "with JSON, protojson's words for invalid UTF-8 in a request (\"proto: field ... contains invalid UTF-8\") instead of proto's (\"string field contains invalid UTF-8\"), both in the client; and, as with any request connect-go cannot send, CallInfo shows the server's answer to a request without a message (see the note on connect-go's client)"
	reasonJSONAny  = "protojson must resolve an Any's type to write it as JSON, so connect-go's JSON client cannot send a request holding an Any of a type it does not link: INTERNAL \"marshal message: ...\" in the client, where protobuf sends the bytes as they are; as with any request connect-go cannot send, the server's answer to an empty request is in CallInfo"
	reasonJSONUnk  = jsonUnknownFields
	reasonALB      = "an ALB passes at most 1 MB of request body to a function: a larger request gets the ALB's own 413 page, which connect-go reports as UNKNOWN (the stand-in answers as soon as it has read 1 MB, and Go's HTTP/1.1 client, still sending the body, now and then fails with its write error instead: CANCELED or UNAVAILABLE \"Post ...\")"
	reasonPayload  = "the event must fit Lambda's 6 MB payload, and the front ends pass binary bodies base64-encoded (a REST API with binaryMediaTypes */* all bodies, JSON too): a larger request gets the front end's own 413 (with its words: Lambda's error document for a function URL, the gateways' messages), which connect-go reports as UNKNOWN"
	reasonRespSize = "the answer, metadata included, must fit Lambda's 6 MB payload (an ALB's 1 MB): the runtime answers RESOURCE_EXHAUSTED itself; grpc-go accepts header lists up to 16 MiB"
	reasonHeaders  = "a 7 MiB header: net/http's server in front of the stand-in refuses it (431) before any front end, which connect-go reports as UNKNOWN (or, now and then, Go's client fails writing the rest: CANCELED or UNAVAILABLE \"Post ...\"); grpc-go accepts header lists up to 16 MiB. AWS's front ends refuse far smaller headers, and Lambda's 6 MB payload this one"
	reasonDeadline = "an invocation answers once, at its end: a header sent early cannot reach a caller that stops waiting at its deadline, and gets DEADLINE_EXCEEDED without it; grpc-go has already delivered it. Over HTTP the function's own deadline (the caller's timeout as the function received it) ends the call too, and when the function's answer, with the header, comes before the caller's deadline fires, the caller gets it: which one comes first is a matter of timing, so the combination may also be equal"
)

var requestTooLarge = []string{"413 Request Entity Too Large", "HTTP status 413 Request Entity Too Large"}

// httpRules are the documented differences. The first rule naming a case
// that applies to a combination is its verdict, so front-end limits come
// before the protocols' differences.
var httpRules = []httpRule{
	// The front ends' limits.
	{
		Cases: []string{
			"1 MiB request echoed", "3 MiB request, small response", "4 MiB request and response (the default limits, exactly)",
			"default server receive limit (4 MiB) exceeded", "request over the Lambda payload limit, within raised grpc limits",
			"handler: 1 MiB header value", "handler: 1 MiB trailer value on an error",
		},
		Applies: albs,
		Diff:    httpDiff{Reason: reasonALB, Check: refusedEarly(requestTooLarge...)},
	},
	{
		Cases: []string{"request over the Lambda payload limit, within raised grpc limits"},
		Diff: httpDiff{Reason: reasonPayload, Check: frontEndRefused(append(requestTooLarge,
			"Request must be smaller than 6291456 bytes for the InvokeFunction operation", "Request Entity Too Large", "Request Too Long")...)},
	},
	{
		Cases:   []string{"4 MiB request and response (the default limits, exactly)", "default server receive limit (4 MiB) exceeded"},
		Applies: all(isJSON, fes(lambdatest.RESTAPI)),
		Diff:    httpDiff{Reason: reasonPayload, Check: frontEndRefused(append(requestTooLarge, "Request Too Long")...)},
	},
	{
		Cases: []string{"handler metadata over the Lambda payload limit"},
		Diff: httpDiff{Reason: reasonRespSize, Check: func(t *testing.T, base, got Outcome) {
			wantStatus(t, "combination", got, codes.ResourceExhausted, `lambda: response of [0-9]+ bytes exceeds (the Lambda limit of 6291456|the load balancer's limit of 1048576) bytes`)
			if base.Code() != codes.OK || got.Header != nil || got.Resp != nil {
				t.Errorf("want OK on the baseline and no metadata here, got %s and %s", summary(base), summary(got))
			}
		}},
	},
	{
		Cases: []string{"caller metadata over the Lambda payload limit"},
		Diff:  httpDiff{Reason: reasonHeaders, Check: refusedEarly("431 Request Header Fields Too Large", "HTTP status 431 Request Header Fields Too Large")},
	},

	// JSON.
	{
		Cases: []string{
			"3 MiB request, small response", "4 MiB request and response (the default limits, exactly)",
			"server receive limit exceeded", "server receive limit met exactly", "server send limit exceeded",
			"server send limit exceeded, with header and trailer", "server send limit met exactly",
			"client receive limit met exactly", "default server receive limit (4 MiB) exceeded",
		},
		Applies: isJSON,
		Diff:    httpDiff{Reason: reasonJSONSize, Check: checkJSONLimit(nil)},
	},
	{
		Cases:   []string{"client receive limit exceeded"},
		Applies: protocols("connect/json"),
		Diff:    httpDiff{Reason: reasonJSONSize, Check: checkJSONLimit(metadata.Pairs("x-t", "2"))},
	},
	{
		Cases:   []string{"client receive limit exceeded"},
		Applies: protocols("grpcweb/json"),
		Diff:    httpDiff{Reason: reasonJSONSize, Check: checkJSONLimit(nil)},
	},
	{
		Cases:   []string{"client receive limit exceeded"},
		Applies: protocols("connect/proto"),
		Diff: httpDiff{Reason: reasonReadLim, Check: func(t *testing.T, base, got Outcome) {
			sameExcept(t, base, got, func(o *Outcome) { o.Trailer = metadata.Pairs("x-t", "2") })
		}},
	},
	{
		Cases:   []string{"response is a different message type", "reply of another message type through ClientConn.Invoke"},
		Applies: isJSON,
		Diff:    httpDiff{Reason: reasonJSONUnk, Check: checkJSONUnknownFields},
	},
	{
		Cases:   []string{"message with invalid UTF-8", "details with a message in invalid UTF-8"},
		Applies: isJSON,
		Diff:    httpDiff{Reason: reasonJSONUTF8, CheckFor: checkJSONUTF8},
	},
	{
		Cases:   []string{"details: an Any of an unknown type"},
		Applies: isJSON,
		Diff:    httpDiff{Reason: reasonJSONAny, CheckFor: checkJSONAny},
	},
	{
		Cases: []string{"message with invalid UTF-8", "details with a message in invalid UTF-8", "client send limit exceeded", "client send limit met exactly"},
		Diff: httpDiff{Reason: reasonEmptyReq, CheckFor: func(cb combo) func(*testing.T, Outcome, Outcome) {
			return checkEmptyRequest(cb.P, `marshal message: .*|message size [0-9]+ exceeds sendMaxBytes [0-9]+`)
		}},
	},
	{
		Cases:   []string{"server receive limit exceeded", "default server receive limit (4 MiB) exceeded"},
		Applies: anyOf(protocols("connect/proto"), protocols("grpcweb/proto")),
		Diff:    httpDiff{Reason: reasonWording, Check: checkLimitWording},
	},

	// Metadata.
	{
		Cases: []string{
			"client chain order and outgoing metadata", "caller: several values per key, order kept",
			"caller: upper-case keys through AppendToOutgoingContext", "client and server chains together",
			"server chain order", "server chain order on an error", "handler: header set, sent implicitly with the response",
			"handler: header set and then sent with SendHeader (merged)",
		},
		Applies: fes(lambdatest.FunctionURL, lambdatest.HTTPAPI, lambdatest.ALB),
		Diff:    httpDiff{Reason: reasonRepeated, CheckFor: checkRepeated},
	},
	{
		// Trailers only: gRPC-Web's trailer frame keeps them apart.
		Cases:   []string{"handler: trailer set several times"},
		Applies: all(connectOnly, fes(lambdatest.FunctionURL, lambdatest.HTTPAPI, lambdatest.ALB)),
		Diff:    httpDiff{Reason: reasonRepeated, CheckFor: checkRepeated},
	},
	{
		Cases: []string{"caller: ASCII keys and printable values"},
		Diff:  httpDiff{Reason: reasonTrimmed, Check: trimmedSpaces(true)},
	},
	{
		Cases:   []string{"message with leading and trailing spaces and tabs", "error type whose GRPCStatus is nil", "malformed or unusual method name //"},
		Applies: grpcWebOnly,
		Diff:    httpDiff{Reason: reasonTrimmed, Check: trimmedSpaces(false)},
	},
	{
		Cases: []string{"caller: unreserved grpc- keys"},
		Diff: httpDiff{Reason: reasonGRPCKeys, Check: func(t *testing.T, base, got Outcome) {
			sameExcept(t, base, got, func(o *Outcome) {
				mapIncoming(o, func(md metadata.MD) {
					for k := range md {
						if strings.HasPrefix(k, "grpc-") && !strings.HasSuffix(k, "-bin") {
							delete(md, k)
						}
					}
				})
			})
		}},
	},
	{
		Cases: []string{"caller: connection-specific HTTP header keys"},
		Diff: httpDiff{Reason: reasonUpgrade, Check: func(t *testing.T, base, got Outcome) {
			wantStatus(t, "baseline", base, codes.Unavailable, `http2: invalid Upgrade request header: \["h2c"\]`)
			if r, ok := got.Resp.(*testpb.EchoResponse); got.Code() != codes.OK || !ok || len(r.GetIncoming()) != 0 {
				t.Errorf("want OK with no incoming metadata, got %s: %v", summary(got), got.Resp)
			}
		}},
	},
	{
		Cases: []string{"caller: host key with two values"},
		Diff: httpDiff{Reason: reasonHost, Check: func(t *testing.T, base, got Outcome) {
			sameExcept(t, base, got, func(o *Outcome) {
				mapIncoming(o, func(md metadata.MD) {
					if !slices.Equal(md[":authority"], []string{"a"}) {
						t.Errorf("the baseline's :authority is %q, want [a]", md[":authority"])
					}
					delete(md, ":authority")
				})
			})
		}},
	},
	{
		Cases: []string{
			"handler: grpc-status-details-bin trailer with a status without details", "handler: grpc-status-details-bin trailer that is not a status",
			"handler: grpc-status-details-bin trailer with a mismatched code", "handler: two grpc-status-details-bin trailer values",
		},
		Diff: httpDiff{Reason: reasonDetails, Check: func(t *testing.T, base, got Outcome) {
			sameExcept(t, base, got, func(o *Outcome) {
				o.Status = &spb.Status{Code: int32(codes.NotFound), Message: "from the handler"}
			})
		}},
	},
	{
		Cases: []string{
			"handler: upper-case key in a hand-built header", "handler: header value with a newline", "handler: empty key in the header",
			"handler: key with an illegal character in the trailer on an error", "handler: value with a control character in the trailer on success",
		},
		Diff: httpDiff{Reason: reasonBadMD, Check: func(t *testing.T, base, got Outcome) {
			wantStatus(t, "combination", got, codes.Internal, `invalid header field (name|value for) ".*"`)
			if !strings.Contains(base.Status.GetMessage(), "PROTOCOL_ERROR; "+got.Status.GetMessage()) ||
				base.Code() != codes.Unavailable && base.Code() != codes.Internal {
				t.Errorf("want the baseline's stream error with the same words, got %s", summary(base))
			}
			sameExcept(t, base, got, func(o *Outcome) { o.Status = proto.Clone(got.Status).(*spb.Status) })
		}},
	},

	// Status.
	{
		Cases:   []string{"status code 17 (beyond the 16)", "status code 1000", "status code 2^31-1"},
		Applies: connectOnly,
		Diff: httpDiff{Reason: reasonCodes, Check: func(t *testing.T, base, got Outcome) {
			if base.Code() <= codes.Unauthenticated {
				t.Errorf("the baseline's code %d is one of the 16", base.Code())
			}
			sameExcept(t, base, got, func(o *Outcome) { o.Status.Code = int32(codes.Unknown) })
		}},
	},
	{
		Cases:   []string{"status code 2^31", "status code -1 (4294967295)"},
		Applies: connectOnly,
		Diff: httpDiff{Reason: reasonBigCodes, Check: func(t *testing.T, base, got Outcome) {
			if code := uint32(base.Status.GetCode()); code <= 1<<31-1 {
				t.Errorf("the baseline's code %d fits int32", code)
			}
			sameExcept(t, base, got, func(o *Outcome) { o.Status.Code = int32(codes.Unknown) })
		}},
	},
	{
		Cases:   []string{"error type whose GRPCStatus is OK", "error type whose GRPCStatus is OK, with header and trailer"},
		Applies: connectOnly,
		Diff:    httpDiff{Reason: reasonOKError, Check: checkOKError},
	},

	// Routing.
	{
		Cases:   []string{"malformed or unusual method name lambdatest.v1.TestService/Echo"},
		Applies: fes(lambdatest.RESTAPI),
		Diff: httpDiff{Reason: reasonRESTPath, Check: func(t *testing.T, base, got Outcome) {
			wantStatus(t, "baseline", base, codes.Unavailable, `parse "<server>lambdatest\.v1\.TestService/Echo": invalid port ":<port>lambdatest\.v1\.TestService" after host`)
			wantStatus(t, "combination", got, codes.PermissionDenied, `(HTTP status 403 )?Forbidden`)
		}},
	},
	routed("malformed or unusual method name //lambdatest.v1.TestService/Echo", codes.OK, ""),
	routed("malformed or unusual method name /lambdatest.v1.TestService/Echo?x=1", codes.OK, ""),
	routed("malformed or unusual method name /lambdatest.v1.TestService/Echo/", codes.Unimplemented, "unknown service Echo"),
	routed("malformed or unusual method name /lambdatest.v1.TestService/Echo/extra", codes.Unimplemented, "unknown service Echo"),
	routed("malformed or unusual method name /lambdatest.v1.TestService//Echo", codes.Unimplemented, "unknown service ?"),
	routed("malformed or unusual method name /lambdatest.v1.TestService/Echo␠", codes.Unimplemented, "unknown method Echo  for service lambdatest.v1.TestService"),
	routed("malformed or unusual method name /lambdatest.v1.TestService/Éc😀", codes.Unimplemented, "unknown method Éc😀 for service lambdatest.v1.TestService"),

	// As on the Invoke path.
	{
		Cases: []string{
			"handler panics with a string", "handler panics with an error", "handler panics with a status error",
			"handler panics with nil", "handler panics after setting header and trailer", "handler panics after SendHeader",
			"server interceptor panics", "peer.FromContext in the handler", "no deadline",
			"handler: header value that is not UTF-8",
		},
		Diff: httpDiff{Invoke: true},
	},
	{
		Cases: []string{"deadline passes after the header was sent"},
		Diff: httpDiff{Reason: reasonDeadline, MayBeEqual: true, Check: func(t *testing.T, base, got Outcome) {
			if base.Code() != codes.DeadlineExceeded || got.Code() != codes.DeadlineExceeded || base.Header.Get("x-early") == nil || got.Header != nil {
				t.Errorf("want DEADLINE_EXCEEDED on both, the header on the baseline only; got %s and %s", summary(base), summary(got))
			}
		}},
	},
}

// routed documents a routing case whose combinations reach code with msg
// (a regular expression; OK means the call reached Echo) where grpc-go
// answers UNIMPLEMENTED.
func routed(name string, code codes.Code, msg string) httpRule {
	return httpRule{Cases: []string{name}, Diff: httpDiff{Reason: reasonRouting, Check: func(t *testing.T, base, got Outcome) {
		wantStatus(t, "baseline", base, codes.Unimplemented, `unknown (service|method) .*`)
		if code == codes.OK {
			if r, ok := got.Resp.(*testpb.EchoResponse); got.Code() != codes.OK || !ok || r.GetMessage() != "routed" || r.GetMethod() != testpb.TestService_Echo_FullMethodName {
				t.Errorf("want Echo reached, got %s: %v", summary(got), got.Resp)
			}
			return
		}
		wantStatus(t, "combination", got, code, msg)
	}}}
}

// checkOKError checks reasonOKError: the same metadata, each side's status.
func checkOKError(t *testing.T, base, got Outcome) {
	t.Helper()
	wantStatus(t, "baseline", base, codes.Unimplemented, "unary response has zero messages")
	sameExcept(t, base, got, func(o *Outcome) {
		o.Status = &spb.Status{Code: int32(codes.Internal), Message: "cardinality violation: received no response message from non-server-streaming RPC"}
	})
}

// checkJSONUTF8 checks reasonJSONUTF8.
func checkJSONUTF8(cb combo) func(t *testing.T, base, got Outcome) {
	return func(t *testing.T, base, got Outcome) {
		t.Helper()
		wantStatus(t, "baseline", base, codes.Internal, `marshal message: string field contains invalid UTF-8`)
		wantStatus(t, "combination", got, codes.Internal, `marshal message: proto:[ \x{a0}]field lambdatest\.v1\.Status\.message contains invalid UTF-8`)
		g := got
		g.Status = base.Status
		checkEmptyRequest(cb.P, `.*`)(t, base, g)
	}
}

// checkJSONAny checks reasonJSONAny.
func checkJSONAny(cb combo) func(t *testing.T, base, got Outcome) {
	return func(t *testing.T, base, got Outcome) {
		t.Helper()
		wantStatus(t, "baseline", base, codes.DataLoss, "opaque")
		wantStatus(t, "combination", got, codes.Internal, `marshal message: proto:[ \x{a0}]google\.protobuf\.Any: unable to resolve "type\.googleapis\.com/example\.NotLinkedIn": not found`)
		var fn metadata.MD
		if cb.P.Name == "grpcweb" {
			fn = metadata.MD{"grpc-status": {"12"}, "grpc-message": {"unary request has zero messages"}}
		}
		if !mdEqual(got.Header, fn) || got.Trailer != nil || got.Resp != nil {
			t.Errorf("want header %v, no trailer and no response, got %s", shortMD(fn), summary(got))
		}
	}
}
