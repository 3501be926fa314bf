package httpapi

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	jsonv2 "github.com/go-json-experiment/json"
	"github.com/google/uuid"
	"github.com/gorilla/mux"
	"github.com/nats-io/nats.go"

	"github.com/casestream/casestream/events"
	"github.com/casestream/casestream/internal/directory"
	"github.com/casestream/casestream/internal/eventstore"
	"github.com/casestream/casestream/projection"
)

// AdminBase is the admin API's base path.
const AdminBase = "/admin/v1"

// AdminConfig turns on the admin API: the directory's administration (docs/api.md, "The
// admin API"). With no tokens it is off and every path under /admin answers 404.
type AdminConfig struct {
	// Tokens are the administrators: each calls with its token and is recorded in the
	// log by its name.
	Tokens []AdminToken
	// Commands runs the admin API's directory commands; the admin API is off without it.
	Commands *directory.Admin
}

// adminError is an admin API refusal that is not the directory's: authentication, request
// shape.
type adminError struct {
	status        int
	code, message string
	field         string
}

func (e *adminError) Error() string { return e.code + ": " + e.message }

// The admin API's own refusals.
var (
	errAdminUnauthorized = &adminError{status: http.StatusUnauthorized, code: "unauthorized", message: "a valid admin bearer token is required"}
	errAdminNoBody       = &adminError{status: http.StatusBadRequest, code: "malformedBody", message: "a JSON body is required"}
)

// directoryWait bounds how long a request waits for this replica's directory view to
// reach the DIRECTORY stream's position at its arrival.
const directoryWait = 5 * time.Second

// directoryCurrent waits until the directory view holds every directory event acknowledged
// before the request arrived, on whichever replica: a change made through the admin API is
// in effect on the next request anywhere. It answers 503 if that takes longer than
// directoryWait. A GET or HEAD, which may list cases next, reads both streams' positions at
// once, for the listing to reuse; any other call reads the directory's alone.
func (s *Server) directoryCurrent(r *http.Request) error {
	if s.cfg.Directory == nil {
		return nil
	}
	arrival := s.arrivalDirectory
	if r.Method == http.MethodGet || r.Method == http.MethodHead {
		arrival = func(ctx context.Context) (uint64, error) {
			_, d, err := s.arrivalPositions(ctx)
			return d, err
		}
	}
	ctx, cancel := context.WithTimeout(r.Context(), directoryWait)
	defer cancel()
	// While the stream's leader is elected again (a NATS node stopped), reading its position
	// fails for a moment: it is read again, within the same bound, rather than failing a
	// call that would otherwise succeed. Without a connection it fails at once: the call
	// could not succeed anyway, and clients hear the 503 without waiting.
	var dirSeq uint64
	for pause := 50 * time.Millisecond; ; pause = min(2*pause, time.Second) {
		var err error
		if dirSeq, err = arrival(ctx); err == nil {
			break
		}
		if !unavailable(err) || disconnected(err) || ctx.Err() != nil {
			return err
		}
		select {
		case <-time.After(pause):
		case <-ctx.Done():
			return err
		}
	}
	if err := s.cfg.Directory.WaitFor(ctx, dirSeq); err != nil {
		return fmt.Errorf("%w: directory at %d: %w", projection.ErrNotCaughtUp, dirSeq, err)
	}
	return nil
}

// disconnected reports whether err means that this process has no NATS connection now.
func disconnected(err error) bool {
	for _, d := range []error{nats.ErrDisconnected, nats.ErrConnectionReconnecting, nats.ErrConnectionClosed,
		nats.ErrConnectionDraining, nats.ErrNoServers, eventstore.ErrClosed, context.Canceled} {
		if errors.Is(err, d) {
			return true
		}
	}
	return false
}

// adminBody is the error body of the admin API.
type adminBody struct {
	Error adminErrorBody `json:"error"`
}

type adminErrorBody struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Field   string `json:"field,omitempty"`
}

