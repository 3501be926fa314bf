package projection

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/casestream/casestream/aggregate"
	"github.com/casestream/casestream/events"
	"github.com/casestream/casestream/internal/eventstore"
)

// world is a random history of cases: commands decided by aggregate.Case against the
// directory view the programs use, appended to an eventstore.Memory, folded into a model as
// they are written, and tracked by a brute-force reference computed from the aggregates'
// states.
type world struct {
	t     *testing.T
	seed  uint64
	rng   *rand.Rand
	dir   testDir
	store *eventstore.Memory
	model *Model
	clock time.Time
	cases map[int64]*refCase
	next  int64
	// opener is the actor of the next case.opened that append writes.
	opener events.Actor
}

// refCase is the reference's view of one case: its aggregate state, the sequence of its last
// event, and when it entered its agent's active cases and its queue.
type refCase struct {
	openedBy  string // the operator who opened it, if an operator did
	state     aggregate.Case
	last      uint64
	activeSeq uint64
	waitSeq   uint64
}

var (
	propAgents = []string{"op-1", "op-2", "op-3", "op-4"}
	propUnits  = []string{"u1", "u2"}
	propInbox  = map[string][]string{"u1": {"in1", "in2"}, "u2": {"in3"}}
	propTypes  = []string{"type-g1", "type-g2", "type-plain"}
	propGroups = []string{"g1", "g2"}
)

func newWorld(t *testing.T, seed uint64) *world {
	d := newDir(t)
	for i, a := range propAgents {
		d.define(events.Operator{UserID: a, Email: fmt.Sprintf("op%d@example.com", i+1), DisplayName: a, ServiceTypes: []string{"*"}})
	}
	d.define(
		events.OperatorGroup{GroupID: "g1", Name: "g1", Members: propAgents[:2]},
		events.OperatorGroup{GroupID: "g2", Name: "g2", Members: propAgents[2:]},
		events.ServiceType{ServiceTypeID: "type-g1", Code: "G1", OperatorGroup: "g1"},
		events.ServiceType{ServiceTypeID: "type-g2", Code: "G2", OperatorGroup: "g2"},
		events.ServiceType{ServiceTypeID: "type-plain", Code: "P"},
	)
	return &world{
		t: t, seed: seed, rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)),
		dir: d, store: eventstore.NewMemory(), model: NewModel(), clock: t0, cases: map[int64]*refCase{},
	}
}

func (w *world) fatalf(format string, args ...any) {
	w.t.Helper()
	w.t.Fatalf("seed %d: %s", w.seed, fmt.Sprintf(format, args...))
}

func (w *world) pick(s []string) string { return s[w.rng.IntN(len(s))] }

// tick moves the clock mostly forward, sometimes not at all, sometimes back, so that queue
// times are not always in stream order.
func (w *world) tick() time.Time {
	switch n := w.rng.IntN(10); {
	case n == 0:
		w.clock = w.clock.Add(-time.Duration(w.rng.IntN(3000)) * time.Millisecond)
	case n < 3:
	default:
		w.clock = w.clock.Add(time.Duration(w.rng.IntN(5000)) * time.Millisecond)
	}
	return w.clock
}

// append writes evs to case id, folds them into the model and the reference.
func (w *world) append(id int64, evs []events.Event) {
	w.t.Helper()
	if len(evs) == 0 {
		return
	}
	rc := w.cases[id]
	envs := make([]events.Envelope, len(evs))
	for i, ev := range evs {
		env, err := events.Wrap(events.Meta{
			ID: fmt.Sprintf("%d-%d-%d", w.seed, id, rc.state.Version+i+1), Subject: events.CaseSubject(id),
			OccurredAt: w.tick(), Actor: w.actor(ev),
		}, ev)
		if err != nil {
			w.fatalf("wrap: %v", err)
		}
		envs[i] = env
	}
	last, err := w.store.Append(context.Background(), events.CaseSubject(id), rc.last, envs)
	if err != nil {
		w.fatalf("append to case %d: %v", id, err)
	}
	first := last - uint64(len(envs)) + 1
	for i, env := range envs {
		seq := first + uint64(i)
		w.model.Apply(eventstore.Record{Seq: seq, Envelope: env})
		ev, err := events.Decode(env)
		if err != nil {
			w.fatalf("decode: %v", err)
		}
		before := rc.state.Clone()
		rc.state.Apply(env.OccurredAt, ev)
		if k, ok := refActiveKey(&rc.state); ok {
			if bk, bok := refActiveKey(&before); !bok || bk != k {
				rc.activeSeq = seq
			}
		}
		if rc.state.Status == events.StatusWaiting && before.Status != events.StatusWaiting {
			rc.waitSeq = seq
		}
	}
	rc.last = last
}

