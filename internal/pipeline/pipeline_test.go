package pipeline

import (
	"context"
	"errors"
	"runtime"
	"sync/atomic"
	"testing"
)

// counter returns a next that yields 0 to n-1, then ok false (or err, if not nil).
func counter(n int, err error) func(context.Context) (int, bool, error) {
	i := 0
	return func(ctx context.Context) (int, bool, error) {
		if i == n {
			return 0, false, err
		}
		i++
		return i - 1, true, nil
	}
}

// uneven is work whose cost varies with its item, so that workers finish out of order.
func uneven(v int) int {
	for range v % 7 {
		runtime.Gosched()
	}
	return v * v
}

func TestOrderedKeepsOrder(t *testing.T) {
	for _, workers := range []int{0, 1, 2, 8} {
		var got []int
		err := Ordered(context.Background(), workers, 16, counter(5000, nil), uneven, func(v int) error {
			got = append(got, v)
			return nil
		})
		if err != nil {
			t.Fatalf("%d workers: got %v, want nil", workers, err)
		}
		if len(got) != 5000 {
			t.Fatalf("%d workers: got %d results, want 5000", workers, len(got))
		}
		for i, v := range got {
			if v != i*i {
				t.Fatalf("%d workers: result %d is %d, want %d", workers, i, v, i*i)
			}
		}
	}
}

func TestOrderedNextError(t *testing.T) {
	boom := errors.New("boom")
	n := 0
	err := Ordered(context.Background(), 2, 4, counter(100, boom), uneven, func(int) error { n++; return nil })
	if !errors.Is(err, boom) || n != 100 {
		t.Fatalf("got %v after %d results, want boom after 100", err, n)
	}
}

// TestOrderedStopsOnFnError: fn's error ends the call, and the reading stops: next is not
// called for ever.
func TestOrderedStopsOnFnError(t *testing.T) {
	stop := errors.New("stop")
	var reads atomic.Int64
	next := func(ctx context.Context) (int, bool, error) {
		if err := ctx.Err(); err != nil {
			return 0, false, err
		}
		return int(reads.Add(1)), true, nil
	}
	n := 0
	err := Ordered(context.Background(), 2, 4, next, uneven, func(int) error {
		if n++; n == 10 {
			return stop
		}
		return nil
	})
	if !errors.Is(err, stop) || n != 10 {
		t.Fatalf("got %v after %d results, want stop after 10", err, n)
	}
	// Ordered has returned: its goroutines are gone, and next was called at most depth
	// (twice: the work queue and the order queue) plus a few items ahead.
	if r := reads.Load(); r > 10+2*4+2 {
		t.Errorf("next called %d times, want at most %d", r, 10+2*4+2)
	}
}

func TestOrderedContextEnds(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	next := func(ctx context.Context) (int, bool, error) {
		<-ctx.Done()
		return 0, false, ctx.Err()
	}
	cancel()
	if err := Ordered(ctx, 2, 4, next, uneven, func(int) error { return nil }); !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v, want %v", err, context.Canceled)
	}
}
