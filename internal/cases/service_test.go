package cases

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/casestream/casestream/aggregate"
	"github.com/casestream/casestream/events"
	"github.com/casestream/casestream/internal/eventstore"
)

// counterIDs hands out ids from memory.
type counterIDs struct{ n, ticket atomic.Int64 }

func (c *counterIDs) NextCaseInstanceID(context.Context) (int64, error) { return c.n.Add(1), nil }
func (c *counterIDs) NextTicketNumber(context.Context, string, time.Time) (int, error) {
	return int(c.ticket.Add(1)), nil
}

type fakeDirectory struct{ ops []events.Operator }

func (d fakeDirectory) OperatorByEmail(email string) (events.Operator, bool) {
	for _, op := range d.ops {
		if strings.EqualFold(op.Email, email) {
			return op, true
		}
	}
	return events.Operator{}, false
}
func (d fakeDirectory) GroupByName(name string) (events.OperatorGroup, bool) {
	return events.OperatorGroup{Name: name}, name == "Tier 1"
}
func (d fakeDirectory) ServiceType(id string) (events.ServiceType, bool) {
	return events.ServiceType{ServiceTypeID: id, Code: "ACC"}, true
}

func testDirectory(n int) fakeDirectory {
	var d fakeDirectory
	for i := range n {
		d.ops = append(d.ops, events.Operator{UserID: fmt.Sprintf("u%d", i), Email: fmt.Sprintf("op%d@example.com", i), ServiceTypes: []string{"*"}})
	}
	return d
}

var system = Meta{Actor: events.Actor{Kind: events.ActorSystem, ID: "test"}}