// actor is the actor of ev: the world's opener for a case.opened, the system otherwise.
func (w *world) actor(ev events.Event) events.Actor {
	if _, ok := ev.(events.CaseOpened); ok && w.opener.Kind != "" {
		return w.opener
	}
	return events.Actor{Kind: events.ActorSystem, ID: "property"}
}

func refActiveKey(c *aggregate.Case) (string, bool) {
	if c.Status != events.StatusActive || c.LockedBy == "" {
		return "", false
	}
	return c.LockedBy + "/" + c.UnitID, true
}

func (w *world) open() {
	w.next++
	id := w.next
	unit := w.pick(propUnits)
	typ := w.pick(propTypes)
	st, _ := w.dir.ServiceType(typ)
	o := events.CaseOpened{
		CaseInstanceID: id, CaseID: caseUUID(id), ServiceTypeID: typ, ServiceCategoryID: "cat-1",
		ServiceID: "svc-" + unit, UnitID: unit, InboxID: w.pick(propInbox[unit]), Status: events.StatusWaiting,
		AssignedGroup: st.OperatorGroup, Ticket: events.Ticket{Prefix: "A", Number: int(id)},
		Channel: w.pick([]string{"FaceToFace", "Phone", "Chat"}), EntryMode: "WalkIn",
	}
	if w.rng.IntN(4) == 0 {
		o.Customer = &events.Customer{DataTableID: "dt", RecordID: fmt.Sprint(id), DisplayName: "c"}
		o.ContactEmail = fmt.Sprintf("c%d@example.com", id)
	}
	// Most cases are opened by an operator, some by an application or the system: only an
	// operator's count as opened by someone in the operator API's list.
	w.opener = events.Actor{Kind: events.ActorSystem, ID: "property"}
	rc := &refCase{}
	switch n := w.rng.IntN(6); {
	case n < 4:
		rc.openedBy = w.pick(propAgents)
		w.opener = events.Actor{Kind: events.ActorOperator, ID: rc.openedBy}
	case n == 4:
		w.opener = events.Actor{Kind: events.ActorApplication, ID: w.pick(propAgents)}
	}
	w.cases[id] = rc
	w.append(id, []events.Event{o})
}

// step runs one random command on a random case; refused commands write nothing.
func (w *world) step() {
	if w.next < 5 || (w.next < 50 && w.rng.IntN(4) == 0) {
		w.open()
		return
	}
	id := 1 + w.rng.Int64N(w.next)
	c := &w.cases[id].state
	caller, _ := w.dir.Operator(propAgents[0])
	var evs []events.Event
	var err error
	switch w.rng.IntN(7) {
	case 0, 1:
		op, _ := w.dir.Operator(w.pick(propAgents))
		evs, err = c.Assign(w.dir, caller, op.Email, "")
	case 2:
		evs, err = c.Assign(w.dir, caller, "", w.pick(propGroups))
	case 3:
		evs, err = c.StartService(w.pick(propAgents), w.pick([]string{"", "desk-1", "desk-2"}))
	case 4:
		// Mostly the reversible statuses: a history should not close every case quickly.
		evs, err = c.Transition(w.pick([]string{"Waiting", "Active", "Pending", "Waiting", "Active", "Pending", "Resolved", "Closed"}))
	case 5:
		if w.rng.IntN(3) == 0 {
			evs, err = c.Resolve(w.pick(propAgents))
		}
	case 6:
		evs, err = c.AddNote("note")
	}
	if err == nil {
		w.append(id, evs)
	}
}

