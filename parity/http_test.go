package parity

import (
	"maps"
	"regexp"
	"slices"
	"strings"

	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"

	"connectrpc.com/connect"
	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/proto"

	"github.com/aws/aws-lambda-go/lambda"
	"google.golang.org/grpc"

	"github.com/protoc-gen-go-lambda/protoc-gen-go-lambda/internal/testing/testpb"
	"github.com/protoc-gen-go-lambda/protoc-gen-go-lambda/runtime"
	"github.com/protoc-gen-go-lambda/protoc-gen-go-lambda/runtime/lambdatest"
)

// allFrontEnds are the front ends, in the order of the table.
var allFrontEnds = []lambdatest.FrontEnd{
	lambdatest.FunctionURL, lambdatest.HTTPAPI, lambdatest.RESTAPI, lambdatest.ALB, lambdatest.ALBMultiValue,
}

// httpFrontEnds are the front ends each case runs behind: all of them, or
// the race detector's three (http_race_test.go).
var httpFrontEnds = func() []lambdatest.FrontEnd {
	if raceFrontEnds != nil {
		return raceFrontEnds
	}
	return allFrontEnds
}()

// combo is one way the function is called over HTTP.
type combo struct {
	P  wireProtocol
	FE lambdatest.FrontEnd
}

func (cb combo) String() string { return cb.P.String() + "@" + cb.FE.String() }

// h2cClient speaks HTTP/2 without TLS (prior knowledge), as gRPC clients
// speak to a plaintext server.
func h2cClient() *http.Client {
	tr := &http.Transport{Protocols: new(http.Protocols)}
	tr.Protocols.SetUnencryptedHTTP2(true)
	return &http.Client{Transport: tr}
}

// runConnectGRPC runs the case with connect-go's client speaking gRPC over
// HTTP/2 to a grpc-go server on a loopback port: the baseline.
func runConnectGRPC(t *testing.T, c *Case) (Outcome, string) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var chain []grpc.UnaryServerInterceptor
	if c.GRPCRecovery {
		chain = append(chain, recoveryInterceptor)
	}
	chain = append(chain, c.ServerInterceptors...)
	opts := []grpc.ServerOption{grpc.ChainUnaryInterceptor(chain...)}
	if c.MaxRecv > 0 {
		opts = append(opts, grpc.MaxRecvMsgSize(c.MaxRecv))
	}
	if c.MaxSend > 0 {
		opts = append(opts, grpc.MaxSendMsgSize(c.MaxSend))
	}
	gs := grpc.NewServer(opts...)
	c.register(gs, false)
	served := make(chan struct{})
	go func() {
		defer close(served)
		_ = gs.Serve(lis)
	}()
	defer func() {
		gs.Stop()
		<-served
	}()
	client := h2cClient()
	defer client.CloseIdleConnections()
	cc := newConnectConn(client, "http://"+lis.Addr().String(), protoGRPC, c.ClientInterceptors)
	return c.call(t, Conn{CC: cc, Client: testpb.NewTestServiceClient(cc)}), cc.baseURL
}

// stoppable runs a handler with contexts that end when stop is called, as
// the Invoker's Close ends running invocations: NewHTTPHandler's Invoker is
// never closed, and a handler waiting on its context would otherwise run to
// the function timeout.
type stoppable struct {
	h    lambda.Handler
	ctx  context.Context
	stop context.CancelFunc
	wg   sync.WaitGroup
}

func newStoppable(h lambda.Handler) *stoppable {
	s := &stoppable{h: h}
	s.ctx, s.stop = context.WithCancel(context.Background())
	return s
}

func (s *stoppable) Invoke(ctx context.Context, payload []byte) ([]byte, error) {
	s.wg.Add(1)
	defer s.wg.Done()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	defer context.AfterFunc(s.ctx, cancel)()
	return s.h.Invoke(ctx, payload)
}

// close ends running invocations and waits for their handlers.
func (s *stoppable) close() {
	s.stop()
	s.wg.Wait()
}

