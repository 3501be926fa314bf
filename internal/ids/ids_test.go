package ids

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/casestream/casestream/internal/embedded"
	"github.com/casestream/casestream/internal/embedded/embeddedtest"
	"github.com/google/uuid"
	"github.com/nats-io/nats.go/jetstream"
)

func testJS(t *testing.T) jetstream.JetStream {
	t.Helper()
	_, nc := embeddedtest.Start(t)
	js := embeddedtest.JetStream(t, nc)
	return js
}

func testCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func mustOpen(t *testing.T, js jetstream.JetStream) *IDs {
	t.Helper()
	i, err := Open(testCtx(t), js, 1)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return i
}

func TestOpenBucket(t *testing.T) {
	js := testJS(t)
	mustOpen(t, js)
	mustOpen(t, js) // binds to the bucket the first made
	kv, err := js.KeyValue(testCtx(t), Bucket)
	if err != nil {
		t.Fatal(err)
	}
	st, err := kv.Status(testCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	if got := st.History(); got != 1 {
		t.Errorf("History: got %d, want 1", got)
	}
	info := st.(*jetstream.KeyValueBucketStatus).StreamInfo()
	if got := info.Config.Storage; got != jetstream.FileStorage {
		t.Errorf("Storage: got %v, want file", got)
	}
}

func TestCaseInstanceIDsUnique(t *testing.T) {
	const goroutines, each = 8, 500
	js := testJS(t)
	procs := []*IDs{mustOpen(t, js), mustOpen(t, js)}
	ctx := testCtx(t)

	got := make([][]int64, goroutines)
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			p := procs[g%len(procs)]
			for range each {
				id, err := p.NextCaseInstanceID(ctx)
				if err != nil {
					t.Errorf("NextCaseInstanceID: %v", err)
					return
				}
				got[g] = append(got[g], id)
			}
		})
	}
	wg.Wait()

	seen := map[int64]bool{}
	var highest int64
	for g, ids := range got {
		for k, id := range ids {
			if id <= 0 {
				t.Errorf("id %d: want > 0", id)
			}
			if seen[id] {
				t.Errorf("id %d handed out twice", id)
			}
			seen[id] = true
			if k > 0 && id <= ids[k-1] {
				t.Errorf("goroutine %d: id %d after %d, want increasing", g, id, ids[k-1])
			}
			highest = max(highest, id)
		}
	}
	if len(seen) != goroutines*each {
		t.Errorf("got %d distinct ids, want %d", len(seen), goroutines*each)
	}

	// A process started later continues above every id handed out.
	reopened := mustOpen(t, js)
	for range BlockSize + 1 {
		id, err := reopened.NextCaseInstanceID(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if id <= highest {
			t.Fatalf("reopened: got id %d, want above %d", id, highest)
		}
	}
}

func TestCaseInstanceIDsSurviveRestart(t *testing.T) {
	dir := t.TempDir()
	var last int64
	for run := range 2 {
		s, err := embedded.Start(embedded.Options{StoreDir: filepath.Join(dir, "nats"), IdentityDir: filepath.Join(dir, "identities")})
		if err != nil {
			t.Fatal(err)
		}
		nc, err := embedded.Connect(s)
		if err != nil {
			t.Fatal(err)
		}
		js, _ := jetstream.New(nc)
		i := mustOpen(t, js)
		for range 3 {
			id, err := i.NextCaseInstanceID(testCtx(t))
			if err != nil {
				t.Fatal(err)
			}
			if id <= last {
				t.Errorf("run %d: got id %d, want above %d", run, id, last)
			}
			last = id
		}
		nc.Close()
		s.Shutdown()
		s.WaitForShutdown()
	}
}

func TestTicketNumbers(t *testing.T) {
	js := testJS(t)
	procs := []*IDs{mustOpen(t, js), mustOpen(t, js)}
	ctx := testCtx(t)
	unitA, unitB := uuid.NewString(), uuid.NewString()
	day := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)

	t.Run("concurrent takers count 1 to N", func(t *testing.T) {
		const goroutines, each = 8, 40
		var mu sync.Mutex // guards got
		var got []int
		var wg sync.WaitGroup
		for g := range goroutines {
			wg.Go(func() {
				for range each {
					n, err := procs[g%2].NextTicketNumber(ctx, unitA, day)
					if err != nil {
						t.Errorf("NextTicketNumber: %v", err)
						return
					}
					mu.Lock()
					got = append(got, n)
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		slices.Sort(got)
		for k, n := range got {
			if n != k+1 {
				t.Fatalf("sorted numbers[%d]: got %d, want %d (all: %v)", k, n, k+1, got)
			}
		}
		if len(got) != goroutines*each {
			t.Errorf("got %d numbers, want %d", len(got), goroutines*each)
		}
	})

	east := time.FixedZone("UTC+5", 5*3600)
	tests := []struct {
		name string
		unit string
		day  time.Time
		want int
	}{
		{"another unit starts at 1", unitB, day, 1},
		{"the same unit the next day starts at 1", unitA, day.AddDate(0, 0, 1), 1},
		{"the day is taken in UTC", unitA, time.Date(2026, 3, 2, 3, 0, 0, 0, east), 321},
		{"another unit counts on", unitB, day.Add(13 * time.Hour), 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := procs[0].NextTicketNumber(ctx, tt.unit, tt.day)
			if err != nil || got != tt.want {
				t.Errorf("NextTicketNumber(%s, %v): got %d, %v; want %d", tt.unit, tt.day, got, err, tt.want)
			}
		})
	}
}

func TestTicketNumberBadUnit(t *testing.T) {
	i := mustOpen(t, testJS(t))
	for _, unit := range []string{"", "a.b", "a*", "a b", "a>"} {
		t.Run(fmt.Sprintf("%q", unit), func(t *testing.T) {
			if _, err := i.NextTicketNumber(testCtx(t), unit, time.Now()); !errors.Is(err, ErrBadUnit) {
				t.Errorf("got %v, want ErrBadUnit", err)
			}
		})
	}
}