// log returns every record of the store in stream order.
func (w *world) log() []eventstore.Record {
	var all []eventstore.Record
	for id := int64(1); id <= w.next; id++ {
		recs, err := w.store.Load(context.Background(), events.CaseSubject(id), 0)
		if err != nil {
			w.fatalf("load: %v", err)
		}
		all = append(all, recs...)
	}
	slices.SortFunc(all, func(a, b eventstore.Record) int { return cmp.Compare(a.Seq, b.Seq) })
	return all
}

// check compares every query of m with the reference.
func (w *world) check(m *Model) {
	w.t.Helper()
	ids := make([]int64, 0, len(w.cases))
	for id := int64(1); id <= w.next; id++ {
		ids = append(ids, id)
	}
	for _, agent := range propAgents {
		for _, unit := range propUnits {
			var want []*refCase
			for _, id := range ids {
				if k, ok := refActiveKey(&w.cases[id].state); ok && k == agent+"/"+unit {
					want = append(want, w.cases[id])
				}
			}
			slices.SortFunc(want, func(a, b *refCase) int { return cmp.Compare(a.activeSeq, b.activeSeq) })
			got := m.ActiveCases(agent, unit)
			if len(got) != len(want) {
				w.fatalf("ActiveCases(%s, %s): got %v, want %d cases", agent, unit, activeIDs(got), len(want))
			}
			for i, r := range got {
				if diff := rowDiff(r, &want[i].state, i+1); diff != "" {
					w.fatalf("ActiveCases(%s, %s)[%d]: %s", agent, unit, i, diff)
				}
			}
		}
		var open []int64
		for _, id := range ids {
			if s := &w.cases[id].state; s.AssignedTo == agent && !s.Final() {
				open = append(open, id)
			}
		}
		if got := m.AssignedOpen(agent); !slices.Equal(got, open) {
			w.fatalf("AssignedOpen(%s): got %v, want %v", agent, got, open)
		}
		w.checkOperatorCases(m, agent, ids)
	}
	queues := map[string][]int64{}
	for _, id := range ids {
		s := &w.cases[id].state
		if s.Status != events.StatusWaiting {
			if p, ok := m.QueuePosition(id); ok {
				w.fatalf("QueuePosition(%d) of a %s case: got %d, want none", id, s.Status, p)
			}
			continue
		}
		q := "inbox:" + s.InboxID
		if s.AssignedGroup != "" {
			q = "group:" + s.AssignedGroup
		}
		queues[q] = append(queues[q], id)
	}
	older := func(a, b int64) int {
		x, y := w.cases[a], w.cases[b]
		return cmp.Or(x.state.StatusDate.Compare(y.state.StatusDate), cmp.Compare(x.waitSeq, y.waitSeq))
	}
	for q, members := range queues {
		slices.SortFunc(members, older)
		for i, id := range members {
			if p, ok := m.QueuePosition(id); !ok || p != i+1 {
				w.fatalf("QueuePosition(%d) in %s: got %d %v, want %d", id, q, p, ok, i+1)
			}
		}
	}
	for _, in := range [][]string{{"in1"}, {"in1", "in2"}, {"in3"}} {
		for _, gs := range [][]string{nil, {"g1"}, {"g1", "g2"}} {
			var want []int64
			for _, i := range in {
				want = append(want, queues["inbox:"+i]...)
			}
			for _, g := range gs {
				want = append(want, queues["group:"+g]...)
			}
			slices.SortFunc(want, older)
			want = want[:min(len(want), 7)]
			if got := m.NextWaiting(in, gs, 7); !slices.Equal(got, want) {
				w.fatalf("NextWaiting(%v, %v, 7): got %v, want %v", in, gs, got, want)
			}
		}
	}
	for _, id := range ids {
		if got, ok := m.CaseInstanceID(caseUUID(id)); !ok || got != id {
			w.fatalf("CaseInstanceID(%s): got %d %v, want %d", caseUUID(id), got, ok, id)
		}
	}
}

