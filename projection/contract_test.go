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

// queries is what the api asks of the read model: httpapi.Queries and httpapi.AgentQueries,
// and AssignedOpen beside them. Local answers it in process and Client over NATS; the
// contract below holds both to the same answers, the same read-your-writes wait and the same
// errors, for the arguments the api sends (it checks page, size and limit itself).
type queries interface {
	ActiveCases(ctx context.Context, userID string, minCases, minDir uint64) (ListResult, error)
	AssignedOpen(ctx context.Context, operatorID string, minCases, minDir uint64) ([]int64, error)
	OperatorCases(ctx context.Context, operatorID string, page, size int, minCases, minDir uint64) ([]int64, error)
	NextWaiting(ctx context.Context, inboxIDs, groups []string, limit int, minCases, minDir uint64) ([]int64, error)
	QueuePosition(ctx context.Context, id int64, minCases, minDir uint64) (int, bool, error)
	CaseLookup(ctx context.Context, caseID string, minCases, minDir uint64) (int64, bool, error)
}

var (
	_ queries = (*Local)(nil)
	_ queries = (*Client)(nil)
)

// TestQueriesContract runs the query contract against every implementation.
func TestQueriesContract(t *testing.T) {
	impls := []struct {
		name string
		// open returns the implementation answering from p, waiting at most wait for it.
		open func(tb testing.TB, p *Projector, wait time.Duration) queries
	}{
		{"Local", func(_ testing.TB, p *Projector, wait time.Duration) queries { return NewLocal(p, wait) }},
		{"Client", func(tb testing.TB, p *Projector, wait time.Duration) queries {
			c, _, _ := startService(tb, p, wait)
			return c
		}},
	}
	for _, impl := range impls {
		t.Run(impl.name, func(t *testing.T) {
			t.Run("answers", func(t *testing.T) { testAnswers(t, impl.open) })
			t.Run("operator cases", func(t *testing.T) { testOperatorCases(t, impl.open) })
			t.Run("read your writes", func(t *testing.T) { testReadYourWrites(t, impl.open) })
			t.Run("not caught up", func(t *testing.T) { testNotCaughtUp(t, impl.open) })
		})
	}
}

type openQueries = func(tb testing.TB, p *Projector, wait time.Duration) queries

// testAnswers: every query answers what the projector holds (see demoProjector).
func testAnswers(t *testing.T, open openQueries) {
	p := demoProjector(t)
	q := open(t, p, time.Second)
	ctx := context.Background()
	seq := p.Model().LastSeq()

	listings := []struct {
		user      string
		want      Outcome
		unit, ws  string
		wantCases string // "" for none
	}{
		{"a", Listed, "u1", "ws1", string(p.ListActive("a").Cases)},
		{"b", Listed, "u1", "ws1", "[]"},
		{"ghost", UnknownUser, "", "", ""},
		{"nounit", NoCurrentUnit, "", "", ""},
		{"nows", NoWorkspace, "u1", "", ""},
	}
	for _, tt := range listings {
		t.Run("ActiveCases "+tt.user, func(t *testing.T) {
			res, err := q.ActiveCases(ctx, tt.user, seq, 0)
			if err != nil {
				t.Fatal(err)
			}
			if res.Outcome != tt.want || res.UnitID != tt.unit || res.WorkspaceID != tt.ws || string(res.Cases) != tt.wantCases {
				t.Errorf("got %v %q %q %s, want %v %q %q %s", res.Outcome, res.UnitID, res.WorkspaceID, res.Cases, tt.want, tt.unit, tt.ws, tt.wantCases)
			}
			if tt.wantCases == "" && res.Cases != nil {
				t.Errorf("got cases %s with a refusal, want none", res.Cases)
			}
		})
	}
	if string(p.ListActive("a").Cases) == "[]" {
		t.Fatal("the demo's agent a has no active cases: the listing above shows nothing")
	}
	idLists := []struct {
		name string
		call func() ([]int64, error)
		want []int64
	}{
		{"AssignedOpen a", func() ([]int64, error) { return q.AssignedOpen(ctx, "a", seq, 0) }, []int64{1, 2}},
		{"AssignedOpen nobody", func() ([]int64, error) { return q.AssignedOpen(ctx, "nobody", seq, 0) }, []int64{}},
		{"NextWaiting in1", func() ([]int64, error) { return q.NextWaiting(ctx, []string{"in1"}, nil, 10, seq, 0) }, []int64{3}},
		{"NextWaiting unknown inbox", func() ([]int64, error) { return q.NextWaiting(ctx, []string{"in9"}, nil, 10, seq, 0) }, []int64{}},
	}
	for _, tt := range idLists {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.call()
			if err != nil || !slices.Equal(got, tt.want) {
				t.Errorf("got %v, %v, want %v", got, err, tt.want)
			}
		})
	}
	positions := []struct {
		id      int64
		wantPos int
		wantOK  bool
	}{{3, 1, true}, {1, 0, false}, {99, 0, false}} // waiting, active, unknown
	for _, tt := range positions {
		pos, ok, err := q.QueuePosition(ctx, tt.id, seq, 0)
		if err != nil || pos != tt.wantPos || ok != tt.wantOK {
			t.Errorf("QueuePosition(%d): got %d %v %v, want %d %v nil", tt.id, pos, ok, err, tt.wantPos, tt.wantOK)
		}
	}
	lookups := []struct {
		caseID string
		wantID int64
		wantOK bool
	}{{caseUUID(2), 2, true}, {"nope", 0, false}}
	for _, tt := range lookups {
		id, ok, err := q.CaseLookup(ctx, tt.caseID, seq, 0)
		if err != nil || id != tt.wantID || ok != tt.wantOK {
			t.Errorf("CaseLookup(%s): got %d %v %v, want %d %v nil", tt.caseID, id, ok, err, tt.wantID, tt.wantOK)
		}
	}
}

