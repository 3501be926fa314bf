package aggregate

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/casestream/casestream/events"
)

// fakeDirectory is a directory snapshot for the rule tables.
type fakeDirectory struct {
	operators map[string]events.Operator // by lower-case email
	groups    map[string]events.OperatorGroup
	types     map[string]events.ServiceType
}

func (d fakeDirectory) OperatorByEmail(email string) (events.Operator, bool) {
	op, ok := d.operators[strings.ToLower(email)]
	return op, ok
}
func (d fakeDirectory) GroupByName(name string) (events.OperatorGroup, bool) {
	g, ok := d.groups[name]
	return g, ok
}
func (d fakeDirectory) ServiceType(id string) (events.ServiceType, bool) {
	t, ok := d.types[id]
	return t, ok
}

var (
	t0    = time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	alice = events.Operator{UserID: "u-alice", Email: "alice@example.com", ServiceTypes: []string{"*"}}
	bob   = events.Operator{UserID: "u-bob", Email: "bob@example.com", ServiceTypes: []string{"LOANS"}}
	carol = events.Operator{UserID: "u-carol", Email: "carol@example.com", ServiceTypes: []string{"*"}, Blocked: true}
	dir   = fakeDirectory{
		operators: map[string]events.Operator{"alice@example.com": alice, "bob@example.com": bob, "carol@example.com": carol},
		groups:    map[string]events.OperatorGroup{"Tier 2": {GroupID: "g2", Name: "Tier 2"}},
		types: map[string]events.ServiceType{
			"t-acc":   {ServiceTypeID: "t-acc", Code: "ACCOUNTS"},
			"t-loans": {ServiceTypeID: "t-loans", Code: "LOANS"},
		},
	}
)

// opened returns a Waiting case of type t-acc with the given further events applied.
func opened(evs ...events.Event) Case {
	var c Case
	c.Apply(t0, events.CaseOpened{CaseInstanceID: 7, CaseID: "c-7", ServiceTypeID: "t-acc", UnitID: "unit", InboxID: "inbox", Status: events.StatusWaiting})
	for i, ev := range evs {
		c.Apply(t0.Add(time.Duration(i+1)*time.Minute), ev)
	}
	return c
}

func TestAssignRulesInOrder(t *testing.T) {
	resolved := opened(events.CaseResolved{From: events.StatusWaiting})
	closed := opened(events.CaseClosed{From: events.StatusWaiting})
	tests := []struct {
		name         string
		c            Case
		caller       events.Operator
		email, group string
		want         error
	}{
		{"both given", opened(), alice, "bob@example.com", "Tier 2", ErrAssignmentInvalid},
		{"both given beats unknown case", Case{}, alice, "x@example.com", "nope", ErrAssignmentInvalid},
		{"neither given", opened(), alice, "", "", ErrAssignmentMissing},
		{"blank counts as missing", opened(), alice, "  ", "", ErrAssignmentMissing},
		{"neither beats unknown case", Case{}, alice, "", "", ErrAssignmentMissing},
		{"no such case", Case{}, alice, "bob@example.com", "", ErrCaseInvalidID},
		{"caller may not act", opened(), bob, "alice@example.com", "", ErrCaseInvalidID},
		{"no such case beats unknown operator", Case{}, alice, "nobody@example.com", "", ErrCaseInvalidID},
		{"unknown operator", opened(), alice, "nobody@example.com", "", ErrOperatorNotValid},
		{"unknown group", opened(), alice, "", "Tier 9", ErrGroupInvalidName},
		{"unknown operator beats closed", closed, alice, "nobody@example.com", "", ErrOperatorNotValid},
		{"target not authorized", opened(), alice, "bob@example.com", "", ErrNotAuthorized},
		{"not authorized beats closed", closed, alice, "bob@example.com", "", ErrNotAuthorized},
		{"target blocked", opened(), alice, "carol@example.com", "", ErrOperatorBlocked},
		{"blocked beats closed", closed, alice, "carol@example.com", "", ErrOperatorBlocked},
		{"resolved", resolved, alice, "alice@example.com", "", ErrAlreadyClosed},
		{"closed, to a group", closed, alice, "", "Tier 2", ErrAlreadyClosed},
		{"ok to operator, email any case", opened(), alice, "ALICE@example.com", "", nil},
		{"ok to group", opened(), alice, "", "Tier 2", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			evs, err := tt.c.Assign(dir, tt.caller, tt.email, tt.group)
			if !errors.Is(err, tt.want) || (tt.want == nil && err != nil) {
				t.Fatalf("got %v, want %v", err, tt.want)
			}
			if tt.want == nil && len(evs) != 1 {
				t.Fatalf("got %d events, want 1", len(evs))
			}
			if tt.want != nil && evs != nil {
				t.Fatalf("got events %v with an error", evs)
			}
		})
	}
}