// adminStatus is the one table from errors to the admin API's status and error body.
func adminStatus(err error) (int, adminErrorBody) {
	var ae *adminError
	var ie *directory.InvalidError
	var fe *fieldError
	switch {
	case errors.As(err, &ae):
		return ae.status, adminErrorBody{ae.code, ae.message, ae.field}
	case errors.As(err, &ie):
		return http.StatusBadRequest, adminErrorBody{"invalid", ie.Field + " " + ie.Reason, ie.Field}
	case errors.As(err, &fe):
		return http.StatusBadRequest, adminErrorBody{"invalid", fe.Field + " " + fe.Detail, fe.Field}
	case errors.Is(err, directory.ErrNotFound), errors.Is(err, errRouteNotFound):
		return http.StatusNotFound, adminErrorBody{"notFound", "no such entity or route", ""}
	case errors.Is(err, errMethodNotAllowed):
		return http.StatusMethodNotAllowed, adminErrorBody{"methodNotAllowed", "method not allowed", ""}
	case errors.Is(err, directory.ErrVersionMismatch):
		return http.StatusPreconditionFailed, adminErrorBody{"versionMismatch", "the entity changed since the version in If-Match", "If-Match"}
	case errors.Is(err, eventstore.ErrTooManyConflicts):
		return http.StatusConflict, adminErrorBody{"concurrentModification", "the entity kept changing; try again", ""}
	case errors.Is(err, errBodyContentType):
		return http.StatusUnsupportedMediaType, adminErrorBody{"unsupportedContentType", "the body must be application/json", ""}
	case errors.Is(err, errBodyTooLarge):
		return http.StatusRequestEntityTooLarge, adminErrorBody{"bodyTooLarge", "the body is over 1 MiB", ""}
	case errors.Is(err, errBodyMalformed):
		return http.StatusBadRequest, adminErrorBody{"malformedBody", "the body is not one JSON object", ""}
	case errors.Is(err, eventstore.ErrOutcomeUnknown):
		return http.StatusServiceUnavailable, adminErrorBody{"outcomeUnknown", "the change was sent but NATS did not say before the deadline whether it was stored; read the entity before retrying", ""}
	case errors.Is(err, directory.ErrBusy), unavailable(err):
		return http.StatusServiceUnavailable, adminErrorBody{"unavailable", "the service cannot answer now; try again", ""}
	}
	return http.StatusInternalServerError, adminErrorBody{"internalError", "internal error", ""}
}

// admin adapts an admin API handler: it checks the bearer token, waits for the directory
// to be current, and turns a returned error into the answer.
func (s *Server) admin(h func(w http.ResponseWriter, r *http.Request, admin string) error) http.HandlerFunc {
	return s.adminAnswer(func(w http.ResponseWriter, r *http.Request) error {
		name, ok := s.adminTokens.identify(r)
		if !ok {
			w.Header().Set("WWW-Authenticate", `Bearer realm="casestream-admin"`)
			return errAdminUnauthorized
		}
		if err := checkCorrelationID(r); err != nil {
			return err
		}
		if err := s.directoryCurrent(r); err != nil {
			return err
		}
		return h(w, r, name)
	})
}

// adminAnswer writes a returned error in the admin API's shape.
func (s *Server) adminAnswer(h func(w http.ResponseWriter, r *http.Request) error) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		err := h(w, r)
		if err == nil {
			return
		}
		status, body := adminStatus(err)
		s.countError("admin", status, body.Code)
		if status >= 500 {
			s.log.Error("admin api", "method", r.Method, "path", r.URL.Path, "err", err)
		}
		setRetryAfter(w, err)
		if werr := writeJSON(w, status, adminBody{body}); werr != nil {
			s.log.Error("write error body", "err", werr)
		}
	}
}

// adminTokens are the configured administrators' tokens, by the sha256 of the token, so
// that every comparison is of equal lengths.
type adminTokens []adminTokenHash

type adminTokenHash struct {
	name string
	hash [sha256.Size]byte
}