// testOperatorCases checks the operator API's case list: cases opened by the operator (the
// actor of case.opened), assigned to it, and waiting in its groups as the directory says at
// the requested sequence, newest first, in pages; a request for a later directory sequence
// waits for it.
func testOperatorCases(t *testing.T, open openQueries) {
	d := newDir(t)
	d.define(events.OperatorGroup{GroupID: "g1", Name: "g1", Members: []string{"b"}})
	p := NewProjector(d)
	q := open(t, p, 5*time.Second)
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
		{"a", 0, 10, []int64{4, 1}},                 // opened 1, assigned 4; 2 by an application, 6 resolved
		{"b", 0, 10, []int64{5, 3}},                 // opened 3 (also in g1), 5 waits in g1
		{"b", 0, 1, []int64{5}},                     // pages of one
		{"b", 1, 1, []int64{3}},                     //
		{"b", 2, 1, []int64{}},                      // past the end
		{"c", 0, 10, []int64{}},                     // nothing
		{"a", 1 << 40, 1, []int64{}},                // far past the end
		{"b", 0, MaxOperatorCases, []int64{5, 3}},   // the largest page
		{"a", 0, MaxOperatorCases, []int64{4, 1}},   //
		{"b", 1 << 20, MaxOperatorCases, []int64{}}, // a large page far past the end
		{"x", 0, MaxOperatorCases, []int64{}},       // a system actor opens nothing of its own
	}
	for _, tt := range tests {
		got, err := q.OperatorCases(ctx, tt.op, tt.page, tt.size, 8, 0)
		if err != nil || !slices.Equal(got, tt.want) {
			t.Errorf("OperatorCases(%s, %d, %d): got %v, %v, want %v", tt.op, tt.page, tt.size, got, err, tt.want)
		}
	}
	// c joins g1 at the next directory sequence: a request that asks for it sees case 5.
	dirSeq := d.LastSeq() + 1
	done := make(chan []int64, 1)
	go func() {
		ids, err := q.OperatorCases(ctx, "c", 0, 10, 8, dirSeq)
		if err != nil {
			t.Error(err)
		}
		done <- ids
	}()
	waitWaiters(t, p, 1)
	p.ApplyDirectory(dirRecord(t, dirSeq, events.OperatorGroup{GroupID: "g1", Name: "g1", Members: []string{"b", "c"}}))
	if got := <-done; !slices.Equal(got, []int64{5, 3}) {
		t.Errorf("after c joined g1: got %v, want [5 3]", got)
	}
}

