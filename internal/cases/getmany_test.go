package cases

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/casestream/casestream/aggregate"
	"github.com/casestream/casestream/events"
	"github.com/casestream/casestream/internal/eventstore"
)

// countingStore is a Memory store that counts the reads of its logs: Loads of a case and
// reads of many subjects' last sequences.
type countingStore struct {
	*eventstore.Memory
	loads, lastSeqs atomic.Int64
}

func (c *countingStore) Load(ctx context.Context, subject string, after uint64) ([]eventstore.Record, error) {
	c.loads.Add(1)
	return c.Memory.Load(ctx, subject, after)
}

func (c *countingStore) LastSeqsOf(ctx context.Context, subjects []string) (map[string]uint64, error) {
	c.lastSeqs.Add(1)
	return c.Memory.LastSeqsOf(ctx, subjects)
}

var _ LastSeqReader = (*countingStore)(nil)

func addNote(t testing.TB, s *Service, id int64, text string) {
	t.Helper()
	if _, err := s.Execute(context.Background(), id, system, func(c *aggregate.Case) ([]events.Event, error) {
		return c.AddNote(text)
	}); err != nil {
		t.Fatal(err)
	}
}

// appendUnreadable stores on the case an event this service cannot decode.
func appendUnreadable(t testing.TB, store eventstore.Store, id int64) {
	t.Helper()
	subj := events.CaseSubject(id)
	recs, err := store.Load(context.Background(), subj, 0)
	if err != nil {
		t.Fatal(err)
	}
	env := events.Envelope{
		ID: fmt.Sprint("foreign-", id), Type: "SomethingElse", SchemaVersion: events.SchemaVersion, Subject: subj,
		OccurredAt: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), Data: json.RawMessage(`{}`),
	}
	if _, err := store.Append(context.Background(), subj, recs[len(recs)-1].Seq, []events.Envelope{env}); err != nil {
		t.Fatal(err)
	}
}

