package directory

import (
	"slices"
	"strings"
	"testing"

	"github.com/casestream/casestream/events"
	"github.com/casestream/casestream/internal/eventstore"
)

func TestApplyIdempotent(t *testing.T) {
	d := New()
	first := record(t, 3, events.KindUnit, downtown, events.Unit{UnitID: downtown, Name: "Downtown"})
	d.Apply(first)
	d.Apply(first) // the same record again, as from a follower after a direct apply
	// An older record of the same subject is ignored even if it says something else.
	d.Apply(record(t, 2, events.KindUnit, downtown, events.Unit{UnitID: downtown, Name: "Old"}))
	// An older sequence on another subject is applied: sequences are per subject.
	d.Apply(record(t, 1, events.KindUnit, airport, events.Unit{UnitID: airport, Name: "Airport"}))

	if u, _ := d.Unit(downtown); u.Name != "Downtown" {
		t.Errorf("downtown: got %q, want Downtown", u.Name)
	}
	if u, _ := d.Unit(airport); u.Name != "Airport" {
		t.Errorf("airport: got %q, want Airport", u.Name)
	}
	if got := d.LastSeq(); got != 3 {
		t.Errorf("LastSeq: got %d, want 3", got)
	}
	if got := d.SubjectSeq(first.Envelope.Subject); got != 3 {
		t.Errorf("SubjectSeq: got %d, want 3", got)
	}
	if got := d.SubjectSeq("directory.unit.none"); got != 0 {
		t.Errorf("SubjectSeq of an unknown subject: got %d, want 0", got)
	}

	d.Apply(record(t, 4, events.KindUnit, downtown, events.Unit{UnitID: downtown, Name: "Downtown Branch"}))
	if u, _ := d.Unit(downtown); u.Name != "Downtown Branch" {
		t.Errorf("after a newer record: got %q, want Downtown Branch", u.Name)
	}
}

func TestApplyUnknownType(t *testing.T) {
	d := New()
	r := record(t, 7, events.KindUnit, downtown, events.Unit{UnitID: downtown})
	r.Envelope.Type = "directory.somethingNew"
	d.Apply(r)
	if _, ok := d.Unit(downtown); ok {
		t.Error("an unknown type defined a unit")
	}
	if d.LastSeq() != 7 || d.SubjectSeq(r.Envelope.Subject) != 7 {
		t.Errorf("sequences: got %d, %d, want 7, 7", d.LastSeq(), d.SubjectSeq(r.Envelope.Subject))
	}
	bad := record(t, 8, events.KindUnit, airport, events.Unit{UnitID: airport})
	bad.Envelope.Data = []byte(`{"unitId": 5}`)
	d.Apply(bad)
	if d.LastSeq() != 8 {
		t.Errorf("LastSeq after undecodable data: got %d, want 8", d.LastSeq())
	}
}

