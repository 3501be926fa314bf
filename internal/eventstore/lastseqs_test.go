package eventstore

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/casestream/casestream/internal/eventually"
)

// joinContext counts the calls of Done: LastSeqs.Get calls it once it has joined a read,
// to wait for that read's answer.
type joinContext struct {
	context.Context
	joined *atomic.Int32
}

func (c joinContext) Done() <-chan struct{} {
	c.joined.Add(1)
	return c.Context.Done()
}

// TestLastSeqsNeverAnswersFromAnEarlierRead checks the read-your-writes property: a caller
// gets the result of a read that started after it arrived, even when a read was already
// under way.
func TestLastSeqsNeverAnswersFromAnEarlierRead(t *testing.T) {
	var reads atomic.Uint64 // the "stream": each read returns how many reads began before it
	release := make(chan struct{})
	started := make(chan uint64, 100)
	l := newLastSeqs(func(ctx context.Context, stream string) (uint64, error) {
		if stream == "DIRECTORY" {
			return 0, nil
		}
		n := reads.Add(1)
		started <- n
		<-release
		return n, nil
	}, "CASES", "DIRECTORY")
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
	var joined atomic.Int32
	got := make(chan uint64, 10)
	for range 10 {
		wg.Go(func() {
			c, _, _ := l.Get(joinContext{context.Background(), &joined})
			got <- c
		})
	}
	// Let every late caller join before read 1 ends: a caller asks its context for Done
	// only once it has joined a read.
	eventually.Check(t, 10*time.Second, time.Millisecond, func() error {
		if n := joined.Load(); n != 10 {
			return fmt.Errorf("%d callers joined the next read, want 10", n)
		}
		return nil
	})
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

// TestLastSeqsDirectoryReadsOneStream: Directory sends, or joins, a read of DIRECTORY
// alone; Get reads both.
func TestLastSeqsDirectoryReadsOneStream(t *testing.T) {
	var mu sync.Mutex
	reads := map[string]int{}
	l := newLastSeqs(func(ctx context.Context, stream string) (uint64, error) {
		mu.Lock()
		defer mu.Unlock()
		reads[stream]++
		return uint64(len(stream)), nil
	}, "CASES", "DIRECTORY")
	for range 3 {
		if d, err := l.Directory(context.Background()); err != nil || d != 9 {
			t.Fatalf("Directory: got %d, %v; want 9", d, err)
		}
	}
	if reads["CASES"] != 0 || reads["DIRECTORY"] != 3 {
		t.Errorf("after Directory: got reads %v, want DIRECTORY's three only", reads)
	}
	if c, d, err := l.Get(context.Background()); err != nil || c != 5 || d != 9 {
		t.Errorf("Get: got %d, %d, %v; want 5, 9", c, d, err)
	}
}
