// Package storetest is the contract every eventstore.Store implementation keeps: one suite,
// run by each implementation's tests against a fresh store.
package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/casestream/casestream/events"
	"github.com/casestream/casestream/internal/eventstore"
	"github.com/google/uuid"
)

// Run runs the contract suite. newStore returns an empty store for one subtest; the suite
// only writes subjects under "cases.".
func Run(t *testing.T, newStore func(t *testing.T) eventstore.Store) {
	tests := []struct {
		name string
		run  func(t *testing.T, s eventstore.Store)
	}{
		{"append to a new subject", testAppendNew},
		{"append of no events", testAppendEmpty},
		{"wrong expected sequence", testWrongExpected},
		{"load after a sequence", testLoadAfter},
		{"multi-event append is all or none, in order", testMultiEvent},
		{"append whose first event is stored", testDuplicateFirstID},
		{"retry of a successful append", testRetryAfterSuccess},
		{"concurrent appends to one subject", testConcurrentSameSubject},
		{"concurrent appends to many subjects", testConcurrentManySubjects},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.run(t, newStore(t))
		})
	}
}

var subjectN atomic.Int64

// newSubject returns a case subject no other test of this process uses.
func newSubject() string {
	return events.CaseSubject(time.Now().UnixNano()%1e12*1000 + subjectN.Add(1)%1000)
}

// env returns a note event on subject with a fresh id.
func env(subject string, text string) events.Envelope {
	return events.Envelope{
		ID:            uuid.NewString(),
		Type:          events.TypeCaseNoteAdded,
		SchemaVersion: events.SchemaVersion,
		Subject:       subject,
		OccurredAt:    time.Date(2026, 1, 2, 3, 4, 5, 6e6, time.UTC),
		Actor:         events.Actor{Kind: events.ActorSystem, ID: "storetest"},
		CorrelationID: "corr-" + text,
		Data:          json.RawMessage(fmt.Sprintf(`{"text":%q}`, text)),
	}
}

func envs(subject string, texts ...string) []events.Envelope {
	out := make([]events.Envelope, len(texts))
	for i, s := range texts {
		out[i] = env(subject, s)
	}
	return out
}