// runHTTP runs the case with connect-go's client speaking each protocol
// over HTTP/1.1 to lambdatest's stand-in for fe in front of runtime.Server.
func runHTTP(t *testing.T, c *Case, fe lambdatest.FrontEnd) (map[wireProtocol]Outcome, string) {
	opts := []runtime.ServerOption{runtime.ChainUnaryInterceptor(c.ServerInterceptors...)}
	if c.MaxRecv > 0 {
		opts = append(opts, runtime.MaxRecvMsgSize(c.MaxRecv))
	}
	if c.MaxSend > 0 {
		opts = append(opts, runtime.MaxSendMsgSize(c.MaxSend))
	}
	srv := runtime.NewServer(opts...)
	c.register(srv, true)
	h := newStoppable(srv)
	defer h.close()
	hs := httptest.NewServer(lambdatest.NewHTTPHandler(h, fe))
	defer hs.Close()
	client := &http.Client{Transport: &http.Transport{}}
	defer client.CloseIdleConnections()
	base := hs.URL
	if fe == lambdatest.RESTAPI {
		base += "/prod"
	}
	out := map[wireProtocol]Outcome{}
	for _, p := range httpProtocols {
		cc := newConnectConn(client, base, p, c.ClientInterceptors)
		out[p] = c.call(t, Conn{CC: cc, Client: testpb.NewTestServiceClient(cc), Lambda: true})
	}
	return out, base
}

// httpKey is a metadata key that a protocol, connect-go's client or a front
// end adds by itself. It is removed before outcomes are compared, and only
// when it carries a value that Value matches (the whole value); any other
// key, or this key with another value, is compared like all metadata.
type httpKey struct {
	Where     string // "incoming" (the handler's), "header" or "trailer" (the caller's)
	Protocols string // which sides show it: "gRPC" (the baseline), "Connect", "gRPC-Web"
	Key       string
	Value     string // a regular expression for the whole value
	Reason    string
	re        *regexp.Regexp
}

// connect-go's user agents: its version (pinned in go.mod), then the Go
// version, which the document does not name.
var (
	connectUA = regexp.QuoteMeta("connect-go/"+connect.Version+" (") + `go[^)]+\)`
	grpcUA    = regexp.QuoteMeta("grpc-go-connect/"+connect.Version+" (") + `go[^)]+\)`
)

// httpDate is the format of the Date header.
const httpDate = `[A-Z][a-z]{2}, [0-9]{2} [A-Z][a-z]{2} [0-9]{4} [0-9]{2}:[0-9]{2}:[0-9]{2} GMT`

