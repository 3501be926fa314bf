package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/gorilla/mux"

	"github.com/casestream/casestream/aggregate"
	"github.com/casestream/casestream/events"
	"github.com/casestream/casestream/internal/cases"
	"github.com/casestream/casestream/internal/directory"
	"github.com/casestream/casestream/internal/eventstore"
	"github.com/casestream/casestream/projection"
)

// AgentQueries answers the read-side questions of the agent-impersonation API. Each call
// reflects at least the given stream sequences of CASES and DIRECTORY.
type AgentQueries interface {
	ActiveCases(ctx context.Context, userID string, minCases, minDir uint64) (projection.ListResult, error)
	NextWaiting(ctx context.Context, inboxIDs, groups []string, limit int, minCases, minDir uint64) ([]int64, error)
	QueuePosition(ctx context.Context, id int64, minCases, minDir uint64) (int, bool, error)
	CaseLookup(ctx context.Context, caseID string, minCases, minDir uint64) (int64, bool, error)
}

func (s *Server) registerAgentRoutes(r *mux.Router) {
	r.HandleFunc("/oauth2/token", s.agent(s.token)).Methods(http.MethodPost)
	// The operator routes are registered first, and no agent route's second segment is "v4",
	// so /{applicationId} needs no pattern of its own (a regexp here costs every request).
	// Each route has its whole path, not a prefix shared through subrouters: a subrouter's
	// prefix is one more regexp to match and to extract from on every request
	// (BenchmarkRouteMatch/activeCases: 4.5 to 5.6 µs flat, 13 to 15 µs through two subrouters).
	const agents = "/{applicationId}/agents/{userId}"
	r.HandleFunc(agents+"/activeCases", s.agent(s.impersonator(s.activeCases))).Methods(http.MethodGet)
	r.HandleFunc(agents+"/status", s.agent(s.impersonator(s.agentStatus))).Methods(http.MethodGet)
	r.HandleFunc(agents+"/units/_current", s.agent(s.impersonator(s.selectUnit))).Methods(http.MethodPost)
	r.HandleFunc(agents+"/workspaces", s.agent(s.impersonator(s.workspaces))).Methods(http.MethodGet)
	r.HandleFunc(agents+"/actions/startNext", s.agent(s.impersonator(s.startNext))).Methods(http.MethodPost)
	r.HandleFunc(agents+"/cases/{caseId}/actions/resolve", s.agent(s.impersonator(s.resolve))).Methods(http.MethodPost)
	r.HandleFunc("/{applicationId}/services/{serviceId}/cases", s.agent(s.withRole(events.RoleCaseManager, s.queueUp))).Methods(http.MethodPost)
}

// agentError is an agent-impersonation API refusal: a status, the vendor's errorCode where
// it gives one, and a message.
type agentError struct {
	status  int
	code    int
	message string
}

func (e *agentError) Error() string { return e.message }

var (
	errTokenMissing     = &agentError{http.StatusUnauthorized, 0, "missing bearer token"}
	errTokenInvalid     = &agentError{http.StatusUnauthorized, 0, "unknown or expired bearer token"}
	errWrongApplication = &agentError{http.StatusForbidden, 0, "the token belongs to another application"}
	errRoleMissing      = &agentError{http.StatusForbidden, 0, "the application lacks the role this call needs"}
	errUnknownUser      = &agentError{http.StatusNotFound, 0, "no such user"}
	errNoCurrentUnit    = &agentError{http.StatusForbidden, 0, "no current unit selected for the user"}
	errUnitNotAllowed   = &agentError{http.StatusForbidden, 0, "the user may not select that unit"}
	errNoWorkspace      = &agentError{http.StatusConflict, 1011, "no workspace for the user in the current unit"}
	errWrongStatus      = &agentError{http.StatusConflict, 1001, "the case's status does not allow this action"}
	errLockedByOther    = &agentError{http.StatusConflict, 1002, "the case is locked by another user"}
	errUnknownCase      = &agentError{http.StatusNotFound, 0, "no such case"}
	errCaseUnreadable   = &agentError{http.StatusConflict, 0, "the case has an event this service cannot read"}
	errEventTooLarge    = &agentError{http.StatusRequestEntityTooLarge, 0, "the request would make an event larger than the server accepts"}
	errConcurrent       = &agentError{http.StatusConflict, 0, "the case or the agent kept changing under the request; retry"}
	errUnknownService   = &agentError{http.StatusNotFound, 0, "no such service"}
	errUnitIDMissing    = &agentError{http.StatusBadRequest, 0, "unitId is required"}
	errInboxNotInSpace  = &agentError{http.StatusBadRequest, 0, "inboxId is not an inbox of the current workspace"}
	errServiceType      = &agentError{http.StatusBadRequest, 0, "serviceTypeId is missing or not a service type of this service"}
	errChannel          = &agentError{http.StatusBadRequest, 0, "channel must be one of FaceToFace, Video, Phone, Chat"}
	errEntryMode        = &agentError{http.StatusBadRequest, 0, "entryMode must be WalkIn or Appointment"}
	errGrantType        = &agentError{http.StatusBadRequest, 0, "grant_type must be client_credentials"}
	errClientInvalid    = &agentError{http.StatusUnauthorized, 0, "invalid client credentials"}
	errFormInvalid      = &agentError{http.StatusBadRequest, 0, "malformed form body"}
	// casestream's own codes, where the vendor gives none.
	errAgentBlocked     = &agentError{http.StatusForbidden, 9001, "the user is blocked"}
	errAgentThrottled   = &agentError{http.StatusTooManyRequests, 9002, "too many failed attempts for this client or address; retry after the Retry-After seconds"}
	errVerificationBusy = &agentError{http.StatusServiceUnavailable, 9003, "credential verification is busy; retry after the Retry-After seconds"}
	errOutcomeUnknown   = &agentError{http.StatusServiceUnavailable, 9004, "the change may or may not have been stored (NATS did not answer in time); read before retrying"}
)