func ctxFor(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// mustAppend appends and fails the test on error.
func mustAppend(t *testing.T, s eventstore.Store, subject string, expected uint64, es []events.Envelope) uint64 {
	t.Helper()
	seq, err := s.Append(ctxFor(t), subject, expected, es)
	if err != nil {
		t.Fatalf("Append(%s, %d, %d events): %v", subject, expected, len(es), err)
	}
	if seq == 0 {
		t.Fatalf("Append(%s, %d): got seq 0, want > 0", subject, expected)
	}
	return seq
}

// checkLoad loads subject after after and compares the result with want: the same
// envelopes in order, increasing sequences, the last one lastSeq (when want is not empty).
func checkLoad(t *testing.T, s eventstore.Store, subject string, after uint64, want []events.Envelope, lastSeq uint64) []eventstore.Record {
	t.Helper()
	got, err := s.Load(ctxFor(t), subject, after)
	if err != nil {
		t.Fatalf("Load(%s, %d): %v", subject, after, err)
	}
	if len(got) != len(want) {
		t.Fatalf("Load(%s, %d): got %d records, want %d", subject, after, len(got), len(want))
	}
	var prev uint64 = after
	for i, r := range got {
		if r.Seq <= prev {
			t.Errorf("Load(%s, %d)[%d]: got seq %d, want > %d", subject, after, i, r.Seq, prev)
		}
		prev = r.Seq
		checkEnvelope(t, r.Envelope, want[i])
	}
	if len(got) > 0 && got[len(got)-1].Seq != lastSeq {
		t.Errorf("Load(%s, %d): got last seq %d, want %d", subject, after, got[len(got)-1].Seq, lastSeq)
	}
	return got
}

func checkEnvelope(t *testing.T, got, want events.Envelope) {
	t.Helper()
	if got.ID != want.ID || got.Type != want.Type || got.Subject != want.Subject ||
		got.SchemaVersion != want.SchemaVersion || !got.OccurredAt.Equal(want.OccurredAt) ||
		got.Actor != want.Actor || got.CorrelationID != want.CorrelationID || string(got.Data) != string(want.Data) {
		t.Errorf("envelope: got %+v, want %+v", got, want)
	}
}

func testAppendNew(t *testing.T, s eventstore.Store) {
	subj := newSubject()
	e := envs(subj, "first")
	seq := mustAppend(t, s, subj, 0, e)
	checkLoad(t, s, subj, 0, e, seq)
}

func testAppendEmpty(t *testing.T, s eventstore.Store) {
	subj := newSubject()
	if _, err := s.Append(ctxFor(t), subj, 0, nil); err == nil {
		t.Errorf("Append of no events: got nil error, want one")
	}
	checkLoad(t, s, subj, 0, nil, 0)
}

func testWrongExpected(t *testing.T, s eventstore.Store) {
	subj := newSubject()
	first := envs(subj, "first")
	seq := mustAppend(t, s, subj, 0, first)

	for _, tc := range []struct {
		name     string
		expected uint64
		n        int
	}{
		{"zero on an existing subject", 0, 1},
		{"ahead of the last", seq + 1, 1},
		{"behind the last", seq - 1, 1},
		{"zero, several events", 0, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := make([]events.Envelope, tc.n)
			for i := range e {
				e[i] = env(subj, fmt.Sprint("late ", i))
			}
			got, err := s.Append(ctxFor(t), subj, tc.expected, e)
			if !errors.Is(err, eventstore.ErrConflict) {
				t.Errorf("Append(expected %d): got (%d, %v), want ErrConflict", tc.expected, got, err)
			}
		})
	}
	// A new subject expects 0.
	other := newSubject()
	if got, err := s.Append(ctxFor(t), other, 7, envs(other, "x")); !errors.Is(err, eventstore.ErrConflict) {
		t.Errorf("Append(new subject, expected 7): got (%d, %v), want ErrConflict", got, err)
	}
	checkLoad(t, s, subj, 0, first, seq)
	checkLoad(t, s, other, 0, nil, 0)
}

func testLoadAfter(t *testing.T, s eventstore.Store) {
	subj := newSubject()
	e := envs(subj, "a", "b", "c")
	var seqs []uint64
	var last uint64
	for i := range e {
		last = mustAppend(t, s, subj, last, e[i:i+1])
		seqs = append(seqs, last)
	}
	for _, tc := range []struct {
		name  string
		after uint64
		want  []events.Envelope
	}{
		{"from the start", 0, e},
		{"after the first", seqs[0], e[1:]},
		{"between the first and the second", seqs[1] - 1, e[1:]},
		{"after the last", seqs[2], nil},
		{"beyond the stream", seqs[2] + 1000, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			checkLoad(t, s, subj, tc.after, tc.want, last)
		})
	}
	t.Run("unknown subject", func(t *testing.T) {
		checkLoad(t, s, newSubject(), 0, nil, 0)
	})
}

func testMultiEvent(t *testing.T, s eventstore.Store) {
	subj := newSubject()
	e := envs(subj, "a", "b", "c", "d", "e")
	seq := mustAppend(t, s, subj, 0, e)
	recs := checkLoad(t, s, subj, 0, e, seq)
	for i := 1; i < len(recs); i++ {
		if recs[i].Seq != recs[i-1].Seq+1 {
			t.Errorf("record %d: got seq %d, want %d (one append is contiguous)", i, recs[i].Seq, recs[i-1].Seq+1)
		}
	}

	// A refused multi-event append writes none of its events.
	if got, err := s.Append(ctxFor(t), subj, seq-1, envs(subj, "x", "y", "z")); !errors.Is(err, eventstore.ErrConflict) {
		t.Fatalf("Append(stale expected): got (%d, %v), want ErrConflict", got, err)
	}
	checkLoad(t, s, subj, 0, e, seq)

	more := envs(subj, "f", "g")
	seq2 := mustAppend(t, s, subj, seq, more)
	checkLoad(t, s, subj, seq, more, seq2)
}

