package aggregate

import (
	"encoding/json"
	"slices"
	"strings"
	"time"

	"github.com/casestream/casestream/events"
)

// Note is a comment on a case.
type Note struct {
	ID          int
	Description string
}

// Attachment is a file attached to a case: its metadata, as the case's events carry it. The
// bytes are in the object store, under FileID.
type Attachment struct {
	FileID      string
	Name        string
	Size        int64
	ContentType string
	Digest      string
	AttachedAt  time.Time
}

// Case is the state of one case, folded from its events. The zero Case is a case that does
// not exist yet.
type Case struct {
	CaseInstanceID     int64
	CaseID             string
	ServiceTypeID      string
	ServiceCategoryID  string
	ServiceID          string
	UnitID             string
	InboxID            string
	Status             string
	AssignedTo         string
	AssignedGroup      string
	LockedBy           string
	Ticket             events.Ticket
	Channel            string
	EntryMode          string
	Language           string
	Customer           *events.Customer
	ContactPhoneNumber string
	ContactEmail       string
	Resolution         string
	WorkstationID      string
	Notes              []Note
	Attachments        []Attachment
	CaseData           json.RawMessage
	DateOpened         time.Time
	StatusDate         time.Time
	ReferenceDate      time.Time
	DateClosed         time.Time
	CaseTimestamp      time.Time
	// Version counts the events applied.
	Version int
}

// Exists reports whether the case has been opened.
func (c *Case) Exists() bool { return c.CaseInstanceID != 0 }

// Final reports whether the case is Resolved or Closed.
func (c *Case) Final() bool {
	return c.Status == events.StatusResolved || c.Status == events.StatusClosed
}

// Clone returns a copy of c that shares nothing mutable with it.
func (c *Case) Clone() Case {
	out := *c
	out.Notes = slices.Clone(c.Notes)
	out.Attachments = slices.Clone(c.Attachments)
	if c.Customer != nil {
		cu := *c.Customer
		out.Customer = &cu
	}
	return out
}

// Apply folds one event that occurred at the given time into the case. Unknown events are
// ignored, so that a newer log can still be read.
func (c *Case) Apply(at time.Time, ev events.Event) {
	at = at.UTC()
	c.Version++
	c.CaseTimestamp = at
	switch e := ev.(type) {
	case events.CaseOpened:
		c.CaseInstanceID = e.CaseInstanceID
		c.CaseID = e.CaseID
		c.ServiceTypeID = e.ServiceTypeID
		c.ServiceCategoryID = e.ServiceCategoryID
		c.ServiceID = e.ServiceID
		c.UnitID = e.UnitID
		c.InboxID = e.InboxID
		c.Status = e.Status
		c.AssignedGroup = e.AssignedGroup
		c.Ticket = e.Ticket
		c.Channel = e.Channel
		c.EntryMode = e.EntryMode
		c.Language = e.Language
		c.Customer = e.Customer
		c.ContactPhoneNumber = e.ContactPhoneNumber
		c.ContactEmail = e.ContactEmail
		c.Resolution = e.Resolution
		c.CaseData = e.CaseData
		for _, n := range e.Comments {
			c.Notes = append(c.Notes, Note{ID: n.NoteID, Description: n.Description})
		}
		c.DateOpened, c.StatusDate, c.ReferenceDate = at, at, at
	case events.CaseAssigned:
		c.setStatus(e.Status, at)
		if e.To.OperatorID != "" {
			c.AssignedTo, c.LockedBy, c.AssignedGroup = e.To.OperatorID, e.To.OperatorID, ""
		} else {
			c.AssignedTo, c.LockedBy, c.AssignedGroup = "", "", e.To.GroupName
		}
	case events.CaseServiceStarted:
		c.setStatus(events.StatusActive, at)
		c.AssignedTo, c.LockedBy = e.AgentID, e.AgentID
		c.WorkstationID = e.WorkstationID
	case events.CaseStatusChanged:
		c.setStatus(e.To, at)
		if e.To == events.StatusWaiting {
			c.LockedBy = ""
		}
	case events.CaseResolved:
		c.setStatus(events.StatusResolved, at)
		c.LockedBy = ""
		if e.Resolution != "" {
			c.Resolution = e.Resolution
		}
	case events.CaseClosed:
		c.setStatus(events.StatusClosed, at)
		c.LockedBy = ""
		c.DateClosed = at
	case events.CaseNoteAdded:
		c.Notes = append(c.Notes, Note{ID: e.NoteID, Description: e.Description})
	case events.CaseUpdated:
		if e.ServiceTypeID != "" {
			c.ServiceTypeID, c.ServiceCategoryID = e.ServiceTypeID, e.ServiceCategoryID
		}
		if e.CaseData != nil {
			c.CaseData = e.CaseData
		}
	case events.CaseNoteEdited:
		if i := c.noteIndex(e.NoteID); i >= 0 {
			c.Notes[i].Description = e.Description
		}
	case events.CaseFileAttached:
		c.Attachments = append(c.Attachments, Attachment{
			FileID: e.FileID, Name: e.Name, Size: e.Size, ContentType: e.ContentType, Digest: e.Digest, AttachedAt: at,
		})
	case events.CaseFileRemoved:
		if i := c.AttachmentIndex(e.FileID); i >= 0 {
			c.Attachments = slices.Delete(c.Attachments, i, i+1)
		}
	}
}