func TestAssignStateAndNoOp(t *testing.T) {
	c := opened()
	evs, err := c.Assign(dir, alice, "alice@example.com", "")
	if err != nil {
		t.Fatal(err)
	}
	c.Apply(t0.Add(time.Minute), evs[0])
	if c.Status != events.StatusActive || c.AssignedTo != "u-alice" || c.LockedBy != "u-alice" || c.AssignedGroup != "" {
		t.Fatalf("after assignment to alice got %+v", c)
	}
	if evs, err := c.Assign(dir, alice, "alice@example.com", ""); err != nil || len(evs) != 0 {
		t.Fatalf("assigning again: got %v, %v; want no event", evs, err)
	}
	evs, _ = c.Assign(dir, alice, "", "Tier 2")
	ev := evs[0].(events.CaseAssigned)
	if ev.Previous.OperatorID != "u-alice" || ev.To.GroupName != "Tier 2" || ev.Status != events.StatusWaiting {
		t.Fatalf("got %+v", ev)
	}
	c.Apply(t0.Add(2*time.Minute), ev)
	if c.Status != events.StatusWaiting || c.AssignedTo != "" || c.LockedBy != "" || c.AssignedGroup != "Tier 2" {
		t.Fatalf("after assignment to group got %+v", c)
	}
	if evs, err := c.Assign(dir, alice, "", "Tier 2"); err != nil || len(evs) != 0 {
		t.Fatalf("assigning to the group again: got %v, %v; want no event", evs, err)
	}
}

func TestTransition(t *testing.T) {
	tests := []struct {
		name   string
		c      Case
		status string
		want   error
		events int
	}{
		{"unknown status", opened(), "Done", ErrStatusInvalid, 0},
		{"empty status", opened(), "", ErrStatusInvalid, 0},
		{"same status", opened(), events.StatusWaiting, nil, 0},
		{"to pending", opened(), events.StatusPending, nil, 1},
		{"to resolved", opened(), events.StatusResolved, nil, 1},
		{"resolved to closed", opened(events.CaseResolved{}), events.StatusClosed, nil, 1},
		{"resolved to active", opened(events.CaseResolved{}), events.StatusActive, ErrAlreadyClosed, 0},
		{"closed", opened(events.CaseClosed{}), events.StatusActive, ErrAlreadyClosed, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			evs, err := tt.c.Transition(tt.status)
			if !errors.Is(err, tt.want) || (tt.want == nil && err != nil) || len(evs) != tt.events {
				t.Fatalf("got %v, %v; want %d events, %v", evs, err, tt.events, tt.want)
			}
		})
	}
}

func TestAgentCommands(t *testing.T) {
	active := opened(events.CaseServiceStarted{AgentID: "u-alice"})
	waiting := opened()
	if _, err := waiting.Resolve("u-alice"); !errors.Is(err, ErrWrongStatus) {
		t.Fatalf("resolve waiting: got %v, want %v", err, ErrWrongStatus)
	}
	if _, err := active.Resolve("u-bob"); !errors.Is(err, ErrLockedByOther) {
		t.Fatalf("resolve another's: got %v, want %v", err, ErrLockedByOther)
	}
	if evs, err := active.Resolve("u-alice"); err != nil || len(evs) != 1 {
		t.Fatalf("resolve own: got %v, %v", evs, err)
	}
	if _, err := active.StartService("u-bob", ""); !errors.Is(err, ErrWrongStatus) {
		t.Fatalf("start active: got %v, want %v", err, ErrWrongStatus)
	}
	if active.Status != events.StatusActive || active.LockedBy != "u-alice" || active.AssignedTo != "u-alice" {
		t.Fatalf("after start got %+v", active)
	}
	c := opened()
	evs, _ := c.AddNote("called back")
	c.Apply(t0, evs[0])
	evs, _ = c.AddNote("second")
	if n := evs[0].(events.CaseNoteAdded).NoteID; n != 2 {
		t.Fatalf("second note id: got %d, want 2", n)
	}
	if _, err := c.AddNote(" "); !errors.Is(err, ErrDescriptionMissing) {
		t.Fatalf("blank note: got %v, want %v", err, ErrDescriptionMissing)
	}
}