// testReadYourWrites: every query for a sequence not applied yet waits for it, and then
// answers with it applied.
func testReadYourWrites(t *testing.T, open openQueries) {
	p := demoProjector(t)
	q := open(t, p, 10*time.Second)
	ctx := context.Background()
	next := p.Model().LastSeq() + 1
	type result struct {
		name string
		got  any
		err  error
	}
	// What each query answers once case 4 has been opened in in1 at sequence next.
	calls := []struct {
		name string
		call func() (any, error)
		want any
	}{
		{"ActiveCases", func() (any, error) {
			res, err := q.ActiveCases(ctx, "b", next, 0)
			return string(res.Cases), err
		}, "[]"},
		{"AssignedOpen", func() (any, error) { return q.AssignedOpen(ctx, "a", next, 0) }, []int64{1, 2}},
		{"OperatorCases", func() (any, error) { return q.OperatorCases(ctx, "a", 0, 10, next, 0) }, []int64{2, 1}},
		{"NextWaiting", func() (any, error) { return q.NextWaiting(ctx, []string{"in1"}, nil, 10, next, 0) }, []int64{3, 4}},
		{"QueuePosition", func() (any, error) {
			pos, ok, err := q.QueuePosition(ctx, 4, next, 0)
			return [2]any{pos, ok}, err
		}, [2]any{2, true}},
		{"CaseLookup", func() (any, error) {
			id, ok, err := q.CaseLookup(ctx, caseUUID(4), next, 0)
			return [2]any{id, ok}, err
		}, [2]any{int64(4), true}},
	}
	done := make(chan result, len(calls))
	for _, c := range calls {
		go func() {
			got, err := c.call()
			done <- result{c.name, got, err}
		}()
	}
	waitWaiters(t, p, len(calls))
	select {
	case r := <-done:
		t.Fatalf("%s answered %v, %v before the sequence it asked for was applied", r.name, r.got, r.err)
	default:
	}
	p.ApplyCases(caseRecord(t, next, 4, t0.Add(time.Hour), opened(4, "u1", "in1", "")))
	got := map[string]result{}
	for range calls {
		r := <-done
		got[r.name] = r
	}
	for _, c := range calls {
		r := got[c.name]
		if r.err != nil || !equalAnswer(r.got, c.want) {
			t.Errorf("%s: got %v, %v, want %v", c.name, r.got, r.err, c.want)
		}
	}
}

// equalAnswer compares two answers of testReadYourWrites.
func equalAnswer(got, want any) bool {
	if g, ok := got.([]int64); ok {
		w, _ := want.([]int64)
		return slices.Equal(g, w)
	}
	return got == want
}

// testNotCaughtUp: every query for a sequence the projector does not reach within the wait
// fails with ErrNotCaughtUp, for either stream; a caller that gives up first gets its
// context's error instead.
func testNotCaughtUp(t *testing.T, open openQueries) {
	p := demoProjector(t)
	q := open(t, p, 50*time.Millisecond)
	ctx := context.Background()
	ahead, dirAhead := p.Model().LastSeq()+100, p.Directory().LastSeq()+100
	calls := []struct {
		name string
		call func(ctx context.Context) error
	}{
		{"ActiveCases", func(ctx context.Context) error { _, err := q.ActiveCases(ctx, "a", ahead, 0); return err }},
		{"AssignedOpen", func(ctx context.Context) error { _, err := q.AssignedOpen(ctx, "a", 0, dirAhead); return err }},
		{"OperatorCases", func(ctx context.Context) error { _, err := q.OperatorCases(ctx, "a", 0, 1, ahead, 0); return err }},
		{"NextWaiting", func(ctx context.Context) error { _, err := q.NextWaiting(ctx, nil, nil, 1, 0, dirAhead); return err }},
		{"QueuePosition", func(ctx context.Context) error { _, _, err := q.QueuePosition(ctx, 1, ahead, 0); return err }},
		{"CaseLookup", func(ctx context.Context) error { _, _, err := q.CaseLookup(ctx, "x", 0, dirAhead); return err }},
	}
	for _, tt := range calls {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.call(ctx); !errors.Is(err, ErrNotCaughtUp) {
				t.Errorf("got %v, want %v", err, ErrNotCaughtUp)
			}
		})
	}
	t.Run("caller gives up", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(ctx, 10*time.Millisecond)
		defer cancel()
		if err := calls[0].call(ctx); !errors.Is(err, context.DeadlineExceeded) || errors.Is(err, ErrNotCaughtUp) {
			t.Errorf("got %v, want %v", err, context.DeadlineExceeded)
		}
	})
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