func TestGetMany(t *testing.T) {
	tests := []struct {
		name string
		// prepare opens cases through writer and returns the ids to ask reader for and
		// those expected, in order; cached says whether reader reads them all before.
		prepare func(t *testing.T, writer *Service, store eventstore.Store) (ask, want []int64)
		cached  bool
		// loads is how many case logs reader reads for GetMany.
		loads   int64
		wantErr error
	}{
		{
			name: "none asked",
			prepare: func(t *testing.T, w *Service, _ eventstore.Store) ([]int64, []int64) {
				return nil, nil
			},
			cached: true, loads: 0,
		},
		{
			name: "cached and unchanged: no log read",
			prepare: func(t *testing.T, w *Service, _ eventstore.Store) ([]int64, []int64) {
				a, b, c := openOne(t, w), openOne(t, w), openOne(t, w)
				ids := []int64{c.CaseInstanceID, a.CaseInstanceID, b.CaseInstanceID}
				return ids, ids
			},
			cached: true, loads: 0,
		},
		{
			name: "not cached: each log read",
			prepare: func(t *testing.T, w *Service, _ eventstore.Store) ([]int64, []int64) {
				a, b := openOne(t, w), openOne(t, w)
				ids := []int64{b.CaseInstanceID, a.CaseInstanceID}
				return ids, ids
			},
			cached: false, loads: 2,
		},
		{
			name: "one changed by another writer: its log read",
			prepare: func(t *testing.T, w *Service, _ eventstore.Store) ([]int64, []int64) {
				a, b, c := openOne(t, w), openOne(t, w), openOne(t, w)
				ids := []int64{a.CaseInstanceID, b.CaseInstanceID, c.CaseInstanceID}
				return ids, ids
			},
			cached: true, loads: 1,
		},
		{
			name: "an unreadable case left out",
			prepare: func(t *testing.T, w *Service, store eventstore.Store) ([]int64, []int64) {
				a, b, c := openOne(t, w), openOne(t, w), openOne(t, w)
				appendUnreadable(t, store, b.CaseInstanceID)
				return []int64{a.CaseInstanceID, b.CaseInstanceID, c.CaseInstanceID}, []int64{a.CaseInstanceID, c.CaseInstanceID}
			},
			cached: false, loads: 3,
		},
		{
			name: "a case that does not exist",
			prepare: func(t *testing.T, w *Service, _ eventstore.Store) ([]int64, []int64) {
				a := openOne(t, w)
				return []int64{a.CaseInstanceID, 999}, nil
			},
			cached: false, loads: 1, wantErr: ErrNotFound,
		},
		{
			name: "an id that cannot be a case's",
			prepare: func(t *testing.T, w *Service, _ eventstore.Store) ([]int64, []int64) {
				return []int64{0}, nil
			},
			cached: false, loads: 0, wantErr: ErrNotFound,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			store := &countingStore{Memory: eventstore.NewMemory()}
			ids := &counterIDs{}
			writer := NewService(store, ids, Options{})
			reader := NewService(store, ids, Options{LastSeqs: store})
			ask, want := tt.prepare(t, writer, store)
			if tt.cached {
				for _, id := range ask {
					if _, err := reader.Get(context.Background(), id); err != nil {
						t.Fatal(err)
					}
				}
				if tt.loads > 0 {
					addNote(t, writer, ask[len(ask)-1], "changed")
				}
			}
			loads := store.loads.Load()
			got, err := reader.GetMany(context.Background(), ask)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("GetMany(%v): got error %v, want %v", ask, err, tt.wantErr)
			}
			if n := store.loads.Load() - loads; n != tt.loads {
				t.Errorf("case logs read: got %d, want %d", n, tt.loads)
			}
			if n := store.lastSeqs.Load(); len(ask) > 0 && n != 1 {
				t.Errorf("reads of last sequences: got %d, want 1", n)
			}
			if err != nil {
				return
			}
			var gotIDs []int64
			for _, c := range got {
				gotIDs = append(gotIDs, c.CaseInstanceID)
				assertStateIsLog(t, store.Memory, c)
			}
			if fmt.Sprint(gotIDs) != fmt.Sprint(want) {
				t.Errorf("cases: got %v, want %v", gotIDs, want)
			}
			// Without a LastSeqReader, the answer is the same, read case by case.
			plain, err := NewService(store, ids, Options{}).GetMany(context.Background(), ask)
			if err != nil {
				t.Fatal(err)
			}
			if fmt.Sprintf("%+v", plain) != fmt.Sprintf("%+v", got) {
				t.Errorf("with last sequences:\n%+v\nwithout:\n%+v", got, plain)
			}
		})
	}
}

// TestGetManyWithConcurrentCommands lists cases while commands run on them and on the
// same service: nothing deadlocks, and every listed state is one the case's log went
// through (its version's prefix of the log).
func TestGetManyWithConcurrentCommands(t *testing.T) {
	store := &countingStore{Memory: eventstore.NewMemory()}
	svc := NewService(store, &counterIDs{}, Options{LastSeqs: store})
	other := NewService(store, &counterIDs{}, Options{})
	var ids []int64
	for range 8 {
		ids = append(ids, openOne(t, svc).CaseInstanceID)
	}
	const notes = 20
	var wg sync.WaitGroup
	for i, id := range ids {
		w := svc
		if i%2 == 1 {
			w = other // another replica: svc learns of its notes from the log
		}
		wg.Go(func() {
			for n := range notes {
				addNote(t, w, id, fmt.Sprint(n))
			}
		})
	}
	listings := make(chan []aggregate.Case, 100)
	for range 4 {
		wg.Go(func() {
			for range 10 {
				got, err := svc.GetMany(context.Background(), ids)
				if err != nil {
					t.Error(err)
					return
				}
				listings <- got
			}
		})
	}
	wg.Wait()
	close(listings)
	for got := range listings {
		if len(got) != len(ids) {
			t.Fatalf("got %d cases, want %d", len(got), len(ids))
		}
		for i, c := range got {
			if c.CaseInstanceID != ids[i] || len(c.Notes) != c.Version-1 {
				t.Errorf("case %d at version %d: %d notes", c.CaseInstanceID, c.Version, len(c.Notes))
			}
		}
	}
	final, err := svc.GetMany(context.Background(), ids)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range final {
		if len(c.Notes) != notes {
			t.Errorf("case %d: got %d notes, want %d", c.CaseInstanceID, len(c.Notes), notes)
		}
		assertStateIsLog(t, store.Memory, c)
	}
}