// agentStatus is the one table from errors to the agent-impersonation API's answers.
func agentStatus(err error) *agentError {
	var ae *agentError
	var de *aggregate.Error
	var tm *tooManyAttempts
	var fe *fieldError
	switch {
	case errors.As(err, &ae):
		return ae
	case errors.As(err, &fe):
		return &agentError{http.StatusBadRequest, 0, fe.Error()}
	case errors.As(err, &tm):
		return errAgentThrottled
	case errors.Is(err, directory.ErrBusy):
		return errVerificationBusy
	case errors.Is(err, aggregate.ErrWrongStatus):
		return errWrongStatus
	case errors.Is(err, aggregate.ErrLockedByOther):
		return errLockedByOther
	case errors.Is(err, directory.ErrUnknownAgent), errors.Is(err, projection.ErrUnknownUser):
		return errUnknownUser
	case errors.Is(err, directory.ErrUnitNotAllowed):
		return errUnitNotAllowed
	case errors.Is(err, projection.ErrNoCurrentUnit), errors.Is(err, aggregate.ErrNoCurrentUnit):
		return errNoCurrentUnit
	case errors.Is(err, projection.ErrNoWorkspace), errors.Is(err, aggregate.ErrNoWorkspace):
		return errNoWorkspace
	case errors.Is(err, aggregate.ErrInboxNotInWorkspace):
		return errInboxNotInSpace
	case errors.Is(err, aggregate.ErrServiceTypeUnknown):
		return errServiceType
	case errors.Is(err, aggregate.ErrChannel):
		return errChannel
	case errors.Is(err, aggregate.ErrEntryMode):
		return errEntryMode
	case errors.Is(err, cases.ErrNotFound):
		return errUnknownCase
	case errors.Is(err, cases.ErrUnreadable):
		return errCaseUnreadable
	case errors.Is(err, cases.ErrEventTooLarge):
		return errEventTooLarge
	case errors.As(err, &de):
		return &agentError{http.StatusBadRequest, 0, de.Key + ": " + de.Code}
	case errors.Is(err, errBodyMalformed), errors.Is(err, errBodyContentType):
		return &agentError{http.StatusBadRequest, 0, err.Error()}
	case errors.Is(err, errBodyTooLarge):
		return &agentError{http.StatusRequestEntityTooLarge, 0, err.Error()}
	case errors.Is(err, errRouteNotFound):
		return &agentError{http.StatusNotFound, 0, "no such route"}
	case errors.Is(err, errMethodNotAllowed):
		return &agentError{http.StatusMethodNotAllowed, 0, "method not allowed"}
	case errors.Is(err, eventstore.ErrTooManyConflicts):
		return errConcurrent
	case errors.Is(err, eventstore.ErrOutcomeUnknown):
		return errOutcomeUnknown
	case errors.Is(err, projection.ErrNotCaughtUp):
		return &agentError{http.StatusServiceUnavailable, 0, "the read model did not catch up in time; retry"}
	case unavailable(err):
		return &agentError{http.StatusServiceUnavailable, 0, "service temporarily unavailable; retry"}
	}
	return &agentError{http.StatusInternalServerError, 0, "internal error"}
}

