package projection

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/casestream/casestream/events"
	"github.com/casestream/casestream/internal/eventstore"
)

// fakeDir is an in-memory directory view for tests: it implements Directory and, for the
// aggregate's commands, aggregate.Directory.
type fakeDir struct {
	mu         sync.Mutex // guards every field below
	lastSeq    uint64
	operators  map[string]events.Operator
	units      map[string]events.Unit
	inboxes    map[string]events.Inbox
	types      map[string]events.ServiceType
	categories map[string]events.ServiceCategory
	groups     map[string]events.OperatorGroup
	agentUnit  map[string]string
	agentWS    map[string]string
}

var _ Directory = (*fakeDir)(nil)

func newFakeDir() *fakeDir {
	return &fakeDir{
		operators:  map[string]events.Operator{},
		units:      map[string]events.Unit{},
		inboxes:    map[string]events.Inbox{},
		types:      map[string]events.ServiceType{},
		categories: map[string]events.ServiceCategory{},
		groups:     map[string]events.OperatorGroup{},
		agentUnit:  map[string]string{},
		agentWS:    map[string]string{},
	}
}

func (d *fakeDir) Operator(id string) (events.Operator, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	o, ok := d.operators[id]
	return o, ok
}

func (d *fakeDir) Unit(id string) (events.Unit, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	u, ok := d.units[id]
	return u, ok
}

func (d *fakeDir) Inbox(id string) (events.Inbox, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	i, ok := d.inboxes[id]
	return i, ok
}

func (d *fakeDir) ServiceType(id string) (events.ServiceType, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	t, ok := d.types[id]
	return t, ok
}

func (d *fakeDir) ServiceCategory(id string) (events.ServiceCategory, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	c, ok := d.categories[id]
	return c, ok
}

func (d *fakeDir) AgentState(userID string) (string, string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.agentUnit[userID], d.agentWS[userID]
}

func (d *fakeDir) OperatorByEmail(email string) (events.Operator, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, o := range d.operators {
		if strings.EqualFold(o.Email, email) {
			return o, true
		}
	}
	return events.Operator{}, false
}

func (d *fakeDir) GroupByName(name string) (events.OperatorGroup, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	g, ok := d.groups[name]
	return g, ok
}

func (d *fakeDir) GroupsOf(userID string) []events.OperatorGroup {
	d.mu.Lock()
	defer d.mu.Unlock()
	var out []events.OperatorGroup
	for _, g := range d.groups {
		if slices.Contains(g.Members, userID) {
			out = append(out, g)
		}
	}
	slices.SortFunc(out, func(a, b events.OperatorGroup) int { return strings.Compare(a.Name, b.Name) })
	return out
}

func (d *fakeDir) LastSeq() uint64 {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.lastSeq
}

// Apply folds the directory events the projection reads.
func (d *fakeDir) Apply(r eventstore.Record) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if r.Seq <= d.lastSeq {
		return
	}
	d.lastSeq = r.Seq
	ev, err := events.Decode(r.Envelope)
	if err != nil {
		return
	}
	d.put(ev)
}

func (d *fakeDir) put(ev events.Event) {
	switch e := ev.(type) {
	case events.Operator:
		d.operators[e.UserID] = e
	case events.Unit:
		d.units[e.UnitID] = e
	case events.Inbox:
		d.inboxes[e.InboxID] = e
	case events.ServiceType:
		d.types[e.ServiceTypeID] = e
	case events.ServiceCategory:
		d.categories[e.ServiceCategoryID] = e
	case events.OperatorGroup:
		d.groups[e.Name] = e
	case events.AgentUnitSelected:
		d.agentUnit[e.UserID] = e.UnitID
		delete(d.agentWS, e.UserID)
	case events.AgentWorkspaceSelected:
		d.agentWS[e.UserID] = e.WorkspaceID
	}
}

// define stores entities directly, without a sequence.
func (d *fakeDir) define(evs ...events.Event) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, ev := range evs {
		d.put(ev)
	}
}

// t0 is the time of the first event of the tests.
var t0 = time.Date(2026, 3, 1, 9, 30, 0, 0, time.UTC)

// caseRecord wraps ev as the record at seq on the subject of case id.
func caseRecord(tb testing.TB, seq uint64, id int64, at time.Time, ev events.Event) eventstore.Record {
	tb.Helper()
	env, err := events.Wrap(events.Meta{
		ID:         fmt.Sprintf("ev-%d", seq),
		Subject:    events.CaseSubject(id),
		OccurredAt: at,
		Actor:      events.Actor{Kind: events.ActorSystem, ID: "test"},
	}, ev)
	if err != nil {
		tb.Fatalf("wrap: %v", err)
	}
	return eventstore.Record{Seq: seq, Envelope: env}
}

// dirRecord wraps a directory event as the record at seq.
func dirRecord(tb testing.TB, seq uint64, ev events.Event) eventstore.Record {
	tb.Helper()
	env, err := events.Wrap(events.Meta{
		ID:         fmt.Sprintf("dir-%d", seq),
		Subject:    events.DirectorySubject("test", fmt.Sprint(seq)),
		OccurredAt: t0,
		Actor:      events.Actor{Kind: events.ActorSystem, ID: "test"},
	}, ev)
	if err != nil {
		tb.Fatalf("wrap: %v", err)
	}
	return eventstore.Record{Seq: seq, Envelope: env}
}

// feed applies case events to a model in order, one second apart from t0, numbering
// records from 1.
type feed struct {
	tb  testing.TB
	m   *Model
	seq uint64
	at  time.Time
}

func newFeed(tb testing.TB, m *Model) *feed { return &feed{tb: tb, m: m, at: t0} }

func (f *feed) apply(id int64, ev events.Event) uint64 {
	f.tb.Helper()
	f.seq++
	f.at = f.at.Add(time.Second)
	f.m.Apply(caseRecord(f.tb, f.seq, id, f.at, ev))
	return f.seq
}

// caseUUID returns a canonical uuid for case id.
func caseUUID(id int64) string {
	return fmt.Sprintf("00000000-0000-4000-8000-%012d", id)
}

func opened(id int64, unit, inbox, group string) events.CaseOpened {
	return events.CaseOpened{
		CaseInstanceID:    id,
		CaseID:            caseUUID(id),
		ServiceTypeID:     "type-1",
		ServiceCategoryID: "cat-1",
		ServiceID:         "svc-1",
		UnitID:            unit,
		InboxID:           inbox,
		Status:            events.StatusWaiting,
		AssignedGroup:     group,
		Ticket:            events.Ticket{Prefix: "A", Number: int(id)},
		Channel:           "FaceToFace",
		EntryMode:         "WalkIn",
	}
}

func toOperator(op string) events.CaseAssigned {
	return events.CaseAssigned{To: events.Assignment{OperatorID: op}, Status: events.StatusActive}
}

func toGroup(g string) events.CaseAssigned {
	return events.CaseAssigned{To: events.Assignment{GroupName: g}, Status: events.StatusWaiting}
}
