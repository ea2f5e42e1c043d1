package streambench

// The AWS SDK's share of path=lambda, measured alone: the SDK's Lambda
// client reading a pre-encoded InvokeWithResponseStream body from memory (no
// Lambda double, no runtime.Server, no invoke framing), as it comes by
// default (protocol=restjson1, a fresh protocol per call as invoke and
// lambdatest install) and with fastChunks, a prototype of the fix
// docs/performance-streaming.md proposes for runtime/invoke.

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"io"
	"net/http"
	"runtime"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awslambda "github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/eventstream"
	smithyhttp "github.com/aws/smithy-go/transport/http"
	"github.com/aws/smithy-go/transport/http/protocol/restjson1"
	"google.golang.org/protobuf/encoding/protowire"
)

// encodeEvent writes one event message as Lambda's service sends it.
func encodeEvent(enc *eventstream.Encoder, w io.Writer, typ, ct string, p []byte) {
	var msg eventstream.Message
	msg.Headers.Set(eventstream.EventTypeHeader, eventstream.StringValue(typ))
	msg.Headers.Set(eventstream.MessageTypeHeader, eventstream.StringValue(eventstream.EventMessageType))
	msg.Headers.Set(eventstream.ContentTypeHeader, eventstream.StringValue(ct))
	msg.Payload = p
	if err := enc.Encode(w, msg); err != nil {
		panic(err)
	}
}

// encodedStream is an InvokeWithResponseStream body as lambdatest writes
// path=lambda's answer of count messages of size bytes: a PayloadChunk for
// the header frame (7 bytes), each message frame cut at 64 KiB (a 65536-byte
// and a 9-byte chunk for a 64 KiB message), then InvokeComplete (the end
// frame's chunk left out). It returns the body's encoded events in order,
// equal ones sharing their bytes (so that kilobytes stay live, not the
// whole body, as in path=lambda), and the payload bytes.
func encodedStream(count, size int) ([][]byte, int) {
	enc := eventstream.NewEncoder()
	event := func(typ, ct string, p []byte) []byte {
		var b bytes.Buffer
		encodeEvent(enc, &b, typ, ct, p)
		return b.Bytes()
	}
	body := [][]byte{event("PayloadChunk", "application/octet-stream", make([]byte, 7))}
	total := 7
	frame := make([]byte, 5+1+protowire.SizeBytes(size)) // prefix, then EchoResponse{payload}
	var chunks [][]byte
	for rest := frame; len(rest) > 0; {
		n := min(len(rest), 64<<10)
		chunks = append(chunks, event("PayloadChunk", "application/octet-stream", rest[:n]))
		rest = rest[n:]
	}
	for range count {
		body = append(body, chunks...)
		total += len(frame)
	}
	body = append(body, event("InvokeComplete", "application/json", []byte("{}")))
	return body, total
}

// memHTTP answers every request with body, an event stream.
type memHTTP struct{ body [][]byte }

func (m memHTTP) Do(req *http.Request) (*http.Response, error) {
	if req.Body != nil {
		io.Copy(io.Discard, req.Body)
		req.Body.Close()
	}
	return &http.Response{StatusCode: 200, Status: "200 OK", Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: http.Header{"Content-Type": {"application/vnd.amazon.eventstream"}},
		Body:   io.NopCloser(&segmentReader{segments: m.body}), ContentLength: -1, Request: req}, nil
}

// fastChunks decodes PayloadChunk events itself: one allocation of the
// message's exact size, both CRCs checked, headers read in place; anything
// else goes to the wrapped protocol.
type fastChunks struct{ smithyhttp.ClientProtocol }

