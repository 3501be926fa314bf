package eventstore_test

import (
	"fmt"
	"testing"

	"github.com/casestream/casestream/events"
	"github.com/casestream/casestream/internal/embedded/embeddedtest"
	"github.com/casestream/casestream/internal/eventstore"
	"github.com/casestream/casestream/internal/eventstore/storetest"
)

func TestMemoryLastSeqs(t *testing.T) {
	storetest.RunLastSeqs(t, func(t *testing.T) storetest.SubjectSeqsStore { return eventstore.NewMemory() })
}

func TestJetStreamLastSeqs(t *testing.T) {
	for _, tc := range []struct {
		name       string
		replicated bool
	}{
		{"one replica", false},
		{"read as replicated", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			storetest.RunLastSeqs(t, func(t *testing.T) storetest.SubjectSeqsStore {
				s, _ := newJetStream(t, eventstore.DefaultJetStreamOptions())
				if tc.replicated {
					s.ReadAsReplicated()
				}
				return s
			})
		})
	}
}

// TestLastSeqsOfRequests appends to more subjects than one multi-last direct get may name
// and checks both the answer and the number of requests the store sent: one per
// maxMultiLast subjects on a stream of one replica, where Load sends one per subject.
func TestLastSeqsOfRequests(t *testing.T) {
	_, nc := embeddedtest.Start(t)
	s, _ := eventstore.StoreOn(t, nc, eventstore.DefaultJetStreamOptions())
	ctx := testCtx(t)
	n := eventstore.MaxMultiLast + 6
	subjects := make([]string, n)
	want := map[string]uint64{}
	for i := range subjects {
		subjects[i] = events.CaseSubject(int64(i + 1))
		// Every fifth subject has no event; the others one or two.
		if i%5 == 4 {
			continue
		}
		seq, err := s.Append(ctx, subjects[i], 0, []events.Envelope{eventstore.NoteAdded(subjects[i], "a")})
		if err != nil {
			t.Fatal(err)
		}
		if i%3 == 0 {
			if seq, err = s.Append(ctx, subjects[i], seq, []events.Envelope{eventstore.NoteAdded(subjects[i], "b")}); err != nil {
				t.Fatal(err)
			}
		}
		want[subjects[i]] = seq
	}
	// The first read looks the stream up, once per store.
	if _, err := s.LastSeqsOf(ctx, subjects[:1]); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name     string
		subjects []string
		requests uint64
	}{
		{"a page", subjects[:200], 1},
		{"just over one request's limit", subjects, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := nc.Stats().OutMsgs
			got, err := s.LastSeqsOf(ctx, tc.subjects)
			if err != nil {
				t.Fatal(err)
			}
			if sent := nc.Stats().OutMsgs - before; sent != tc.requests {
				t.Errorf("requests sent: got %d, want %d", sent, tc.requests)
			}
			for _, subj := range tc.subjects {
				if got[subj] != want[subj] {
					t.Errorf("%s: got %d, want %d", subj, got[subj], want[subj])
				}
			}
			if len(got) != len(pickExisting(want, tc.subjects)) {
				t.Errorf("got %d subjects, want %d", len(got), len(pickExisting(want, tc.subjects)))
			}
		})
	}
}

func pickExisting(m map[string]uint64, keys []string) map[string]uint64 {
	out := map[string]uint64{}
	for _, k := range keys {
		if v, ok := m[k]; ok {
			out[k] = v
		}
	}
	return out
}

// TestLastSeqsOfSeesEveryAcknowledgedAppend reads, right after each append, the last
// sequences of a replicated stream whose direct gets a stale replica answers half the
// time: the answer holds every acknowledged append all the same.
func TestLastSeqsOfSeesEveryAcknowledgedAppend(t *testing.T) {
	s := staleStore(t)
	ctx := testCtx(t)
	const subjects = 24
	var asked []string
	want := map[string]uint64{}
	misses := 0
	for c := range subjects {
		subj := events.CaseSubject(int64(100 + c))
		seq, err := s.Append(ctx, subj, 0, []events.Envelope{eventstore.NoteAdded(subj, fmt.Sprint(c))})
		if err != nil {
			t.Fatal(err)
		}
		asked, want[subj] = append(asked, subj), seq
		got, err := s.LastSeqsOf(ctx, append(asked, events.CaseSubject(1)))
		if err != nil {
			t.Fatal(err)
		}
		for _, subj := range asked {
			if got[subj] != want[subj] {
				misses++
				t.Errorf("after %d appends, %s: got %d, want %d", c+1, subj, got[subj], want[subj])
			}
		}
	}
	if misses > 0 {
		t.Logf("%d subjects read short", misses)
	}
}
