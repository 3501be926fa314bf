package aggregate

import (
	"encoding/json"
	"errors"
	"slices"

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

// Open decides opening a case. Its checks, the first failure wins: the status is Waiting,
// Pending or empty (ErrInitialStatus), and there is no resolution (ErrInitialResolution).
// The case opens in its service's unit and inbox, routed to its type's operator group if
// the type has one, Waiting unless the request says Pending, with its non-blank comments as
// its first notes.
//
// The event's ids are left for the caller to allocate once the decision stands, so that a
// refusal spends none: CaseInstanceID and CaseID are zero, and so is the ticket's number
// (its prefix is the service's).
func Open(req OpenRequest) (events.CaseOpened, error) {
	switch req.Status {
	case "":
		req.Status = events.StatusWaiting
	case events.StatusWaiting, events.StatusPending:
	default:
		return events.CaseOpened{}, ErrInitialStatus
	}
	if req.Resolution != "" {
		return events.CaseOpened{}, ErrInitialResolution
	}
	var notes []events.Note
	for i, d := range Comments(req.Comments) {
		notes = append(notes, events.Note{NoteID: i + 1, Description: d})
	}
	return events.CaseOpened{
		ServiceTypeID:      req.ServiceType.ServiceTypeID,
		ServiceCategoryID:  req.ServiceType.ServiceCategoryID,
		ServiceID:          req.Service.ServiceID,
		UnitID:             req.Service.UnitID,
		InboxID:            req.Service.InboxID,
		Status:             req.Status,
		AssignedGroup:      req.ServiceType.OperatorGroup,
		Ticket:             events.Ticket{Prefix: req.Service.TicketPrefix},
		Channel:            req.Channel,
		EntryMode:          req.EntryMode,
		Language:           req.Language,
		Customer:           req.Customer,
		ContactPhoneNumber: req.ContactPhoneNumber,
		ContactEmail:       req.ContactEmail,
		Comments:           notes,
		CaseData:           req.CaseData,
	}, nil
}

// Services finds a service by its id.
type Services interface {
	Service(serviceID string) (events.Service, bool)
}

// OperatorOpening decides where a case that op opens through the operator API belongs, in
// the order the operator API checks it: the service type of categoryCode and typeCode (see
// ServiceTypeOf), which op must be allowed to handle (ErrTypeNotAuthorized), and that type's
// default service, which must exist (ErrCategoryOrTypeInvalid).
func OperatorOpening(cat Catalog, svcs Services, op events.Operator, categoryCode, typeCode string) (events.ServiceType, events.Service, error) {
	st, err := ServiceTypeOf(cat, categoryCode, typeCode)
	if err != nil {
		return events.ServiceType{}, events.Service{}, err
	}
	if !MayHandle(op, st.Code) {
		return events.ServiceType{}, events.Service{}, ErrTypeNotAuthorized
	}
	svc, ok := svcs.Service(st.DefaultServiceID)
	if !ok {
		return events.ServiceType{}, events.Service{}, ErrCategoryOrTypeInvalid
	}
	return st, svc, nil
}

// Channels are the channels a case may come in through; EntryModes how its customer came.
var (
	Channels   = []string{"FaceToFace", "Video", "Phone", "Chat"}
	EntryModes = []string{"WalkIn", "Appointment"}
)

// The refusals of QueueUpOpening.
var (
	// ErrServiceTypeUnknown refuses a service type id the directory does not have.
	ErrServiceTypeUnknown = errors.New("aggregate: serviceTypeId is missing or not a service type")
	// ErrChannel refuses a channel not in Channels.
	ErrChannel = errors.New("aggregate: channel is not one of the channels")
	// ErrEntryMode refuses an entry mode not in EntryModes.
	ErrEntryMode = errors.New("aggregate: entryMode is not one of the entry modes")
)

// ServiceTypes finds a service type by its id.
type ServiceTypes interface {
	ServiceType(serviceTypeID string) (events.ServiceType, bool)
}

// QueueUpOpening decides how a case an application queues up (the agent API) opens, in the
// order that API checks it: its service type must exist (ErrServiceTypeUnknown), its channel
// be one of Channels (ErrChannel), and its entry mode one of EntryModes (ErrEntryMode); an
// empty entry mode is WalkIn. It returns the service type and the entry mode.
func QueueUpOpening(types ServiceTypes, serviceTypeID, channel, entryMode string) (events.ServiceType, string, error) {
	st, ok := types.ServiceType(serviceTypeID)
	if !ok {
		return events.ServiceType{}, "", ErrServiceTypeUnknown
	}
	if !slices.Contains(Channels, channel) {
		return events.ServiceType{}, "", ErrChannel
	}
	if entryMode == "" {
		entryMode = "WalkIn"
	}
	if !slices.Contains(EntryModes, entryMode) {
		return events.ServiceType{}, "", ErrEntryMode
	}
	return st, entryMode, nil
}
