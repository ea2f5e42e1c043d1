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

// Check fails t when n bytes allocated for input exceed the bound.
func Check(t testing.TB, what string, n uint64, input []byte) {
	t.Helper()
	if limit := uint64(Slack + PerByte*len(input)); n > limit {
		t.Fatalf("%s allocated %d bytes for %d bytes of input (limit %d)", what, n, len(input), limit)
	}
}
