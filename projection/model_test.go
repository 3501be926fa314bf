package projection

import (
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/casestream/casestream/events"
)

func activeIDs(rows []CaseRow) []int64 {
	out := make([]int64, len(rows))
	for i, r := range rows {
		out[i] = r.CaseInstanceID
	}
	return out
}

func TestActiveCasesRank(t *testing.T) {
	m := NewModel()
	f := newFeed(t, m)
	for id := int64(1); id <= 4; id++ {
		f.apply(id, opened(id, "u1", "in1", ""))
	}
	f.apply(3, toOperator("a"))
	f.apply(1, toOperator("a"))
	f.apply(2, toOperator("b"))
	f.apply(4, events.CaseServiceStarted{AgentID: "a", WorkstationID: "ws-9"})

	steps := []struct {
		name string
		ev   func()
		want []int64
	}{
		{"in the order taken", func() {}, []int64{3, 1, 4}},
		{"pending leaves", func() { f.apply(3, events.CaseStatusChanged{From: "Active", To: "Pending"}) }, []int64{1, 4}},
		{"active again goes last", func() { f.apply(3, events.CaseStatusChanged{From: "Pending", To: "Active"}) }, []int64{1, 4, 3}},
		{"resolved leaves", func() { f.apply(1, events.CaseResolved{From: "Active"}) }, []int64{4, 3}},
		{"assigned to another leaves", func() { f.apply(4, toOperator("b")) }, []int64{3}},
		{"back to waiting leaves", func() { f.apply(3, events.CaseStatusChanged{From: "Active", To: "Waiting"}) }, []int64{}},
		{"assigned again", func() { f.apply(2, toOperator("a")) }, []int64{2}},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			st.ev()
			rows := m.ActiveCases("a", "u1")
			if got := activeIDs(rows); !slices.Equal(got, st.want) {
				t.Fatalf("got %v, want %v", got, st.want)
			}
			for i, r := range rows {
				if r.Rank != i+1 {
					t.Errorf("case %d: got rank %d, want %d", r.CaseInstanceID, r.Rank, i+1)
				}
				if r.Status != events.StatusActive || r.LockedBy != "a" || r.UnitID != "u1" {
					t.Errorf("case %d: got status %s lockedBy %q unit %q", r.CaseInstanceID, r.Status, r.LockedBy, r.UnitID)
				}
			}
		})
	}
	if got := m.ActiveCases("a", "u2"); len(got) != 0 {
		t.Errorf("other unit: got %v, want none", activeIDs(got))
	}
}

func TestActiveCasesRow(t *testing.T) {
	m := NewModel()
	f := newFeed(t, m)
	o := opened(7, "u1", "in1", "")
	o.Customer = &events.Customer{DataTableID: "dt", RecordID: "r1", DisplayName: "Ada"}
	o.ContactEmail = "ada@example.com"
	f.apply(7, o)
	f.apply(7, events.CaseServiceStarted{AgentID: "a", WorkstationID: "ws-1"})
	f.apply(7, events.CaseNoteAdded{NoteID: 1, Description: "hello"})
	rows := m.ActiveCases("a", "u1")
	if len(rows) != 1 {
		t.Fatalf("got %d rows, want 1", len(rows))
	}
	got := rows[0]
	want := CaseRow{
		CaseInstanceID: 7, CaseID: caseUUID(7), Ticket: events.Ticket{Prefix: "A", Number: 7},
		ServiceCategoryID: "cat-1", ServiceTypeID: "type-1", Status: "Active",
		StatusDate: t0.Add(2 * time.Second), ReferenceDate: t0.Add(time.Second), DateOpened: t0.Add(time.Second),
		CaseTimestamp: t0.Add(3 * time.Second), AssignedTo: "a", LockedBy: "a", Channel: "FaceToFace",
		EntryMode: "WalkIn", Rank: 1, UnitID: "u1", InboxID: "in1", WorkstationID: "ws-1",
		Customer: o.Customer, ContactEmail: "ada@example.com",
	}
	gb, _ := json.Marshal(got)
	wb, _ := json.Marshal(want)
	if string(gb) != string(wb) {
		t.Fatalf("got %s, want %s", gb, wb)
	}
	// Rows are copies: changing one changes nothing in the model.
	rows[0].Customer.DisplayName = "changed"
	if again := m.ActiveCases("a", "u1"); again[0].Customer.DisplayName != "Ada" {
		t.Errorf("got customer %q after changing a copy, want Ada", again[0].Customer.DisplayName)
	}
}