func (p fastChunks) DeserializeEventMessage(schema *smithy.Schema, reg *smithy.TypeRegistry, r io.Reader) (smithy.Deserializable, error) {
	var prelude [12]byte
	if _, err := io.ReadFull(r, prelude[:]); err != nil {
		if err == io.ErrUnexpectedEOF {
			return nil, io.EOF
		}
		return nil, err
	}
	total, hlen := binary.BigEndian.Uint32(prelude[0:]), binary.BigEndian.Uint32(prelude[4:])
	if crc32.ChecksumIEEE(prelude[:8]) != binary.BigEndian.Uint32(prelude[8:]) || total < 16 || hlen > total-16 || total > 16<<20 {
		return nil, errors.New("bad prelude")
	}
	msg := make([]byte, total)
	copy(msg, prelude[:])
	if _, err := io.ReadFull(r, msg[12:]); err != nil {
		return nil, err
	}
	if crc32.ChecksumIEEE(msg[:total-4]) != binary.BigEndian.Uint32(msg[total-4:]) {
		return nil, errors.New("bad message crc")
	}
	h := msg[12 : 12+hlen]
	var evType, msgType []byte
	for len(h) > 0 {
		n := int(h[0])
		if len(h) < 1+n+1 {
			break
		}
		name := h[1 : 1+n]
		h = h[1+n:]
		if h[0] != 7 || len(h) < 3 { // only string headers on the fast path
			return p.ClientProtocol.DeserializeEventMessage(schema, reg, bytes.NewReader(msg))
		}
		vn := int(binary.BigEndian.Uint16(h[1:]))
		if len(h) < 3+vn {
			break
		}
		v := h[3 : 3+vn]
		h = h[3+vn:]
		switch string(name) {
		case ":event-type":
			evType = v
		case ":message-type":
			msgType = v
		}
	}
	if string(msgType) == "event" && string(evType) == "PayloadChunk" {
		return &types.InvokeResponseStreamUpdate{Payload: msg[12+hlen : total-4 : total-4]}, nil
	}
	return p.ClientProtocol.DeserializeEventMessage(schema, reg, bytes.NewReader(msg))
}

// newMemClient is the SDK's Lambda client over memHTTP.
func newMemClient(body [][]byte) *awslambda.Client {
	return awslambda.New(awslambda.Options{
		Region:       "us-east-1",
		Credentials:  credentials.NewStaticCredentialsProvider("AKIDSTREAMBENCH", "streambench", ""),
		BaseEndpoint: aws.String("http://streambench.invalid"),
		HTTPClient:   memHTTP{body},
		Retryer:      aws.NopRetryer{},
	})
}

// protocolOption installs a fresh restjson1 protocol for the call, as
// runtime/invoke's streamOptions do, wrapped in fastChunks when fast.
func protocolOption(fast bool) func(*awslambda.Options) {
	return func(o *awslambda.Options) {
		o.Protocol = restjson1.New(nil)
		if fast {
			o.Protocol = fastChunks{o.Protocol}
		}
	}
}

// sdkRead makes one call and reads every event. It returns the payload
// bytes, the chunks and the time to the second chunk (the first message's,
// after the header frame's).
func sdkRead(c *awslambda.Client, opt func(*awslambda.Options)) (n, chunks int, second time.Duration, err error) {
	start := time.Now()
	out, err := c.InvokeWithResponseStream(context.Background(), &awslambda.InvokeWithResponseStreamInput{
		FunctionName: aws.String("streambench"),
		Payload:      []byte(`{"v":1}`),
	}, opt)
	if err != nil {
		return 0, 0, 0, err
	}
	es := out.GetStream()
	defer es.Close()
	done := false
	for ev := range es.Events() {
		switch ev := ev.(type) {
		case *types.InvokeWithResponseStreamResponseEventMemberPayloadChunk:
			n += len(ev.Value.Payload)
			if chunks++; chunks == 2 {
				second = time.Since(start)
			}
		case *types.InvokeWithResponseStreamResponseEventMemberInvokeComplete:
			done = true
		}
	}
	if err := es.Err(); err != nil {
		return n, chunks, second, err
	}
	if !done {
		return n, chunks, second, errors.New("no InvokeComplete")
	}
	return n, chunks, second, nil
}