func (c *Case) setStatus(s string, at time.Time) {
	if s != c.Status {
		c.Status = s
		c.StatusDate = at
	}
}

// Directory is what the case commands read of the directory: an in-memory snapshot.
type Directory interface {
	OperatorByEmail(email string) (events.Operator, bool)
	GroupByName(name string) (events.OperatorGroup, bool)
	ServiceType(serviceTypeID string) (events.ServiceType, bool)
}

// MayHandle reports whether op may handle cases of the service type with the given code.
func MayHandle(op events.Operator, typeCode string) bool {
	return slices.Contains(op.ServiceTypes, "*") || slices.Contains(op.ServiceTypes, typeCode)
}

// MayActOn reports whether the calling operator may act on the case: it exists and is of a
// type the operator may handle.
func (c *Case) MayActOn(dir Directory, caller events.Operator) bool {
	if !c.Exists() {
		return false
	}
	st, ok := dir.ServiceType(c.ServiceTypeID)
	return ok && MayHandle(caller, st.Code)
}

// Assign decides the operator API's "Assign case": to the operator with the given email, or
// to the group with the given name. The rules are checked in the order of DESIGN.md section
// 5; the first that fails is returned. Assigning to the current target returns no event.
func (c *Case) Assign(dir Directory, caller events.Operator, email, groupName string) ([]events.Event, error) {
	email, groupName = strings.TrimSpace(email), strings.TrimSpace(groupName)
	switch {
	case email != "" && groupName != "":
		return nil, ErrAssignmentInvalid
	case email == "" && groupName == "":
		return nil, ErrAssignmentMissing
	}
	if !c.MayActOn(dir, caller) {
		return nil, ErrCaseInvalidID
	}
	var to events.Assignment
	if email != "" {
		op, ok := dir.OperatorByEmail(email)
		if !ok {
			return nil, ErrOperatorNotValid
		}
		st, _ := dir.ServiceType(c.ServiceTypeID)
		if !MayHandle(op, st.Code) {
			return nil, ErrNotAuthorized
		}
		if op.Blocked {
			return nil, ErrOperatorBlocked
		}
		to.OperatorID = op.UserID
	} else {
		g, ok := dir.GroupByName(groupName)
		if !ok {
			return nil, ErrGroupInvalidName
		}
		to.GroupName = g.Name
	}
	if c.Final() {
		return nil, ErrAlreadyClosed
	}
	if to.OperatorID != "" && c.AssignedTo == to.OperatorID && c.AssignedGroup == "" && c.Status == events.StatusActive {
		return nil, nil
	}
	if to.GroupName != "" && c.AssignedGroup == to.GroupName && c.AssignedTo == "" && c.Status == events.StatusWaiting {
		return nil, nil
	}
	status := events.StatusWaiting
	if to.OperatorID != "" {
		status = events.StatusActive
	}
	return []events.Event{events.CaseAssigned{
		To:       to,
		Previous: events.Assignment{OperatorID: c.AssignedTo, GroupName: c.AssignedGroup},
		Status:   status,
	}}, nil
}

