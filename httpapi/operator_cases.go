package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"

	"github.com/gorilla/mux"

	"github.com/casestream/casestream/aggregate"
	"github.com/casestream/casestream/cases"
	"github.com/casestream/casestream/events"
)

func (s *Server) createCase(w http.ResponseWriter, r *http.Request, c caller) error {
	var body struct {
		CategoryCode string          `json:"categoryCode"`
		TypeCode     string          `json:"typeCode"`
		Status       string          `json:"status"`
		Resolution   string          `json:"resolution"`
		Comments     string          `json:"comments"`
		CaseData     json.RawMessage `json:"caseData"`
	}
	if err := readJSON(w, r, &body); err != nil {
		return err
	}
	switch {
	case body.CategoryCode == "":
		return errCategoryRequired
	case body.TypeCode == "":
		return errTypeRequired
	}
	cat, ok := s.cfg.Directory.ServiceCategoryByCode(body.CategoryCode)
	if !ok {
		return errCategoryInvalid
	}
	st, ok := s.cfg.Directory.ServiceTypeByCode(body.TypeCode)
	if !ok || st.ServiceCategoryID != cat.ServiceCategoryID {
		return errTypeInvalid
	}
	if !aggregate.MayHandle(c.operator, st.Code) {
		return errTypeNotAuthorized
	}
	svc, ok := s.cfg.Directory.Service(st.DefaultServiceID)
	if !ok {
		return errTypeInvalid
	}
	if len(body.CaseData) > 0 && !bytes.Equal(body.CaseData, []byte("null")) && body.CaseData[0] != '{' {
		return errCaseDataInvalid
	}
	if bytes.Equal(body.CaseData, []byte("null")) {
		body.CaseData = nil
	}
	cs, err := s.cfg.Cases.Open(r.Context(), s.meta(r, c), cases.OpenRequest{
		ServiceType: st, Service: svc, Status: body.Status, Channel: "Chat",
		Resolution: body.Resolution, Comments: body.Comments, CaseData: compactJSON(body.CaseData),
	})
	if errors.Is(err, aggregate.ErrStatusInvalid) {
		return errOpenStatusInvalid
	}
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusCreated, s.caseAnswer(&c.operator, &cs))
}

func compactJSON(b json.RawMessage) json.RawMessage {
	if len(b) == 0 {
		return nil
	}
	var buf bytes.Buffer
	if json.Compact(&buf, b) != nil {
		return nil
	}
	return buf.Bytes()
}

func (s *Server) meta(r *http.Request, c caller) cases.Meta { return requestMeta(r, c.actor()) }

// requestMeta is the command metadata of a request made by actor: its correlation id and
// idempotency key come from the request's headers.
func requestMeta(r *http.Request, actor events.Actor) cases.Meta {
	return cases.Meta{
		Actor:          actor,
		CorrelationID:  r.Header.Get("X-Correlation-Id"),
		IdempotencyKey: r.Header.Get("Idempotency-Key"),
	}
}

// caseInstanceID parses the path's caseInstanceId: a positive integer, or invalidId.
func caseInstanceID(r *http.Request) (int64, error) {
	id, err := strconv.ParseInt(mux.Vars(r)["caseInstanceId"], 10, 64)
	if err != nil || id <= 0 {
		return 0, aggregate.ErrCaseInvalidID
	}
	return id, nil
}

func (s *Server) getCase(w http.ResponseWriter, r *http.Request, c caller) error {
	id, err := caseInstanceID(r)
	if err != nil {
		return err
	}
	cs, err := s.cfg.Cases.Get(r.Context(), id)
	if err != nil {
		return err
	}
	if !cs.MayActOn(s.cfg.Directory, c.operator) {
		return aggregate.ErrCaseInvalidID
	}
	return writeJSON(w, http.StatusOK, s.caseObject(&cs))
}

// The case list's paging: page counts from 0; size is at most maxCasesPageSize. The vendor's
// SDK (getCases) sends neither, so defaultCasesPageSize is what its users see.
const (
	defaultCasesPageSize = 50
	maxCasesPageSize     = 200
)

// Refusals of the case list's query parameters.
var (
	errPageInvalid = &opError{http.StatusBadRequest, "page", "invalid"}
	errSizeInvalid = &opError{http.StatusBadRequest, "size", "invalid"}
)

