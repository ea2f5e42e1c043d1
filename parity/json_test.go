package parity

import (
	"regexp"
	"strings"
	"testing"

	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
)

// JSON mode (invoke.WithJSON) carries messages as protojson text. It gives
// what binary mode gives except where the encoding itself shows through;
// jsonDifferences names those cases, each with its reason and the check of
// exactly what differs. markJSON applies them to the suite.

const (
	jsonSizes         = "in JSON mode the message size limits (grpc-go's and Lambda's 6 MB payload) apply to the protojson text, which is larger than the protobuf encoding (bytes fields as base64, field names as text): a message within a limit in binary mode can exceed it in JSON mode, and the sizes in the messages differ"
	jsonWording       = "the message is protojson's error, not proto's: the same code and the same \"grpc: error while marshaling: \" prefix, other words"
	jsonUnknownAny    = "protojson must resolve an Any's type to write it as JSON, so a status detail whose type the function does not link cannot be sent in JSON mode: INTERNAL instead of the status (binary mode carries the detail's bytes as they are)"
	jsonReserialized  = "the request's details are decoded from JSON and serialized again by the function, and protobuf does not serialize map entries in a fixed order: the details are equal once unpacked, their bytes (and so the grpc-status-details-bin trailer) may not be"
	jsonUnknownFields = "protojson has no unknown-field set: reading a reply as another message type drops the fields that type lacks (JSON mode reads unknown fields leniently, by discarding them), where binary protobuf keeps them as unknown fields"
)

var jsonDifferences = map[string]struct {
	reason string
	check  func(t *testing.T, binary, json Outcome)
}{
	"3 MiB request, small response":                                     {jsonSizes, checkJSONSizes},
	"small request, 3 MiB response":                                     {jsonSizes, checkJSONSizes},
	"4 MiB request and response (the default limits, exactly)":          {jsonSizes, checkJSONSizes},
	"server receive limit exceeded":                                     {jsonSizes, checkJSONSizes},
	"server receive limit met exactly":                                  {jsonSizes, checkJSONSizes},
	"server send limit exceeded":                                        {jsonSizes, checkJSONSizes},
	"server send limit exceeded, with header and trailer":               {jsonSizes, checkJSONSizes},
	"server send limit met exactly":                                     {jsonSizes, checkJSONSizes},
	"client receive limit exceeded":                                     {jsonSizes, checkJSONSizes},
	"client receive limit met exactly":                                  {jsonSizes, checkJSONSizes},
	"client send limit exceeded":                                        {jsonSizes, checkJSONSizes},
	"client send limit met exactly":                                     {jsonSizes, checkJSONSizes},
	"default server receive limit (4 MiB) exceeded":                     {jsonSizes, checkJSONSizes},
	"default client receive limit (4 MiB) exceeded":                     {jsonSizes, checkJSONSizes},
	"request over the Lambda payload limit, within raised grpc limits":  {jsonSizes, checkJSONSizes},
	"response over the Lambda payload limit, within raised grpc limits": {jsonSizes, checkJSONSizes},
	"message with invalid UTF-8":                                        {jsonWording, checkJSONWording},
	"details with a message in invalid UTF-8":                           {jsonWording, checkJSONWording},
	"details: an Any of an unknown type":                                {jsonUnknownAny, checkJSONUnknownAny},
	"response is a different message type":                              {jsonUnknownFields, checkJSONUnknownFields},
	"reply of another message type through ClientConn.Invoke":           {jsonUnknownFields, checkJSONUnknownFields},
}

// markJSON sets the JSON mode differences on the cases they name; a name
// that matches no case fails the suite.
func markJSON(t *testing.T, gs []group) {
	seen := map[string]bool{}
	for _, g := range gs {
		for i := range g.Cases {
			c := &g.Cases[i]
			if d, ok := jsonDifferences[c.Name]; ok {
				c.JSONDifference, c.JSONDiff = d.reason, d.check
				seen[c.Name] = true
			}
		}
	}
	for name := range jsonDifferences {
		if !seen[name] {
			t.Errorf("jsonDifferences names %q, which is not a case", name)
		}
	}
}

var digits = regexp.MustCompile(`[0-9]+`)

// checkJSONSizes: JSON mode fails RESOURCE_EXHAUSTED where binary mode
// succeeds or fails the same way with other sizes in its message; metadata
// is the same.
func checkJSONSizes(t *testing.T, b, j Outcome) {
	t.Helper()
	sameShape := b.Code() == codes.ResourceExhausted && digits.ReplaceAllString(b.Status.GetMessage(), "#") == digits.ReplaceAllString(j.Status.GetMessage(), "#")
	if j.Code() != codes.ResourceExhausted || !(b.Code() == codes.OK || sameShape) || !mdEqual(b.Header, j.Header) || !mdEqual(b.Trailer, j.Trailer) {
		t.Errorf("want RESOURCE_EXHAUSTED in JSON mode where binary mode succeeds or fails alike:\n  binary %s\n  json   %s", summary(b), summary(j))
	}
}

func checkJSONWording(t *testing.T, b, j Outcome) {
	t.Helper()
	const prefix = "grpc: error while marshaling: "
	if b.Code() != codes.Internal || j.Code() != codes.Internal || !strings.HasPrefix(b.Status.GetMessage(), prefix) || !strings.HasPrefix(j.Status.GetMessage(), prefix) {
		t.Errorf("want INTERNAL %q… in both modes:\n  binary %s\n  json   %s", prefix, summary(b), summary(j))
	}
}

func checkJSONUnknownAny(t *testing.T, b, j Outcome) {
	t.Helper()
	if len(b.Status.GetDetails()) != 1 || j.Code() != codes.Internal || !strings.Contains(j.Status.GetMessage(), "unable to resolve") {
		t.Errorf("want the detail in binary mode and INTERNAL \"unable to resolve\" in JSON mode:\n  binary %s\n  json   %s", summary(b), summary(j))
	}
}

// canonicalDetails re-serializes o's status details, and the
// grpc-status-details-bin trailer that carries them, deterministically. In
// JSON mode a request's details are decoded from JSON and serialized again
// by the function, and protobuf does not serialize map entries in a fixed
// order: equal details may come back as other bytes. Only the comparison of
// the two modes uses it.
func canonicalDetails(t *testing.T, o Outcome) Outcome {
	t.Helper()
	if len(o.Status.GetDetails()) == 0 {
		return o
	}
	det := proto.MarshalOptions{Deterministic: true}
	st := proto.Clone(o.Status).(*spb.Status)
	for _, a := range st.Details {
		m, err := anypb.UnmarshalNew(a, proto.UnmarshalOptions{})
		if err != nil {
			continue // an unknown type keeps its bytes
		}
		if a.Value, err = det.Marshal(m); err != nil {
			t.Fatal(err)
		}
	}
	o.Status = st
	if _, ok := o.Trailer["grpc-status-details-bin"]; ok {
		b, err := det.Marshal(st)
		if err != nil {
			t.Fatal(err)
		}
		o.Trailer = o.Trailer.Copy()
		o.Trailer["grpc-status-details-bin"] = []string{string(b)}
	}
	return o
}

func checkJSONUnknownFields(t *testing.T, b, j Outcome) {
	t.Helper()
	if b.Code() != codes.OK || j.Code() != codes.OK || b.Resp == nil || j.Resp == nil ||
		len(b.Resp.ProtoReflect().GetUnknown()) == 0 || len(j.Resp.ProtoReflect().GetUnknown()) != 0 {
		t.Errorf("want OK in both modes, with unknown fields kept in binary mode only:\n  binary %s\n  json   %s", summary(b), summary(j))
	}
}
