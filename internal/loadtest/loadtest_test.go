package loadtest

import (
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/casestream/casestream/internal/eventually"
)

func TestLoadCountsAndKeepsOutcomes(t *testing.T) {
	var sent atomic.Int64
	l := Start(t, 3, time.Millisecond, func() (int64, bool) {
		n := sent.Add(1)
		return n, n%2 == 0
	})
	eventually.Check(t, 10*time.Second, time.Millisecond, func() error {
		if got := l.OK(); got < 10 {
			return fmt.Errorf("got %d successes, want 10", got)
		}
		return nil
	})
	l.End()
	l.End()
	results := l.Results()
	if int64(len(results)) != sent.Load() {
		t.Fatalf("got %d outcomes, want %d, one per request sent", len(results), sent.Load())
	}
	even := 0
	for _, r := range results {
		if r%2 == 0 {
			even++
		}
	}
	if int64(even) != l.OK() {
		t.Errorf("got %d successes counted, want %d", l.OK(), even)
	}
	if n := len(l.Results()); n != len(results) {
		t.Errorf("got %d outcomes after End, then %d: want no request after End", len(results), n)
	}
}
