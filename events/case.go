package events

import "encoding/json"

// Case statuses.
const (
	StatusWaiting  = "Waiting"
	StatusActive   = "Active"
	StatusPending  = "Pending"
	StatusResolved = "Resolved"
	StatusClosed   = "Closed"
)

// Statuses lists every case status in lifecycle order.
var Statuses = []string{StatusWaiting, StatusActive, StatusPending, StatusResolved, StatusClosed}

// Case event types.
const (
	TypeCaseOpened         = "case.opened"
	TypeCaseAssigned       = "case.assigned"
	TypeCaseServiceStarted = "case.serviceStarted"
	TypeCaseStatusChanged  = "case.statusChanged"
	TypeCaseResolved       = "case.resolved"
	TypeCaseClosed         = "case.closed"
	TypeCaseNoteAdded      = "case.noteAdded"
	TypeCaseUpdated        = "case.updated"

	TypeCaseNoteEdited   = "case.noteEdited"
	TypeCaseFileAttached = "case.fileAttached"
	TypeCaseFileRemoved  = "case.fileRemoved"
)

// Ticket is the number a customer is called by: prefix from the service, number per unit and day.
type Ticket struct {
	Prefix string `json:"prefix"`
	Suffix string `json:"suffix"`
	Number int    `json:"number"`
}

// Customer identifies the customer a case is for.
type Customer struct {
	DataTableID string `json:"dataTableId"`
	RecordID    string `json:"recordId"`
	DisplayName string `json:"displayName"`
}

// Note is a comment on a case as an event carries it. NoteID counts from 1 within the case.
type Note struct {
	NoteID      int    `json:"noteId"`
	Description string `json:"description"`
}

// CaseOpened is the first event of every case. The case is Waiting in its service's inbox
// unless Status says otherwise; AssignedGroup is its type's operator group, if any. Comments
// are the case's first notes, numbered from 1.
//
// Its data is at schema version 2: version 1 carried comments as one string, and Decode
// returns such events as version 2 (a non-empty string becomes note 1).
type CaseOpened struct {
	CaseInstanceID     int64           `json:"caseInstanceId"`
	CaseID             string          `json:"caseId"`
	ServiceTypeID      string          `json:"serviceTypeId"`
	ServiceCategoryID  string          `json:"serviceCategoryId"`
	ServiceID          string          `json:"serviceId"`
	UnitID             string          `json:"unitId"`
	InboxID            string          `json:"inboxId"`
	Status             string          `json:"status"`
	AssignedGroup      string          `json:"assignedGroup,omitempty"`
	Ticket             Ticket          `json:"ticket"`
	Channel            string          `json:"channel,omitempty"`
	EntryMode          string          `json:"entryMode,omitempty"`
	Language           string          `json:"language,omitempty"`
	Customer           *Customer       `json:"customer,omitempty"`
	ContactPhoneNumber string          `json:"contactPhoneNumber,omitempty"`
	ContactEmail       string          `json:"contactEmail,omitempty"`
	Resolution         string          `json:"resolution,omitempty"`
	Comments           []Note          `json:"comments,omitempty"`
	CaseData           json.RawMessage `json:"caseData,omitempty"`
}

// EventType implements Event.
func (CaseOpened) EventType() string { return TypeCaseOpened }

// SchemaVersion returns the schema version CaseOpened is written at.
func (CaseOpened) SchemaVersion() int { return 2 }

// caseOpenedV1 is the data of case.opened at schema version 1: comments were one string.
type caseOpenedV1 struct {
	CaseOpened
	Comments string `json:"comments,omitempty"`
}

// upcast returns the event as version 2 reads it.
func (v caseOpenedV1) upcast() CaseOpened {
	out := v.CaseOpened
	out.Comments = nil
	if v.Comments != "" {
		out.Comments = []Note{{NoteID: 1, Description: v.Comments}}
	}
	return out
}

// Assignment is who a case is assigned to: an operator (by userId), a group (by name), or
// neither.
type Assignment struct {
	OperatorID string `json:"operatorId,omitempty"`
	GroupName  string `json:"groupName,omitempty"`
}