// httpKeys are the keys removed before comparing; docs/compatibility.md
// lists them.
var httpKeys = []httpKey{
	{"incoming", "gRPC", ":authority", `127\.0\.0\.1:[0-9]+`, "HTTP/2 pseudo-header naming the server dialled (the address differs from run to run)", nil},
	{"incoming", "gRPC", "content-type", `application/grpc`, "the gRPC request's content type; the function's front ends keep content-type out of metadata, as grpc-go keeps it out of outgoing metadata", nil},
	{"incoming", "gRPC", "content-length", `[0-9]+`, "Go's HTTP/2 client sends the length of a body it knows; grpc-go hands it on as metadata, the runtime keeps HTTP's framing headers out", nil},
	{"incoming", "gRPC", "accept-encoding", `identity`, "connect-go's gRPC client asks for no HTTP content coding; grpc-go hands it on as metadata, the runtime keeps it out as the protocols' own", nil},
	{"incoming", "gRPC", "grpc-accept-encoding", `gzip`, "connect-go's gRPC client offers gzip messages; grpc-go hands it on as metadata (it is not reserved there), the runtime keeps every grpc- header but -bin ones out", nil},
	{"incoming", "gRPC, gRPC-Web", "user-agent", grpcUA, "connect-go's user agent for gRPC and gRPC-Web", nil},
	{"incoming", "Connect", "user-agent", connectUA, "connect-go's user agent for the Connect protocol", nil},
	{"incoming", "gRPC-Web", "x-user-agent", grpcUA, "connect-go's gRPC-Web client repeats its user agent in X-User-Agent, as browsers cannot set User-Agent", nil},
	{"incoming", "Connect, gRPC-Web", "x-forwarded-for", `127\.0\.0\.1`, "every front end adds the client's address", nil},
	{"incoming", "Connect, gRPC-Web", "x-forwarded-proto", `http`, "every front end adds the client's scheme", nil},
	{"incoming", "Connect, gRPC-Web", "x-forwarded-port", `[0-9]+`, "every front end adds the port the client called", nil},
	{"incoming", "Connect, gRPC-Web", "x-amzn-trace-id", `Root=1-[0-9a-f]{8}-[0-9a-f]{24}`, "every front end adds an X-Ray trace header", nil},

	{"header", "gRPC", "content-type", `application/grpc`, "the response's content type", nil},
	{"header", "Connect", "content-type", `application/(proto|json)`, "the response's content type (application/json for an error, whichever the codec)", nil},
	{"header", "gRPC-Web", "content-type", `application/grpc-web\+(proto|json)`, "the response's content type", nil},
	{"header", "Connect", "accept-encoding", `gzip`, "the compression the function accepts", nil},
	{"header", "gRPC-Web", "grpc-accept-encoding", `gzip`, "the compression the function accepts", nil},
	{"header", "Connect", "content-encoding", `gzip`, "connect-go asks for gzip answers and the function compresses them", nil},
	{"header", "gRPC-Web", "grpc-encoding", `gzip`, "connect-go asks for gzip messages and the function compresses them", nil},
	{"header", "Connect, gRPC-Web", "content-length", `[0-9]+`, "the front ends buffer the answer and send its length", nil},
	{"header", "Connect, gRPC-Web", "date", httpDate, "net/http's server (the stand-in) dates every HTTP/1.1 answer; grpc-go's HTTP/2 answers have no Date", nil},

	{"trailer", "gRPC, gRPC-Web", "grpc-status", `[0-9]+`, "the status code, which the outcome's status carries", nil},
	{"trailer", "gRPC, gRPC-Web", "grpc-message", `.*`, "the status message, percent-encoded, which the outcome's status carries", nil},
	{"trailer", "gRPC, gRPC-Web", "grpc-status-details-bin", `(?s).*`, "the status with its details, which the outcome's status carries; the Connect protocol sends details in its JSON error body", nil},
	{"trailer", "gRPC-Web", "grpc-accept-encoding", `gzip`, "a trailers-only answer's headers are its trailers (see above)", nil},
	{"trailer", "gRPC-Web", "content-length", `0`, "a trailers-only answer's headers are its trailers (see above)", nil},
	{"trailer", "gRPC-Web", "date", httpDate, "a trailers-only answer's headers are its trailers (see above)", nil},
}

func init() {
	for i := range httpKeys {
		httpKeys[i].re = regexp.MustCompile(`\A(?:` + httpKeys[i].Value + `)\z`)
	}
}

// stripHTTPKeys removes from md (in place) the keys httpKeys lists for
// where and protocol when their every value matches.
func stripHTTPKeys(md metadata.MD, where, protocol string) {
	for _, k := range httpKeys {
		if k.Where != where || !slices.Contains(strings.Split(k.Protocols, ", "), protocol) {
			continue
		}
		vs, ok := md[k.Key]
		if !ok || !allMatch(k.re, vs) {
			continue
		}
		delete(md, k.Key)
	}
}

func allMatch(re *regexp.Regexp, vs []string) bool {
	for _, v := range vs {
		if !re.MatchString(v) {
			return false
		}
	}
	return len(vs) > 0
}

// side names what produced an outcome, for normalizing it.
type side struct {
	protocol string // "gRPC", "Connect" or "gRPC-Web"
	base     string // the URL the client called
}

func sideOf(p wireProtocol) string {
	return map[string]string{"grpc": "gRPC", "connect": "Connect", "grpcweb": "gRPC-Web"}[p.Name]
}

