package httpapi

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"

	"github.com/casestream/casestream/events"
	"github.com/casestream/casestream/internal/directory"
	"github.com/casestream/casestream/internal/idempotency"
	"github.com/casestream/casestream/internal/tokens"
)

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
	// Every operator API call checks its touchpoint first: from here on the directory holds
	// every change acknowledged before the call (a token rotated, an operator blocked).
	if err := s.directoryCurrent(r); err != nil {
		return "", err
	}
	err := s.check(r, principalTouchpoint, code, token, func() error { return s.cfg.Directory.VerifyTouchpoint(code, token) })
	if err != nil {
		return "", credentialRefusal(err, errTouchpointInvalid)
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
		op, err := s.verifyOperator(r, email, password)
		if err != nil {
			return caller{}, credentialRefusal(err, errOperatorInvalid)
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

// verifyOperator checks an operator's email and password under the attempt limits; a
// blocked operator is errOperatorBlocked.
func (s *Server) verifyOperator(r *http.Request, email, password string) (events.Operator, error) {
	var op events.Operator
	err := s.check(r, principalOperator, strings.ToLower(email), password, func() (err error) {
		op, err = s.cfg.Directory.VerifyOperator(email, password)
		return err
	})
	if errors.Is(err, directory.ErrBlocked) {
		return events.Operator{}, errOperatorBlocked
	}
	return op, err
}

// credentialRefusal is the answer to a failed credential check: a refusal by the attempt
// limits or the bcrypt bound as it is (429, 503), anything else wrong.
func credentialRefusal(err, wrong error) error {
	var tm *tooManyAttempts
	var oe *opError
	if errors.As(err, &tm) || errors.As(err, &oe) || errors.Is(err, directory.ErrBusy) {
		return err
	}
	return wrong
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
	op, err := s.verifyOperator(r, body.Principal, body.Password)
	if err != nil {
		return credentialRefusal(err, errSigninInvalid)
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
		Name: SessionCookie, Value: token, Path: operatorBase(r), HttpOnly: true,
		SameSite: http.SameSiteLaxMode, Secure: r.TLS != nil, MaxAge: int(s.cfg.Sessions.TTL().Seconds()),
	})
	return writeJSON(w, http.StatusOK, operatorContext(operatorBase(r), &op))
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
	http.SetCookie(w, &http.Cookie{Name: SessionCookie, Value: "", Path: operatorBase(r), HttpOnly: true, MaxAge: -1})
	return writeJSON(w, http.StatusOK, operatorContext(operatorBase(r), nil))
}
