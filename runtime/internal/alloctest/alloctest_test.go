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

// fatalRecorder is a testing.TB whose Fatalf is recorded instead of ending
// the test, to check Bounded's verdict.
type fatalRecorder struct {
	testing.TB
	failed bool
}

func (r *fatalRecorder) Helper()               {}
func (r *fatalRecorder) Fatalf(string, ...any) { r.failed = true }

// TestBounded: an input over the bound on every run fails; one over it on
// its first run only (what ran beside it) passes after a second run; one
// within it runs once.
func TestBounded(t *testing.T) {
	var sink []byte
	for _, tc := range []struct {
		name     string
		overRuns int // how many first runs allocate over the bound
		wantRuns int
		wantFail bool
	}{
		{"always over", 100, 3, true},
		{"over once", 1, 2, false},
		{"within", 0, 1, false},
	} {
		r := &fatalRecorder{TB: t}
		runs := 0
		Bounded(r, "f", make([]byte, 10), func() {
			runs++
			if runs <= tc.overRuns {
				sink = make([]byte, 4<<20)
			}
		})
		if r.failed != tc.wantFail || runs != tc.wantRuns {
			t.Errorf("%s: failed %v after %d runs, want %v after %d", tc.name, r.failed, runs, tc.wantFail, tc.wantRuns)
		}
	}
	_ = sink
}
