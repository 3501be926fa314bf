package projection

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/casestream/casestream/events"
)

// Names is what the listing reads of the directory: the entities whose names and details
// enrich a case. Lookups return copies. *directory.Directory implements it.
type Names interface {
	Operator(userID string) (events.Operator, bool)
	Unit(id string) (events.Unit, bool)
	Inbox(id string) (events.Inbox, bool)
	ServiceType(id string) (events.ServiceType, bool)
	ServiceCategory(id string) (events.ServiceCategory, bool)
}

// Timestamp is a time on the agent-impersonation API's wire: RFC 3339 in UTC with
// milliseconds ("2026-03-01T09:30:00.000Z"), or null when zero.
type Timestamp struct{ time.Time }

// timestampLayout always prints three fractional digits and a literal Z.
const timestampLayout = "2006-01-02T15:04:05.000Z"

// MarshalJSON implements json.Marshaler.
func (t Timestamp) MarshalJSON() ([]byte, error) {
	return t.appendJSON(make([]byte, 0, len(timestampLayout)+2)), nil
}

// AgentRef is an operator as the listing shows one in assignedTo and lockedBy.
type AgentRef struct {
	UserID      string `json:"userId"`
	DisplayName string `json:"displayName"`
	Initials    string `json:"initials"`
	Picture     string `json:"picture"`
}

// ActiveCase is one Case object of the agent-impersonation API's "List Active Cases": exactly
// the vendor's fields, in the vendor's order.
//
// Choices where the vendor's page is silent: optional strings (channel, entryMode,
// workstationId, contact phone and email, names of entities the directory does not know) are
// null when empty; assignedTo and lockedBy are null when nobody; customer is null when none;
// onlineMeeting, workstationName, fields and tags are always null. printedTicket is the ticket
// as printed for the customer: the prefix, the number zero-padded to three digits and the
// suffix, joined by "-" and skipping empty parts ("A-007", "A-007-B"); null when the case has
// no ticket (no prefix and number 0).
type ActiveCase struct {
	CaseID              string           `json:"caseId"`
	Ticket              events.Ticket    `json:"ticket"`
	ServiceCategoryID   string           `json:"serviceCategoryId"`
	ServiceCategoryName *string          `json:"serviceCategoryName"`
	ServiceTypeID       string           `json:"serviceTypeId"`
	ServiceTypeName     *string          `json:"serviceTypeName"`
	Status              string           `json:"status"`
	StatusDate          Timestamp        `json:"statusDate"`
	ReferenceDate       Timestamp        `json:"referenceDate"`
	DateOpened          Timestamp        `json:"dateOpened"`
	DateClosed          Timestamp        `json:"dateClosed"`
	AssignedTo          *AgentRef        `json:"assignedTo"`
	LockedBy            *AgentRef        `json:"lockedBy"`
	Channel             *string          `json:"channel"`
	Rank                int              `json:"rank"`
	UnitID              string           `json:"unitId"`
	UnitName            *string          `json:"unitName"`
	InboxID             string           `json:"inboxId"`
	InboxName           *string          `json:"inboxName"`
	InboxColorCode      *string          `json:"inboxColorCode"`
	CaseTimestamp       Timestamp        `json:"caseTimestamp"`
	WorkstationID       *string          `json:"workstationId"`
	WorkstationName     *string          `json:"workstationName"`
	Customer            *events.Customer `json:"customer"`
	OnlineMeeting       json.RawMessage  `json:"onlineMeeting"`
	PrintedTicket       *string          `json:"printedTicket"`
	ContactPhoneNumber  *string          `json:"contactPhoneNumber"`
	ContactEmail        *string          `json:"contactEmail"`
	EntryMode           *string          `json:"entryMode"`
	Fields              json.RawMessage  `json:"fields"`
	Tags                json.RawMessage  `json:"tags"`
}

// PrintedTicket returns the ticket as printed for the customer (see ActiveCase), or "" when
// the case has no ticket.
func PrintedTicket(t events.Ticket) string {
	if t.Prefix == "" && t.Number == 0 && t.Suffix == "" {
		return ""
	}
	s := fmt.Sprintf("%03d", t.Number)
	if t.Prefix != "" {
		s = t.Prefix + "-" + s
	}
	if t.Suffix != "" {
		s += "-" + t.Suffix
	}
	return s
}