var sdkProtocols = []struct {
	name string
	fast bool
}{{"restjson1", false}, {"fastChunks", true}}

// BenchmarkSDKStream reads BenchmarkServerStream's 64 MiB answer as the SDK
// events lambdatest would send, from memory.
func BenchmarkSDKStream(b *testing.B) {
	body, total := encodedStream(bulkCount, bulkSize)
	c := newMemClient(body)
	for _, p := range sdkProtocols {
		b.Run("protocol="+p.name, func(b *testing.B) {
			opt := protocolOption(p.fast)
			b.SetBytes(bulkCount * bulkSize)
			b.ReportAllocs()
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			calls := 0
			for b.Loop() {
				n, _, _, err := sdkRead(c, opt)
				if err != nil || n != total {
					b.Fatalf("%d bytes (want %d), %v", n, total, err)
				}
				calls++
			}
			runtime.ReadMemStats(&after)
			msgs := float64(calls) * bulkCount
			b.ReportMetric(float64(after.Mallocs-before.Mallocs)/msgs, "allocs/msg")
			b.ReportMetric(float64(after.TotalAlloc-before.TotalAlloc)/msgs, "B/msg")
		})
	}
}

// BenchmarkSDKFirstEvent reads BenchmarkFirstMessage's answer (8 small
// messages) as SDK events from memory; ns/first-msg is the time from the
// call to its second chunk, the first message's.
func BenchmarkSDKFirstEvent(b *testing.B) {
	body, total := encodedStream(smallCount, smallSize)
	c := newMemClient(body)
	for _, p := range sdkProtocols {
		b.Run("protocol="+p.name, func(b *testing.B) {
			opt := protocolOption(p.fast)
			b.ReportAllocs()
			var first time.Duration
			calls := 0
			for b.Loop() {
				n, _, d, err := sdkRead(c, opt)
				if err != nil || n != total {
					b.Fatalf("%d bytes (want %d), %v", n, total, err)
				}
				first += d
				calls++
			}
			b.ReportMetric(float64(first.Nanoseconds())/float64(calls), "ns/first-msg")
		})
	}
}

// BenchmarkSmithyDecoder is smithy-go's eventstream.Decoder alone on one
// 64 KiB PayloadChunk message: with the nil payload buffer its restjson1
// codec always passes (the Codec resets a payloadBuf it never keeps), and
// with one large enough for the payload and bytes.Buffer's MinRead.
func BenchmarkSmithyDecoder(b *testing.B) {
	var buf bytes.Buffer
	encodeEvent(eventstream.NewEncoder(), &buf, "PayloadChunk", "application/octet-stream", make([]byte, 64<<10))
	msg := buf.Bytes()
	dec := eventstream.NewDecoder()
	for _, bc := range []struct {
		name string
		buf  func() []byte
	}{
		{"payloadBuf=nil", func() []byte { return nil }},
		{"payloadBuf=64KiB+512", func() []byte { return make([]byte, 0, 64<<10+512) }},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.SetBytes(64 << 10)
			b.ReportAllocs()
			for b.Loop() {
				if _, err := dec.Decode(bytes.NewReader(msg), bc.buf()); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestFastChunks checks that fastChunks yields the events restjson1 does.
func TestFastChunks(t *testing.T) {
	for _, s := range []struct{ count, size int }{{smallCount, smallSize}, {16, bulkSize}} {
		body, total := encodedStream(s.count, s.size)
		c := newMemClient(body)
		var chunks [2]int
		for i, p := range sdkProtocols {
			n, k, _, err := sdkRead(c, protocolOption(p.fast))
			if err != nil || n != total {
				t.Errorf("%s, %d × %d: %d bytes (want %d), %v", p.name, s.count, s.size, n, total, err)
			}
			chunks[i] = k
		}
		if chunks[0] != chunks[1] {
			t.Errorf("%d × %d: %d chunks with restjson1, %d with fastChunks", s.count, s.size, chunks[0], chunks[1])
		}
	}
}