func TestLookups(t *testing.T) {
	_, d := bootstrapDemo(t)
	upper := strings.ToUpper

	t.Run("uuid ids in any case", func(t *testing.T) {
		if op, ok := d.Operator(upper(alice)); !ok || op.Email != "alice@example.com" {
			t.Errorf("Operator: got %+v %v", op, ok)
		}
		if _, ok := d.Unit(upper(airport)); !ok {
			t.Error("Unit: not found")
		}
		if _, ok := d.Application(upper(demoApp)); !ok {
			t.Error("Application: not found")
		}
		if _, ok := d.Workspace(" " + upper(wsBack) + " "); !ok {
			t.Error("Workspace: not found")
		}
	})
	t.Run("emails in any case", func(t *testing.T) {
		for _, e := range []string{"bob@example.com", "BOB@EXAMPLE.COM", " Bob@Example.Com "} {
			if op, ok := d.OperatorByEmail(e); !ok || op.UserID != bob {
				t.Errorf("%q: got %+v %v, want bob", e, op, ok)
			}
		}
		if _, ok := d.OperatorByEmail("nobody@example.com"); ok {
			t.Error("unknown email found")
		}
	})
	t.Run("codes and names exactly", func(t *testing.T) {
		if _, ok := d.ServiceTypeByCode("complaint"); ok {
			t.Error("type code matched in another case")
		}
		if c, ok := d.ServiceCategoryByCode("SUPPORT"); !ok || c.Name != "Support" {
			t.Errorf("category: got %+v %v", c, ok)
		}
		if _, ok := d.GroupByName("tier 1"); ok {
			t.Error("group name matched in another case")
		}
		if _, ok := d.Touchpoint("DEMO-KIOSK"); ok {
			t.Error("touchpoint code matched in another case")
		}
		if a, ok := d.ApplicationByClientID("demo-app"); !ok || a.ApplicationID != demoApp {
			t.Errorf("application: got %+v %v", a, ok)
		}
	})
	t.Run("service types sorted by code", func(t *testing.T) {
		var codes []string
		for _, st := range d.ServiceTypes() {
			codes = append(codes, st.Code)
		}
		want := []string{"COMPLAINT", "LOST_CARD", "OPEN_ACCOUNT", "TRAVEL_HELP"}
		if !slices.Equal(codes, want) {
			t.Errorf("got %v, want %v", codes, want)
		}
	})
	t.Run("groups of an operator", func(t *testing.T) {
		for _, tt := range []struct {
			user string
			want []string
		}{{alice, []string{"Tier 2"}}, {bob, []string{"Tier 1"}}, {"nobody", nil}} {
			var names []string
			for _, g := range d.GroupsOf(upper(tt.user)) {
				names = append(names, g.Name)
			}
			if !slices.Equal(names, tt.want) {
				t.Errorf("%s: got %v, want %v", tt.user, names, tt.want)
			}
		}
	})
	t.Run("service, inbox, type, category", func(t *testing.T) {
		st, ok := d.ServiceTypeByCode("TRAVEL_HELP")
		if !ok {
			t.Fatal("TRAVEL_HELP missing")
		}
		svc, ok := d.Service(st.DefaultServiceID)
		if !ok || svc.TicketPrefix != "C" {
			t.Errorf("service: got %+v %v", svc, ok)
		}
		in, ok := d.Inbox(svc.InboxID)
		if !ok || in.ColorCode != "#FB8C00" {
			t.Errorf("inbox: got %+v %v", in, ok)
		}
		if byID, ok := d.ServiceType(st.ServiceTypeID); !ok || byID.Code != "TRAVEL_HELP" {
			t.Errorf("type by id: got %+v %v", byID, ok)
		}
		if c, ok := d.ServiceCategory(st.ServiceCategoryID); !ok || c.Code != "SUPPORT" {
			t.Errorf("category by id: got %+v %v", c, ok)
		}
	})
}

func TestLookupsReturnCopies(t *testing.T) {
	_, d := bootstrapDemo(t)
	op, _ := d.Operator(alice)
	op.Units[0], op.Roles[0], op.ServiceTypes[0], op.Workspaces[0] = "x", "x", "x", "x"
	op2, _ := d.OperatorByEmail("alice@example.com")
	op2.Units[0] = "y"
	g, _ := d.GroupByName("Tier 1")
	g.Members[0] = "x"
	for _, g := range d.GroupsOf(bob) {
		g.Members[0] = "x"
	}
	w, _ := d.Workspace(wsCounter)
	w.InboxIDs[0] = "x"
	for _, w := range d.WorkspacesOf(alice, downtown) {
		w.InboxIDs[0] = "x"
	}
	a, _ := d.Application(demoApp)
	a.Roles[0] = "x"

	fresh := demoFile(t)
	if op, _ := d.Operator(alice); op.Units[0] != downtown || op.Roles[0] != "Supervisor" || op.ServiceTypes[0] != "*" || op.Workspaces[0] != wsCounter {
		t.Errorf("operator changed through a copy: %+v", op)
	}
	if g, _ := d.GroupByName("Tier 1"); g.Members[0] != fresh.Groups[0].Members[0] {
		t.Errorf("group changed through a copy: %+v", g)
	}
	if w, _ := d.Workspace(wsCounter); w.InboxIDs[0] != fresh.Workspaces[0].InboxIDs[0] {
		t.Errorf("workspace changed through a copy: %+v", w)
	}
	if a, _ := d.Application(demoApp); a.Roles[0] != events.RoleAgentImpersonator {
		t.Errorf("application changed through a copy: %+v", a)
	}
}

