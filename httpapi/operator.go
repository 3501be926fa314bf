package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/gorilla/mux"

	"github.com/casestream/casestream/aggregate"
	"github.com/casestream/casestream/cases"
	"github.com/casestream/casestream/directory"
	"github.com/casestream/casestream/events"
	"github.com/casestream/casestream/idempotency"
	"github.com/casestream/casestream/tokens"
)

// SessionCookie is the name of the cookie that POST /api/v4/signin sets.
const SessionCookie = "casestream_session"

// Queries answers the read-side questions of the operator API. Each call reflects at least
// the given stream sequences of CASES and DIRECTORY.
type Queries interface {
	AssignedOpen(ctx context.Context, operatorID string, minCases, minDir uint64) ([]int64, error)
}

func (s *Server) registerOperatorRoutes(r *mux.Router) {
	r.HandleFunc("/isAlive", s.operator(s.isAlive)).Methods(http.MethodGet)
	r.HandleFunc("/signin", s.operator(s.signin)).Methods(http.MethodPost)
	r.HandleFunc("/logout", s.operator(s.logout)).Methods(http.MethodGet)
	r.HandleFunc("/cases/status", s.operator(s.withTouchpoint(s.caseStatuses))).Methods(http.MethodGet)
	r.HandleFunc("/cases/typecategory", s.operator(s.withTouchpoint(s.typeCategories))).Methods(http.MethodGet)
	r.HandleFunc("/cases", s.operator(s.authed(s.createCase))).Methods(http.MethodPost)
	r.HandleFunc("/cases", s.operator(s.authed(s.myCases))).Methods(http.MethodGet)
	r.HandleFunc("/cases/{caseInstanceId}", s.operator(s.authed(s.getCase))).Methods(http.MethodGet)
	r.HandleFunc("/cases/{caseInstanceId}/assignment", s.operator(s.authed(s.assign))).Methods(http.MethodPut)
	r.HandleFunc("/cases/{caseInstanceId}/transitions", s.operator(s.authed(s.transition))).Methods(http.MethodPut)
	r.HandleFunc("/cases/{caseInstanceId}/notes", s.operator(s.authed(s.addNote))).Methods(http.MethodPost)
}

// touchpoint checks the touchpoint credentials, from the query or the Thalamus headers.
func (s *Server) touchpoint(r *http.Request) (string, error) {
	q := r.URL.Query()
	code, token := q.Get("touchpoint"), q.Get("token")
	if code == "" && token == "" {
		code, token = r.Header.Get("Thalamus-Touchpoint"), r.Header.Get("Thalamus-Token")
	}
	if code == "" || token == "" {
		return "", errTouchpointMissing
	}
	if err := s.cfg.Directory.VerifyTouchpoint(code, token); err != nil {
		return "", errTouchpointInvalid
	}
	return code, nil
}

func (s *Server) withTouchpoint(h func(w http.ResponseWriter, r *http.Request) error) func(w http.ResponseWriter, r *http.Request) error {
	return func(w http.ResponseWriter, r *http.Request) error {
		if _, err := s.touchpoint(r); err != nil {
			return err
		}
		return h(w, r)
	}
}

// caller is the authenticated client of an operator API call.
type caller struct {
	touchpoint string
	operator   events.Operator
}

func (c caller) actor() events.Actor {
	return events.Actor{Kind: events.ActorOperator, ID: c.operator.UserID}
}

// authenticate identifies the operator by HTTP Basic credentials or by the session cookie.
func (s *Server) authenticate(r *http.Request) (caller, error) {
	tp, err := s.touchpoint(r)
	if err != nil {
		return caller{}, err
	}
	if email, password, ok := r.BasicAuth(); ok {
		op, err := s.cfg.Directory.VerifyOperator(email, password)
		switch {
		case errors.Is(err, directory.ErrBlocked):
			return caller{}, errOperatorBlocked
		case err != nil:
			return caller{}, errOperatorInvalid
		}
		return caller{touchpoint: tp, operator: op}, nil
	}
	ck, err := r.Cookie(SessionCookie)
	if err != nil {
		return caller{}, errOperatorMissing
	}
	v, err := s.cfg.Sessions.Lookup(r.Context(), ck.Value)
	if errors.Is(err, tokens.ErrNotFound) {
		return caller{}, errOperatorMissing
	}
	if err != nil {
		return caller{}, err
	}
	var sess session
	if json.Unmarshal(v, &sess) != nil {
		return caller{}, errOperatorMissing
	}
	op, ok := s.cfg.Directory.Operator(sess.UserID)
	switch {
	case !ok:
		return caller{}, errOperatorMissing
	case op.Blocked:
		return caller{}, errOperatorBlocked
	}
	return caller{touchpoint: tp, operator: op}, nil
}

// session is what a session cookie stands for.
type session struct {
	UserID     string `json:"userId"`
	Touchpoint string `json:"touchpoint"`
}

