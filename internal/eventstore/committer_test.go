package eventstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/casestream/casestream/events"
	"github.com/casestream/casestream/internal/embedded/embeddedtest"
	"github.com/casestream/casestream/internal/eventually"
	"github.com/google/uuid"
	"github.com/nats-io/nats.go/jetstream"
)

// heldStore returns a batching store whose committer, before committing its first batch of
// first Appends, waits until hold returns; every batch formed is recorded by size.
func heldStore(t *testing.T, opts JetStreamOptions, hold func(s *JetStream, first int)) (*JetStream, func() []int) {
	t.Helper()
	_, nc := embeddedtest.Start(t)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	if err := EnsureStreams(ctx, js, 1); err != nil {
		t.Fatal(err)
	}
	s := NewJetStream(js, opts)
	t.Cleanup(s.Close)
	var mu sync.Mutex // guards sizes and first
	var sizes []int
	first := true
	s.testHookBatch = func(batch []*appendReq) {
		mu.Lock()
		f := first
		first = false
		sizes = append(sizes, len(batch))
		mu.Unlock()
		if f {
			hold(s, len(batch))
		}
	}
	return s, func() []int {
		mu.Lock()
		defer mu.Unlock()
		return append([]int(nil), sizes...)
	}
}

// forVariants runs test with atomic batches only, and with small batches pipelined.
func forVariants(t *testing.T, test func(t *testing.T, opts JetStreamOptions)) {
	for _, v := range []struct {
		name string
		opts JetStreamOptions
	}{
		{"atomic", JetStreamOptions{Batching: true}},
		{"default", DefaultJetStreamOptions()},
	} {
		t.Run(v.name, func(t *testing.T) { test(t, v.opts) })
	}
}

// waitQueued waits until n Appends wait in the committer's queue. It runs in the committer's
// goroutine, so a failure is reported with Error, not Fatal.
func waitQueued(t *testing.T, s *JetStream, n int) {
	t.Helper()
	if err := eventually.Wait(10*time.Second, time.Millisecond, func() error {
		if got := len(s.reqs); got < n {
			return fmt.Errorf("%d appends queued, want %d", got, n)
		}
		return nil
	}); err != nil {
		t.Error(err)
	}
}

// waitFirstBatch waits until the committer holds its first batch (see heldStore).
func waitFirstBatch(t *testing.T, sizes func() []int) {
	t.Helper()
	eventually.Check(t, 10*time.Second, time.Millisecond, func() error {
		if got := len(sizes()); got != 1 {
			return fmt.Errorf("%d batches reached the committer, want 1", got)
		}
		return nil
	})
}

func note(subject, text string) events.Envelope {
	return events.Envelope{
		ID:            uuid.NewString(),
		Type:          events.TypeCaseNoteAdded,
		SchemaVersion: events.SchemaVersion,
		Subject:       subject,
		OccurredAt:    time.Now().UTC().Truncate(time.Millisecond),
		Data:          json.RawMessage(fmt.Sprintf(`{"text":%q}`, text)),
	}
}

type call struct {
	subject  string
	expected uint64
	envs     []events.Envelope
	seq      uint64
	err      error
}

// runHeld makes the calls concurrently and waits for every answer.
func runHeld(t *testing.T, s *JetStream, calls []*call) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	for _, c := range calls {
		wg.Go(func() { c.seq, c.err = s.Append(ctx, c.subject, c.expected, c.envs) })
	}
	wg.Wait()
}

func TestGroupCommitCoalesces(t *testing.T) {
	forVariants(t, func(t *testing.T, opts JetStreamOptions) {
		const n = 200
		s, sizes := heldStore(t, opts, func(s *JetStream, first int) { waitQueued(t, s, n-first) })
		calls := make([]*call, n)
		for i := range calls {
			subj := events.CaseSubject(int64(i + 1))
			calls[i] = &call{subject: subj, envs: []events.Envelope{note(subj, "a"), note(subj, "b")}}
		}
		runHeld(t, s, calls)
		seen := map[uint64]bool{}
		for _, c := range calls {
			if c.err != nil {
				t.Errorf("Append(%s): %v", c.subject, c.err)
			}
			if seen[c.seq] {
				t.Errorf("Append(%s): seq %d given twice", c.subject, c.seq)
			}
			seen[c.seq] = true
			recs, err := s.Load(context.Background(), c.subject, 0)
			if err != nil || len(recs) != 2 || recs[1].Seq != c.seq || recs[0].Envelope.ID != c.envs[0].ID {
				t.Errorf("Load(%s): got %v, %v; want its 2 events, the last at %d", c.subject, recs, err, c.seq)
			}
		}
		// The Appends queued while the first batch was held all fill the next one.
		if got := sizes(); len(got) != 2 || got[0]+got[1] != n {
			t.Errorf("batch sizes: got %v, want two adding up to %d", got, n)
		}
	})
}

func TestGroupCommitBatchLimit(t *testing.T) {
	forVariants(t, func(t *testing.T, opts JetStreamOptions) {
		// 600 Appends of 2 events: 1,200 messages, more than one batch holds.
		const n = 600
		s, sizes := heldStore(t, opts, func(s *JetStream, first int) { waitQueued(t, s, n-first) })
		calls := make([]*call, n)
		for i := range calls {
			subj := events.CaseSubject(int64(i + 1))
			calls[i] = &call{subject: subj, envs: []events.Envelope{note(subj, "a"), note(subj, "b")}}
		}
		runHeld(t, s, calls)
		for _, c := range calls {
			if c.err != nil {
				t.Errorf("Append(%s): %v", c.subject, c.err)
			}
		}
		got := sizes()
		total := 0
		for _, n := range got {
			if n*2 > MaxBatch {
				t.Errorf("batch of %d appends: %d messages, want at most %d", n, n*2, MaxBatch)
			}
			total += n
		}
		// The first batch, then as full a one as the queue allows, then the rest.
		if len(got) < 2 || total != n || got[1] != min(MaxBatch/2, n-got[0]) {
			t.Errorf("batch sizes: got %v, want them adding up to %d, the second full", got, n)
		}
	})
}

