package groupcommit_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/casestream/casestream/internal/eventstore"
	"github.com/casestream/casestream/internal/groupcommit"
)

// positions is a fake of the streams' last sequences, counting the reads.
type positions struct {
	mu    sync.Mutex // guards the fields below
	last  map[string]uint64
	reads map[string]int
	err   error
}

func newPositions() *positions {
	return &positions{last: map[string]uint64{}, reads: map[string]int{}}
}

func (p *positions) set(stream string, seq uint64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.last[stream] = seq
}

func (p *positions) fail(err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.err = err
}

func (p *positions) LastSeq(_ context.Context, stream string) (uint64, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.reads[stream]++
	return p.last[stream], p.err
}

// holder is a round's sync that a test may hold: while held, a round that enters it says
// so on entered and waits for release.
type holder struct {
	mu      sync.Mutex // guards release
	release chan struct{}
	entered chan struct{}
}

func newHolder() *holder { return &holder{entered: make(chan struct{}, 16)} }

func (h *holder) hold() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.release = make(chan struct{})
}

func (h *holder) let() {
	h.mu.Lock()
	defer h.mu.Unlock()
	close(h.release)
	h.release = nil
}

func (h *holder) sync() {
	h.mu.Lock()
	release := h.release
	h.mu.Unlock()
	if release != nil {
		h.entered <- struct{}{}
		<-release
	}
}

func start(t *testing.T, p *positions, h *holder) *groupcommit.Syncer {
	t.Helper()
	s := groupcommit.Start(groupcommit.Config{
		Dir: t.TempDir(), OnErr: func(err error) { t.Errorf("sync failed: %v", err) },
		Streams: []string{"CASES", "DIRECTORY"}, LastSeq: p.LastSeq, BeforeSync: h.sync,
	})
	t.Cleanup(s.Close)
	return s
}

func testCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// TestDurableAdvancesAfterTheRound: a round reads each stream's position once, before its
// sync, and the durable sequences reach those positions only once the sync has ended.
func TestDurableAdvancesAfterTheRound(t *testing.T) {
	p, h := newPositions(), newHolder()
	s := start(t, p, h)
	ctx := testCtx(t)
	p.set("CASES", 5)
	p.set("DIRECTORY", 2)
	changed := s.Changed()
	h.hold()
	waited := make(chan error, 1)
	go func() { waited <- s.WaitDurable(ctx, "CASES", 5) }()
	<-h.entered
	// Stored meanwhile: not covered by the round in progress.
	p.set("CASES", 7)
	if got := s.Durable("CASES"); got != 0 {
		t.Errorf("durable CASES while the round syncs: got %d, want 0", got)
	}
	select {
	case err := <-waited:
		t.Fatalf("WaitDurable returned %v while the round that covers it syncs", err)
	case <-changed:
		t.Fatal("Changed closed while the round syncs")
	default:
	}
	h.let()
	if err := <-waited; err != nil {
		t.Fatalf("WaitDurable: %v", err)
	}
	<-changed
	if got, want := [2]uint64{s.Durable("CASES"), s.Durable("DIRECTORY")}, [2]uint64{5, 2}; got != want {
		t.Errorf("durable after the round: got %v, want %v (the positions read before its sync)", got, want)
	}
	if err := s.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	if got := s.Durable("CASES"); got != 7 {
		t.Errorf("durable CASES after the next round: got %d, want 7", got)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.reads["CASES"] != p.reads["DIRECTORY"] {
		t.Errorf("reads: CASES %d, DIRECTORY %d; want one of each per round", p.reads["CASES"], p.reads["DIRECTORY"])
	}
}

// TestGateHoldsWhatIsNotDurable: a record passes the gate only once a round covering it
// has ended, in order.
func TestGateHoldsWhatIsNotDurable(t *testing.T) {
	p, h := newPositions(), newHolder()
	s := start(t, p, h)
	ctx := testCtx(t)
	applied := make(chan uint64, 8)
	gate := s.Gate(ctx, "CASES", func(r eventstore.Record) { applied <- r.Seq })
	p.set("CASES", 1)
	if err := s.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	gate(eventstore.Record{Seq: 1})
	if got := <-applied; got != 1 {
		t.Fatalf("applied %d, want 1", got)
	}
	h.hold()
	p.set("CASES", 2)
	done := make(chan struct{})
	go func() {
		defer close(done)
		gate(eventstore.Record{Seq: 2})
	}()
	<-h.entered
	select {
	case seq := <-applied:
		t.Fatalf("record %d applied while the round that makes it durable syncs", seq)
	default:
	}
	h.let()
	<-done
	if got := <-applied; got != 2 {
		t.Errorf("applied %d, want 2", got)
	}
}

// TestPositionFailureFailsOnlyItsRound: a round that cannot read a position fails its
// waiters, advances nothing, and is not the Syncer's failure.
func TestPositionFailureFailsOnlyItsRound(t *testing.T) {
	p, h := newPositions(), newHolder()
	s := start(t, p, h)
	ctx := testCtx(t)
	p.set("CASES", 3)
	errRead := errors.New("no answer")
	p.fail(errRead)
	if err := s.Wait(ctx); !errors.Is(err, errRead) {
		t.Fatalf("wait: got %v, want the read's error", err)
	}
	if got := s.Durable("CASES"); got != 0 || s.Err() != nil {
		t.Errorf("after a failed read: durable %d, Err %v; want 0, nil", got, s.Err())
	}
	p.fail(nil)
	if err := s.WaitDurable(ctx, "CASES", 3); err != nil {
		t.Fatalf("WaitDurable after the read answers again: %v", err)
	}
}

// TestFailedSyncAdvancesNothing: after a failed sync the durable sequence stays, and a
// WaitDurable beyond it fails.
func TestFailedSyncAdvancesNothing(t *testing.T) {
	p := newPositions()
	dir := filepath.Join(t.TempDir(), "store")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	s := groupcommit.Start(groupcommit.Config{Dir: dir, Streams: []string{"CASES"}, LastSeq: p.LastSeq})
	defer s.Close()
	ctx := testCtx(t)
	p.set("CASES", 1)
	if err := s.WaitDurable(ctx, "CASES", 1); err != nil {
		t.Fatal(err)
	}
	// The directory gone, the next round's sync fails.
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	p.set("CASES", 2)
	if err := s.WaitDurable(ctx, "CASES", 2); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("WaitDurable after a failed sync: got %v, want its error", err)
	}
	if got := s.Durable("CASES"); got != 1 {
		t.Errorf("durable after a failed sync: got %d, want 1", got)
	}
}