// Transition decides the operator API's status change to the named status. A Closed case
// cannot change; a Resolved case can only be closed. The current status returns no event.
func (c *Case) Transition(statusName string) ([]events.Event, error) {
	if !slices.Contains(events.Statuses, statusName) {
		return nil, ErrStatusInvalid
	}
	if statusName == c.Status {
		return nil, nil
	}
	if c.Status == events.StatusClosed || (c.Status == events.StatusResolved && statusName != events.StatusClosed) {
		return nil, ErrAlreadyClosed
	}
	switch statusName {
	case events.StatusResolved:
		return []events.Event{events.CaseResolved{From: c.Status}}, nil
	case events.StatusClosed:
		return []events.Event{events.CaseClosed{From: c.Status}}, nil
	}
	return []events.Event{events.CaseStatusChanged{From: c.Status, To: statusName}}, nil
}

// AddNote decides adding a comment to the case.
func (c *Case) AddNote(description string) ([]events.Event, error) {
	if strings.TrimSpace(description) == "" {
		return nil, ErrDescriptionMissing
	}
	return []events.Event{events.CaseNoteAdded{NoteID: c.nextNoteID(), Description: description}}, nil
}

// nextNoteID returns the id of the case's next note.
func (c *Case) nextNoteID() int {
	if n := len(c.Notes); n > 0 {
		return c.Notes[n-1].ID + 1
	}
	return 1
}

// StartService decides an agent's start-next on this case: it must be Waiting.
func (c *Case) StartService(agentID, workstationID string) ([]events.Event, error) {
	if c.Status != events.StatusWaiting {
		return nil, ErrWrongStatus
	}
	return []events.Event{events.CaseServiceStarted{AgentID: agentID, WorkstationID: workstationID}}, nil
}

// Resolve decides an agent's resolution of the case: it must be Active or Pending, and not
// locked by another agent.
func (c *Case) Resolve(agentID string) ([]events.Event, error) {
	if c.Status != events.StatusActive && c.Status != events.StatusPending {
		return nil, ErrWrongStatus
	}
	if c.LockedBy != "" && c.LockedBy != agentID {
		return nil, ErrLockedByOther
	}
	return []events.Event{events.CaseResolved{From: c.Status}}, nil
}

func (c *Case) noteIndex(id int) int {
	return slices.IndexFunc(c.Notes, func(n Note) bool { return n.ID == id })
}

// AttachmentIndex returns the index in Attachments of the file with the given id, or -1.
func (c *Case) AttachmentIndex(fileID string) int {
	return slices.IndexFunc(c.Attachments, func(a Attachment) bool { return a.FileID == fileID })
}

// AcceptsChanges refuses changes to a Closed case, the final status: its notes and files
// are as they were when it closed.
func (c *Case) AcceptsChanges() error {
	if c.Status == events.StatusClosed {
		return ErrAlreadyClosed
	}
	return nil
}

// EditNote decides replacing the description of the note with the given id. The rules, first
// failure wins: a blank description, no such note, a Closed case. The note's current
// description returns no event.
func (c *Case) EditNote(noteID int, description string) ([]events.Event, error) {
	if strings.TrimSpace(description) == "" {
		return nil, ErrDescriptionMissing
	}
	i := c.noteIndex(noteID)
	if noteID <= 0 || i < 0 {
		return nil, ErrNoteInvalidID
	}
	if err := c.AcceptsChanges(); err != nil {
		return nil, err
	}
	if c.Notes[i].Description == description {
		return nil, nil
	}
	return []events.Event{events.CaseNoteEdited{NoteID: noteID, Description: description}}, nil
}

// AttachFile decides attaching a stored file. A file already attached returns no event, so
// that a retried upload under the same file id attaches it once.
func (c *Case) AttachFile(f events.CaseFileAttached) ([]events.Event, error) {
	if err := c.AcceptsChanges(); err != nil {
		return nil, err
	}
	if c.AttachmentIndex(f.FileID) >= 0 {
		return nil, nil
	}
	return []events.Event{f}, nil
}

// RemoveFile decides removing an attached file: it must be attached, and the case not Closed.
func (c *Case) RemoveFile(fileID string) ([]events.Event, error) {
	if c.AttachmentIndex(fileID) < 0 {
		return nil, ErrFileInvalidID
	}
	if err := c.AcceptsChanges(); err != nil {
		return nil, err
	}
	return []events.Event{events.CaseFileRemoved{FileID: fileID}}, nil
}
