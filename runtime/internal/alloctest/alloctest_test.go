package alloctest

import "testing"

// TestAllocatedSeesLargeAllocations guards the fuzz targets' allocation
// bound: if the metric stopped counting, that check would pass vacuously.
func TestAllocatedSeesLargeAllocations(t *testing.T) {
	var sink []byte
	n := Allocated(func() { sink = make([]byte, 8<<20) })
	if n < 8<<20 {
		t.Fatalf("Allocated reports %d bytes for an 8 MiB allocation", n)
	}
	_ = sink
}