func TestAgentStateFold(t *testing.T) {
	_, d := bootstrapDemo(t)
	agent := events.DirectorySubject(events.KindAgent, dave)
	seq := d.LastSeq()
	apply := func(ev events.Event) {
		seq++
		env, err := events.Wrap(events.Meta{ID: "a", Subject: agent}, ev)
		if err != nil {
			t.Fatal(err)
		}
		d.Apply(eventstore.Record{Seq: seq, Envelope: env})
	}
	check := func(name, wantUnit, wantWS string) {
		t.Helper()
		u, w := d.AgentState(dave)
		if u != wantUnit || w != wantWS {
			t.Errorf("%s: got (%q, %q), want (%q, %q)", name, u, w, wantUnit, wantWS)
		}
	}
	check("no unit selected", "", "")
	apply(events.AgentUnitSelected{UserID: dave, UnitID: downtown})
	// Dave's workspaces are Back Office then Counter: the first in the unit is current.
	check("unit selected", downtown, wsBack)
	apply(events.AgentWorkspaceSelected{UserID: dave, WorkspaceID: wsCounter})
	check("workspace selected", downtown, wsCounter)
	apply(events.AgentUnitSelected{UserID: dave, UnitID: downtown})
	check("same unit again keeps the selection", downtown, wsCounter)
	apply(events.AgentUnitSelected{UserID: dave, UnitID: airport})
	check("unit without a workspace of his", airport, "")
	apply(events.AgentUnitSelected{UserID: dave, UnitID: downtown})
	check("back in the first unit: the selection was cleared", downtown, wsBack)

	if got := d.WorkspacesOf(dave, downtown); len(got) != 2 || got[0].WorkspaceID != wsBack || got[1].WorkspaceID != wsCounter {
		t.Errorf("WorkspacesOf: got %+v, want Back Office, Counter", got)
	}
	if got := d.WorkspacesOf(dave, airport); len(got) != 0 {
		t.Errorf("WorkspacesOf another unit: got %+v, want none", got)
	}
	if got := d.WorkspacesOf("nobody", downtown); len(got) != 0 {
		t.Errorf("WorkspacesOf an unknown operator: got %+v, want none", got)
	}
}

// TestAgentStateSelectionGone falls back to the first workspace when the selected one is no
// longer among the operator's workspaces.
func TestAgentStateSelectionGone(t *testing.T) {
	_, d := bootstrapDemo(t)
	agent := events.DirectorySubject(events.KindAgent, dave)
	d.Apply(record(t, 100, events.KindAgent, dave, events.AgentUnitSelected{UserID: dave, UnitID: downtown}))
	d.Apply(record(t, 101, events.KindAgent, dave, events.AgentWorkspaceSelected{UserID: dave, WorkspaceID: wsCounter}))
	if got := d.SubjectSeq(agent); got != 101 {
		t.Fatalf("agent subject seq: got %d, want 101", got)
	}
	op, _ := d.Operator(dave)
	op.Workspaces = []string{wsBack}
	d.Apply(record(t, 102, events.KindOperator, dave, op))
	if _, w := d.AgentState(dave); w != wsBack {
		t.Errorf("got %q, want %q", w, wsBack)
	}
}
