package projection

import (
	"context"
	"errors"
	"testing"
	"time"
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
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(time.Millisecond) {
		p.mu.Lock()
		n := len(p.waiters)
		p.mu.Unlock()
		if n == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the query never waited")
		}
	}
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