// TestCaseUpdatedRetypes checks that an update of a case's type shows in its row, and that
// one of its custom fields alone changes nothing the listing holds.
func TestCaseUpdatedRetypes(t *testing.T) {
	m := NewModel()
	f := newFeed(t, m)
	f.apply(7, opened(7, "u1", "in1", ""))
	f.apply(7, events.CaseServiceStarted{AgentID: "a"})
	f.apply(7, events.CaseUpdated{CaseData: json.RawMessage(`{"k":1}`)})
	if rows := m.ActiveCases("a", "u1"); len(rows) != 1 || rows[0].ServiceTypeID != "type-1" || rows[0].ServiceCategoryID != "cat-1" {
		t.Fatalf("after a custom fields update: got %+v, want type-1 in cat-1", rows)
	}
	f.apply(7, events.CaseUpdated{ServiceTypeID: "type-2", ServiceCategoryID: "cat-2"})
	rows := m.ActiveCases("a", "u1")
	if len(rows) != 1 || rows[0].ServiceTypeID != "type-2" || rows[0].ServiceCategoryID != "cat-2" {
		t.Fatalf("after a type update: got %+v, want type-2 in cat-2", rows)
	}
}

func TestApplySequence(t *testing.T) {
	m := NewModel()
	r1 := caseRecord(t, 5, 1, t0, opened(1, "u1", "in1", ""))
	m.Apply(r1)
	m.Apply(caseRecord(t, 3, 2, t0, opened(2, "u1", "in1", ""))) // below: ignored
	m.Apply(r1)                                                  // replayed: ignored
	before := string(m.Canonical())

	other := dirRecord(t, 6, events.Unit{UnitID: "u1", Name: "x"})
	m.Apply(other) // not a case subject: advances the sequence only
	unknown := caseRecord(t, 7, 1, t0, events.CaseNoteAdded{NoteID: 1, Description: "x"})
	unknown.Envelope.Type = "case.somethingNew"
	m.Apply(unknown)
	broken := caseRecord(t, 8, 1, t0, events.CaseNoteAdded{NoteID: 1, Description: "x"})
	broken.Envelope.Data = json.RawMessage(`{"noteId":"nope"}`)
	m.Apply(broken)
	m.Apply(caseRecord(t, 9, 99, t0, toOperator("a"))) // never opened

	if got := m.LastSeq(); got != 9 {
		t.Errorf("got last seq %d, want 9", got)
	}
	if got := m.Skipped(); got != 1 {
		t.Errorf("got %d skipped, want 1 (the undecodable record)", got)
	}
	if _, ok := m.CaseInstanceID(caseUUID(2)); ok {
		t.Errorf("case 2 applied below the last sequence")
	}
	after := string(m.Canonical())
	wantAfter := "lastSeq 9 skipped 1" + before[len("lastSeq 5 skipped 0"):]
	if after != wantAfter {
		t.Errorf("got state\n%s\nwant\n%s", after, wantAfter)
	}
}

