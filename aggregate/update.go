package aggregate

import (
	"bytes"
	"encoding/json"
	"slices"
	"strings"

	"github.com/casestream/casestream/events"
)

// Catalog is what the case commands read of the directory's service categories and types,
// which the operator API names by code.
type Catalog interface {
	ServiceCategoryByCode(code string) (events.ServiceCategory, bool)
	ServiceTypeByCode(code string) (events.ServiceType, bool)
}

// ServiceTypeOf returns the service type with the given codes: categoryCode is required
// (ErrCategoryRequired), and typeCode must name a type of that category
// (ErrCategoryOrTypeInvalid, also for an empty typeCode).
func ServiceTypeOf(cat Catalog, categoryCode, typeCode string) (events.ServiceType, error) {
	if categoryCode == "" {
		return events.ServiceType{}, ErrCategoryRequired
	}
	sc, ok := cat.ServiceCategoryByCode(categoryCode)
	if !ok || typeCode == "" {
		return events.ServiceType{}, ErrCategoryOrTypeInvalid
	}
	st, ok := cat.ServiceTypeByCode(typeCode)
	if !ok || st.ServiceCategoryID != sc.ServiceCategoryID {
		return events.ServiceType{}, ErrCategoryOrTypeInvalid
	}
	return st, nil
}

// Comments returns the comments of a request that are notes: those that are not blank.
func Comments(descriptions []string) []string {
	var out []string
	for _, d := range descriptions {
		if strings.TrimSpace(d) != "" {
			out = append(out, d)
		}
	}
	return out
}

// UpdateRequest is the operator API's update of a case. CategoryCode and TypeCode are the
// type the case is about after the update; the other fields change nothing when empty.
type UpdateRequest struct {
	CategoryCode string
	TypeCode     string
	// Status is the status to move the case to, by the rules of Transition.
	Status string
	// Resolution is the case's resolution; it may be set only as the case is or becomes
	// Resolved.
	Resolution string
	// Comments become notes, in order; blank ones are skipped.
	Comments []string
	// CaseData, when not nil, replaces the case's custom fields: a compact JSON object.
	CaseData json.RawMessage
}

// Update decides the operator API's update of a case. Its checks, the first failure wins:
// the category and type codes (ErrCategoryRequired, ErrCategoryOrTypeInvalid), the status
// name (ErrInitialStatus), the case and the caller's right to act on it (ErrCaseInvalidID),
// the caller's right to handle the new type (ErrTypeNotAuthorized), the resolution
// (ErrInitialResolution unless the case is or becomes Resolved), and the case's status: a
// Closed case cannot change and a Resolved one can only be closed (ErrAlreadyClosed);
// comments may be added to either, as notes can.
//
// The events are a case.updated with what changed of the type and the custom fields, the
// status change as Transition decides it (a move to Resolved carries the resolution), and
// a case.noteAdded per comment. An update that changes nothing returns no event.
func (c *Case) Update(dir Directory, cat Catalog, caller events.Operator, req UpdateRequest) ([]events.Event, error) {
	st, err := ServiceTypeOf(cat, req.CategoryCode, req.TypeCode)
	if err != nil {
		return nil, err
	}
	if req.Status != "" && !slices.Contains(events.Statuses, req.Status) {
		return nil, ErrInitialStatus
	}
	if !c.MayActOn(dir, caller) {
		return nil, ErrCaseInvalidID
	}
	if !MayHandle(caller, st.Code) {
		return nil, ErrTypeNotAuthorized
	}
	status := c.Status
	if req.Status != "" {
		status = req.Status
	}
	newResolution := req.Resolution != "" && req.Resolution != c.Resolution
	if newResolution && status != events.StatusResolved {
		return nil, ErrInitialResolution
	}
	var evs []events.Event
	var upd events.CaseUpdated
	if st.ServiceTypeID != c.ServiceTypeID {
		upd.ServiceTypeID, upd.ServiceCategoryID = st.ServiceTypeID, st.ServiceCategoryID
	}
	if req.CaseData != nil && !bytes.Equal(req.CaseData, c.CaseData) {
		upd.CaseData = req.CaseData
	}
	if upd.ServiceTypeID != "" || upd.CaseData != nil {
		if c.Final() {
			return nil, ErrAlreadyClosed
		}
		evs = append(evs, upd)
	}
	switch {
	case status != c.Status:
		move, err := c.Transition(status)
		if err != nil {
			return nil, err
		}
		if r, ok := move[0].(events.CaseResolved); ok {
			r.Resolution = req.Resolution
			move[0] = r
		}
		evs = append(evs, move...)
	case newResolution:
		// Already Resolved: its resolution is as final as its status.
		return nil, ErrAlreadyClosed
	}
	next := c.nextNoteID()
	for _, d := range Comments(req.Comments) {
		evs = append(evs, events.CaseNoteAdded{NoteID: next, Description: d})
		next++
	}
	return evs, nil
}
