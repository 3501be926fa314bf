package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"reflect"
	"strconv"

	"github.com/gorilla/mux"

	"github.com/casestream/casestream/aggregate"
	"github.com/casestream/casestream/events"
	"github.com/casestream/casestream/internal/cases"
)

// caseBody is the body of the create and update calls as the vendor's SDK sends them: null
// for what is not chosen, comments as an array.
type caseBody struct {
	CategoryCode string          `json:"categoryCode"`
	TypeCode     string          `json:"typeCode"`
	Status       string          `json:"status"`
	Resolution   string          `json:"resolution"`
	Comments     commentList     `json:"comments"`
	CaseData     json.RawMessage `json:"caseData"`
}

// caseData returns the body's custom fields, compacted: nil when absent or null, and
// errCaseDataInvalid unless an object.
func (b *caseBody) caseData() (json.RawMessage, error) {
	if len(b.CaseData) == 0 || bytes.Equal(b.CaseData, []byte("null")) {
		return nil, nil
	}
	if b.CaseData[0] != '{' {
		return nil, errCaseDataInvalid
	}
	return compactJSON(b.CaseData), nil
}

// commentList is the comments member of a case body: an array whose elements are objects
// with a description (what the vendor's SDK sends) or strings; a string alone is one
// comment, and null none (so is a null element or description). Each comment becomes a note.
type commentList []string

// UnmarshalJSON implements json.Unmarshaler. Any other shape is a type error of the member.
func (l *commentList) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if bytes.Equal(b, []byte("null")) {
		*l = nil
		return nil
	}
	var one string
	if json.Unmarshal(b, &one) == nil {
		*l = commentList{one}
		return nil
	}
	var elems []json.RawMessage
	if err := json.Unmarshal(b, &elems); err != nil {
		return commentsTypeError(b)
	}
	out := make(commentList, 0, len(elems))
	for _, e := range elems {
		var note struct {
			Description *string `json:"description"`
		}
		switch {
		case bytes.Equal(e, []byte("null")):
		case json.Unmarshal(e, &one) == nil:
			out = append(out, one)
		case len(e) > 0 && e[0] == '{' && json.Unmarshal(e, &note) == nil:
			if note.Description != nil {
				out = append(out, *note.Description)
			}
		default:
			return commentsTypeError(e)
		}
	}
	*l = out
	return nil
}

// commentsTypeError describes a comments member, or one of its elements, of the wrong JSON
// type; encoding/json adds the member's name.
func commentsTypeError(v []byte) error {
	kind := map[byte]string{'{': "object", '[': "array", '"': "string", 't': "bool", 'f': "bool", 'n': "null"}[v[0]]
	if kind == "" {
		kind = "number"
	}
	return &json.UnmarshalTypeError{Value: kind, Type: reflect.TypeFor[commentList]()}
}

func (s *Server) createCase(w http.ResponseWriter, r *http.Request, c caller) error {
	var body caseBody
	if err := readJSON(w, r, &body); err != nil {
		return err
	}
	if err := body.check(); err != nil {
		return err
	}
	st, svc, err := aggregate.OperatorOpening(s.cfg.Directory, s.cfg.Directory, c.operator, body.CategoryCode, body.TypeCode)
	if err != nil {
		return err
	}
	caseData, err := body.caseData()
	if err != nil {
		return err
	}
	cs, err := s.cfg.Cases.Open(r.Context(), s.meta(r, c), cases.OpenRequest{
		ServiceType: st, Service: svc, Status: body.Status, Channel: "Chat",
		Resolution: body.Resolution, Comments: body.Comments, CaseData: caseData,
	})
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusCreated, s.caseAnswer(r, &c.operator, &cs))
}

func (s *Server) updateCase(w http.ResponseWriter, r *http.Request, c caller) error {
	var body caseBody
	if err := readJSON(w, r, &body); err != nil {
		return err
	}
	if err := body.check(); err != nil {
		return err
	}
	caseData, err := body.caseData()
	if err != nil {
		return err
	}
	req := aggregate.UpdateRequest{
		CategoryCode: body.CategoryCode, TypeCode: body.TypeCode, Status: body.Status,
		Resolution: body.Resolution, Comments: body.Comments, CaseData: caseData,
	}
	cs, err := s.cfg.Cases.Execute(r.Context(), pathCaseID(r), s.meta(r, c), func(cs *aggregate.Case) ([]events.Event, error) {
		return cs.Update(s.cfg.Directory, s.cfg.Directory, c.operator, req)
	})
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusCreated, s.caseAnswer(r, &c.operator, &cs))
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

