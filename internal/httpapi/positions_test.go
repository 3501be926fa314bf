package httpapi

import (
	"context"
	"errors"
	"testing"
)

// TestArrivalPositionsReadOnce checks that a request reads the streams' positions once for
// all its reads before a write (the directory wait, then the listing), that a failed read is
// not remembered, and that positions, for reads after a write, always reads again.
func TestArrivalPositionsReadOnce(t *testing.T) {
	reads := 0
	fail := false
	s := NewServer(Config{Positions: func(context.Context) (uint64, uint64, error) {
		reads++
		if fail {
			return 0, 0, errors.New("no leader")
		}
		return uint64(10 * reads), uint64(reads), nil
	}})
	ctx := context.WithValue(context.Background(), requestInfoKey{}, &requestInfo{})

	fail = true
	if _, _, err := s.arrivalPositions(ctx); err == nil {
		t.Fatal("got no error from a failed read")
	}
	fail = false
	for i := range 3 {
		c, d, err := s.arrivalPositions(ctx)
		if err != nil || c != 20 || d != 2 {
			t.Fatalf("read %d: got %d, %d, %v; want the first good read, 20, 2", i+1, c, d, err)
		}
	}
	if reads != 2 {
		t.Errorf("got %d reads, want 2 (the failed one and the first good one)", reads)
	}
	if c, _, _ := s.positions(ctx); c != 30 || reads != 3 {
		t.Errorf("positions: got %d after %d reads, want a new read, 30", c, reads)
	}
	other := context.WithValue(context.Background(), requestInfoKey{}, &requestInfo{})
	if c, _, _ := s.arrivalPositions(other); c != 40 {
		t.Errorf("another request: got %d, want its own read, 40", c)
	}
}
