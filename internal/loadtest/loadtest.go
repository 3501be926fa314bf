// Package loadtest keeps a steady load running while a test breaks something underneath it:
// workers goroutines, each sending at most one request per pace, every outcome recorded
// until the load ends.
package loadtest

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Load is a running load whose requests end in outcomes of type R.
type Load[R any] struct {
	mu      sync.Mutex // guards results and the closing of stop
	results []R
	ok      atomic.Int64
	stop    chan struct{}
	wg      sync.WaitGroup
}

// Start starts workers goroutines that each call send at most once per pace until End.
// send makes one request and returns its outcome and whether it succeeded; the load keeps
// every outcome and counts the successes. The load ends when tb's test ends, if not before.
func Start[R any](tb testing.TB, workers int, pace time.Duration, send func() (R, bool)) *Load[R] {
	tb.Helper()
	l := &Load[R]{stop: make(chan struct{})}
	for range workers {
		l.wg.Go(func() {
			tick := time.NewTicker(pace)
			defer tick.Stop()
			for {
				select {
				case <-l.stop:
					return
				case <-tick.C:
				}
				r, ok := send()
				if ok {
					l.ok.Add(1)
				}
				l.mu.Lock()
				l.results = append(l.results, r)
				l.mu.Unlock()
			}
		})
	}
	tb.Cleanup(l.End)
	return l
}

// End stops the load and waits for the requests in flight. It may be called more than once.
func (l *Load[R]) End() {
	l.mu.Lock()
	select {
	case <-l.stop:
	default:
		close(l.stop)
	}
	l.mu.Unlock()
	l.wg.Wait()
}

// OK returns how many requests have succeeded so far.
func (l *Load[R]) OK() int64 { return l.ok.Load() }

// Results returns a copy of the outcomes so far, in the order they were recorded.
func (l *Load[R]) Results() []R {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]R(nil), l.results...)
}
