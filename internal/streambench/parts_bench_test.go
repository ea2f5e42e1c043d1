package streambench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awslambda "github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"github.com/protoc-gen-go-lambda/protoc-gen-go-lambda/internal/testing/testpb"
	lambdaruntime "github.com/protoc-gen-go-lambda/protoc-gen-go-lambda/runtime"
	"github.com/protoc-gen-go-lambda/protoc-gen-go-lambda/runtime/invoke"
	"github.com/protoc-gen-go-lambda/protoc-gen-go-lambda/runtime/lambdatest"
)

// The parts of path=lambda, each measured without the ones above it:
//
//   - part=sdk: lambdatest's Invoker answering InvokeWithResponseStream
//     with bytes the runtime produced earlier (replayHandler), read as raw
//     SDK events (payload bytes counted, nothing parsed): the Lambda
//     double's event encoding plus the AWS SDK's client and event stream
//     decoder, with no runtime.Server and no invoke framing.
//   - part=invoke: the same replayed bytes read through the generated
//     client over invoke.ClientConn: part=sdk plus the client's frame
//     reading and protobuf decoding.
//
// path=lambda minus part=invoke is runtime.Server's share (the handler's
// marshaling, the frames, InvokeStream's pipe).

// replayHandler answers every streamed invocation with the bytes that
// runtime.Server.InvokeStream produced for one request, cut as its Reads
// returned them (each a PayloadChunk, as lambdatest's drain sends them).
type replayHandler struct {
	segments [][]byte
	size     int // the bytes of all segments
}

