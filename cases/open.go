package cases

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/google/uuid"

	"github.com/casestream/casestream/aggregate"
	"github.com/casestream/casestream/events"
)

// OpenRequest is a new case, with its service type and service already resolved from the
// directory.
type OpenRequest struct {
	ServiceType events.ServiceType
	Service     events.Service
	// Status is the status the case opens in: Waiting (the default) or Pending.
	Status             string
	Channel            string
	EntryMode          string
	Language           string
	Customer           *events.Customer
	ContactPhoneNumber string
	ContactEmail       string
	// Resolution must be empty: a case opens unresolved.
	Resolution string
	// Comments become the case's first notes, numbered from 1; blank ones are skipped.
	Comments []string
	CaseData json.RawMessage
}

// errExists would mean an id was handed out twice; the allocator makes that impossible.
var errExists = errors.New("cases: case instance id already in use")

// Open opens a new case in its service's inbox, routed to its type's operator group if the
// type has one, with a fresh caseInstanceId, caseId and ticket number.
func (s *Service) Open(ctx context.Context, meta Meta, req OpenRequest) (aggregate.Case, error) {
	switch req.Status {
	case "":
		req.Status = events.StatusWaiting
	case events.StatusWaiting, events.StatusPending:
	default:
		return aggregate.Case{}, aggregate.ErrInitialStatus
	}
	if req.Resolution != "" {
		return aggregate.Case{}, aggregate.ErrInitialResolution
	}
	var notes []events.Note
	for i, d := range aggregate.Comments(req.Comments) {
		notes = append(notes, events.Note{NoteID: i + 1, Description: d})
	}
	// The event is measured before an id is spent on it, with the widest values the ids
	// and the time can take: an event too large for the server costs no id.
	opened := events.CaseOpened{
		CaseInstanceID:     math.MaxInt64,
		CaseID:             uuid.Nil.String(),
		ServiceTypeID:      req.ServiceType.ServiceTypeID,
		ServiceCategoryID:  req.ServiceType.ServiceCategoryID,
		ServiceID:          req.Service.ServiceID,
		UnitID:             req.Service.UnitID,
		InboxID:            req.Service.InboxID,
		Status:             req.Status,
		AssignedGroup:      req.ServiceType.OperatorGroup,
		Ticket:             events.Ticket{Prefix: req.Service.TicketPrefix, Number: math.MaxInt},
		Channel:            req.Channel,
		EntryMode:          req.EntryMode,
		Language:           req.Language,
		Customer:           req.Customer,
		ContactPhoneNumber: req.ContactPhoneNumber,
		ContactEmail:       req.ContactEmail,
		Comments:           notes,
		CaseData:           req.CaseData,
	}
	if s.opts.MaxEventBytes > 0 && openedBound(&opened, meta) > s.opts.MaxEventBytes {
		widest, err := events.Wrap(events.Meta{
			ID: uuid.Nil.String(), Subject: events.CaseSubject(math.MaxInt64), Actor: meta.Actor, CorrelationID: meta.CorrelationID,
			OccurredAt: time.Date(9999, 12, 31, 23, 59, 59, 999e6, time.UTC),
		}, opened)
		if err != nil {
			return aggregate.Case{}, err
		}
		if err := s.checkSize([]events.Envelope{widest}); err != nil {
			return aggregate.Case{}, err
		}
	}
	id, err := s.ids.NextCaseInstanceID(ctx)
	if err != nil {
		return aggregate.Case{}, fmt.Errorf("allocate case id: %w", err)
	}
	number, err := s.ids.NextTicketNumber(ctx, req.Service.UnitID, s.opts.Now().UTC())
	if err != nil {
		return aggregate.Case{}, fmt.Errorf("allocate ticket number: %w", err)
	}
	opened.CaseInstanceID, opened.CaseID, opened.Ticket.Number = id, uuid.NewString(), number
	return s.execute(ctx, id, meta, func(c *aggregate.Case) ([]events.Event, error) {
		if c.Exists() {
			return nil, errExists
		}
		return []events.Event{opened}, nil
	}, true)
}

// openedBound is more than the encoded envelope of e can take: every string and caseData
// escaped to six bytes per byte, and room for the rest. Below the bound, Open does not
// encode the event twice to measure it.
func openedBound(e *events.CaseOpened, meta Meta) int {
	n := len(e.CaseID) + len(e.ServiceTypeID) + len(e.ServiceCategoryID) + len(e.ServiceID) + len(e.UnitID) +
		len(e.InboxID) + len(e.Status) + len(e.AssignedGroup) + len(e.Ticket.Prefix) + len(e.Ticket.Suffix) +
		len(e.Channel) + len(e.EntryMode) + len(e.Language) + len(e.ContactPhoneNumber) + len(e.ContactEmail) +
		len(e.Resolution) + len(e.CaseData) + len(meta.Actor.Kind) + len(meta.Actor.ID) + len(meta.CorrelationID)
	if c := e.Customer; c != nil {
		n += len(c.DataTableID) + len(c.RecordID) + len(c.DisplayName)
	}
	for _, note := range e.Comments {
		n += len(note.Description) + 64 // its member names, number and punctuation
	}
	return 6*n + 1024
}