// authed adapts a handler that needs the calling operator. A request with an
// Idempotency-Key header that was answered before gets that answer again.
func (s *Server) authed(h func(w http.ResponseWriter, r *http.Request, c caller) error) func(w http.ResponseWriter, r *http.Request) error {
	return func(w http.ResponseWriter, r *http.Request) error {
		c, err := s.authenticate(r)
		if err != nil {
			return err
		}
		key := r.Header.Get("Idempotency-Key")
		if key == "" || r.Method == http.MethodGet || s.cfg.Idempotency == nil {
			return h(w, r, c)
		}
		if len(key) > 255 {
			return errIdempotencyKeyLong
		}
		return s.idempotent(w, r, idempotency.Key("operator", c.touchpoint, c.operator.UserID, r.Method, r.URL.Path, key), func(w http.ResponseWriter) error {
			return h(w, r, c)
		})
	}
}

// idempotent answers a remembered reply, or runs h, answers, and remembers its reply when it
// is not a server error.
func (s *Server) idempotent(w http.ResponseWriter, r *http.Request, key string, h func(w http.ResponseWriter) error) error {
	if rep, ok, err := s.cfg.Idempotency.Get(r.Context(), key); err != nil {
		return err
	} else if ok {
		w.Header().Set("Idempotent-Replayed", "true")
		writeBody(w, rep.Status, rep.ContentType, rep.Body)
		return nil
	}
	cw := &captureWriter{header: http.Header{}}
	if err := h(cw); err != nil {
		return err
	}
	if cw.status < 500 {
		if err := s.cfg.Idempotency.Put(r.Context(), key, idempotency.Reply{
			Status: cw.status, ContentType: cw.header.Get("Content-Type"), Body: cw.body.Bytes(),
		}); err != nil {
			return err
		}
	}
	for k, v := range cw.header {
		w.Header()[k] = v
	}
	w.WriteHeader(cw.status)
	_, _ = w.Write(cw.body.Bytes())
	return nil
}

// captureWriter keeps a handler's answer so that it can be remembered before it is sent.
type captureWriter struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (c *captureWriter) Header() http.Header { return c.header }
func (c *captureWriter) WriteHeader(status int) {
	if c.status == 0 {
		c.status = status
	}
}
func (c *captureWriter) Write(b []byte) (int, error) {
	if c.status == 0 {
		c.status = http.StatusOK
	}
	return c.body.Write(b)
}

func (s *Server) isAlive(w http.ResponseWriter, r *http.Request) error {
	return writeJSON(w, http.StatusOK, map[string]bool{"isAlive": true})
}

func (s *Server) signin(w http.ResponseWriter, r *http.Request) error {
	tp, err := s.touchpoint(r)
	if err != nil {
		return err
	}
	var body struct {
		Principal string `json:"principal"`
		Password  string `json:"password"`
	}
	if err := readJSON(w, r, &body); err != nil {
		return err
	}
	switch {
	case body.Principal == "":
		return errPrincipalMissing
	case body.Password == "":
		return errPasswordMissing
	}
	op, err := s.cfg.Directory.VerifyOperator(body.Principal, body.Password)
	switch {
	case errors.Is(err, directory.ErrBlocked):
		return errOperatorBlocked
	case err != nil:
		return errSigninInvalid
	}
	v, err := json.Marshal(session{UserID: op.UserID, Touchpoint: tp})
	if err != nil {
		return err
	}
	token, err := s.cfg.Sessions.Issue(r.Context(), v)
	if err != nil {
		return err
	}
	http.SetCookie(w, &http.Cookie{
		Name: SessionCookie, Value: token, Path: "/api/v4", HttpOnly: true,
		SameSite: http.SameSiteLaxMode, Secure: r.TLS != nil, MaxAge: int(s.cfg.Sessions.TTL().Seconds()),
	})
	return writeJSON(w, http.StatusOK, operatorContext(&op))
}

func (s *Server) logout(w http.ResponseWriter, r *http.Request) error {
	if _, err := s.touchpoint(r); err != nil {
		return err
	}
	if ck, err := r.Cookie(SessionCookie); err == nil {
		if err := s.cfg.Sessions.Revoke(r.Context(), ck.Value); err != nil {
			return err
		}
	}
	http.SetCookie(w, &http.Cookie{Name: SessionCookie, Value: "", Path: "/api/v4", HttpOnly: true, MaxAge: -1})
	return writeJSON(w, http.StatusOK, operatorContext(nil))
}

type caseStatus struct {
	StatusName string `json:"statusName"`
	Initial    bool   `json:"initial"`
	FinalState bool   `json:"finalState"`
}

func (s *Server) caseStatuses(w http.ResponseWriter, r *http.Request) error {
	out := make([]caseStatus, 0, len(events.Statuses))
	for _, st := range events.Statuses {
		out = append(out, caseStatus{
			StatusName: st,
			Initial:    st == events.StatusWaiting,
			FinalState: st == events.StatusClosed,
		})
	}
	return writeJSON(w, http.StatusOK, map[string]any{"caseStatuses": out})
}

type typeCategory struct {
	CaseTypeCode     string `json:"caseTypeCode"`
	CaseTypeName     string `json:"caseTypeName"`
	CaseCategoryCode string `json:"caseCategoryCode"`
	CaseCategoryName string `json:"caseCategoryName"`
}

