package projection

import (
	"bytes"
	"encoding/json"
	"path/filepath"
	"testing"
	"time"

	"github.com/casestream/casestream/events"
	"github.com/casestream/casestream/internal/golden"
)

// demoDir is a directory with the names the listing tests show.
func demoDir(tb testing.TB) testDir {
	d := newDir(tb)
	d.define(
		events.Unit{UnitID: "u1", Name: "Main branch"},
		events.Inbox{InboxID: "in1", UnitID: "u1", Name: "Front desk", ColorCode: "#3366ff"},
		events.ServiceType{ServiceTypeID: "type-1", Code: "T1", Name: "Passport renewal", ServiceCategoryID: "cat-1"},
		events.ServiceCategory{ServiceCategoryID: "cat-1", Code: "C1", Name: "Documents"},
		events.Workspace{WorkspaceID: "ws1", UnitID: "u1", Name: "Front", InboxIDs: []string{"in1"}},
		events.Operator{UserID: "a", Email: "ada@example.com", DisplayName: "Ada Lovelace", Initials: "AL", Picture: "https://example.com/ada.png", Units: []string{"u1"}, Workspaces: []string{"ws1"}},
		events.Operator{UserID: "b", Email: "bob@example.com", DisplayName: "Bob", Initials: "B", Units: []string{"u1"}, Workspaces: []string{"ws1"}},
	)
	return d
}

func TestListingGolden(t *testing.T) {
	opened := time.Date(2026, 3, 1, 9, 30, 0, 0, time.UTC)
	rows := []CaseRow{
		{
			CaseInstanceID: 7, CaseID: "5f1d7a2e-8c3b-4d6a-9e0f-1a2b3c4d5e6f",
			Ticket:            events.Ticket{Prefix: "A", Number: 7},
			ServiceCategoryID: "cat-1", ServiceTypeID: "type-1", Status: events.StatusActive,
			StatusDate: opened.Add(90*time.Second + 250*time.Millisecond), ReferenceDate: opened, DateOpened: opened,
			CaseTimestamp: opened.Add(2 * time.Minute), AssignedTo: "a", LockedBy: "a",
			Channel: "FaceToFace", EntryMode: "WalkIn", Rank: 1, UnitID: "u1", InboxID: "in1",
			WorkstationID:      "desk-3",
			Customer:           &events.Customer{DataTableID: "customers", RecordID: "c-42", DisplayName: "Grace Hopper"},
			ContactPhoneNumber: "+41 44 000 00 00", ContactEmail: "grace@example.com",
		},
		{
			// Entities the directory does not know, and a case with no optional fields.
			CaseInstanceID: 9, CaseID: "0b9c8d7e-6f5a-4b3c-8d2e-1f0a9b8c7d6e",
			Ticket:            events.Ticket{Prefix: "B", Suffix: "X", Number: 1234},
			ServiceCategoryID: "cat-gone", ServiceTypeID: "type-gone", Status: events.StatusActive,
			StatusDate: opened.Add(time.Hour), ReferenceDate: opened.Add(time.Minute), DateOpened: opened.Add(time.Minute),
			CaseTimestamp: opened.Add(time.Hour), AssignedTo: "b", LockedBy: "a",
			Rank: 2, UnitID: "u1", InboxID: "in-gone",
		},
	}
	got, err := json.MarshalIndent(Listing(rows, demoDir(t)), "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	golden.Check(t, filepath.Join("testdata", "active_cases.golden"), append(got, '\n'))
}

func TestListingEmpty(t *testing.T) {
	for _, rows := range [][]CaseRow{nil, {}} {
		got, err := json.Marshal(Listing(rows, demoDir(t)))
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != "[]" {
			t.Errorf("got %s, want []", got)
		}
	}
}

func TestListingFieldOrder(t *testing.T) {
	want := []string{"caseId", "ticket", "serviceCategoryId", "serviceCategoryName", "serviceTypeId",
		"serviceTypeName", "status", "statusDate", "referenceDate", "dateOpened", "dateClosed", "assignedTo",
		"lockedBy", "channel", "rank", "unitId", "unitName", "inboxId", "inboxName", "inboxColorCode",
		"caseTimestamp", "workstationId", "workstationName", "customer", "onlineMeeting", "printedTicket",
		"contactPhoneNumber", "contactEmail", "entryMode", "fields", "tags"}
	b, err := json.Marshal(ActiveCase{})
	if err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	if _, err := dec.Token(); err != nil {
		t.Fatal(err)
	}
	var got []string
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, tok.(string))
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			t.Fatal(err)
		}
	}
	if len(got) != len(want) {
		t.Fatalf("got %d fields %v, want %d %v", len(got), got, len(want), want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("field %d: got %s, want %s", i, got[i], want[i])
		}
	}
}

func TestPrintedTicket(t *testing.T) {
	tests := []struct {
		ticket events.Ticket
		want   string
	}{
		{events.Ticket{Prefix: "A", Number: 7}, "A-007"},
		{events.Ticket{Prefix: "A", Suffix: "B", Number: 7}, "A-007-B"},
		{events.Ticket{Prefix: "C", Number: 1234}, "C-1234"},
		{events.Ticket{Number: 12}, "012"},
		{events.Ticket{}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			if got := PrintedTicket(tt.ticket); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestTimestampJSON(t *testing.T) {
	zurich := time.FixedZone("CET", 3600)
	tests := []struct {
		name string
		t    time.Time
		want string
	}{
		{"zero is null", time.Time{}, "null"},
		{"whole second has .000", time.Date(2026, 3, 1, 9, 30, 0, 0, time.UTC), `"2026-03-01T09:30:00.000Z"`},
		{"in UTC", time.Date(2026, 3, 1, 10, 30, 0, 123456789, zurich), `"2026-03-01T09:30:00.123Z"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := json.Marshal(Timestamp{tt.t})
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tt.want {
				t.Errorf("got %s, want %s", got, tt.want)
			}
		})
	}
}