func newAdminTokens(ts []AdminToken) adminTokens {
	out := make(adminTokens, 0, len(ts))
	for _, t := range ts {
		out = append(out, adminTokenHash{t.Name, sha256.Sum256([]byte(t.Token))})
	}
	return out
}

// identify returns the name of the administrator whose token the request bears. Every
// token is compared, in constant time, whichever matches.
func (ts adminTokens) identify(r *http.Request) (string, bool) {
	scheme, token, _ := strings.Cut(r.Header.Get("Authorization"), " ")
	if !strings.EqualFold(scheme, "Bearer") || token == "" {
		return "", false
	}
	got := sha256.Sum256([]byte(strings.TrimSpace(token)))
	name, found := "", 0
	for _, t := range ts {
		if subtle.ConstantTimeCompare(got[:], t.hash[:]) == 1 {
			name, found = t.name, 1
		}
	}
	return name, found == 1
}

// readAdminJSON decodes the request body into v, strictly: an unknown member is refused, so
// that a misspelt field is reported instead of dropped. With optional, an empty body
// leaves v as it is.
func readAdminJSON(w http.ResponseWriter, r *http.Request, v any, optional bool) error {
	body, err := readBody(w, r, errBodyMalformed)
	if err != nil {
		return err
	}
	if len(body) == 0 {
		if optional {
			return nil
		}
		return errAdminNoBody
	}
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		return errBodyContentType
	}
	return decodeAdminJSON(body, v)
}

// decodeAdminJSON is readAdminJSON's decoding of a body already read. Invalid UTF-8 is a
// malformed body here, as any flaw at no field.
func decodeAdminJSON(body []byte, v any) error {
	flaw, field := unmarshalJSON(body, v, jsonv2.RejectUnknownMembers(true))
	switch flaw {
	case flawNone:
		return nil
	case flawUnknownMember:
		return &adminError{http.StatusBadRequest, "invalid", field + " is not a member of this body", field}
	case flawWrongType:
		return &adminError{http.StatusBadRequest, "invalid", field + " has the wrong JSON type", field}
	case flawRepeatedName:
		return &adminError{http.StatusBadRequest, "invalid", field + " is a repeated member name", field}
	}
	return errBodyMalformed
}

// adminChange is the directory.Change of a request: the administrator as actor, the
// body's reason, the correlation id (as the other surfaces set it), and the version of If-Match ("12" or "\"12\"").
func adminChange(r *http.Request, admin, reason string) (directory.Change, error) {
	c := directory.Change{
		Actor:         events.Actor{Kind: events.ActorAdmin, ID: admin},
		Reason:        reason,
		CorrelationID: requestMeta(r, events.Actor{}).CorrelationID,
	}
	if im := r.Header.Get("If-Match"); im != "" {
		v, err := strconv.ParseUint(strings.Trim(im, `"`), 10, 64)
		if err != nil {
			return c, &adminError{http.StatusBadRequest, "invalid", `If-Match is not a version ("12")`, "If-Match"}
		}
		c.IfVersion = &v
	}
	return c, nil
}

// setVersion sets the ETag of an entity at the given version.
func setVersion(w http.ResponseWriter, version uint64) {
	w.Header().Set("ETag", `"`+strconv.FormatUint(version, 10)+`"`)
}

// reasonOnly is the body of a call that carries nothing but its reason; it may be empty.
type reasonOnly struct {
	Reason string `json:"reason"`
}

// adminKind is the routes of one kind of entity: list, read, and create or replace
// (PUT, with a body B).
type adminKind[T, B any] struct {
	path string // the collection's path segment: "units"
	name string // the member of the answer holding one entity: "unit"
	kind string // the subject's kind: events.KindUnit
	get  func(d *directory.Directory, id string) (T, bool)
	list func(d *directory.Directory) []T
	put  func(ctx context.Context, a *directory.Admin, c directory.Change, id string, body B) (directory.Result, error)
	why  func(B) string
	// optional lets the PUT come without a body.
	optional bool
	// secret names the member that answers a generated secret: "token", "clientSecret".
	secret string
}

