package cases

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/google/uuid"

	"github.com/casestream/casestream/aggregate"
	"github.com/casestream/casestream/events"
)

// OpenRequest is a new case: aggregate.OpenRequest, which Open decides.
type OpenRequest = aggregate.OpenRequest

// errExists would mean an id was handed out twice; the allocator makes that impossible.
var errExists = errors.New("cases: case instance id already in use")

// Open opens a new case as aggregate.Open decides it, with a fresh caseInstanceId, caseId
// and ticket number.
func (s *Service) Open(ctx context.Context, meta Meta, req OpenRequest) (aggregate.Case, error) {
	opened, err := aggregate.Open(req)
	if err != nil {
		return aggregate.Case{}, err
	}
	// The event is measured before an id is spent on it, with the widest values the ids
	// and the time can take: an event too large for the server costs no id.
	opened.CaseInstanceID, opened.CaseID, opened.Ticket.Number = math.MaxInt64, uuid.Nil.String(), math.MaxInt
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
	number, err := s.ids.NextTicketNumber(ctx, opened.UnitID, s.opts.Now().UTC())
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