func testDuplicateFirstID(t *testing.T, s eventstore.Store) {
	subj := newSubject()
	e := envs(subj, "a")
	seq := mustAppend(t, s, subj, 0, e)

	for _, tc := range []struct {
		name string
		envs []events.Envelope
	}{
		{"the same event", e},
		{"the same event and a new one", append([]events.Envelope{e[0]}, env(subj, "b"))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := s.Append(ctxFor(t), subj, seq, tc.envs)
			if !errors.Is(err, eventstore.ErrDuplicate) {
				t.Fatalf("Append: got (%d, %v), want ErrDuplicate", got, err)
			}
			if got != seq {
				t.Errorf("Append: got seq %d, want %d", got, seq)
			}
		})
	}
	checkLoad(t, s, subj, 0, e, seq)
}

func testRetryAfterSuccess(t *testing.T, s eventstore.Store) {
	for _, n := range []int{1, 3} {
		t.Run(fmt.Sprintf("%d events", n), func(t *testing.T) {
			subj := newSubject()
			prev := mustAppend(t, s, subj, 0, envs(subj, "before"))
			e := make([]events.Envelope, n)
			for i := range e {
				e[i] = env(subj, fmt.Sprint("retried ", i))
			}
			seq := mustAppend(t, s, subj, prev, e)
			// The exact same call again, as a client retries after a lost answer.
			got, err := s.Append(ctxFor(t), subj, prev, e)
			if !errors.Is(err, eventstore.ErrDuplicate) {
				t.Fatalf("retry: got (%d, %v), want ErrDuplicate", got, err)
			}
			if got != seq {
				t.Errorf("retry: got seq %d, want %d (the last event of the first attempt)", got, seq)
			}
			checkLoad(t, s, subj, prev, e, seq)
		})
	}
}

func testConcurrentSameSubject(t *testing.T, s eventstore.Store) {
	const writers = 24
	subj := newSubject()
	base := mustAppend(t, s, subj, 0, envs(subj, "base"))

	var wg sync.WaitGroup
	seqs := make([]uint64, writers)
	errs := make([]error, writers)
	all := make([]events.Envelope, writers)
	for i := range writers {
		all[i] = env(subj, fmt.Sprint("writer ", i))
		wg.Go(func() {
			seqs[i], errs[i] = s.Append(ctxFor(t), subj, base, all[i:i+1])
		})
	}
	wg.Wait()

	winner := -1
	for i, err := range errs {
		switch {
		case err == nil:
			if winner >= 0 {
				t.Errorf("writers %d and %d both succeeded, want exactly one", winner, i)
			}
			winner = i
		case !errors.Is(err, eventstore.ErrConflict):
			t.Errorf("writer %d: got %v, want nil or ErrConflict", i, err)
		}
	}
	if winner < 0 {
		t.Fatalf("no writer succeeded, want exactly one")
	}
	checkLoad(t, s, subj, base, all[winner:winner+1], seqs[winner])
}

func testConcurrentManySubjects(t *testing.T, s eventstore.Store) {
	const subjects = 200
	type write struct {
		subj string
		envs []events.Envelope
		seq  uint64
		err  error
	}
	ws := make([]write, subjects)
	for i := range ws {
		subj := newSubject()
		texts := []string{"one"}
		if i%3 == 0 {
			texts = append(texts, "two", "three")
		}
		ws[i] = write{subj: subj, envs: envs(subj, texts...)}
	}
	var wg sync.WaitGroup
	for i := range ws {
		w := &ws[i]
		wg.Go(func() {
			w.seq, w.err = s.Append(ctxFor(t), w.subj, 0, w.envs)
		})
	}
	wg.Wait()

	seen := map[uint64]string{}
	for _, w := range ws {
		if w.err != nil {
			t.Errorf("Append(%s): %v", w.subj, w.err)
			continue
		}
		recs := checkLoad(t, s, w.subj, 0, w.envs, w.seq)
		for _, r := range recs {
			if other, ok := seen[r.Seq]; ok {
				t.Errorf("seq %d stored for %s and %s, want distinct", r.Seq, other, w.subj)
			}
			seen[r.Seq] = w.subj
		}
	}
}