func optional(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// Listing turns rows into the listing's Case objects, with the names the directory holds now
// (names can change after a case was opened). The result is never nil, so that an empty
// listing marshals to [].
func Listing(rows []CaseRow, names Names) []ActiveCase {
	out := make([]ActiveCase, len(rows))
	l := lookups{names: names}
	// The optional strings and agents of the whole listing share two allocations.
	strs := arena[string]{items: make([]string, 0, 12*len(rows))}
	agents := arena[AgentRef]{items: make([]AgentRef, 0, 2*len(rows))}
	opt := func(s string) *string {
		if s == "" {
			return nil
		}
		return strs.add(s)
	}
	agent := func(userID string) *AgentRef {
		if userID == "" {
			return nil
		}
		return agents.add(l.agent(userID))
	}
	for i := range rows {
		r := &rows[i]
		a := &out[i]
		a.CaseID = r.CaseID
		a.Ticket = r.Ticket
		a.ServiceCategoryID = r.ServiceCategoryID
		if c, ok := names.ServiceCategory(r.ServiceCategoryID); ok {
			a.ServiceCategoryName = opt(c.Name)
		}
		a.ServiceTypeID = r.ServiceTypeID
		if t, ok := names.ServiceType(r.ServiceTypeID); ok {
			a.ServiceTypeName = opt(t.Name)
		}
		a.Status = r.Status
		a.StatusDate = Timestamp{r.StatusDate}
		a.ReferenceDate = Timestamp{r.ReferenceDate}
		a.DateOpened = Timestamp{r.DateOpened}
		a.DateClosed = Timestamp{r.DateClosed}
		a.AssignedTo = agent(r.AssignedTo)
		a.LockedBy = agent(r.LockedBy)
		a.Channel = opt(r.Channel)
		a.Rank = r.Rank
		a.UnitID = r.UnitID
		a.UnitName = opt(l.unit(r.UnitID))
		a.InboxID = r.InboxID
		if in, ok := l.inbox(r.InboxID); ok {
			a.InboxName = opt(in.Name)
			a.InboxColorCode = opt(in.ColorCode)
		}
		a.CaseTimestamp = Timestamp{r.CaseTimestamp}
		a.WorkstationID = opt(r.WorkstationID)
		if r.Customer != nil {
			cu := *r.Customer
			a.Customer = &cu
		}
		a.PrintedTicket = opt(PrintedTicket(r.Ticket))
		a.ContactPhoneNumber = opt(r.ContactPhoneNumber)
		a.ContactEmail = opt(r.ContactEmail)
		a.EntryMode = opt(r.EntryMode)
	}
	return out
}

// arena hands out pointers to values stored in one slice. A slice that grows leaves the
// pointers already given into its old array, which stays valid.
type arena[T any] struct{ items []T }

func (a *arena[T]) add(v T) *T {
	a.items = append(a.items, v)
	return &a.items[len(a.items)-1]
}

// lookups remembers the entities one listing has looked up: an agent's cases share their
// agent, unit and a few inboxes, and each directory lookup returns a fresh copy.
type lookups struct {
	names   Names
	agents  map[string]AgentRef
	units   map[string]string
	inboxes map[string]events.Inbox
}

func (l *lookups) agent(userID string) AgentRef {
	ref, ok := l.agents[userID]
	if !ok {
		ref = AgentRef{UserID: userID}
		if op, found := l.names.Operator(userID); found {
			ref.DisplayName, ref.Initials, ref.Picture = op.DisplayName, op.Initials, op.Picture
		}
		if l.agents == nil {
			l.agents = map[string]AgentRef{}
		}
		l.agents[userID] = ref
	}
	return ref
}

// unit returns the unit's name, "" if unknown.
func (l *lookups) unit(id string) string {
	name, ok := l.units[id]
	if !ok {
		if u, found := l.names.Unit(id); found {
			name = u.Name
		}
		if l.units == nil {
			l.units = map[string]string{}
		}
		l.units[id] = name
	}
	return name
}

func (l *lookups) inbox(id string) (events.Inbox, bool) {
	in, ok := l.inboxes[id]
	if !ok {
		var found bool
		in, found = l.names.Inbox(id)
		if !found {
			return events.Inbox{}, false
		}
		if l.inboxes == nil {
			l.inboxes = map[string]events.Inbox{}
		}
		l.inboxes[id] = in
	}
	return in, true
}