func TestGroupCommitOneAppendPerSubject(t *testing.T) {
	forVariants(t, func(t *testing.T, opts JetStreamOptions) {
		subj := events.CaseSubject(1)
		other := events.CaseSubject(2)
		s, sizes := heldStore(t, opts, func(s *JetStream, _ int) { waitQueued(t, s, 3) })
		// The first Append (held) opens the case; three more follow it, two of them on the
		// same subject with the same expectation: only one of those may win.
		first := &call{subject: other, envs: []events.Envelope{note(other, "x")}}
		a := &call{subject: subj, envs: []events.Envelope{note(subj, "a")}}
		b := &call{subject: subj, envs: []events.Envelope{note(subj, "b")}}
		c := &call{subject: events.CaseSubject(3), envs: []events.Envelope{note(events.CaseSubject(3), "c")}}
		ctx := context.Background()
		var wg sync.WaitGroup
		wg.Go(func() { first.seq, first.err = s.Append(ctx, first.subject, 0, first.envs) })
		waitFirstBatch(t, sizes)
		for _, cl := range []*call{a, b, c} {
			wg.Go(func() { cl.seq, cl.err = s.Append(ctx, cl.subject, 0, cl.envs) })
		}
		wg.Wait()
		if first.err != nil || c.err != nil {
			t.Fatalf("Appends to fresh subjects: got %v, %v; want nil", first.err, c.err)
		}
		won, lost := a, b
		if a.err != nil {
			won, lost = b, a
		}
		if won.err != nil || !errors.Is(lost.err, ErrConflict) {
			t.Errorf("two Appends on one subject: got %v and %v, want nil and ErrConflict", won.err, lost.err)
		}
		// a and b never share a batch: [first], [a or b, c], [the other].
		if got := sizes(); len(got) != 3 || got[1] != 2 || got[2] != 1 {
			t.Errorf("batch sizes: got %v, want [1 2 1]", got)
		}
	})
}

func TestGroupCommitSplitsRefusedBatch(t *testing.T) {
	forVariants(t, func(t *testing.T, opts JetStreamOptions) {
		ctx := context.Background()
		s, sizes := heldStore(t, opts, func(s *JetStream, _ int) { waitQueued(t, s, 12) })

		// The first Append is held until 12 more are queued behind it; it commits alone.
		hold := events.CaseSubject(1000)
		held := []events.Envelope{note(hold, "held")}
		var wg sync.WaitGroup
		var holdSeq uint64
		var holdErr error
		wg.Go(func() { holdSeq, holdErr = s.Append(ctx, hold, 0, held) })
		waitFirstBatch(t, sizes)

		var calls []*call
		for i := range 10 {
			subj := events.CaseSubject(int64(i + 1))
			calls = append(calls, &call{subject: subj, envs: []events.Envelope{note(subj, "ok"), note(subj, "ok2")}})
		}
		// Expects an event on a subject that has none.
		bad := &call{subject: events.CaseSubject(50), expected: 99, envs: []events.Envelope{note(events.CaseSubject(50), "bad")}}
		// Sends the held Append again, as a client retrying after a lost answer.
		dup := &call{subject: hold, envs: held}
		for _, c := range append(calls, bad, dup) {
			wg.Go(func() { c.seq, c.err = s.Append(ctx, c.subject, c.expected, c.envs) })
		}
		wg.Wait()

		if holdErr != nil {
			t.Fatalf("held Append: %v", holdErr)
		}
		for _, c := range calls {
			if c.err != nil {
				t.Errorf("Append(%s): got %v, want nil", c.subject, c.err)
				continue
			}
			recs, err := s.Load(ctx, c.subject, 0)
			if err != nil || len(recs) != len(c.envs) || recs[len(recs)-1].Seq != c.seq {
				t.Errorf("Load(%s): got %d records (%v), want %d ending at %d", c.subject, len(recs), err, len(c.envs), c.seq)
			}
		}
		if !errors.Is(bad.err, ErrConflict) {
			t.Errorf("Append with a wrong expectation: got %v, want ErrConflict", bad.err)
		}
		if recs, _ := s.Load(ctx, bad.subject, 0); len(recs) != 0 {
			t.Errorf("Load(%s): got %d records, want none", bad.subject, len(recs))
		}
		if !errors.Is(dup.err, ErrDuplicate) || dup.seq != holdSeq {
			t.Errorf("retried Append: got (%d, %v), want (%d, ErrDuplicate)", dup.seq, dup.err, holdSeq)
		}
		if recs, _ := s.Load(ctx, hold, 0); len(recs) != 1 {
			t.Errorf("Load(%s): got %d records, want 1", hold, len(recs))
		}
		// The 12 queued Appends formed one batch, which the server refused and which was split.
		if got := sizes(); len(got) < 2 || got[1] != len(calls)+2 {
			t.Errorf("batch sizes: got %v, want the second of %d", got, len(calls)+2)
		}
	})
}