// requestMeta is the command metadata of a request made by actor: its correlation id is
// X-Correlation-Id, or the request's id (X-Request-Id) when none is given; its idempotency
// key is Idempotency-Key.
func requestMeta(r *http.Request, actor events.Actor) cases.Meta {
	corr := r.Header.Get("X-Correlation-Id")
	if corr == "" {
		corr = RequestID(r.Context())
	}
	return cases.Meta{
		Actor:          actor,
		CorrelationID:  corr,
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

// pathCaseID returns the path's caseInstanceId, or 0 when it is not a positive integer: the
// commands that check their request before the case (update, assign) are run on it all the
// same, and refuse 0 by their own rule on the case (cases.Service.Execute).
func pathCaseID(r *http.Request) int64 {
	id, err := caseInstanceID(r)
	if err != nil {
		return 0
	}
	return id
}

// readableCase returns the case of the request's path if the caller may act on it, and
// aggregate.ErrCaseInvalidID (a missing case answers alike) if not.
func (s *Server) readableCase(r *http.Request, c caller) (aggregate.Case, error) {
	id, err := caseInstanceID(r)
	if err != nil {
		return aggregate.Case{}, err
	}
	cs, err := s.cfg.Cases.Get(r.Context(), id)
	if err != nil {
		return aggregate.Case{}, err
	}
	if !cs.MayActOn(s.cfg.Directory, c.operator) {
		return aggregate.Case{}, aggregate.ErrCaseInvalidID
	}
	return cs, nil
}

func (s *Server) getCase(w http.ResponseWriter, r *http.Request, c caller) error {
	cs, err := s.readableCase(r, c)
	if err != nil {
		return err
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
// request's arrival. The listed cases are then read as of now (cases.Service.GetMany: one
// read of their last sequences, and the log of those that moved), so that each shows its
// notes and data as of now.
func (s *Server) myCases(w http.ResponseWriter, r *http.Request, c caller) error {
	page, size, err := casesPage(r)
	if err != nil {
		return err
	}
	minCases, minDir, err := s.arrivalPositions(r.Context())
	if err != nil {
		return err
	}
	ids, err := s.cfg.Queries.OperatorCases(r.Context(), c.operator.UserID, page, size, minCases, minDir)
	if err != nil {
		return err
	}
	// An unreadable case answers for itself, not for the listing: GetMany leaves it out.
	listed, err := s.cfg.Cases.GetMany(r.Context(), ids)
	if err != nil {
		return err
	}
	out := make([]caseObject, 0, len(listed))
	for i := range listed {
		out = append(out, s.caseObject(&listed[i]))
	}
	return writeJSON(w, http.StatusOK, map[string]any{"cases": out})
}

// positions reads the last sequences of CASES and DIRECTORY now: the read side must have
// applied them before it answers, so that an answer reflects every write acknowledged
// before, this request's own included.
func (s *Server) positions(ctx context.Context) (uint64, uint64, error) {
	if s.cfg.Positions == nil {
		return 0, 0, nil
	}
	return s.cfg.Positions(ctx)
}

// arrivalPositions returns the last sequences of CASES and DIRECTORY read once per request,
// after it arrived: what a read of a request that has written nothing must reflect. The
// directory wait every call makes first reads them, and a listing then reuses that read
// instead of waiting for another.
func (s *Server) arrivalPositions(ctx context.Context) (uint64, uint64, error) {
	ri, _ := ctx.Value(requestInfoKey{}).(*requestInfo)
	if ri != nil && ri.arrival != nil {
		return ri.arrival[0], ri.arrival[1], nil
	}
	c, d, err := s.positions(ctx)
	if err == nil && ri != nil {
		ri.arrival = &[2]uint64{c, d}
	}
	return c, d, err
}

// arrivalDirectory returns DIRECTORY's last sequence read once per request, after it
// arrived: arrivalPositions' if it was read, else read alone.
func (s *Server) arrivalDirectory(ctx context.Context) (uint64, error) {
	ri, _ := ctx.Value(requestInfoKey{}).(*requestInfo)
	switch {
	case ri != nil && ri.arrival != nil:
		return ri.arrival[1], nil
	case ri != nil && ri.arrivalDir != nil:
		return *ri.arrivalDir, nil
	case s.cfg.DirectoryPosition == nil:
		_, d, err := s.arrivalPositions(ctx)
		return d, err
	}
	d, err := s.cfg.DirectoryPosition(ctx)
	if err == nil && ri != nil {
		ri.arrivalDir = &d
	}
	return d, err
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
	cs, err := s.cfg.Cases.Execute(r.Context(), pathCaseID(r), s.meta(r, c), func(cs *aggregate.Case) ([]events.Event, error) {
		return cs.Assign(s.cfg.Directory, c.operator, email, group)
	})
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusCreated, s.caseAnswer(r, &c.operator, &cs))
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
	return writeJSON(w, http.StatusCreated, s.caseAnswer(r, &c.operator, &cs))
}

func (s *Server) addNote(w http.ResponseWriter, r *http.Request, c caller) error {
	var body struct {
		Description string `json:"description"`
	}
	if err := readJSON(w, r, &body); err != nil {
		return err
	}
	if err := checkFields(field{"description", body.Description, MaxTextLen}); err != nil {
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
	return writeJSON(w, http.StatusCreated, map[string]any{"context": operatorContext(operatorBase(r), &c.operator), "comment": cm})
}