// casesPage reads the case list's page and size query parameters; an absent or empty one
// takes its default.
func casesPage(r *http.Request) (page, size int, err error) {
	q := r.URL.Query()
	page, size = 0, defaultCasesPageSize
	if v := q.Get("page"); v != "" {
		if page, err = strconv.Atoi(v); err != nil || page < 0 {
			return 0, 0, errPageInvalid
		}
	}
	if v := q.Get("size"); v != "" {
		if size, err = strconv.Atoi(v); err != nil || size < 1 || size > maxCasesPageSize {
			return 0, 0, errSizeInvalid
		}
	}
	return page, size, nil
}

// myCases lists one page of the caller's open cases, as the read model answered at the
// request's arrival. Each listed case is then loaded from the log (one direct get each, at
// most maxCasesPageSize), so that it shows its notes and data as of now.
func (s *Server) myCases(w http.ResponseWriter, r *http.Request, c caller) error {
	page, size, err := casesPage(r)
	if err != nil {
		return err
	}
	minCases, minDir, err := s.positions(r.Context())
	if err != nil {
		return err
	}
	ids, err := s.cfg.Queries.OperatorCases(r.Context(), c.operator.UserID, page, size, minCases, minDir)
	if err != nil {
		return err
	}
	out := make([]caseObject, 0, len(ids))
	for _, id := range ids {
		cs, err := s.cfg.Cases.Get(r.Context(), id)
		if err != nil {
			return err
		}
		out = append(out, s.caseObject(&cs))
	}
	return writeJSON(w, http.StatusOK, map[string]any{"cases": out})
}

// positions returns the last sequences of CASES and DIRECTORY: the read side must have
// applied them before it answers, so that an answer reflects every acknowledged write.
func (s *Server) positions(ctx context.Context) (uint64, uint64, error) {
	if s.cfg.Positions == nil {
		return 0, 0, nil
	}
	return s.cfg.Positions(ctx)
}

func (s *Server) assign(w http.ResponseWriter, r *http.Request, c caller) error {
	var body struct {
		Email     *string `json:"email"`
		GroupName *string `json:"groupName"`
	}
	if err := readJSON(w, r, &body); err != nil {
		return err
	}
	email, group := deref(body.Email), deref(body.GroupName)
	// Rule 1 (the body) comes before rule 2 (the case), even for an id that cannot be one.
	var none aggregate.Case
	if _, err := none.Assign(s.cfg.Directory, c.operator, email, group); !errors.Is(err, aggregate.ErrCaseInvalidID) {
		return err
	}
	id, err := caseInstanceID(r)
	if err != nil {
		return err
	}
	cs, err := s.cfg.Cases.Execute(r.Context(), id, s.meta(r, c), func(cs *aggregate.Case) ([]events.Event, error) {
		return cs.Assign(s.cfg.Directory, c.operator, email, group)
	})
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusCreated, s.caseAnswer(&c.operator, &cs))
}

// onCase runs a command on the path's case, which the caller must be allowed to act on.
func (s *Server) onCase(r *http.Request, c caller, decide cases.Decider) (aggregate.Case, error) {
	id, err := caseInstanceID(r)
	if err != nil {
		return aggregate.Case{}, err
	}
	return s.cfg.Cases.Execute(r.Context(), id, s.meta(r, c), func(cs *aggregate.Case) ([]events.Event, error) {
		if !cs.MayActOn(s.cfg.Directory, c.operator) {
			return nil, aggregate.ErrCaseInvalidID
		}
		return decide(cs)
	})
}

func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

func (s *Server) transition(w http.ResponseWriter, r *http.Request, c caller) error {
	var body struct {
		StatusName string `json:"statusName"`
	}
	if err := readJSON(w, r, &body); err != nil {
		return err
	}
	cs, err := s.onCase(r, c, func(cs *aggregate.Case) ([]events.Event, error) {
		return cs.Transition(body.StatusName)
	})
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusCreated, s.caseAnswer(&c.operator, &cs))
}

func (s *Server) addNote(w http.ResponseWriter, r *http.Request, c caller) error {
	var body struct {
		Description string `json:"description"`
	}
	if err := readJSON(w, r, &body); err != nil {
		return err
	}
	cs, err := s.onCase(r, c, func(cs *aggregate.Case) ([]events.Event, error) {
		return cs.AddNote(body.Description)
	})
	if err != nil {
		return err
	}
	var cm comment
	if n := len(cs.Notes); n > 0 {
		cm = comment{ID: cs.Notes[n-1].ID, CaseInstanceID: cs.CaseInstanceID, Description: cs.Notes[n-1].Description}
	}
	return writeJSON(w, http.StatusCreated, map[string]any{"context": operatorContext(&c.operator), "comment": cm})
}