// record runs req through a runtime.Server once and keeps its answer's
// Reads, with the invocation payload the invoke client sent for it.
func record(tb testing.TB, count, size int32) (*replayHandler, []byte) {
	srv := lambdaruntime.NewServer()
	testpb.RegisterTestServiceLambdaServer(srv, newStreamServer())
	rec := &recorder{srv: srv}
	inv := lambdatest.NewInvoker(rec)
	defer inv.Close()
	c := testpb.NewTestServiceLambdaClient(invoke.NewClientConn(inv, "streambench"))
	if _, _, err := receive(context.Background(), c, count, size); err != nil {
		tb.Fatal(err)
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if rec.h == nil {
		tb.Fatal("no streamed invocation recorded")
	}
	return rec.h, rec.payload
}

// recorder is a runtime.Server that records its streamed answers.
type recorder struct {
	srv     *lambdaruntime.Server
	mu      sync.Mutex
	payload []byte
	h       *replayHandler
}

func (r *recorder) Invoke(ctx context.Context, payload []byte) ([]byte, error) {
	return r.srv.Invoke(ctx, payload)
}

func (r *recorder) InvokeStream(ctx context.Context, payload json.RawMessage) (io.Reader, error) {
	out, err := r.srv.InvokeStream(ctx, payload)
	if err != nil {
		return nil, err
	}
	h := &replayHandler{}
	buf := make([]byte, 64<<10) // lambdatest's drain buffer
	// Equal segments share their bytes (every message frame is the same),
	// so that the replay keeps kilobytes live, not the whole answer: a
	// 64 MiB live heap would make the garbage collector run several times
	// less often than in path=lambda and flatter the parts.
	unique := map[string][]byte{}
	for {
		n, err := out.Read(buf)
		if n > 0 {
			seg, ok := unique[string(buf[:n])]
			if !ok {
				seg = append([]byte(nil), buf[:n]...)
				unique[string(seg)] = seg
			}
			h.segments = append(h.segments, seg)
			h.size += n
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
	}
	r.mu.Lock()
	r.payload, r.h = append([]byte(nil), payload...), h
	r.mu.Unlock()
	return &segmentReader{segments: h.segments}, nil
}

func (h *replayHandler) Invoke(context.Context, []byte) ([]byte, error) {
	return nil, errors.New("replayHandler streams only")
}

func (h *replayHandler) InvokeStream(context.Context, json.RawMessage) (io.Reader, error) {
	return &segmentReader{segments: h.segments}, nil
}

// segmentReader returns one segment per Read (the rest of it, when p is
// shorter), leaving the segments themselves untouched.
type segmentReader struct {
	segments [][]byte
	off      int // into segments[0]
}

func (r *segmentReader) Read(p []byte) (int, error) {
	if len(r.segments) == 0 {
		return 0, io.EOF
	}
	n := copy(p, r.segments[0][r.off:])
	if r.off += n; r.off == len(r.segments[0]) {
		r.segments, r.off = r.segments[1:], 0
	}
	return n, nil
}

// MarshalJSON fails, so that the answer is streamed as bytes (aws-lambda-go's rule).
func (r *segmentReader) MarshalJSON() ([]byte, error) { return nil, errors.New("not JSON") }

// sdkEvents makes one InvokeWithResponseStream call and reads its events.
// It returns the payload bytes and the time to the event that completes
// byte firstAt of the answer (the first message frame).
func sdkEvents(ctx context.Context, inv *lambdatest.Invoker, payload []byte, firstAt int) (int, time.Duration, error) {
	start := time.Now()
	out, err := inv.InvokeWithResponseStream(ctx, &awslambda.InvokeWithResponseStreamInput{
		FunctionName:   aws.String("streambench"),
		InvocationType: types.ResponseStreamingInvocationTypeRequestResponse,
		Payload:        payload,
	})
	if err != nil {
		return 0, 0, err
	}
	es := out.GetStream()
	defer es.Close()
	var first time.Duration
	n := 0
	for ev := range es.Events() {
		switch ev := ev.(type) {
		case *types.InvokeWithResponseStreamResponseEventMemberPayloadChunk:
			n += len(ev.Value.Payload)
			if first == 0 && n >= firstAt {
				first = time.Since(start)
			}
		case *types.InvokeWithResponseStreamResponseEventMemberInvokeComplete:
			if c := aws.ToString(ev.Value.ErrorCode); c != "" {
				return n, first, fmt.Errorf("InvokeComplete: %s %s", c, aws.ToString(ev.Value.ErrorDetails))
			}
		}
	}
	return n, first, es.Err()
}

// firstMessageEnd is the answer's length up to the end of its first
// message frame (header frames before it included).
func firstMessageEnd(h *replayHandler) int {
	var all []byte
	for _, s := range h.segments {
		all = append(all, s...)
	}
	off := 0
	for off+5 <= len(all) {
		flags, n := all[off], int(all[off+1])<<24|int(all[off+2])<<16|int(all[off+3])<<8|int(all[off+4])
		off += 5 + n
		if flags == 0 {
			return off
		}
	}
	return len(all)
}

// BenchmarkServerStreamParts is BenchmarkServerStream's lambda path cut
// into parts (see the top of this file), as
// BenchmarkServerStreamParts/part=<sdk|invoke>.
func BenchmarkServerStreamParts(b *testing.B) {
	benchmarkParts(b, bulkCount, bulkSize, false)
}

// BenchmarkFirstMessageParts is BenchmarkFirstMessage's lambda path cut
// into the same parts; ns/first-msg is the time to the first message frame
// (part=sdk: the event that completes it).
func BenchmarkFirstMessageParts(b *testing.B) {
	benchmarkParts(b, smallCount, smallSize, true)
}

func benchmarkParts(b *testing.B, count, size int32, firstMsg bool) {
	h, payload := record(b, count, size)
	firstAt := firstMessageEnd(h)
	ctx := context.Background()
	report := func(b *testing.B, run func() (int, time.Duration, error)) {
		if _, _, err := run(); err != nil { // warm up
			b.Fatal(err)
		}
		if !firstMsg {
			b.SetBytes(int64(count) * int64(size))
		}
		b.ReportAllocs()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		var first time.Duration
		calls := 0
		for b.Loop() {
			_, d, err := run()
			if err != nil {
				b.Fatal(err)
			}
			first += d
			calls++
		}
		runtime.ReadMemStats(&after)
		if firstMsg {
			b.ReportMetric(float64(first.Nanoseconds())/float64(calls), "ns/first-msg")
		} else {
			msgs := float64(calls) * float64(count)
			b.ReportMetric(float64(after.Mallocs-before.Mallocs)/msgs, "allocs/msg")
			b.ReportMetric(float64(after.TotalAlloc-before.TotalAlloc)/msgs, "B/msg")
		}
	}
	b.Run("part=sdk", func(b *testing.B) {
		inv := lambdatest.NewInvoker(h)
		b.Cleanup(inv.Close)
		report(b, func() (int, time.Duration, error) {
			n, d, err := sdkEvents(ctx, inv, payload, firstAt)
			if err == nil && n != h.size {
				err = fmt.Errorf("%d bytes, want %d", n, h.size)
			}
			return n, d, err
		})
	})
	b.Run("part=invoke", func(b *testing.B) {
		inv := lambdatest.NewInvoker(h)
		b.Cleanup(inv.Close)
		c := testpb.NewTestServiceLambdaClient(invoke.NewClientConn(inv, "streambench"))
		report(b, func() (int, time.Duration, error) { return receive(ctx, c, count, size) })
	})
}

// TestParts checks that the replayed answers read whole both ways.
func TestParts(t *testing.T) {
	h, payload := record(t, 16, bulkSize)
	inv := lambdatest.NewInvoker(h)
	defer inv.Close()
	if n, _, err := sdkEvents(context.Background(), inv, payload, firstMessageEnd(h)); err != nil || n != h.size {
		t.Errorf("sdk: %d bytes (want %d), %v", n, h.size, err)
	}
	t.Logf("%d segments, %d bytes", len(h.segments), h.size)
	c := testpb.NewTestServiceLambdaClient(invoke.NewClientConn(inv, "streambench"))
	if _, _, err := receive(context.Background(), c, 16, bulkSize); err != nil {
		t.Error(err)
	}
}
