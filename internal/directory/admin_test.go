package directory

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/casestream/casestream/events"
	"github.com/casestream/casestream/internal/eventstore"
)

// TestWaitForWaitsForGaps: a record a command applied ahead of the follower does not let
// WaitFor return for the sequences before it; once the follower closes the gap it does.
func TestWaitForWaitsForGaps(t *testing.T) {
	d := New()
	d.Apply(record(t, 1, events.KindUnit, downtown, events.Unit{UnitID: downtown, Name: "a"}))
	// A command's own record at 3, ahead of 2.
	d.Apply(record(t, 3, events.KindUnit, airport, events.Unit{UnitID: airport, Name: "b"}))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if err := d.WaitFor(ctx, 2); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("WaitFor(2) with 2 missing: got %v, want the deadline", err)
	}
	done := make(chan error, 1)
	go func() { done <- d.WaitFor(context.Background(), 3) }()
	d.Apply(record(t, 2, events.KindInbox, "in-1", events.Inbox{InboxID: "in-1", UnitID: downtown}))
	if err := <-done; err != nil {
		t.Fatalf("WaitFor(3) once 2 is in: %v", err)
	}
	// The follower's copy of 3 changes nothing.
	d.Apply(record(t, 3, events.KindUnit, airport, events.Unit{UnitID: airport, Name: "b"}))
	if err := d.WaitFor(context.Background(), 3); err != nil {
		t.Fatal(err)
	}
}

func adminChangeBy(name string) Change {
	return Change{Actor: events.Actor{Kind: events.ActorAdmin, ID: name}, Reason: "test"}
}

// TestAdminIfVersion: a change made against the entity's version applies; one made against
// an older version is refused, even when the store's conflict is resolved by a reload,
// and writes nothing.
func TestAdminIfVersion(t *testing.T) {
	store, d := bootstrapDemo(t)
	a := NewAdmin(store, d, testOptions())
	ctx := context.Background()
	v := d.Version(events.KindUnit, downtown)
	// Another replica's view, not yet updated, changes the unit first.
	other := store.rebuild(t)
	if _, err := NewAdmin(store, other, testOptions()).PutUnit(ctx, adminChangeBy("ops"), events.Unit{UnitID: downtown, Name: "By ops"}); err != nil {
		t.Fatal(err)
	}
	before := store.LastSeq()
	c := adminChangeBy("root")
	c.IfVersion = &v
	if _, err := a.PutUnit(ctx, c, events.Unit{UnitID: downtown, Name: "By root"}); !errors.Is(err, ErrVersionMismatch) {
		t.Fatalf("stale version: got %v, want ErrVersionMismatch", err)
	}
	if store.LastSeq() != before {
		t.Fatalf("a refused change wrote %d events", store.LastSeq()-before)
	}
	// Without a version, the same change is decided again on the reloaded unit and applies.
	res, err := a.PutUnit(ctx, adminChangeBy("root"), events.Unit{UnitID: downtown, Name: "By root"})
	if err != nil || res.Written != 1 {
		t.Fatalf("PutUnit: got %+v %v, want one event", res, err)
	}
	if u, _ := d.Unit(downtown); u.Name != "By root" {
		t.Errorf("unit: got %q, want By root", u.Name)
	}
}

// TestAdminConcurrentMembers: administrators adding members to one group at once, each
// through their own stale view, lose none: every addition is decided again on a conflict.
func TestAdminConcurrentMembers(t *testing.T) {
	store, _ := bootstrapDemo(t)
	ctx := context.Background()
	const group = "f6a7b8c9-d0e1-4f2a-9b3c-5d6e7f8a9b01" // Tier 1: bob, carol
	var wg sync.WaitGroup
	errs := make(chan error, 3)
	ops := []string{alice, dave, erin}
	views := []*Directory{store.rebuild(t), store.rebuild(t), store.rebuild(t)}
	for i, op := range ops {
		view := views[i]
		wg.Go(func() {
			_, err := NewAdmin(store, view, testOptions()).SetGroupMember(ctx, adminChangeBy("root"), group, op, true)
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	g, _ := store.rebuild(t).Group(group)
	if len(g.Members) != 5 {
		t.Errorf("members: got %v, want bob, carol and the three added", g.Members)
	}
}

// TestAdminRefusalsWriteNothing: a refused change leaves the store and the bucket as they
// were.
func TestAdminRefusalsWriteNothing(t *testing.T) {
	store, d := bootstrapDemo(t)
	a := NewAdmin(store, d, testOptions())
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		do   func() (Result, error)
		want error
	}{
		{"email of another", func() (Result, error) {
			return a.PutOperator(ctx, adminChangeBy("root"), events.Operator{UserID: bob, Email: "Alice@example.com"}, "")
		}, ErrInvalid},
		{"password of no one", func() (Result, error) {
			return a.SetPassword(ctx, adminChangeBy("root"), "e5f6a7b8-c9d0-4e1f-8a2b-4c5d6e7f8a99", "pw")
		}, ErrNotFound},
		{"unit of no one", func() (Result, error) {
			return a.PutInbox(ctx, adminChangeBy("root"), events.Inbox{InboxID: "x", UnitID: "nowhere", Name: "x"})
		}, ErrInvalid},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before, hash := store.LastSeq(), store.secrets.hash(secretOperator, bob)
			if _, err := tc.do(); !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
			if store.LastSeq() != before || store.secrets.hash(secretOperator, bob) != hash {
				t.Errorf("something was written")
			}
		})
	}
}

var _ eventstore.Store = (*subjectLog)(nil)
