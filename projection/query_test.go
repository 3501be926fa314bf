package projection

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/casestream/casestream/events"
)

// demoProjector returns a projector over demoDir with agent a in unit u1 with a workspace,
// holding cases 1 and 2 active for a and case 3 waiting.
func demoProjector(tb testing.TB) *Projector {
	tb.Helper()
	d := demoDir(tb)
	d.define(
		events.Operator{UserID: "nounit", DisplayName: "No Unit"},
		events.Operator{UserID: "nows", DisplayName: "No Workspace"},
		events.AgentUnitSelected{UserID: "a", UnitID: "u1"},
		events.AgentWorkspaceSelected{UserID: "a", WorkspaceID: "ws1"},
		events.AgentUnitSelected{UserID: "b", UnitID: "u1"},
		events.AgentWorkspaceSelected{UserID: "b", WorkspaceID: "ws1"},
		events.AgentUnitSelected{UserID: "nows", UnitID: "u1"},
	)
	p := NewProjector(d)
	var seq uint64
	apply := func(id int64, ev events.Event) {
		seq++
		p.ApplyCases(caseRecord(tb, seq, id, t0.Add(time.Duration(seq)*time.Second), ev))
	}
	for id := int64(1); id <= 3; id++ {
		apply(id, opened(id, "u1", "in1", ""))
	}
	apply(2, toOperator("a"))
	apply(1, events.CaseServiceStarted{AgentID: "a"})
	return p
}

func TestListActive(t *testing.T) {
	p := demoProjector(t)
	tests := []struct {
		user    string
		want    Outcome
		wantErr error
		cases   []int64
	}{
		{"a", Listed, nil, []int64{2, 1}},
		{"b", Listed, nil, []int64{}},
		{"ghost", UnknownUser, ErrUnknownUser, nil},
		{"nounit", NoCurrentUnit, ErrNoCurrentUnit, nil},
		{"nows", NoWorkspace, ErrNoWorkspace, nil},
	}
	for _, tt := range tests {
		t.Run(tt.user, func(t *testing.T) {
			res := p.ListActive(tt.user)
			if res.Outcome != tt.want {
				t.Fatalf("got outcome %v, want %v", res.Outcome, tt.want)
			}
			if err := res.Err(); !errors.Is(err, tt.wantErr) {
				t.Errorf("got error %v, want %v", err, tt.wantErr)
			}
			if tt.want != Listed {
				if res.Cases != nil {
					t.Errorf("got cases %s, want none", res.Cases)
				}
				return
			}
			var got []ActiveCase
			if err := json.Unmarshal(res.Cases, &got); err != nil {
				t.Fatalf("decode %s: %v", res.Cases, err)
			}
			if got == nil {
				t.Fatalf("got %s, want an array", res.Cases)
			}
			if len(got) != len(tt.cases) {
				t.Fatalf("got %d cases, want %d", len(got), len(tt.cases))
			}
			for i, c := range got {
				if c.CaseID != caseUUID(tt.cases[i]) || c.Rank != i+1 {
					t.Errorf("case %d: got %s rank %d, want %s rank %d", i, c.CaseID, c.Rank, caseUUID(tt.cases[i]), i+1)
				}
			}
			want, _ := json.Marshal(Listing(p.Model().ActiveCases(tt.user, "u1"), p.Directory()))
			if string(res.Cases) != string(want) {
				t.Errorf("got %s, want %s", res.Cases, want)
			}
		})
	}
}

func TestWaitFor(t *testing.T) {
	t.Run("already there", func(t *testing.T) {
		p := demoProjector(t)
		if err := p.WaitFor(context.Background(), 5, 0); err != nil {
			t.Fatalf("got %v, want nil", err)
		}
	})
	t.Run("waits for both streams", func(t *testing.T) {
		p := demoProjector(t)
		done := make(chan error, 1)
		dirSeq := p.Directory().LastSeq() + 1
		go func() { done <- p.WaitFor(context.Background(), 6, dirSeq) }()
		p.ApplyCases(caseRecord(t, 6, 3, t0, toGroup("g")))
		waitWaiters(t, p, 1) // still waiting, for the directory record
		select {
		case err := <-done:
			t.Fatalf("returned %v before the directory record", err)
		default:
		}
		p.ApplyDirectory(dirRecord(t, dirSeq, events.Unit{UnitID: "u2", Name: "Second"}))
		if err := <-done; err != nil {
			t.Fatalf("got %v, want nil", err)
		}
	})
	t.Run("each waiter at its sequence", func(t *testing.T) {
		p := demoProjector(t) // CASES at 5
		targets := []uint64{9, 7, 8, 6, 9}
		done := make([]chan error, len(targets))
		for i, target := range targets {
			done[i] = make(chan error, 1)
			go func() { done[i] <- p.WaitFor(context.Background(), target, 0) }()
		}
		for seq := uint64(6); seq <= 9; seq++ {
			p.ApplyCases(caseRecord(t, seq, 3, t0.Add(time.Hour), events.CaseNoteAdded{NoteID: int(seq), Description: "n"}))
			for i, target := range targets {
				if target > seq {
					select {
					case err := <-done[i]:
						t.Fatalf("waiter for %d returned %v at %d", target, err, seq)
					default:
					}
				} else if target == seq {
					if err := <-done[i]; err != nil {
						t.Fatalf("waiter for %d: got %v, want nil", target, err)
					}
				}
			}
		}
		if n := len(p.waiters); n != 0 {
			t.Errorf("got %d waiters left, want 0", n)
		}
	})
	t.Run("context ends", func(t *testing.T) {
		p := demoProjector(t)
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
		defer cancel()
		if err := p.WaitFor(ctx, 100, 0); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("got %v, want %v", err, context.DeadlineExceeded)
		}
		if n := len(p.waiters); n != 0 {
			t.Errorf("got %d waiters left, want 0", n)
		}
	})
}

// TestConcurrentApplyAndQuery applies records while other goroutines query and wait; run
// with -race it checks the locking.
func TestConcurrentApplyAndQuery(t *testing.T) {
	p := demoProjector(t)
	const last = 5 + 400
	done := make(chan struct{})
	go func() {
		defer close(done)
		for seq := uint64(6); seq <= last; seq++ {
			id := int64(seq)
			if seq%2 == 0 {
				p.ApplyCases(caseRecord(t, seq, id, t0.Add(time.Duration(seq)*time.Second), opened(id, "u1", "in1", "")))
			} else {
				p.ApplyCases(caseRecord(t, seq, id-1, t0.Add(time.Duration(seq)*time.Second), toOperator("a")))
			}
		}
	}()
	errs := make(chan error, 3)
	for range 3 {
		go func() {
			for range 200 {
				p.ListActive("a")
				p.Model().NextWaiting([]string{"in1"}, nil, 5)
				p.Model().AssignedOpen("a")
				p.Model().QueuePosition(3)
			}
			errs <- p.WaitFor(context.Background(), last, 0)
		}()
	}
	for range 3 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	<-done
	if got := len(p.Model().ActiveCases("a", "u1")); got != 2+200 {
		t.Errorf("got %d active cases, want %d", got, 2+200)
	}
}
