package cases

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

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
	id, err := s.ids.NextCaseInstanceID(ctx)
	if err != nil {
		return aggregate.Case{}, fmt.Errorf("allocate case id: %w", err)
	}
	number, err := s.ids.NextTicketNumber(ctx, req.Service.UnitID, s.opts.Now().UTC())
	if err != nil {
		return aggregate.Case{}, fmt.Errorf("allocate ticket number: %w", err)
	}
	opened := events.CaseOpened{
		CaseInstanceID:     id,
		CaseID:             uuid.NewString(),
		ServiceTypeID:      req.ServiceType.ServiceTypeID,
		ServiceCategoryID:  req.ServiceType.ServiceCategoryID,
		ServiceID:          req.Service.ServiceID,
		UnitID:             req.Service.UnitID,
		InboxID:            req.Service.InboxID,
		Status:             req.Status,
		AssignedGroup:      req.ServiceType.OperatorGroup,
		Ticket:             events.Ticket{Prefix: req.Service.TicketPrefix, Number: number},
		Channel:            req.Channel,
		EntryMode:          req.EntryMode,
		Language:           req.Language,
		Customer:           req.Customer,
		ContactPhoneNumber: req.ContactPhoneNumber,
		ContactEmail:       req.ContactEmail,
		Comments:           notes,
		CaseData:           req.CaseData,
	}
	return s.execute(ctx, id, meta, func(c *aggregate.Case) ([]events.Event, error) {
		if c.Exists() {
			return nil, errExists
		}
		return []events.Event{opened}, nil
	}, true)
}
