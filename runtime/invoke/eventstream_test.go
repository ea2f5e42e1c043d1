package invoke

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/schemas"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/eventstream"
	"github.com/aws/smithy-go/transport/http/protocol/restjson1"
	"github.com/protoc-gen-go-lambda/protoc-gen-go-lambda/runtime/internal/alloctest"
)

// esHeader is one header of a test event.
type esHeader struct {
	name  string
	value eventstream.Value
}

// esMessage encodes one event stream message with the SDK's encoder.
func esMessage(t testing.TB, payload []byte, hs ...esHeader) []byte {
	t.Helper()
	var msg eventstream.Message
	for _, h := range hs {
		// Append, not Set: duplicate names are part of what is tested.
		msg.Headers = append(msg.Headers, eventstream.Header{Name: h.name, Value: h.value})
	}
	msg.Payload = payload
	var b bytes.Buffer
	if err := eventstream.NewEncoder().Encode(&b, msg); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func str(name, v string) esHeader { return esHeader{name, eventstream.StringValue(v)} }

// esEvent is an event as Lambda's service sends it.
func esEvent(t testing.TB, typ, contentType string, payload []byte, extra ...esHeader) []byte {
	hs := append([]esHeader{str(":event-type", typ), str(":message-type", "event"), str(":content-type", contentType)}, extra...)
	return esMessage(t, payload, hs...)
}

func esChunk(t testing.TB, payload []byte) []byte {
	return esEvent(t, "PayloadChunk", "application/octet-stream", payload)
}

// allHeaderTypes is one header of every value type smithy-go decodes.
var allHeaderTypes = []esHeader{
	{"t", eventstream.BoolValue(true)},
	{"f", eventstream.BoolValue(false)},
	{"i8", eventstream.Int8Value(-3)},
	{"i16", eventstream.Int16Value(-300)},
	{"i32", eventstream.Int32Value(-70000)},
	{"i64", eventstream.Int64Value(-1 << 40)},
	{"bytes", eventstream.BytesValue("\x00\x01:event-type")},
	{"string", eventstream.StringValue(":message-type")},
	{"ts", eventstream.TimestampValue(time.UnixMilli(1700000000123))},
	{"uuid", eventstream.UUIDValue{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}},
	{"", eventstream.StringValue("empty name")},
	{strings.Repeat("n", 255), eventstream.StringValue("longest name")},
}

// decoded is what a protocol made of a stream: its events, then the error
// that ended it.
type decoded struct {
	events []smithy.Deserializable
	err    error
}

func (d decoded) String() string {
	var b strings.Builder
	for _, ev := range d.events {
		fmt.Fprintf(&b, "%T%+v\n", ev, ev)
	}
	fmt.Fprintf(&b, "error %T: %v", d.err, d.err)
	return b.String()
}

// decodeAll reads r's events with p as the SDK's event stream reader does,
// until an error (io.EOF at the end).
func decodeAll(p interface {
	DeserializeEventMessage(*smithy.Schema, *smithy.TypeRegistry, io.Reader) (smithy.Deserializable, error)
}, r io.Reader) decoded {
	var d decoded
	for len(d.events) < 1<<16 {
		ev, err := p.DeserializeEventMessage(schemas.InvokeWithResponseStreamResponseEvent, lambda.TypeRegistry, r)
		if err != nil {
			d.err = err
			return d
		}
		d.events = append(d.events, ev)
	}
	d.err = errors.New("too many events")
	return d
}

// sameDecoding fails t unless the default protocol and chunkProtocol make
// the same events and the same error of stream, read through wrap.
func sameDecoding(t testing.TB, what string, stream []byte, wrap func(io.Reader) io.Reader) {
	t.Helper()
	want := decodeAll(restjson1.New(nil), wrap(bytes.NewReader(stream)))
	got := decodeAll(&chunkProtocol{restjson1.New(nil)}, wrap(bytes.NewReader(stream)))
	if !reflect.DeepEqual(got.events, want.events) ||
		fmt.Sprintf("%T %v", got.err, got.err) != fmt.Sprintf("%T %v", want.err, want.err) ||
		errors.Is(got.err, io.EOF) != errors.Is(want.err, io.EOF) {
		g, w := got.String(), want.String()
		if len(g) > 2000 {
			g = g[:2000] + "…"
		}
		if len(w) > 2000 {
			w = w[:2000] + "…"
		}
		t.Errorf("%s: chunkProtocol made\n%s\nthe SDK's protocol\n%s", what, g, w)
	}
}

// failingReader returns r's bytes, then err instead of io.EOF.
type failingReader struct {
	r   io.Reader
	err error
}

func (f failingReader) Read(p []byte) (int, error) {
	n, err := f.r.Read(p)
	if err == io.EOF {
		err = f.err
	}
	return n, err
}

var readers = []struct {
	name string
	wrap func(io.Reader) io.Reader
}{
	{"whole", func(r io.Reader) io.Reader { return r }},
	{"byte-at-a-time", iotest.OneByteReader},
	{"eof-with-data", iotest.DataErrReader},
	{"failing", func(r io.Reader) io.Reader { return failingReader{r, errors.New("connection reset")} }},
}

// withCRC sets m's prelude and message CRCs for its bytes.
func withCRC(m []byte) []byte {
	m = bytes.Clone(m)
	binary.BigEndian.PutUint32(m[8:], crc32.ChecksumIEEE(m[:8]))
	binary.BigEndian.PutUint32(m[len(m)-4:], crc32.ChecksumIEEE(m[:len(m)-4]))
	return m
}

// esStreams are the differential test's streams, by name.
func esStreams(t testing.TB) map[string][]byte {
	complete := esEvent(t, "InvokeComplete", "application/json", []byte("{}"))
	failed := esEvent(t, "InvokeComplete", "application/json",
		[]byte(`{"ErrorCode":"Unhandled","ErrorDetails":"{\"errorMessage\":\"boom\"}","LogResult":"bG9n"}`))
	cat := func(ms ...[]byte) []byte { return bytes.Join(ms, nil) }
	big := make([]byte, 3<<20+5)
	for i := range big {
		big[i] = byte(i * 7)
	}
	streams := map[string][]byte{
		"empty":           nil,
		"chunk 0":         cat(esChunk(t, nil), complete),
		"chunk 1":         cat(esChunk(t, []byte{42}), complete),
		"chunk 64KiB":     cat(esChunk(t, big[:64<<10]), esChunk(t, big[:9]), complete),
		"chunk 256KiB-16": cat(esChunk(t, big[:256<<10-100])),
		"chunk 256KiB+1":  cat(esChunk(t, big[:256<<10+1]), complete),
		"chunk 1MiB":      cat(esChunk(t, big[:1<<20]), complete),
		"chunk 3MiB+5":    cat(esChunk(t, big), esChunk(t, big[:3])),
		"complete error":  cat(esChunk(t, []byte("partial")), failed),
		"no complete":     cat(esChunk(t, []byte("a")), esChunk(t, []byte("b"))),
		"all header types before": esMessage(t, []byte("x"),
			append(append([]esHeader{}, allHeaderTypes...), str(":event-type", "PayloadChunk"), str(":message-type", "event"))...),
		"all header types after": esMessage(t, []byte("x"),
			append([]esHeader{str(":message-type", "event"), str(":event-type", "PayloadChunk")}, allHeaderTypes...)...),
		"no content-type": esMessage(t, []byte("x"), str(":event-type", "PayloadChunk"), str(":message-type", "event")),
		"duplicate event-type": esMessage(t, []byte("x"),
			str(":event-type", "InvokeComplete"), str(":message-type", "event"), str(":event-type", "PayloadChunk")),
		"duplicate event-type other": esMessage(t, []byte("{}"),
			str(":event-type", "PayloadChunk"), str(":message-type", "event"), str(":event-type", "InvokeComplete")),
		"duplicate message-type": esMessage(t, []byte("x"),
			str(":message-type", "exception"), str(":event-type", "PayloadChunk"), str(":message-type", "event")),
		"event-type as bytes": esMessage(t, []byte("x"),
			esHeader{":event-type", eventstream.BytesValue("PayloadChunk")}, str(":message-type", "event")),
		"message-type as bytes": esMessage(t, []byte("x"),
			str(":event-type", "PayloadChunk"), esHeader{":message-type", eventstream.BytesValue("event")}),
		"event-type as bool": esMessage(t, []byte("x"),
			esHeader{":event-type", eventstream.BoolValue(true)}, str(":message-type", "event")),
		"no message-type":         esMessage(t, []byte("x"), str(":event-type", "PayloadChunk")),
		"no event-type":           esMessage(t, []byte("x"), str(":message-type", "event")),
		"no headers":              esMessage(t, []byte("x")),
		"unknown event":           cat(esEvent(t, "SomethingNew", "application/json", []byte(`{"a":1}`)), complete),
		"payloadchunk lower case": esEvent(t, "payloadchunk", "application/octet-stream", []byte("x")),
		"exception": cat(esChunk(t, []byte("a")), esMessage(t, []byte(`{"message":"slow down"}`),
			str(":message-type", "exception"), str(":exception-type", "TooManyRequestsException"), str(":content-type", "application/json"))),
		"unknown exception": esMessage(t, []byte(`{"message":"what"}`),
			str(":message-type", "exception"), str(":exception-type", "NoSuchThing"), str(":content-type", "application/json")),
		"error": cat(esChunk(t, []byte("a")), esMessage(t, nil,
			str(":message-type", "error"), str(":error-code", "InternalFailure"), str(":error-message", "oops"))),
		"unknown message type":  esMessage(t, []byte("x"), str(":message-type", "whatever"), str(":event-type", "PayloadChunk")),
		"invalid complete json": esEvent(t, "InvokeComplete", "application/json", []byte(`{"ErrorCode":`)),
	}

	small := cat(esChunk(t, []byte("hello")), complete)
	// Corruptions of a valid message, CRCs left as they are.
	for i, name := range []string{"prelude crc", "message crc", "headers byte", "payload byte", "total length", "headers length"} {
		m := bytes.Clone(small)
		switch i {
		case 0:
			m[9] ^= 1
		case 1:
			m[len(esChunk(t, []byte("hello")))-1] ^= 1
		case 2:
			m[14] ^= 0x40
		case 3:
			m[len(esChunk(t, []byte("hello")))-6] ^= 1
		case 4:
			m[3]++
		case 5:
			m[7]++
		}
		streams["corrupt "+name] = m
	}
	// Malformed messages with valid CRCs.
	chunk := esChunk(t, []byte("hello"))
	lengths := func(total, hlen uint32) []byte {
		m := bytes.Clone(chunk)
		binary.BigEndian.PutUint32(m, total)
		binary.BigEndian.PutUint32(m[4:], hlen)
		return withCRC(m)
	}
	streams["length 0"] = cat(lengths(0, 0), complete)
	streams["length 15"] = cat(lengths(15, 0), complete)
	streams["length 16"] = cat(withCRC(lengths(16, 0)[:16]), complete)
	streams["headers longer than message"] = cat(lengths(uint32(len(chunk)), uint32(len(chunk))), complete)
	streams["headers one byte into payload"] = cat(lengths(uint32(len(chunk)), binary.BigEndian.Uint32(chunk[4:])+1), complete)
	streams["headers one byte short"] = cat(lengths(uint32(len(chunk)), binary.BigEndian.Uint32(chunk[4:])-1), complete)
	streams["length 4GiB"] = cat(lengths(1<<32-1, 0), complete)
	streams["length 16MiB no bytes"] = lengths(16<<20, 20)[:12]
	badType := bytes.Clone(chunk)
	badType[1+len(":event-type")+1] = 10 // the first header's value type
	streams["unknown header type"] = withCRC(badType)
	streams["trailing garbage"] = cat(esChunk(t, []byte("a")), []byte{1, 2, 3})

	// Every truncation of a small stream.
	for n := range small {
		streams[fmt.Sprintf("truncated at %d", n)] = small[:n]
	}
	return streams
}

// TestChunkProtocolMatchesSDK checks that chunkProtocol makes the events
// and the errors the SDK's own protocol makes, over well-formed streams,
// every kind of header and event, corrupted and truncated ones, read whole,
// a byte at a time and with a failing reader.
func TestChunkProtocolMatchesSDK(t *testing.T) {
	for name, stream := range esStreams(t) {
		for _, r := range readers {
			sameDecoding(t, name+", "+r.name, stream, r.wrap)
		}
	}
}

// TestChunkProtocolPayloadChunk checks what the fast path returns: the
// type the SDK's event reader turns into a PayloadChunk member, the
// payload's bytes, and nil for an empty payload as the SDK's protocol has.
func TestChunkProtocolPayloadChunk(t *testing.T) {
	for _, size := range []int{0, 1, 64 << 10, 1 << 20} {
		payload := bytes.Repeat([]byte{7}, size)
		d := decodeAll(&chunkProtocol{restjson1.New(nil)}, bytes.NewReader(esChunk(t, payload)))
		if d.err != io.EOF || len(d.events) != 1 {
			t.Fatalf("size %d: %v", size, d)
		}
		ev, ok := d.events[0].(*types.InvokeResponseStreamUpdate)
		if !ok || !bytes.Equal(ev.Payload, payload) || (size == 0) != (ev.Payload == nil) {
			t.Errorf("size %d: got %T, %d bytes", size, d.events[0], len(ev.Payload))
		}
	}
}

// TestChunkProtocolAllocations checks the point of chunkProtocol: a
// PayloadChunk costs its own size and a little, where smithy-go v1.28's
// decoder allocates about four times the payload.
func TestChunkProtocolAllocations(t *testing.T) {
	for _, size := range []int{64 << 10, 1 << 20} {
		msg := esChunk(t, make([]byte, size))
		p := &chunkProtocol{restjson1.New(nil)}
		var err error
		n := alloctest.Allocated(func() {
			_, err = p.DeserializeEventMessage(schemas.InvokeWithResponseStreamResponseEvent, lambda.TypeRegistry, bytes.NewReader(msg))
		})
		if err != nil {
			t.Fatal(err)
		}
		limit := uint64(len(msg)) + 16<<10 // and the page rounding of a large allocation
		if size > eagerMessageLen {
			limit = 2*uint64(len(msg)) + 16<<10 // grown by doubling from eagerMessageLen
		}
		if n > limit {
			t.Errorf("a %d-byte PayloadChunk allocated %d bytes (limit %d)", size, n, limit)
		}
	}
}

// streamBody answers every request with body, an event stream.
type streamBody []byte

func (b streamBody) Do(req *http.Request) (*http.Response, error) {
	if req.Body != nil {
		io.Copy(io.Discard, req.Body)
		req.Body.Close()
	}
	return &http.Response{StatusCode: 200, Status: "200 OK", Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: http.Header{"Content-Type": {"application/vnd.amazon.eventstream"}},
		Body:   io.NopCloser(bytes.NewReader(b)), ContentLength: int64(len(b)), Request: req}, nil
}

// TestStreamProtocolThroughSDK reads a stream through the SDK's Lambda
// client with StreamProtocol: the events come out as the SDK's union
// members, as with its default protocol.
func TestStreamProtocolThroughSDK(t *testing.T) {
	body := bytes.Join([][]byte{
		esChunk(t, []byte("first")),
		esChunk(t, nil),
		esChunk(t, bytes.Repeat([]byte("x"), 64<<10)),
		esEvent(t, "InvokeComplete", "application/json", []byte(`{"ErrorCode":"Unhandled","ErrorDetails":"d"}`)),
	}, nil)
	c := lambda.New(lambda.Options{
		Region:       "us-east-1",
		Credentials:  credentials.NewStaticCredentialsProvider("AKIDEVENTSTREAM", "eventstream", ""),
		BaseEndpoint: aws.String("http://eventstream.invalid"),
		HTTPClient:   streamBody(body),
		Retryer:      aws.NopRetryer{},
	})
	read := func(opt func(*lambda.Options)) []types.InvokeWithResponseStreamResponseEvent {
		out, err := c.InvokeWithResponseStream(context.Background(), &lambda.InvokeWithResponseStreamInput{FunctionName: aws.String("f")}, opt)
		if err != nil {
			t.Fatal(err)
		}
		es := out.GetStream()
		defer es.Close()
		var evs []types.InvokeWithResponseStreamResponseEvent
		for ev := range es.Events() {
			evs = append(evs, ev)
		}
		if err := es.Err(); err != nil {
			t.Fatal(err)
		}
		return evs
	}
	got := read(StreamProtocol)
	want := read(func(o *lambda.Options) { o.Protocol = restjson1.New(nil) })
	if len(got) != 4 || !reflect.DeepEqual(got, want) {
		t.Fatalf("with StreamProtocol: %#v\nwith restjson1: %#v", got, want)
	}
	if _, ok := got[0].(*types.InvokeWithResponseStreamResponseEventMemberPayloadChunk); !ok {
		t.Errorf("first event %T", got[0])
	}
}

// TestStreamProtocolLeavesOtherProtocols checks that StreamProtocol gives
// every call a protocol of its own, and replaces only the default.
func TestStreamProtocolLeavesOtherProtocols(t *testing.T) {
	var o lambda.Options
	o.Protocol = restjson1.New(nil)
	StreamProtocol(&o)
	first, ok := o.Protocol.(*chunkProtocol)
	if !ok {
		t.Fatalf("default protocol became %T", o.Protocol)
	}
	StreamProtocol(&o)
	if second := o.Protocol.(*chunkProtocol); second == first || second.ClientProtocol == first.ClientProtocol {
		t.Error("StreamProtocol reused the protocol it was given")
	}
	custom := &chunkProtocol{restjson1.New(nil)}
	o.Protocol = struct{ *chunkProtocol }{custom}
	StreamProtocol(&o)
	if o.Protocol != (struct{ *chunkProtocol }{custom}) {
		t.Errorf("a custom protocol became %T", o.Protocol)
	}
}

// FuzzChunkProtocol decodes arbitrary bytes as an InvokeWithResponseStream
// body with chunkProtocol and with the SDK's protocol: the same events and
// errors, no panic, and no more allocated than the input's size warrants
// (a declared length alone must not allocate). Seeds are the differential
// test's streams and testdata/fuzz/FuzzChunkProtocol; CI runs it with
// -fuzz.
func FuzzChunkProtocol(f *testing.F) {
	for _, s := range esStreams(f) {
		if len(s) <= 8<<10 {
			f.Add(s)
		}
	}
	f.Fuzz(func(t *testing.T, stream []byte) {
		sameDecoding(t, "fuzz", stream, func(r io.Reader) io.Reader { return r })
		p := &chunkProtocol{restjson1.New(nil)}
		alloctest.Bounded(t, "chunkProtocol", stream, func() { decodeAll(p, bytes.NewReader(stream)) })
	})
}
