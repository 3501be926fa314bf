package httpapi

import (
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strings"

	"github.com/gorilla/mux"

	"github.com/casestream/casestream/events"
	"github.com/casestream/casestream/internal/cases"
	"github.com/casestream/casestream/internal/tokens"
)

// grant is what an access token stands for.
type grant struct {
	ApplicationID string   `json:"applicationId"`
	Roles         []string `json:"roles"`
}

func (s *Server) token(w http.ResponseWriter, r *http.Request) error {
	r.Body = http.MaxBytesReader(w, r.Body, MaxBodyBytes)
	if err := r.ParseForm(); err != nil {
		return errFormInvalid
	}
	if r.PostForm.Get("grant_type") != "client_credentials" {
		return errGrantType
	}
	id, secret := r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	if u, p, ok := r.BasicAuth(); ok && id == "" {
		id, secret = u, p
	}
	if err := s.directoryCurrent(r); err != nil {
		return err
	}
	var app events.Application
	err := s.check(r, principalApplication, id, secret, func() (err error) {
		app, err = s.cfg.Directory.VerifyApplication(id, secret)
		return err
	})
	if err != nil {
		return credentialRefusal(err, errClientInvalid)
	}
	v, err := json.Marshal(grant{ApplicationID: app.ApplicationID, Roles: app.Roles})
	if err != nil {
		return err
	}
	token, err := s.cfg.AccessTokens.Issue(r.Context(), v)
	if err != nil {
		return err
	}
	ttl := int(s.cfg.AccessTokens.TTL().Seconds())
	w.Header().Set("Cache-Control", "no-store")
	return writeJSON(w, http.StatusOK, map[string]any{
		"token_type": "Bearer", "expires_in": ttl, "ext_expires_in": ttl, "access_token": token,
	})
}

// withRole checks the bearer token, the path's applicationId and the role.
func (s *Server) withRole(role string, h func(w http.ResponseWriter, r *http.Request, g grant) error) func(w http.ResponseWriter, r *http.Request) error {
	return func(w http.ResponseWriter, r *http.Request) error {
		auth := r.Header.Get("Authorization")
		scheme, token, _ := strings.Cut(auth, " ")
		if !strings.EqualFold(scheme, "Bearer") || token == "" {
			return errTokenMissing
		}
		v, err := s.cfg.AccessTokens.Lookup(r.Context(), strings.TrimSpace(token))
		if errors.Is(err, tokens.ErrNotFound) {
			return errTokenInvalid
		}
		if err != nil {
			return err
		}
		var g grant
		if json.Unmarshal(v, &g) != nil {
			return errTokenInvalid
		}
		if !strings.EqualFold(mux.Vars(r)["applicationId"], g.ApplicationID) {
			return errWrongApplication
		}
		if !slices.Contains(g.Roles, role) {
			return errRoleMissing
		}
		// The directory must hold every change acknowledged before the call: an operator
		// blocked on another replica is refused here too.
		if err := s.directoryCurrent(r); err != nil {
			return err
		}
		return h(w, r, g)
	}
}

// agentCall is an agent API call on behalf of an existing operator.
type agentCall struct {
	grant grant
	agent events.Operator
}

func (a agentCall) meta(r *http.Request) cases.Meta {
	return a.grant.meta(r)
}

// meta is the command metadata of a request made with this grant.
func (g grant) meta(r *http.Request) cases.Meta {
	return requestMeta(r, events.Actor{Kind: events.ActorApplication, ID: g.ApplicationID})
}

// impersonator adapts an /agents/{userId} handler: role AgentImpersonator, existing user.
func (s *Server) impersonator(h func(w http.ResponseWriter, r *http.Request, a agentCall) error) func(w http.ResponseWriter, r *http.Request) error {
	return s.withRole(events.RoleAgentImpersonator, func(w http.ResponseWriter, r *http.Request, g grant) error {
		op, ok := s.cfg.Directory.Operator(mux.Vars(r)["userId"])
		switch {
		case !ok:
			return errUnknownUser
		case op.Blocked:
			// A blocked operator may not work through an application either: nothing is
			// read or changed on their behalf.
			return errAgentBlocked
		}
		return h(w, r, agentCall{grant: g, agent: op})
	})
}
