package aggregate

import (
	"bytes"
	"errors"
	"fmt"
	"reflect"

	"github.com/casestream/casestream/events"
)

// Audit is what Check reads of the directory as it was when the event was stored: the
// lookups of the case commands, plus operators by userId and categories by id, which the
// events name.
type Audit interface {
	Directory
	Catalog
	Operator(userID string) (events.Operator, bool)
	ServiceCategory(serviceCategoryID string) (events.ServiceCategory, bool)
}

// ErrNotDecided means an event is not what the command that writes it would have decided on
// the case as it was: the command refuses nothing but decides another event, or none.
var ErrNotDecided = errors.New("aggregate: not the event the command decides")

// ErrNoCase means an event other than case.opened on a case that was never opened, or a
// second case.opened.
var ErrNoCase = errors.New("aggregate: event out of the case's lifecycle")

// auditor stands for the caller of a command when a stored event is checked: the log keeps
// who acted, not what they were allowed then, so the caller's own rights are not checked,
// only the case's rules.
var auditor = events.Operator{ServiceTypes: []string{"*"}}

// Check asks the command that writes ev whether it allows it on c, the case as it was just
// before ev, with dir the directory at that point: it runs the command (Assign,
// StartService, Transition, AddNote, Update, EditNote, AttachFile, RemoveFile) with the
// arguments ev records and returns its refusal, or ErrNotDecided when it would have decided
// something else. The caller's rights are not checked, since the log does not record them;
// the case's rules are. Event types this package does not know return nil.
func (c *Case) Check(dir Audit, ev events.Event) error {
	if _, ok := ev.(events.CaseOpened); ok {
		if c.Exists() {
			return ErrNoCase
		}
		return nil
	}
	if !c.Exists() {
		return ErrNoCase
	}
	var (
		got []events.Event
		err error
	)
	switch e := ev.(type) {
	case events.CaseAssigned:
		if e.To.OperatorID != "" {
			op, ok := dir.Operator(e.To.OperatorID)
			if !ok {
				return ErrOperatorNotValid
			}
			got, err = c.Assign(dir, auditor, op.Email, "")
		} else {
			got, err = c.Assign(dir, auditor, "", e.To.GroupName)
		}
	case events.CaseServiceStarted:
		if _, ok := dir.Operator(e.AgentID); !ok {
			return ErrOperatorNotValid
		}
		got, err = c.StartService(e.AgentID, e.WorkstationID)
	case events.CaseStatusChanged:
		got, err = c.Transition(e.To)
	case events.CaseResolved:
		got, err = c.Transition(events.StatusResolved)
		if len(got) == 1 {
			// The operator API's update sets a resolution as it resolves.
			r := got[0].(events.CaseResolved)
			r.Resolution = e.Resolution
			got[0] = r
		}
	case events.CaseClosed:
		got, err = c.Transition(events.StatusClosed)
	case events.CaseNoteAdded:
		got, err = c.AddNote(e.Description)
	case events.CaseUpdated:
		got, err = c.checkUpdate(dir, e)
	case events.CaseNoteEdited:
		got, err = c.EditNote(e.NoteID, e.Description)
	case events.CaseFileAttached:
		got, err = c.AttachFile(e)
	case events.CaseFileRemoved:
		got, err = c.RemoveFile(e.FileID)
	default:
		return nil
	}
	if err != nil {
		return err
	}
	if len(got) == 0 || !sameEvent(got[0], ev) {
		return fmt.Errorf("%w: decided %s", ErrNotDecided, describe(got))
	}
	return nil
}

// checkUpdate runs Update with the type and custom fields ev sets, and no status change or
// comment (those are events of their own).
func (c *Case) checkUpdate(dir Audit, ev events.CaseUpdated) ([]events.Event, error) {
	typeID := c.ServiceTypeID
	if ev.ServiceTypeID != "" {
		typeID = ev.ServiceTypeID
	}
	st, ok := dir.ServiceType(typeID)
	if !ok {
		return nil, ErrCategoryOrTypeInvalid
	}
	cat, ok := dir.ServiceCategory(st.ServiceCategoryID)
	if !ok {
		return nil, ErrCategoryOrTypeInvalid
	}
	return c.Update(dir, dir, auditor, UpdateRequest{CategoryCode: cat.Code, TypeCode: st.Code, CaseData: ev.CaseData})
}

// sameEvent compares a decided event with a stored one; custom fields compare as bytes.
func sameEvent(decided, stored events.Event) bool {
	a, okA := decided.(events.CaseUpdated)
	b, okB := stored.(events.CaseUpdated)
	if okA && okB {
		return a.ServiceTypeID == b.ServiceTypeID && a.ServiceCategoryID == b.ServiceCategoryID && bytes.Equal(a.CaseData, b.CaseData)
	}
	return reflect.DeepEqual(decided, stored)
}

func describe(evs []events.Event) string {
	if len(evs) == 0 {
		return "no event"
	}
	return fmt.Sprintf("%s %+v", evs[0].EventType(), evs[0])
}
