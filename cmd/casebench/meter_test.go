package main

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"
)

// TestAlternate checks that alternate runs the meters in turn, reversing the order every
// other round, that each worker's counter goes on from one slice to the next, and that the
// rates add up over the slices.
func TestAlternate(t *testing.T) {
	b := &bench{sc: scale{duration: 400 * time.Millisecond, maxOps: 1_000_000, rounds: 4}}
	var mu sync.Mutex
	var order []string
	seen := map[string][][]int{}
	op := func(name string) func(ctx context.Context, w, i int) error {
		return func(ctx context.Context, w, i int) error {
			mu.Lock()
			defer mu.Unlock()
			if n := len(order); n == 0 || order[n-1] != name {
				order = append(order, name)
			}
			for len(seen[name]) <= w {
				seen[name] = append(seen[name], nil)
			}
			seen[name][w] = append(seen[name][w], i)
			time.Sleep(time.Millisecond)
			return nil
		}
	}
	a, c := newMeter(2, op("a")), newMeter(3, op("c"))
	if err := b.alternate(context.Background(), a, c); err != nil {
		t.Fatal(err)
	}
	// Slices a c | c a | a c | c a: a meter's slices at the end of one round and the start
	// of the next run back to back, so the calls change hands five times, not eight.
	if want := []string{"a", "c", "a", "c", "a"}; !slices.Equal(order, want) {
		t.Errorf("meters called in runs %v, want %v", order, want)
	}
	for name, ws := range seen {
		for w, is := range ws {
			for k, i := range is {
				if i != k {
					t.Fatalf("meter %s worker %d: call %d had i = %d, want %d (counters go on across slices)", name, w, k, i, k)
				}
			}
		}
	}
	for _, m := range []*meter{a, c} {
		if len(m.lat) == 0 {
			t.Errorf("no operation recorded")
		}
		// Four slices of 100 ms each, plus the last calls' overrun.
		if m.elapsed < 400*time.Millisecond || m.elapsed > 5*time.Second {
			t.Errorf("elapsed = %v, want the four slices' sum", m.elapsed)
		}
		if got, want := m.perS(), float64(len(m.lat))/m.elapsed.Seconds(); got != want {
			t.Errorf("perS = %v, want %v", got, want)
		}
	}
}

// TestAlternateStopsOnError checks that an operation's error ends the measure with it.
func TestAlternateStopsOnError(t *testing.T) {
	b := &bench{sc: scale{duration: time.Second, maxOps: 1_000_000, rounds: 2}}
	boom := errors.New("boom")
	m := newMeter(4, func(ctx context.Context, w, i int) error {
		if i == 3 {
			return boom
		}
		return nil
	})
	if err := b.alternate(context.Background(), m); !errors.Is(err, boom) {
		t.Fatalf("alternate = %v, want %v", err, boom)
	}
}
