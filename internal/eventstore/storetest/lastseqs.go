package storetest

import (
	"context"
	"maps"
	"sync"
	"testing"

	"github.com/casestream/casestream/internal/eventstore"
)

// SubjectSeqsStore is a Store that also reads the last sequences of many subjects at once.
type SubjectSeqsStore interface {
	eventstore.Store
	// LastSeqsOf returns the stream sequence of the last event of each of subjects that
	// has one; a subject without events is absent.
	LastSeqsOf(ctx context.Context, subjects []string) (map[string]uint64, error)
}

// RunLastSeqs runs the contract of LastSeqsOf. newStore returns an empty store for one
// subtest; the suite only writes subjects under "cases.".
func RunLastSeqs(t *testing.T, newStore func(t *testing.T) SubjectSeqsStore) {
	t.Run("last sequences of many subjects", func(t *testing.T) { testLastSeqsOf(t, newStore(t)) })
	t.Run("last sequences while appending", func(t *testing.T) { testLastSeqsConcurrent(t, newStore(t)) })
}

func testLastSeqsOf(t *testing.T, s SubjectSeqsStore) {
	one, three, batch, none := newSubject(), newSubject(), newSubject(), newSubject()
	want := map[string]uint64{}
	want[one] = mustAppend(t, s, one, 0, envs(one, "a"))
	var last uint64
	for _, text := range []string{"a", "b", "c"} {
		last = mustAppend(t, s, three, last, envs(three, text))
	}
	want[three] = last
	want[batch] = mustAppend(t, s, batch, 0, envs(batch, "a", "b", "c"))
	// A later append to another subject moves the stream, not the subjects above.
	other := newSubject()
	mustAppend(t, s, other, 0, envs(other, "later"))

	for _, tc := range []struct {
		name     string
		subjects []string
		want     map[string]uint64
	}{
		{"none asked", nil, map[string]uint64{}},
		{"one with an event", []string{one}, pick(want, one)},
		{"one without events", []string{none}, map[string]uint64{}},
		{"several events, the last", []string{three}, pick(want, three)},
		{"a multi-event append, its last", []string{batch}, pick(want, batch)},
		{"all, one without events among them", []string{batch, none, one, three}, want},
		{"a subject asked twice", []string{one, one}, pick(want, one)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := s.LastSeqsOf(ctxFor(t), tc.subjects)
			if err != nil {
				t.Fatalf("LastSeqsOf(%v): %v", tc.subjects, err)
			}
			if !maps.Equal(got, tc.want) {
				t.Errorf("LastSeqsOf(%v): got %v, want %v", tc.subjects, got, tc.want)
			}
		})
	}
}

// testLastSeqsConcurrent reads while other goroutines append: a subject's last sequence
// never goes back, and once its append is acknowledged, a read started after sees it.
func testLastSeqsConcurrent(t *testing.T, s SubjectSeqsStore) {
	const subjects, appends = 4, 10
	subs := make([]string, subjects)
	for i := range subs {
		subs[i] = newSubject()
	}
	var wg sync.WaitGroup
	for _, subj := range subs {
		wg.Go(func() {
			var last uint64
			for i := range appends {
				seq, err := s.Append(ctxFor(t), subj, last, envs(subj, string(rune('a'+i))))
				if err != nil {
					t.Errorf("Append(%s): %v", subj, err)
					return
				}
				last = seq
				got, err := s.LastSeqsOf(ctxFor(t), []string{subj})
				if err != nil {
					t.Errorf("LastSeqsOf(%s): %v", subj, err)
					return
				}
				if got[subj] != seq {
					t.Errorf("LastSeqsOf(%s) after the append acknowledged at %d: got %d", subj, seq, got[subj])
				}
			}
		})
	}
	prev := map[string]uint64{}
	for range appends {
		got, err := s.LastSeqsOf(ctxFor(t), subs)
		if err != nil {
			t.Fatalf("LastSeqsOf: %v", err)
		}
		for _, subj := range subs {
			if got[subj] < prev[subj] {
				t.Errorf("LastSeqsOf(%s): got %d after %d", subj, got[subj], prev[subj])
			}
		}
		prev = got
	}
	wg.Wait()
}

// pick returns the entries of m for keys.
func pick(m map[string]uint64, keys ...string) map[string]uint64 {
	out := map[string]uint64{}
	for _, k := range keys {
		out[k] = m[k]
	}
	return out
}
