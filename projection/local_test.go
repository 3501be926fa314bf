package projection

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/casestream/casestream/events"
	"github.com/casestream/casestream/internal/eventually"
)

func TestLocalReadYourWrites(t *testing.T) {
	p := demoProjector(t)
	l := NewLocal(p, 5*time.Second)
	ctx := context.Background()
	seq := p.Model().LastSeq()
	res, err := l.ActiveCases(ctx, "a", seq, 0)
	if err != nil || res.Outcome != Listed {
		t.Fatalf("caught up: got %v, %v", res, err)
	}
	// A query for a sequence not applied yet waits for it.
	done := make(chan []int64, 1)
	go func() {
		ids, err := l.AssignedOpen(ctx, "b", seq+1, 0)
		if err != nil {
			t.Error(err)
		}
		done <- ids
	}()
	// Poll until the query waits in the projector, then check it has not answered.
	waitWaiters(t, p, 1)
	select {
	case ids := <-done:
		t.Fatalf("answered %v before the sequence was applied", ids)
	default:
	}
	p.ApplyCases(caseRecord(t, seq+1, 3, t0.Add(time.Hour), toOperator("b")))
	if ids := <-done; len(ids) != 1 || ids[0] != 3 {
		t.Fatalf("after the write: got %v, want [3]", ids)
	}
	// Never applied: ErrNotCaughtUp after the wait.
	short := NewLocal(p, 20*time.Millisecond)
	if _, _, err := short.CaseLookup(ctx, caseUUID(1), seq+100, 0); !errors.Is(err, ErrNotCaughtUp) {
		t.Fatalf("got %v, want %v", err, ErrNotCaughtUp)
	}
	if ids, err := l.NextWaiting(ctx, []string{"in1"}, nil, 10, 0, 0); err != nil || len(ids) != 0 {
		t.Fatalf("next waiting: got %v, %v", ids, err)
	}
	if _, ok, err := l.QueuePosition(ctx, 99, 0, 0); ok || err != nil {
		t.Fatalf("position of an unknown case: got %v, %v", ok, err)
	}
}

// TestLocalOperatorCases checks the operator API's case list through Local: cases opened by
// the operator (the actor of case.opened), assigned to it, and waiting in its groups as the
// directory says at the requested sequence, newest first; a request for a later directory
// sequence waits for it.
func TestLocalOperatorCases(t *testing.T) {
	d := newFakeDir()
	d.define(events.OperatorGroup{GroupID: "g1", Name: "g1", Members: []string{"b"}})
	p := NewProjector(d)
	l := NewLocal(p, 5*time.Second)
	ctx := context.Background()
	opener := func(seq uint64, id int64, actor events.Actor, ev events.Event) {
		r := caseRecord(t, seq, id, t0.Add(time.Duration(seq)*time.Second), ev)
		r.Envelope.Actor = actor
		p.ApplyCases(r)
	}
	opener(1, 1, events.Actor{Kind: events.ActorOperator, ID: "a"}, opened(1, "u1", "in1", ""))
	opener(2, 2, events.Actor{Kind: events.ActorApplication, ID: "a"}, opened(2, "u1", "in1", ""))
	opener(3, 3, events.Actor{Kind: events.ActorOperator, ID: "b"}, opened(3, "u1", "in1", "g1"))
	opener(4, 4, events.Actor{Kind: events.ActorSystem, ID: "x"}, opened(4, "u1", "in1", ""))
	opener(5, 4, events.Actor{Kind: events.ActorSystem, ID: "x"}, toOperator("a"))
	opener(6, 5, events.Actor{Kind: events.ActorSystem, ID: "x"}, opened(5, "u1", "in1", "g1"))
	opener(7, 6, events.Actor{Kind: events.ActorOperator, ID: "a"}, opened(6, "u1", "in1", ""))
	opener(8, 6, events.Actor{Kind: events.ActorSystem, ID: "x"}, events.CaseResolved{})
	tests := []struct {
		op         string
		page, size int
		want       []int64
	}{
		{"a", 0, 10, []int64{4, 1}},      // opened 1, assigned 4; 2 by an application, 6 resolved
		{"b", 0, 10, []int64{5, 3}},      // opened 3 (also in g1), 5 waits in g1
		{"b", 0, 1, []int64{5}},          // pages of one
		{"b", 1, 1, []int64{3}},          //
		{"b", 2, 1, []int64{}},           // past the end
		{"c", 0, 10, []int64{}},          // nothing
		{"a", 1 << 40, 1, []int64{}},     // far past the end
		{"b", 0, 1 << 40, []int64{5, 3}}, // a size above the count
	}
	for _, tt := range tests {
		got, err := l.OperatorCases(ctx, tt.op, tt.page, tt.size, 8, 0)
		if err != nil || !slices.Equal(got, tt.want) {
			t.Errorf("OperatorCases(%s, %d, %d): got %v, %v, want %v", tt.op, tt.page, tt.size, got, err, tt.want)
		}
	}
	// c joins g1 at the next directory sequence: a request that asks for it sees case 5.
	dirSeq := d.LastSeq() + 1
	done := make(chan []int64, 1)
	go func() {
		ids, err := l.OperatorCases(ctx, "c", 0, 10, 8, dirSeq)
		if err != nil {
			t.Error(err)
		}
		done <- ids
	}()
	p.ApplyDirectory(dirRecord(t, dirSeq, events.OperatorGroup{GroupID: "g1", Name: "g1", Members: []string{"b", "c"}}))
	if got := <-done; !slices.Equal(got, []int64{5, 3}) {
		t.Errorf("after c joined g1: got %v, want [5 3]", got)
	}
}

// waitWaiters waits until n queries wait in p for sequences it has not applied.
func waitWaiters(tb testing.TB, p *Projector, n int) {
	tb.Helper()
	eventually.Check(tb, 5*time.Second, time.Millisecond, func() error {
		p.mu.Lock()
		got := len(p.waiters)
		p.mu.Unlock()
		if got != n {
			return fmt.Errorf("%d queries wait in the projector, want %d", got, n)
		}
		return nil
	})
}