// rowDiff describes how a listed row differs from the case's aggregate state.
func rowDiff(r CaseRow, s *aggregate.Case, rank int) string {
	want := CaseRow{
		CaseInstanceID: s.CaseInstanceID, CaseID: s.CaseID, Ticket: s.Ticket,
		ServiceCategoryID: s.ServiceCategoryID, ServiceTypeID: s.ServiceTypeID, Status: s.Status,
		StatusDate: s.StatusDate, ReferenceDate: s.ReferenceDate, DateOpened: s.DateOpened, DateClosed: s.DateClosed,
		CaseTimestamp: s.CaseTimestamp, AssignedTo: s.AssignedTo, AssignedGroup: s.AssignedGroup, LockedBy: s.LockedBy,
		Channel: s.Channel, EntryMode: s.EntryMode, Rank: rank, UnitID: s.UnitID, InboxID: s.InboxID,
		WorkstationID: s.WorkstationID, Customer: s.Customer, ContactPhoneNumber: s.ContactPhoneNumber,
		ContactEmail: s.ContactEmail,
	}
	if g, w := fmt.Sprintf("%+v", deref(r)), fmt.Sprintf("%+v", deref(want)); g != w {
		return fmt.Sprintf("got %s, want %s", g, w)
	}
	return ""
}

// deref replaces the customer pointer by its value, for printing.
func deref(r CaseRow) any {
	var cu events.Customer
	if r.Customer != nil {
		cu = *r.Customer
	}
	r.Customer = nil
	return struct {
		CaseRow
		Cust events.Customer
	}{r, cu}
}

// checkOperatorCases compares the operator API's case list of agent, whole and page by page,
// with the reference: open cases the agent opened, is assigned, or that wait in a group of the
// agent's, newest first (by dateOpened, then caseInstanceId).
func (w *world) checkOperatorCases(m *Model, agent string, ids []int64) {
	w.t.Helper()
	var groups []string
	for _, g := range w.dir.GroupsOf(agent) {
		groups = append(groups, g.Name)
	}
	var want []int64
	for _, id := range ids {
		rc := w.cases[id]
		s := &rc.state
		if s.Final() {
			continue
		}
		if rc.openedBy == agent || s.AssignedTo == agent || (s.Status == events.StatusWaiting && slices.Contains(groups, s.AssignedGroup)) {
			want = append(want, id)
		}
	}
	slices.SortFunc(want, func(a, b int64) int {
		return cmp.Or(w.cases[b].state.DateOpened.Compare(w.cases[a].state.DateOpened), cmp.Compare(b, a))
	})
	if got := m.OperatorCases(agent, groups, 0, MaxOperatorCases); !slices.Equal(got, want) && len(got)+len(want) > 0 {
		w.fatalf("OperatorCases(%s): got %v, want %v", agent, got, want)
	}
	size := 1 + w.rng.IntN(7)
	var paged []int64
	for page := 0; ; page++ {
		got := m.OperatorCases(agent, groups, page, size)
		if len(got) > size {
			w.fatalf("OperatorCases(%s, page %d, size %d): got %d ids, want at most %d", agent, page, size, len(got), size)
		}
		if len(got) == 0 {
			break
		}
		paged = append(paged, got...)
	}
	if !slices.Equal(paged, want) && len(paged)+len(want) > 0 {
		w.fatalf("OperatorCases(%s) by pages of %d: got %v, want %v", agent, size, paged, want)
	}
}

func TestPropertyIncrementalEqualsRebuild(t *testing.T) {
	for seed := uint64(1); seed <= 40; seed++ {
		t.Run(fmt.Sprint("seed=", seed), func(t *testing.T) {
			w := newWorld(t, seed)
			for i := 0; i < 600; i++ {
				w.step()
				if i%100 == 99 {
					w.check(w.model)
				}
			}
			w.check(w.model)

			log := w.log()
			rebuilt := NewModel()
			for _, r := range log {
				rebuilt.Apply(r)
			}
			if got, want := rebuilt.Canonical(), w.model.Canonical(); !bytes.Equal(got, want) {
				w.fatalf("rebuilt model differs from the incremental one:\nrebuilt:\n%s\nincremental:\n%s", got, want)
			}
			w.check(rebuilt)

			// A replay overlapping what was applied changes nothing.
			before := w.model.Canonical()
			for _, r := range log[len(log)/2:] {
				w.model.Apply(r)
			}
			if after := w.model.Canonical(); !bytes.Equal(after, before) {
				w.fatalf("overlapping replay changed the model:\nbefore:\n%s\nafter:\n%s", before, after)
			}
		})
	}
}