// registerAdminKind registers GET /{path}, GET /{path}/{id} and PUT /{path}/{id}.
func registerAdminKind[T, B any](s *Server, r *mux.Router, k adminKind[T, B]) {
	r.HandleFunc("/"+k.path, s.admin(func(w http.ResponseWriter, r *http.Request, _ string) error {
		return writeJSON(w, http.StatusOK, map[string]any{k.path: k.list(s.cfg.Directory)})
	})).Methods(http.MethodGet)
	r.HandleFunc("/"+k.path+"/{id}", s.admin(func(w http.ResponseWriter, r *http.Request, _ string) error {
		id := mux.Vars(r)["id"]
		v, ok := k.get(s.cfg.Directory, id)
		if !ok {
			return directory.ErrNotFound
		}
		version := s.cfg.Directory.Version(k.kind, id)
		setVersion(w, version)
		return writeJSON(w, http.StatusOK, map[string]any{"version": version, k.name: v})
	})).Methods(http.MethodGet)
	r.HandleFunc("/"+k.path+"/{id}", s.admin(func(w http.ResponseWriter, r *http.Request, admin string) error {
		var body B
		if err := readAdminJSON(w, r, &body, k.optional); err != nil {
			return err
		}
		c, err := adminChange(r, admin, k.why(body))
		if err != nil {
			return err
		}
		id := mux.Vars(r)["id"]
		res, err := k.put(r.Context(), s.adminCommands, c, id, body)
		if err != nil {
			return err
		}
		return k.answer(w, s.cfg.Directory, id, res)
	})).Methods(http.MethodPut)
}

// answer answers a change with the entity as it is now, its version, the number of events
// written and the generated secret, if any: 201 when the change created the entity.
func (k adminKind[T, B]) answer(w http.ResponseWriter, d *directory.Directory, id string, res directory.Result) error {
	v, ok := k.get(d, id)
	if !ok {
		return directory.ErrNotFound
	}
	setVersion(w, res.Version)
	out := map[string]any{"version": res.Version, "written": res.Written, k.name: v}
	if res.Secret != "" {
		out[k.secret] = res.Secret
		w.Header().Set("Cache-Control", "no-store")
	}
	status := http.StatusOK
	if res.Created {
		status = http.StatusCreated
	}
	return writeJSON(w, status, out)
}

// action registers a call on one entity of k that is not a replacement (block, a member
// added, a secret rotated): POST, PUT or DELETE on /{path}/{id}/{rest}, whose body holds
// at most its reason (when B is reasonOnly) and which answers as PUT does.
func adminAction[T, KB, B any](s *Server, r *mux.Router, k adminKind[T, KB], method, rest string, optional bool,
	why func(B) string, act func(ctx context.Context, a *directory.Admin, c directory.Change, vars map[string]string, body B) (directory.Result, error)) {
	r.HandleFunc("/"+k.path+"/{id}/"+rest, s.admin(func(w http.ResponseWriter, r *http.Request, admin string) error {
		var body B
		if err := readAdminJSON(w, r, &body, optional); err != nil {
			return err
		}
		c, err := adminChange(r, admin, why(body))
		if err != nil {
			return err
		}
		vars := mux.Vars(r)
		res, err := act(r.Context(), s.adminCommands, c, vars, body)
		if err != nil {
			return err
		}
		return k.answer(w, s.cfg.Directory, vars["id"], res)
	})).Methods(method)
}

// sameID reports whether the id in a body names the entity of the path: a uuid matches in
// any case; an empty id in the body is the path's.
func sameID(body, path string) bool {
	if body == "" || body == path {
		return true
	}
	a, err1 := uuid.Parse(strings.TrimSpace(body))
	b, err2 := uuid.Parse(strings.TrimSpace(path))
	return err1 == nil && err2 == nil && a == b
}

// idMismatch refuses a body whose id names another entity than the path.
func idMismatch(field string) error {
	return &directory.InvalidError{Field: field, Reason: "differs from the id in the path"}
}