// CaseAssigned moves a case to an operator (it becomes Active, locked by that operator) or to
// a group (it becomes Waiting, unlocked). Previous is the assignment it replaces.
type CaseAssigned struct {
	To       Assignment `json:"to"`
	Previous Assignment `json:"previous"`
	// Status is the case's status after the assignment.
	Status string `json:"status"`
}

// EventType implements Event.
func (CaseAssigned) EventType() string { return TypeCaseAssigned }

// CaseServiceStarted records that an agent took a waiting case (start-next): it becomes
// Active, locked by and assigned to the agent.
type CaseServiceStarted struct {
	AgentID       string `json:"agentId"`
	WorkstationID string `json:"workstationId,omitempty"`
}

// EventType implements Event.
func (CaseServiceStarted) EventType() string { return TypeCaseServiceStarted }

// CaseStatusChanged moves an open case between Waiting, Active and Pending.
type CaseStatusChanged struct {
	From string `json:"from"`
	To   string `json:"to"`
}

// EventType implements Event.
func (CaseStatusChanged) EventType() string { return TypeCaseStatusChanged }

// CaseResolved marks a case Resolved.
type CaseResolved struct {
	From       string `json:"from"`
	Resolution string `json:"resolution,omitempty"`
}

// EventType implements Event.
func (CaseResolved) EventType() string { return TypeCaseResolved }

// CaseClosed marks a case Closed, its final status.
type CaseClosed struct {
	From string `json:"from"`
}

// EventType implements Event.
func (CaseClosed) EventType() string { return TypeCaseClosed }

// CaseNoteAdded adds a comment to a case. NoteID counts from 1 within the case.
type CaseNoteAdded struct {
	NoteID      int    `json:"noteId"`
	Description string `json:"description"`
}

// EventType implements Event.
func (CaseNoteAdded) EventType() string { return TypeCaseNoteAdded }

// CaseUpdated records the operator API's update of what a case is about; only what changed
// is set. ServiceTypeID and ServiceCategoryID change together: the type and its category.
// CaseData, when set, replaces the case's custom fields. The case keeps its service, inbox
// and queue. An update writes it only when the type or the custom fields change; its status
// change and comments are events of their own (case.statusChanged, case.resolved,
// case.closed, case.noteAdded), after it in the same append.
type CaseUpdated struct {
	ServiceTypeID     string          `json:"serviceTypeId,omitempty"`
	ServiceCategoryID string          `json:"serviceCategoryId,omitempty"`
	CaseData          json.RawMessage `json:"caseData,omitempty"`
}

// EventType implements Event.
func (CaseUpdated) EventType() string { return TypeCaseUpdated }

// CaseNoteEdited replaces the description of the case's note NoteID.
type CaseNoteEdited struct {
	NoteID      int    `json:"noteId"`
	Description string `json:"description"`
}

// EventType implements Event.
func (CaseNoteEdited) EventType() string { return TypeCaseNoteEdited }

// CaseFileAttached attaches a file to a case. The event holds only the file's metadata; its
// bytes are the object named FileID in the object store bucket CASESTREAM_FILES. Digest is
// the object store's digest of the bytes, "SHA-256=" and the base64url (padded) SHA-256.
// Who attached it and when are the envelope's actor and occurredAt.
type CaseFileAttached struct {
	FileID      string `json:"fileId"`
	Name        string `json:"name"`
	Size        int64  `json:"size"`
	ContentType string `json:"contentType"`
	Digest      string `json:"digest"`
}

// EventType implements Event.
func (CaseFileAttached) EventType() string { return TypeCaseFileAttached }

// CaseFileRemoved removes an attached file from a case. The file's bytes are deleted from
// the object store after the event is stored; its metadata and digest stay in the log.
type CaseFileRemoved struct {
	FileID string `json:"fileId"`
}

// EventType implements Event.
func (CaseFileRemoved) EventType() string { return TypeCaseFileRemoved }

func init() {
	register[CaseNoteEdited]()
	register[CaseFileAttached]()
	register[CaseFileRemoved]()
	register[CaseOpened]()
	register[CaseAssigned]()
	register[CaseServiceStarted]()
	register[CaseStatusChanged]()
	register[CaseResolved]()
	register[CaseClosed]()
	register[CaseNoteAdded]()
	register[CaseUpdated]()
	registerOlder(1, caseOpenedV1.upcast)
}