func TestQueues(t *testing.T) {
	m := NewModel()
	var seq uint64
	apply := func(id int64, at time.Time, ev events.Event) {
		seq++
		m.Apply(caseRecord(t, seq, id, at, ev))
	}
	// Timestamps out of stream order: the queue orders by time, then by sequence.
	apply(1, t0.Add(5*time.Second), opened(1, "u1", "in1", ""))
	apply(2, t0.Add(1*time.Second), opened(2, "u1", "in1", ""))
	apply(3, t0.Add(1*time.Second), opened(3, "u1", "in2", ""))
	apply(4, t0.Add(3*time.Second), opened(4, "u1", "in1", "g1"))
	apply(5, t0.Add(2*time.Second), opened(5, "u1", "in9", "g2"))
	apply(6, t0.Add(4*time.Second), opened(6, "u1", "in1", ""))

	tests := []struct {
		name    string
		inboxes []string
		groups  []string
		limit   int
		want    []int64
	}{
		{"one inbox", []string{"in1"}, nil, 10, []int64{2, 6, 1}},
		{"limit", []string{"in1"}, nil, 2, []int64{2, 6}},
		{"two inboxes, ties by sequence", []string{"in2", "in1"}, nil, 10, []int64{2, 3, 6, 1}},
		{"inboxes and groups", []string{"in1"}, []string{"g1", "g2"}, 10, []int64{2, 5, 4, 6, 1}},
		{"group only", nil, []string{"g2"}, 10, []int64{5}},
		{"repeated queue", []string{"in1", "in1"}, []string{"g1", "g1"}, 10, []int64{2, 4, 6, 1}},
		{"nothing", []string{"nope"}, []string{""}, 10, []int64{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := m.NextWaiting(tt.inboxes, tt.groups, tt.limit); !slices.Equal(got, tt.want) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}

	positions := []struct {
		id   int64
		want int
		ok   bool
	}{{2, 1, true}, {6, 2, true}, {1, 3, true}, {3, 1, true}, {4, 1, true}, {5, 1, true}, {42, 0, false}}
	for _, p := range positions {
		got, ok := m.QueuePosition(p.id)
		if got != p.want || ok != p.ok {
			t.Errorf("position of %d: got %d %v, want %d %v", p.id, got, ok, p.want, p.ok)
		}
	}

	// Moving a waiting case to a group keeps its time: case 2 is first in g1 now.
	apply(2, t0.Add(10*time.Second), toGroup("g1"))
	if got, _ := m.QueuePosition(2); got != 1 {
		t.Errorf("position of 2 in g1: got %d, want 1", got)
	}
	if got, _ := m.QueuePosition(4); got != 2 {
		t.Errorf("position of 4 in g1: got %d, want 2", got)
	}
	if got, _ := m.QueuePosition(1); got != 2 {
		t.Errorf("position of 1 in in1: got %d, want 2", got)
	}
	// Taking a case removes it; going back to Waiting queues it at its new time.
	apply(6, t0.Add(11*time.Second), events.CaseServiceStarted{AgentID: "a"})
	if got, ok := m.QueuePosition(6); ok {
		t.Errorf("position of an active case: got %d, want none", got)
	}
	apply(6, t0.Add(12*time.Second), events.CaseStatusChanged{From: "Active", To: "Waiting"})
	if got := m.NextWaiting([]string{"in1"}, nil, 10); !slices.Equal(got, []int64{1, 6}) {
		t.Errorf("after requeue: got %v, want [1 6]", got)
	}
}

func TestAssignedOpen(t *testing.T) {
	m := NewModel()
	f := newFeed(t, m)
	for id := int64(1); id <= 5; id++ {
		f.apply(id, opened(id, "u1", "in1", ""))
	}
	f.apply(4, toOperator("a"))
	f.apply(2, toOperator("a"))
	f.apply(5, toOperator("a"))
	f.apply(1, toOperator("b"))
	f.apply(5, events.CaseStatusChanged{From: "Active", To: "Pending"}) // still open
	f.apply(4, events.CaseResolved{From: "Active"})
	f.apply(1, toGroup("g"))
	f.apply(3, events.CaseServiceStarted{AgentID: "a"})
	f.apply(3, events.CaseStatusChanged{From: "Active", To: "Waiting"}) // still assigned

	tests := []struct {
		op   string
		want []int64
	}{{"a", []int64{2, 3, 5}}, {"b", nil}, {"nobody", nil}}
	for _, tt := range tests {
		t.Run(tt.op, func(t *testing.T) {
			if got := m.AssignedOpen(tt.op); !slices.Equal(got, tt.want) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestCaseInstanceID(t *testing.T) {
	m := NewModel()
	f := newFeed(t, m)
	f.apply(1, opened(1, "u1", "in1", ""))
	odd := opened(2, "u1", "in1", "")
	odd.CaseID = "not-a-uuid"
	f.apply(2, odd)
	upper := opened(3, "u1", "in1", "")
	upper.CaseID = "A0000000-0000-4000-8000-000000000003"
	f.apply(3, upper)
	f.apply(1, events.CaseClosed{From: "Waiting"})

	tests := []struct {
		caseID string
		want   int64
		ok     bool
	}{
		{caseUUID(1), 1, true}, // closed cases keep their index entry
		{"not-a-uuid", 2, true},
		{"A0000000-0000-4000-8000-000000000003", 3, true},
		{"a0000000-0000-4000-8000-000000000003", 0, false},
		{caseUUID(9), 0, false},
		{"", 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.caseID, func(t *testing.T) {
			got, ok := m.CaseInstanceID(tt.caseID)
			if got != tt.want || ok != tt.ok {
				t.Errorf("got %d %v, want %d %v", got, ok, tt.want, tt.ok)
			}
		})
	}
	if _, ok := m.QueuePosition(1); ok {
		t.Errorf("closed case has a queue position")
	}
}

func TestOpenedWithoutStatusWaits(t *testing.T) {
	m := NewModel()
	o := opened(1, "u1", "in1", "")
	o.Status = ""
	m.Apply(caseRecord(t, 1, 1, t0, o))
	if got := m.NextWaiting([]string{"in1"}, nil, 5); !slices.Equal(got, []int64{1}) {
		t.Errorf("got %v, want [1]", got)
	}
}

func TestActiveCounts(t *testing.T) {
	m := NewModel()
	f := newFeed(t, m)
	for id := int64(1); id <= 4; id++ {
		unit := "u1"
		if id == 4 {
			unit = "u2"
		}
		f.apply(id, opened(id, unit, "in1", ""))
	}
	f.apply(1, toOperator("b"))
	f.apply(2, toOperator("a"))
	f.apply(3, toOperator("b"))
	f.apply(4, toOperator("b"))
	f.apply(2, events.CaseResolved{From: "Active"})
	want := []ActiveCount{{AgentID: "b", UnitID: "u1", Cases: 2}, {AgentID: "b", UnitID: "u2", Cases: 1}}
	if got := m.ActiveCounts(); !slices.Equal(got, want) {
		t.Errorf("got %+v, want %+v", got, want)
	}
}
