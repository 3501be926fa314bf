package eventstore

import (
	"context"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
)

// TestLastSeqsNeverAnswersFromAnEarlierRead checks the read-your-writes property: a caller
// gets the result of a read that started after it arrived, even when a read was already
// under way.
func TestLastSeqsNeverAnswersFromAnEarlierRead(t *testing.T) {
	var reads atomic.Uint64 // the "stream": each read returns how many reads began before it
	release := make(chan struct{})
	started := make(chan uint64, 100)
	l := &LastSeqs{fetch: func(ctx context.Context) (uint64, uint64, error) {
		n := reads.Add(1)
		started <- n
		<-release
		return n, n, nil
	}}
	// The first caller starts read 1, which blocks.
	first := make(chan uint64, 1)
	go func() {
		c, _, _ := l.Get(context.Background())
		first <- c
	}()
	if n := <-started; n != 1 {
		t.Fatalf("first read: got %d", n)
	}
	// Callers arriving while read 1 is under way must get read 2.
	var wg sync.WaitGroup
	got := make(chan uint64, 10)
	for range 10 {
		wg.Go(func() {
			c, _, _ := l.Get(context.Background())
			got <- c
		})
	}
	// Let every late caller join before read 1 ends: poll until they all wait on the next
	// read.
	for {
		l.mu.Lock()
		joined := l.next != nil && l.next.callers == 10
		l.mu.Unlock()
		if joined {
			break
		}
		runtime.Gosched()
	}
	release <- struct{}{}
	if c := <-first; c != 1 {
		t.Fatalf("first caller: got read %d, want 1", c)
	}
	if n := <-started; n != 2 {
		t.Fatalf("second read: got %d", n)
	}
	close(release)
	wg.Wait()
	close(got)
	for c := range got {
		if c < 2 {
			t.Fatalf("a caller that arrived during read 1 got read %d", c)
		}
	}
	if n := reads.Load(); n >= 11 {
		t.Fatalf("%d reads for 11 callers, want some shared", n)
	}
}