// agent adapts an agent-impersonation API handler: a returned error becomes the answer.
func (s *Server) agent(h func(w http.ResponseWriter, r *http.Request) error) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		err := checkCorrelationID(r)
		if err == nil {
			err = h(w, r)
		}
		if err == nil {
			return
		}
		ae := agentStatus(err)
		s.countError("agent", ae.status, ae.message)
		s.noteResult(r, agentResult(ae), err)
		if ae.status >= 500 && !errors.Is(err, directory.ErrBusy) { // busy is expected under guessing
			s.log.Error("agent api", "method", r.Method, "path", r.URL.Path, "err", err)
		}
		setRetryAfter(w, err)
		body := struct {
			ErrorCode int    `json:"errorCode,omitempty"`
			Message   string `json:"message"`
		}{ae.code, ae.message}
		if werr := writeJSON(w, ae.status, body); werr != nil {
			s.log.Error("write error body", "err", werr)
		}
	}
}

// agentStatusBody is the answer of GET /agents/{userId}/status.
type agentStatusBody struct {
	UserID        string   `json:"userId"`
	Email         string   `json:"email"`
	DisplayName   string   `json:"displayName"`
	Initials      string   `json:"initials"`
	Picture       string   `json:"picture"`
	UnitID        *string  `json:"unitId"`
	UnitName      *string  `json:"unitName"`
	WorkspaceID   *string  `json:"workspaceId"`
	WorkspaceName *string  `json:"workspaceName"`
	Roles         []string `json:"roles"`
}

func (s *Server) agentState(op events.Operator) agentStatusBody {
	out := agentStatusBody{
		UserID: op.UserID, Email: op.Email, DisplayName: op.DisplayName, Initials: op.Initials,
		Picture: op.Picture, Roles: op.Roles,
	}
	if out.Roles == nil {
		out.Roles = []string{}
	}
	unitID, wsID := s.cfg.Directory.AgentState(op.UserID)
	if u, ok := s.cfg.Directory.Unit(unitID); ok {
		out.UnitID, out.UnitName = &u.UnitID, &u.Name
	}
	if ws, ok := s.cfg.Directory.Workspace(wsID); ok {
		out.WorkspaceID, out.WorkspaceName = &ws.WorkspaceID, &ws.Name
	}
	return out
}

func (s *Server) agentStatus(w http.ResponseWriter, r *http.Request, a agentCall) error {
	return writeJSON(w, http.StatusOK, s.agentState(a.agent))
}

func (s *Server) selectUnit(w http.ResponseWriter, r *http.Request, a agentCall) error {
	var body struct {
		UnitID string `json:"unitId"`
	}
	if err := readJSON(w, r, &body); err != nil {
		return err
	}
	if err := checkFields(field{"unitId", body.UnitID, MaxCodeLen}); err != nil {
		return err
	}
	if strings.TrimSpace(body.UnitID) == "" {
		return errUnitIDMissing
	}
	m := a.meta(r)
	if s.agents == nil {
		return errServiceUnavailable
	}
	if err := s.agents.SelectUnit(r.Context(), m.Actor, m.CorrelationID, a.agent.UserID, body.UnitID); err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, s.agentState(a.agent))
}

type workspaceBody struct {
	WorkspaceID       string `json:"workspaceId"`
	WorkspaceName     string `json:"workspaceName"`
	Description       string `json:"description"`
	StartNextBehavior string `json:"startNextBehavior"`
}

func (s *Server) workspaces(w http.ResponseWriter, r *http.Request, a agentCall) error {
	unitID, _ := s.cfg.Directory.AgentState(a.agent.UserID)
	if unitID == "" {
		return errNoCurrentUnit
	}
	list := s.cfg.Directory.WorkspacesOf(a.agent.UserID, unitID)
	out := make([]workspaceBody, 0, len(list))
	for _, ws := range list {
		out = append(out, workspaceBody{ws.WorkspaceID, ws.Name, ws.Description, ws.StartNextBehavior})
	}
	return writeJSON(w, http.StatusOK, out)
}

func (s *Server) activeCases(w http.ResponseWriter, r *http.Request, a agentCall) error {
	minCases, minDir, err := s.arrivalPositions(r.Context())
	if err != nil {
		return err
	}
	res, err := s.cfg.AgentQueries.ActiveCases(r.Context(), a.agent.UserID, minCases, minDir)
	if err != nil {
		return err
	}
	if err := res.Err(); err != nil {
		return err
	}
	body := res.Cases
	if len(body) == 0 {
		body = json.RawMessage("[]")
	}
	writeBody(w, http.StatusOK, "application/json; charset=utf-8", body)
	return nil
}