// normalizeHTTP makes an outcome comparable: a trailers-only answer's
// header read as the protocol defines it, the keys of httpKeys removed,
// the called URL in messages replaced, empty metadata as nil, and the
// handler's incoming metadata sorted.
func normalizeHTTP(t *testing.T, o *Outcome, s side) {
	t.Helper()
	if m := o.Status.GetMessage(); strings.HasPrefix(m, "connectConn: ") {
		// Both sides would fail alike and compare equal: a case the
		// adapter cannot make must be excluded (httpExclusions) instead.
		t.Errorf("%s: the adapter cannot make the call: %s", s.protocol, m)
	}
	o.Header, o.Trailer = o.Header.Copy(), o.Trailer.Copy()
	if _, ok := o.Header["grpc-status"]; ok && s.protocol != "Connect" {
		// A trailers-only answer (gRPC and gRPC-Web: the status, and the
		// trailers, as the only headers). connect-go's client shows its
		// headers as both the response header and the trailer ("per the
		// specification, only the HTTP status code and Content-Type should
		// be treated as headers", its comment says, but it keeps them in
		// the header too); grpc-go's client shows them as the trailer only.
		// Check that the trailer is the header without content-type, then
		// keep content-type alone in the header.
		// (An empty trailer means the client never read the answer: see
		// clientFailed.)
		want := o.Header.Copy()
		delete(want, "content-type")
		// When the client's own deadline ended the call after the headers
		// came (a race), the trailer is empty but the headers still are the
		// trailers-only status, not header metadata: keep content-type alone
		// then too.
		switch {
		case len(o.Trailer) == 0 && o.Code() != codes.DeadlineExceeded:
		case len(o.Trailer) > 0 && !mdEqual(want, o.Trailer):
			t.Errorf("%s: trailers-only answer whose trailer %v is not its header %v without content-type", s.protocol, shortMD(o.Trailer), shortMD(o.Header))
		default:
			o.Header = metadata.MD{"content-type": o.Header["content-type"]}
		}
	}
	stripHTTPKeys(o.Header, "header", s.protocol)
	stripHTTPKeys(o.Trailer, "trailer", s.protocol)
	if len(o.Header) == 0 {
		o.Header = nil
	}
	if len(o.Trailer) == 0 {
		o.Trailer = nil
	}
	if m := o.Status.GetMessage(); strings.Contains(m, s.base) {
		// A client error naming the URL it called (and its port alone).
		m = strings.ReplaceAll(m, s.base, "<server>")
		if u, err := url.Parse(s.base); err == nil {
			m = strings.ReplaceAll(m, ":"+u.Port(), ":<port>")
		}
		o.Status = proto.Clone(o.Status).(*spb.Status)
		o.Status.Message = m
	}
	if r, ok := o.Resp.(*testpb.EchoResponse); ok && len(r.GetIncoming()) > 0 {
		r = proto.Clone(r).(*testpb.EchoResponse)
		md := metadata.MD{}
		for _, p := range r.Incoming {
			md.Append(p.GetKey(), string(p.GetValue()))
		}
		stripHTTPKeys(md, "incoming", s.protocol)
		r.Incoming = nil
		for _, k := range slices.Sorted(maps.Keys(md)) {
			for _, v := range md[k] {
				r.Incoming = append(r.Incoming, &testpb.Pair{Key: k, Value: []byte(v)})
			}
		}
		o.Resp = r
	}
}

// httpCell is the verdict of one combination: "" for equal, or the reason
// of the documented difference that applied.
type httpCell struct {
	diff *httpDiff // nil: equal
}

// httpRow is one case's line of the HTTP table.
type httpRow struct {
	Case     string
	Baseline string
	Excluded string // why the case does not run over HTTP
	Cells    map[combo]httpCell
}

