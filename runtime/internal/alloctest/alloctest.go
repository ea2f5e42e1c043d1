// Package alloctest measures heap allocation for the fuzz targets, which
// bound what one input may make the runtime allocate.
package alloctest

import (
	"runtime/metrics"
	"testing"
)

// Slack and PerByte bound what one input may allocate: a fixed allowance
// plus a multiple of its size. A size or count declared inside the payload
// (a protobuf length, a huge number, deep nesting) must not make a decoder
// allocate beyond that.
const (
	Slack   = 1 << 20
	PerByte = 64
)

// Allocated runs f and returns the bytes the process allocated on the heap
// meanwhile (runtime/metrics, which unlike ReadMemStats does not stop the
// world; a fuzz worker runs one input at a time).
func Allocated(f func()) uint64 {
	sample := []metrics.Sample{{Name: "/gc/heap/allocs:bytes"}}
	metrics.Read(sample)
	before := sample[0].Value.Uint64()
	f()
	metrics.Read(sample)
	return sample[0].Value.Uint64() - before
}

// Bounded runs f, which handles input, and fails t when it allocated more
// than the bound. The count is the process's, so it also takes in what
// other goroutines allocate meanwhile (a handler an earlier test left
// running, the runtime's own work): an input over the bound is run up to
// twice more, and fails only if it is over it every time. What f allocates
// for one input does not change between runs; what runs beside it does.
func Bounded(t testing.TB, what string, input []byte, f func()) {
	t.Helper()
	limit := uint64(Slack + PerByte*len(input))
	n := Allocated(f)
	for range 2 {
		if n <= limit {
			return
		}
		n = min(n, Allocated(f))
	}
	if n > limit {
		t.Fatalf("%s allocated %d bytes for %d bytes of input (limit %d)", what, n, len(input), limit)
	}
}