func openOne(t testing.TB, s *Service) aggregate.Case {
	t.Helper()
	c, err := s.Open(context.Background(), system, OpenRequest{
		ServiceType: events.ServiceType{ServiceTypeID: "t1", ServiceCategoryID: "cat"},
		Service:     events.Service{ServiceID: "s1", UnitID: "unit", InboxID: "inbox", TicketPrefix: "A"},
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// assertStateIsLog checks that the case's state equals the fold of its stored events.
func assertStateIsLog(t *testing.T, store eventstore.Store, got aggregate.Case) {
	t.Helper()
	recs, err := store.Load(context.Background(), events.CaseSubject(got.CaseInstanceID), 0)
	if err != nil {
		t.Fatal(err)
	}
	var want aggregate.Case
	for _, r := range recs {
		ev, err := events.Decode(r.Envelope)
		if err != nil {
			t.Fatal(err)
		}
		want.Apply(r.Envelope.OccurredAt, ev)
	}
	if fmt.Sprintf("%+v", got) != fmt.Sprintf("%+v", want) {
		t.Fatalf("state\n got %+v\nwant %+v", got, want)
	}
}

func TestConcurrentAssignmentsOfOneCase(t *testing.T) {
	store := eventstore.NewMemory()
	svc := NewService(store, &counterIDs{}, Options{})
	dir := testDirectory(24)
	c := openOne(t, svc)
	var wg sync.WaitGroup
	errs := make(chan error, 24)
	for i := range 24 {
		wg.Go(func() {
			_, err := svc.Execute(context.Background(), c.CaseInstanceID, system, func(c *aggregate.Case) ([]events.Event, error) {
				return c.Assign(dir, dir.ops[0], fmt.Sprintf("op%d@example.com", i), "")
			})
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("assignment: %v", err)
		}
	}
	got, err := svc.Get(context.Background(), c.CaseInstanceID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Version != 25 {
		t.Errorf("version: got %d, want 25 (open + 24 assignments)", got.Version)
	}
	assertStateIsLog(t, store, got)
}

func TestReplicasResolveConflicts(t *testing.T) {
	store := eventstore.NewMemory()
	ids := &counterIDs{}
	a, b := NewService(store, ids, Options{}), NewService(store, ids, Options{})
	dir := testDirectory(4)
	c := openOne(t, a)
	if _, err := b.Get(context.Background(), c.CaseInstanceID); err != nil {
		t.Fatal(err)
	}
	// a writes, so b's cached state is stale; b must reload and decide again.
	for i, s := range []*Service{a, b, a, b} {
		_, err := s.Execute(context.Background(), c.CaseInstanceID, system, func(c *aggregate.Case) ([]events.Event, error) {
			return c.Assign(dir, dir.ops[0], fmt.Sprintf("op%d@example.com", i), "")
		})
		if err != nil {
			t.Fatalf("assignment %d: %v", i, err)
		}
	}
	got, _ := b.Get(context.Background(), c.CaseInstanceID)
	if got.AssignedTo != "u3" || got.Version != 5 {
		t.Fatalf("got assignedTo %q version %d, want u3 and 5", got.AssignedTo, got.Version)
	}
	assertStateIsLog(t, store, got)
}

func TestIdempotencyKeyWritesOnce(t *testing.T) {
	store := eventstore.NewMemory()
	ids := &counterIDs{}
	a, b := NewService(store, ids, Options{}), NewService(store, ids, Options{})
	c := openOne(t, a)
	meta := system
	meta.IdempotencyKey = "note-1"
	note := func(c *aggregate.Case) ([]events.Event, error) { return c.AddNote("called back") }
	if _, err := a.Execute(context.Background(), c.CaseInstanceID, meta, note); err != nil {
		t.Fatal(err)
	}
	// A retry through another replica decides the same note again, with the same event id;
	// the store recognises it and nothing new is written.
	if _, err := b.Execute(context.Background(), c.CaseInstanceID, meta, note); err != nil {
		t.Fatal(err)
	}
	recs, _ := store.Load(context.Background(), events.CaseSubject(c.CaseInstanceID), 0)
	if len(recs) != 2 {
		t.Fatalf("got %d events, want 2 (opened, one note)", len(recs))
	}
}

func TestUnknownCase(t *testing.T) {
	svc := NewService(eventstore.NewMemory(), &counterIDs{}, Options{})
	if _, err := svc.Get(context.Background(), 99); !errors.Is(err, ErrNotFound) {
		t.Fatalf("got %v, want %v", err, ErrNotFound)
	}
	if _, err := svc.Get(context.Background(), -1); !errors.Is(err, ErrNotFound) {
		t.Fatalf("got %v, want %v", err, ErrNotFound)
	}
}

// TestExecuteOnNoCase runs commands on ids that cannot be a case's: the command decides
// against the zero Case, so that its own refusal comes first, and nothing is written even
// when it decides events.
func TestExecuteOnNoCase(t *testing.T) {
	errRequest := errors.New("request refused")
	tests := []struct {
		name   string
		id     int64
		decide Decider
		want   error
	}{
		{"request refused", 0, func(*aggregate.Case) ([]events.Event, error) { return nil, errRequest }, errRequest},
		{"case rule", -3, func(c *aggregate.Case) ([]events.Event, error) {
			return c.Assign(testDirectory(1), events.Operator{}, "op0@example.com", "")
		}, aggregate.ErrCaseInvalidID},
		{"events decided", 0, func(c *aggregate.Case) ([]events.Event, error) { return c.AddNote("x") }, ErrNotFound},
		{"nothing decided", 0, func(*aggregate.Case) ([]events.Event, error) { return nil, nil }, ErrNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			store := eventstore.NewMemory()
			svc := NewService(store, &counterIDs{}, Options{})
			_, err := svc.Execute(context.Background(), tt.id, system, tt.decide)
			if !errors.Is(err, tt.want) {
				t.Errorf("got %v, want %v", err, tt.want)
			}
			if n := store.LastSeq(); n != 0 {
				t.Errorf("got %d events stored, want 0", n)
			}
		})
	}
}

func TestCacheEvictionKeepsCorrectness(t *testing.T) {
	store := eventstore.NewMemory()
	svc := NewService(store, &counterIDs{}, Options{CacheSize: 4})
	var opened []aggregate.Case
	for range 20 {
		opened = append(opened, openOne(t, svc))
	}
	for _, c := range opened {
		got, err := svc.Get(context.Background(), c.CaseInstanceID)
		if err != nil || got.CaseID != c.CaseID {
			t.Fatalf("case %d: got %+v, %v", c.CaseInstanceID, got, err)
		}
	}
	svc.mu.Lock()
	n := len(svc.entries)
	svc.mu.Unlock()
	if n > 4 {
		t.Fatalf("cache holds %d cases, want at most 4", n)
	}
}

// sameIDs hands out one id again and again: a broken allocator.
type sameIDs struct{ counterIDs }

func (s *sameIDs) NextCaseInstanceID(context.Context) (int64, error) { return 7, nil }

func TestOpenNeverOverwritesAnExistingCase(t *testing.T) {
	store := eventstore.NewMemory()
	ids := &sameIDs{}
	first := NewService(store, ids, Options{})
	openOne(t, first)
	// Another process, whose cache knows nothing of case 7, opens with the same id: the
	// append expecting an empty subject conflicts, and the case is refused, not rewritten.
	second := NewService(store, ids, Options{})
	_, err := second.Open(context.Background(), system, OpenRequest{
		ServiceType: events.ServiceType{ServiceTypeID: "t1"},
		Service:     events.Service{ServiceID: "s1", UnitID: "unit", InboxID: "inbox"},
	})
	if !errors.Is(err, errExists) {
		t.Fatalf("got %v, want %v", err, errExists)
	}
	if recs, _ := store.Load(context.Background(), events.CaseSubject(7), 0); len(recs) != 1 {
		t.Fatalf("case 7 has %d events, want 1", len(recs))
	}
}

// TestStartNext runs start-next over candidates the read model could still list: one taken
// already, one unknown, then two waiting. The first waiting one is started, at the fixed
// clock's time, and its queue time is when it became Waiting; with none left, nothing is.
func TestStartNext(t *testing.T) {
	ctx := context.Background()
	opened := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	now := opened
	svc := NewService(eventstore.NewMemory(), &counterIDs{}, Options{Now: func() time.Time { return now }})
	taken, first, second := openOne(t, svc), openOne(t, svc), openOne(t, svc)
	now = opened.Add(time.Minute)
	if _, err := svc.Execute(ctx, taken.CaseInstanceID, system, func(c *aggregate.Case) ([]events.Event, error) {
		return c.StartService("other", "")
	}); err != nil {
		t.Fatal(err)
	}
	dir := startNextDirectory{}
	var asked aggregate.Queues
	waiting := func(ids ...int64) Waiting {
		return func(_ context.Context, q aggregate.Queues, limit int) ([]int64, error) {
			asked = q
			if limit != StartNextLimit {
				t.Errorf("limit: got %d, want %d", limit, StartNextLimit)
			}
			return ids, nil
		}
	}
	now = opened.Add(2 * time.Minute)
	got, ok, err := svc.StartNext(ctx, system, dir, waiting(taken.CaseInstanceID, 999, first.CaseInstanceID, second.CaseInstanceID), "agent", "i1", "desk")
	if err != nil || !ok {
		t.Fatalf("got %v, %v, want a started case", ok, err)
	}
	if got.Case.CaseInstanceID != first.CaseInstanceID || got.Case.Status != events.StatusActive || got.Case.LockedBy != "agent" {
		t.Errorf("got case %d %s locked by %q, want %d Active locked by agent", got.Case.CaseInstanceID, got.Case.Status, got.Case.LockedBy, first.CaseInstanceID)
	}
	if !got.Queued.Equal(opened) || !got.Case.StatusDate.Equal(now) {
		t.Errorf("got queued %v, status date %v, want %v, %v", got.Queued, got.Case.StatusDate, opened, now)
	}
	if want := (aggregate.Queues{InboxIDs: []string{"i1"}}); !slices.Equal(asked.InboxIDs, want.InboxIDs) {
		t.Errorf("queues: got %+v, want %+v", asked, want)
	}
	if _, ok, err := svc.StartNext(ctx, system, dir, waiting(taken.CaseInstanceID, first.CaseInstanceID), "agent", "", ""); ok || err != nil {
		t.Errorf("got %v, %v, want nothing started", ok, err)
	}
	if _, _, err := svc.StartNext(ctx, system, dir, waiting(), "agent", "i9", ""); !errors.Is(err, aggregate.ErrInboxNotInWorkspace) {
		t.Errorf("got %v, want %v", err, aggregate.ErrInboxNotInWorkspace)
	}
}

// startNextDirectory puts every agent in unit u1, workspace w1 of inboxes i1 and i2.
type startNextDirectory struct{}

func (startNextDirectory) AgentState(string) (string, string) { return "u1", "w1" }
func (startNextDirectory) Workspace(id string) (events.Workspace, bool) {
	return events.Workspace{WorkspaceID: id, InboxIDs: []string{"i1", "i2"}}, id == "w1"
}
func (startNextDirectory) GroupsOf(string) []events.OperatorGroup { return nil }

// inFlightStore refuses the next refusals appends with a conflict while the subject holds
// nothing newer, as a replicated stream's leader refuses an append while another on the same
// subject is still being replicated.
type inFlightStore struct {
	*eventstore.Memory
	refusals int
}

func (s *inFlightStore) Append(ctx context.Context, subject string, expect uint64, envs []events.Envelope) (uint64, error) {
	if s.refusals > 0 {
		s.refusals--
		return 0, eventstore.ErrConflict
	}
	return s.Memory.Append(ctx, subject, expect, envs)
}

// TestInFlightRefusalsAreWaitedOut checks that refusals after which the case holds nothing
// newer do not count as races lost: twice the retry bound of them, and the command is still
// written, once.
func TestInFlightRefusalsAreWaitedOut(t *testing.T) {
	store := &inFlightStore{Memory: eventstore.NewMemory()}
	svc := NewService(store, &counterIDs{}, Options{MaxRetries: 3})
	dir := testDirectory(1)
	c := openOne(t, svc)
	store.refusals = 6
	got, err := svc.Execute(context.Background(), c.CaseInstanceID, system, func(c *aggregate.Case) ([]events.Event, error) {
		return c.Assign(dir, dir.ops[0], "op0@example.com", "")
	})
	if err != nil {
		t.Fatalf("got %v, want the assignment written", err)
	}
	if store.refusals != 0 || got.AssignedTo != "u0" || got.Version != 2 {
		t.Errorf("got %d refusals left, assignedTo %q, version %d; want 0, u0, 2", store.refusals, got.AssignedTo, got.Version)
	}
	assertStateIsLog(t, store.Memory, got)
}