func (s *Server) typeCategories(w http.ResponseWriter, r *http.Request) error {
	types := s.cfg.Directory.ServiceTypes()
	out := make([]typeCategory, 0, len(types))
	for _, t := range types {
		cat, _ := s.cfg.Directory.ServiceCategory(t.ServiceCategoryID)
		out = append(out, typeCategory{t.Code, t.Name, cat.Code, cat.Name})
	}
	return writeJSON(w, http.StatusOK, map[string]any{"caseTypeCategories": out})
}

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

func (s *Server) myCases(w http.ResponseWriter, r *http.Request, c caller) error {
	minCases, minDir, err := s.positions(r.Context())
	if err != nil {
		return err
	}
	ids, err := s.cfg.Queries.AssignedOpen(r.Context(), c.operator.UserID, minCases, minDir)
	if err != nil {
		return err
	}
	out := make([]caseObject, 0, len(ids))
	for _, id := range ids {
		cs, err := s.cfg.Cases.Get(r.Context(), id)
		if errors.Is(err, cases.ErrNotFound) {
			continue
		}
		if err != nil {
			return err
		}
		if cs.AssignedTo == c.operator.UserID && !cs.Final() {
			out = append(out, s.caseObject(&cs))
		}
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

// The operator API's wire types.
type (
	link struct {
		Ref  string `json:"ref"`
		Href string `json:"href"`
	}
	simpleProfile struct {
		Firstname string `json:"firstname"`
		Lastname  string `json:"lastname"`
		Email     string `json:"email"`
	}
	sessionContext struct {
		Links         []link         `json:"links"`
		Activities    []any          `json:"activities"`
		SimpleProfile *simpleProfile `json:"simpleProfile"`
	}
	comment struct {
		ID             int    `json:"id"`
		CaseInstanceID int64  `json:"caseInstanceId"`
		Description    string `json:"description"`
	}
	operatorRef struct {
		Email       string `json:"email"`
		DisplayName string `json:"displayName"`
	}
	groupRef struct {
		Name string `json:"name"`
	}
	assignmentBody struct {
		Operator *operatorRef `json:"operator"`
		Group    *groupRef    `json:"group"`
	}
	caseObject struct {
		ID           int64           `json:"id"`
		CaseID       string          `json:"caseId"`
		CategoryCode string          `json:"categoryCode"`
		CategoryName string          `json:"categoryName"`
		TypeCode     string          `json:"typeCode"`
		TypeName     string          `json:"typeName"`
		Status       string          `json:"status"`
		Resolution   string          `json:"resolution"`
		Comments     []comment       `json:"comments"`
		CaseData     json.RawMessage `json:"caseData"`
		Attachements []any           `json:"attachements"`
		Assignment   assignmentBody  `json:"assignment"`
	}
	caseAnswer struct {
		Context sessionContext `json:"context"`
		Case    caseObject     `json:"case"`
	}
)

// operatorContext is the session context of op, or of no one when op is nil.
func operatorContext(op *events.Operator) sessionContext {
	if op == nil {
		return sessionContext{
			Links:      []link{{Ref: "signin", Href: "/api/v4/signin"}},
			Activities: []any{},
		}
	}
	first, last, _ := strings.Cut(op.DisplayName, " ")
	return sessionContext{
		Links: []link{
			{Ref: "cases", Href: "/api/v4/cases"},
			{Ref: "logout", Href: "/api/v4/logout"},
		},
		Activities:    []any{},
		SimpleProfile: &simpleProfile{Firstname: first, Lastname: last, Email: op.Email},
	}
}

func (s *Server) caseAnswer(op *events.Operator, c *aggregate.Case) caseAnswer {
	return caseAnswer{Context: operatorContext(op), Case: s.caseObject(c)}
}

func (s *Server) caseObject(c *aggregate.Case) caseObject {
	st, _ := s.cfg.Directory.ServiceType(c.ServiceTypeID)
	cat, _ := s.cfg.Directory.ServiceCategory(c.ServiceCategoryID)
	out := caseObject{
		ID: c.CaseInstanceID, CaseID: c.CaseID,
		CategoryCode: cat.Code, CategoryName: cat.Name, TypeCode: st.Code, TypeName: st.Name,
		Status: c.Status, Resolution: c.Resolution,
		Comments: make([]comment, 0, len(c.Notes)), CaseData: c.CaseData, Attachements: []any{},
	}
	if len(out.CaseData) == 0 {
		out.CaseData = json.RawMessage("{}")
	}
	for _, n := range c.Notes {
		out.Comments = append(out.Comments, comment{ID: n.ID, CaseInstanceID: c.CaseInstanceID, Description: n.Description})
	}
	if c.AssignedTo != "" {
		op, _ := s.cfg.Directory.Operator(c.AssignedTo)
		out.Assignment.Operator = &operatorRef{Email: op.Email, DisplayName: op.DisplayName}
	}
	if c.AssignedGroup != "" {
		out.Assignment.Group = &groupRef{Name: c.AssignedGroup}
	}
	return out
}