// TestHTTPParity runs every case that applies with connect-go's client: as
// gRPC over HTTP/2 to a grpc-go server (the baseline), and in the Connect
// protocol and gRPC-Web, each with protobuf and with JSON, through
// lambdatest's stand-in for each front end to runtime.Server. Every
// combination must come out as the baseline, or differ exactly as
// httpDifferences documents. When the whole suite ran and passed, it checks
// (or with -update rewrites) the HTTP table of docs/compatibility.md.
//
// The front ends run at the same time, each with its own copy of the case
// (groups() built anew), so that cases with state (a channel that says the
// handler started, a health server) do not share it between concurrent
// calls.
func TestHTTPParity(t *testing.T) {
	gs := groups()
	checkHTTPRules(t, gs)
	copies := make([][]group, len(httpFrontEnds))
	for k := range copies {
		copies[k] = groups()
	}
	rows := make([][]httpRow, len(gs))
	total := 0
	for i, g := range gs {
		rows[i] = make([]httpRow, len(g.Cases))
		total += len(g.Cases)
	}
	t.Run("cases", func(t *testing.T) {
		for i, g := range gs {
			t.Run(g.Name, func(t *testing.T) {
				t.Parallel()
				for j := range g.Cases {
					c := &g.Cases[j]
					if why := httpExcluded(c); why != "" {
						rows[i][j] = httpRow{Case: c.Name, Excluded: why}
						continue
					}
					perFE := make([]*Case, len(httpFrontEnds))
					for k := range perFE {
						perFE[k] = &copies[k][i].Cases[j]
					}
					t.Run(c.Name, func(t *testing.T) {
						rows[i][j] = runHTTPCase(t, c, perFE)
					})
				}
			})
		}
	})
	ran := 0
	for i := range rows {
		for _, r := range rows[i] {
			if r.Case != "" {
				ran++
			}
		}
	}
	if ran != total || t.Failed() {
		t.Logf("%d of %d cases ran; %s not checked", ran, total, docPath)
		return
	}
	if len(httpFrontEnds) != len(allFrontEnds) {
		t.Logf("the race detector's run has %d of the %d front ends; %s not checked", len(httpFrontEnds), len(allFrontEnds), docPath)
		return
	}
	checkHTTPDoc(t, gs, rows)
}

// runHTTPCase runs one case on the baseline and on every combination (the
// front ends at once, each with its copy of the case), and checks each
// against the baseline.
func runHTTPCase(t *testing.T, c *Case, perFE []*Case) httpRow {
	g, gbase := runConnectGRPC(t, c)
	normalizeHTTP(t, &g, side{protocol: "gRPC", base: gbase})
	if c.MessageVaries {
		ignoreMessage(&g)
	}
	if c.Check != nil {
		c.Check(t, g)
	}
	outs := make([]map[wireProtocol]Outcome, len(httpFrontEnds))
	bases := make([]string, len(httpFrontEnds))
	// Goroutines, not parallel subtests: -parallel (GOMAXPROCS by
	// default) would run two at a time, and most of a case's time is spent
	// waiting. (The harness's call fails the test only when a call hangs.)
	var wg sync.WaitGroup
	for k, fe := range httpFrontEnds {
		wg.Go(func() { outs[k], bases[k] = runHTTP(t, perFE[k], fe) })
	}
	wg.Wait()
	row := httpRow{Case: c.Name, Baseline: summary(g), Cells: map[combo]httpCell{}}
	if t.Failed() {
		return row
	}
	for k, fe := range httpFrontEnds {
		for _, p := range httpProtocols {
			cb := combo{P: p, FE: fe}
			o := outs[k][p]
			normalizeHTTP(t, &o, side{protocol: sideOf(p), base: bases[k]})
			if c.MessageVaries {
				ignoreMessage(&o)
			}
			hd := httpDifference(c, cb)
			if c.Check != nil && hd == nil {
				c.Check(t, o)
			}
			// Details are compared once serialized deterministically: each
			// front end has its own copy of the case, whose details were
			// serialized apart, and with JSON the function decodes them
			// and serializes them again (jsonReserialized); protobuf does
			// not serialize map entries in a fixed order.
			base, o := canonicalDetails(t, g), canonicalDetails(t, o)
			d := diffOutcomes(base, o)
			switch {
			case hd == nil && len(d) > 0:
				t.Errorf("%s differs from the baseline (connect-go, gRPC, grpc-go):\n%s", cb, strings.Join(d, "\n"))
			case hd != nil && len(d) == 0 && !hd.MayBeEqual:
				t.Errorf("%s: documented difference %q no longer differs", cb, hd.Reason)
			case hd != nil && len(d) > 0:
				t.Run(cb.String(), func(t *testing.T) { hd.Check(t, base, o) })
			}
			row.Cells[cb] = httpCell{diff: hd}
		}
	}
	return row
}

func ignoreMessage(o *Outcome) {
	o.Status = proto.Clone(o.Status).(*spb.Status)
	o.Status.Message = ""
	o.MessageIgnored = true
}