func (s *Server) startNext(w http.ResponseWriter, r *http.Request, a agentCall) error {
	var body struct {
		InboxID       string `json:"inboxId"`
		WorkstationID string `json:"workstationId"`
	}
	if r.ContentLength != 0 {
		if err := readJSON(w, r, &body); err != nil {
			return err
		}
	}
	if err := checkFields(field{"inboxId", body.InboxID, MaxCodeLen}, field{"workstationId", body.WorkstationID, MaxCodeLen}); err != nil {
		return err
	}
	started, ok, err := s.cfg.Cases.StartNext(r.Context(), a.meta(r), s.cfg.Directory,
		func(ctx context.Context, q aggregate.Queues, limit int) ([]int64, error) {
			minCases, minDir, err := s.positions(ctx)
			if err != nil {
				return nil, err
			}
			return s.cfg.AgentQueries.NextWaiting(ctx, q.InboxIDs, q.Groups, limit, minCases, minDir)
		}, a.agent.UserID, body.InboxID, body.WorkstationID)
	if err != nil {
		return err
	}
	if ok {
		c := &started.Case
		return writeJSON(w, http.StatusOK, map[string]any{
			"caseId": c.CaseID, "status": c.Status, "statusDate": stamp(c.StatusDate),
			"queueTimestamp": stamp(started.Queued), "ticket": c.Ticket, "onlineMeeting": nil,
		})
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) resolve(w http.ResponseWriter, r *http.Request, a agentCall) error {
	minCases, minDir, err := s.arrivalPositions(r.Context())
	if err != nil {
		return err
	}
	id, ok, err := s.cfg.AgentQueries.CaseLookup(r.Context(), mux.Vars(r)["caseId"], minCases, minDir)
	if err != nil {
		return err
	}
	if !ok {
		return errUnknownCase
	}
	c, err := s.cfg.Cases.Execute(r.Context(), id, a.meta(r), func(c *aggregate.Case) ([]events.Event, error) {
		return c.Resolve(a.agent.UserID)
	})
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, map[string]any{"caseTimestamp": stamp(c.CaseTimestamp)})
}

var ()

func (s *Server) queueUp(w http.ResponseWriter, r *http.Request, g grant) error {
	svc, ok := s.cfg.Directory.Service(mux.Vars(r)["serviceId"])
	if !ok {
		return errUnknownService
	}
	var body struct {
		ServiceTypeID      string           `json:"serviceTypeId"`
		Channel            string           `json:"channel"`
		EntryMode          string           `json:"entryMode"`
		Language           string           `json:"language"`
		ContactPhoneNumber string           `json:"contactPhoneNumber"`
		ContactEmail       string           `json:"contactEmail"`
		Customer           *events.Customer `json:"customer"`
	}
	if err := readJSON(w, r, &body); err != nil {
		return err
	}
	var customer events.Customer
	if body.Customer != nil {
		customer = *body.Customer
	}
	if err := checkFields(
		field{"serviceTypeId", body.ServiceTypeID, MaxCodeLen}, field{"channel", body.Channel, MaxCodeLen},
		field{"entryMode", body.EntryMode, MaxCodeLen}, field{"language", body.Language, MaxCodeLen},
		field{"contactPhoneNumber", body.ContactPhoneNumber, MaxPhoneLen}, field{"contactEmail", body.ContactEmail, MaxEmailLen},
		field{"customer.dataTableId", customer.DataTableID, MaxCodeLen}, field{"customer.recordId", customer.RecordID, MaxCodeLen},
		field{"customer.displayName", customer.DisplayName, MaxNameLen},
	); err != nil {
		return err
	}
	st, entryMode, err := aggregate.QueueUpOpening(s.cfg.Directory, body.ServiceTypeID, body.Channel, body.EntryMode)
	if err != nil {
		return err
	}
	c, err := s.cfg.Cases.Open(r.Context(), g.meta(r), cases.OpenRequest{
		ServiceType: st, Service: svc, Channel: body.Channel, EntryMode: entryMode,
		Language: body.Language, Customer: body.Customer,
		ContactPhoneNumber: body.ContactPhoneNumber, ContactEmail: body.ContactEmail,
	})
	if err != nil {
		return err
	}
	minCases, minDir, err := s.positions(r.Context())
	if err != nil {
		return err
	}
	pos, _, err := s.cfg.AgentQueries.QueuePosition(r.Context(), c.CaseInstanceID, minCases, minDir)
	if err != nil {
		return err
	}
	inbox, _ := s.cfg.Directory.Inbox(c.InboxID)
	return writeJSON(w, http.StatusCreated, map[string]any{
		"caseId": c.CaseID, "status": c.Status, "referenceDate": stamp(c.ReferenceDate),
		"inboxId": c.InboxID, "inboxName": inbox.Name, "channel": c.Channel, "language": c.Language,
		"ticket": c.Ticket, "queueTimestamp": stamp(c.StatusDate), "position": pos,
	})
}

// stamp formats a time as the APIs do: RFC 3339 in UTC with milliseconds.
func stamp(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }
