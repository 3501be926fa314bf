package aggregate

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/casestream/casestream/events"
)

// auditDirectory is dir with the lookups by id that Check needs.
type auditDirectory struct {
	fakeDirectory
	fakeCatalog
}

func (d auditDirectory) Operator(userID string) (events.Operator, bool) {
	for _, op := range d.operators {
		if op.UserID == userID {
			return op, true
		}
	}
	return events.Operator{}, false
}

func (auditDirectory) ServiceCategory(id string) (events.ServiceCategory, bool) {
	c, ok := map[string]events.ServiceCategory{
		"c-acc": {ServiceCategoryID: "c-acc", Code: "ACC"},
		"c-loa": {ServiceCategoryID: "c-loa", Code: "LOA"},
	}[id]
	return c, ok
}

func TestCheck(t *testing.T) {
	audit := auditDirectory{fakeDirectory: dir}
	waiting := opened()
	active := opened(events.CaseAssigned{To: events.Assignment{OperatorID: alice.UserID}, Status: events.StatusActive})
	closed := opened(events.CaseClosed{From: events.StatusWaiting})
	withNote := opened(events.CaseNoteAdded{NoteID: 1, Description: "a"})
	withFile := opened(events.CaseFileAttached{FileID: "f1"})
	tests := []struct {
		name string
		c    Case
		ev   events.Event
		want error // nil: allowed
	}{
		{"open a new case", Case{}, events.CaseOpened{CaseInstanceID: 7}, nil},
		{"open twice", waiting, events.CaseOpened{CaseInstanceID: 7}, ErrNoCase},
		{"an event before the opening", Case{}, events.CaseNoteAdded{NoteID: 1, Description: "a"}, ErrNoCase},
		{"assign to an operator", waiting, events.CaseAssigned{To: events.Assignment{OperatorID: alice.UserID}, Status: events.StatusActive}, nil},
		{"assign to an unknown operator", waiting, events.CaseAssigned{To: events.Assignment{OperatorID: "u-nobody"}, Status: events.StatusActive}, ErrOperatorNotValid},
		{"assign to a blocked operator", waiting, events.CaseAssigned{To: events.Assignment{OperatorID: carol.UserID}, Status: events.StatusActive}, ErrOperatorBlocked},
		{"assign to an operator of other types", waiting, events.CaseAssigned{To: events.Assignment{OperatorID: bob.UserID}, Status: events.StatusActive}, ErrNotAuthorized},
		{"assign to a group", waiting, events.CaseAssigned{To: events.Assignment{GroupName: "Tier 2"}, Status: events.StatusWaiting}, nil},
		{"assign to an unknown group", waiting, events.CaseAssigned{To: events.Assignment{GroupName: "Tier 9"}, Status: events.StatusWaiting}, ErrGroupInvalidName},
		{"assign a closed case", closed, events.CaseAssigned{To: events.Assignment{OperatorID: alice.UserID}, Status: events.StatusActive}, ErrAlreadyClosed},
		{"assign to the current operator", active, events.CaseAssigned{To: events.Assignment{OperatorID: alice.UserID}, Previous: events.Assignment{OperatorID: alice.UserID}, Status: events.StatusActive}, ErrNotDecided},
		{"a wrong previous assignment", waiting, events.CaseAssigned{To: events.Assignment{OperatorID: alice.UserID}, Previous: events.Assignment{GroupName: "Tier 2"}, Status: events.StatusActive}, ErrNotDecided},
		{"start a waiting case", waiting, events.CaseServiceStarted{AgentID: alice.UserID}, nil},
		{"start an active case", active, events.CaseServiceStarted{AgentID: alice.UserID}, ErrWrongStatus},
		{"start by an unknown agent", waiting, events.CaseServiceStarted{AgentID: "u-nobody"}, ErrOperatorNotValid},
		{"pend an active case", active, events.CaseStatusChanged{From: events.StatusActive, To: events.StatusPending}, nil},
		{"a wrong from status", active, events.CaseStatusChanged{From: events.StatusWaiting, To: events.StatusPending}, ErrNotDecided},
		{"move a closed case", closed, events.CaseStatusChanged{From: events.StatusClosed, To: events.StatusActive}, ErrAlreadyClosed},
		{"resolve with a resolution", active, events.CaseResolved{From: events.StatusActive, Resolution: "Done"}, nil},
		{"resolve a closed case", closed, events.CaseResolved{From: events.StatusClosed}, ErrAlreadyClosed},
		{"close a waiting case", waiting, events.CaseClosed{From: events.StatusWaiting}, nil},
		{"close a closed case", closed, events.CaseClosed{From: events.StatusClosed}, ErrNotDecided},
		{"add note 1", waiting, events.CaseNoteAdded{NoteID: 1, Description: "a"}, nil},
		{"add a note out of order", waiting, events.CaseNoteAdded{NoteID: 3, Description: "a"}, ErrNotDecided},
		{"add a blank note", waiting, events.CaseNoteAdded{NoteID: 1, Description: " "}, ErrDescriptionMissing},
		{"edit a note", withNote, events.CaseNoteEdited{NoteID: 1, Description: "b"}, nil},
		{"edit a missing note", withNote, events.CaseNoteEdited{NoteID: 2, Description: "b"}, ErrNoteInvalidID},
		{"change the type", waiting, events.CaseUpdated{ServiceTypeID: "t-loans", ServiceCategoryID: "c-loa"}, nil},
		{"replace the custom fields", waiting, events.CaseUpdated{CaseData: json.RawMessage(`{"a":1}`)}, nil},
		{"change to an unknown type", waiting, events.CaseUpdated{ServiceTypeID: "t-none", ServiceCategoryID: "c-loa"}, ErrCategoryOrTypeInvalid},
		{"change a wrong category", waiting, events.CaseUpdated{ServiceTypeID: "t-loans", ServiceCategoryID: "c-acc"}, ErrNotDecided},
		{"update a closed case", closed, events.CaseUpdated{ServiceTypeID: "t-loans", ServiceCategoryID: "c-loa"}, ErrAlreadyClosed},
		{"attach a file", waiting, events.CaseFileAttached{FileID: "f1"}, nil},
		{"attach to a closed case", closed, events.CaseFileAttached{FileID: "f1"}, ErrAlreadyClosed},
		{"remove a file", withFile, events.CaseFileRemoved{FileID: "f1"}, nil},
		{"remove a missing file", waiting, events.CaseFileRemoved{FileID: "f1"}, ErrFileInvalidID},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := tc.c.Clone()
			err := tc.c.Check(audit, tc.ev)
			if (tc.want == nil) != (err == nil) || (tc.want != nil && !errors.Is(err, tc.want)) {
				t.Errorf("got %v, want %v", err, tc.want)
			}
			if tc.c.Version != before.Version || tc.c.Status != before.Status {
				t.Errorf("Check changed the case: got version %d status %s, want %d %s", tc.c.Version, tc.c.Status, before.Version, before.Status)
			}
		})
	}
}
