package groupcommit_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/casestream/casestream/events"
	"github.com/casestream/casestream/internal/eventstore"
	"github.com/casestream/casestream/internal/groupcommit"
	"github.com/casestream/casestream/internal/powerloss"
)

// TestWaitMakesEarlierWritesDurable writes files concurrently on a power-loss mount, each
// writer waiting for a round after its write, and cuts the power: everything written before
// a Wait returned is there, in new directories too; what came after is not.
func TestWaitMakesEarlierWritesDurable(t *testing.T) {
	if err := powerloss.Available(); err != nil {
		t.Skip(err)
	}
	backing, dir := t.TempDir(), t.TempDir()
	m, err := powerloss.Mount(backing, dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	s := groupcommit.New(dir, func(err error) { t.Errorf("sync failed: %v", err) })
	const writers = 8
	if err := os.Mkdir(filepath.Join(dir, "msgs"), 0o755); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for i := range writers {
		wg.Go(func() {
			name := filepath.Join(dir, "msgs", strconv.Itoa(i)+".blk")
			if err := os.WriteFile(name, []byte("record "+strconv.Itoa(i)), 0o644); err != nil {
				t.Error(err)
				return
			}
			if err := s.Wait(context.Background()); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	s.Close()
	if err := os.WriteFile(filepath.Join(dir, "msgs", "late.blk"), []byte("late"), 0o644); err != nil {
		t.Fatal(err)
	}
	m.Cut()
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	for i := range writers {
		b, err := os.ReadFile(filepath.Join(backing, "msgs", strconv.Itoa(i)+".blk"))
		if want := "record " + strconv.Itoa(i); err != nil || string(b) != want {
			t.Errorf("file %d after the cut: got %q, %v, want %q", i, b, err, want)
		}
	}
	if _, err := os.Stat(filepath.Join(backing, "msgs", "late.blk")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a file written after the last Wait: got %v, want it gone", err)
	}
}

// TestFailedRoundFailsEveryLaterWait: after a failed sync nothing can be trusted, so every
// later Wait and Append fails, and the failure is reported once.
func TestFailedRoundFailsEveryLaterWait(t *testing.T) {
	var (
		mu       sync.Mutex
		reported []error
	)
	s := groupcommit.New(filepath.Join(t.TempDir(), "missing"), func(err error) {
		mu.Lock()
		reported = append(reported, err)
		mu.Unlock()
	})
	defer s.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	first := s.Wait(ctx)
	if !errors.Is(first, os.ErrNotExist) {
		t.Fatalf("first wait: got %v, want the sync's error", first)
	}
	if err := s.Wait(ctx); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("second wait: got %v, want the first failure", err)
	}
	store := groupcommit.NewStore(eventstore.NewMemory(), s)
	env := noteAdded(t)
	if _, err := store.Append(ctx, env.Subject, 0, []events.Envelope{env}); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("append: got %v, want the first failure", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(reported) != 1 {
		t.Errorf("failure reported %d times, want once", len(reported))
	}
}

func TestStoreAppendReturnsTheStoresAnswer(t *testing.T) {
	s := groupcommit.New(t.TempDir(), func(err error) { t.Errorf("sync failed: %v", err) })
	defer s.Close()
	store := groupcommit.NewStore(eventstore.NewMemory(), s)
	ctx := context.Background()
	env := noteAdded(t)
	seq, err := store.Append(ctx, env.Subject, 0, []events.Envelope{env})
	if err != nil || seq != 1 {
		t.Fatalf("append: got %d, %v, want 1, nil", seq, err)
	}
	if _, err := store.Append(ctx, env.Subject, 0, []events.Envelope{env}); !errors.Is(err, eventstore.ErrConflict) && !errors.Is(err, eventstore.ErrDuplicate) {
		t.Errorf("stale append: got %v, want the store's refusal", err)
	}
}

// noteAdded is an event of case 1.
func noteAdded(t testing.TB) events.Envelope {
	t.Helper()
	env, err := events.Wrap(events.Meta{ID: "e1", Subject: events.CaseSubject(1), OccurredAt: time.Now()}, events.CaseNoteAdded{NoteID: 1, Description: "n"})
	if err != nil {
		t.Fatal(err)
	}
	return env
}

func TestWaitAfterCloseFails(t *testing.T) {
	s := groupcommit.New(t.TempDir(), nil)
	s.Close()
	if err := s.Wait(context.Background()); !errors.Is(err, groupcommit.ErrClosed) {
		t.Errorf("got %v, want ErrClosed", err)
	}
}
