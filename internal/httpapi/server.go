package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gorilla/mux"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/casestream/casestream/internal/cases"
	"github.com/casestream/casestream/internal/directory"
	"github.com/casestream/casestream/internal/files"
	"github.com/casestream/casestream/internal/idempotency"
	"github.com/casestream/casestream/internal/readiness"
	"github.com/casestream/casestream/internal/tokens"
)

// MaxBodyBytes is the largest request body accepted.
const MaxBodyBytes = 1 << 20

// Config holds a Server's collaborators.
type Config struct {
	Cases *cases.Service
	// Directory is the api's view of the directory.
	Directory *directory.Directory
	// Agents runs the agent API's directory commands (a unit selected).
	Agents *directory.Agents
	// Sessions holds the operator API's session cookies; AccessTokens the agent API's tokens.
	Sessions     *tokens.Bucket
	AccessTokens *tokens.Bucket
	Idempotency  *idempotency.Store
	Queries      Queries
	AgentQueries AgentQueries
	// Files holds the bytes of case attachments; MaxAttachmentBytes limits one file
	// (files.DefaultMaxBytes if zero).
	Files              *files.Store
	MaxAttachmentBytes int64
	// Positions returns the last sequences of CASES and DIRECTORY at the time of the call.
	Positions func(ctx context.Context) (cases, directory uint64, err error)
	// DirectoryPosition returns the last sequence of DIRECTORY alone (one read where
	// Positions makes two); Positions' if nil.
	DirectoryPosition func(ctx context.Context) (uint64, error)
	// Ready are the checks of /readyz: NATS reachable, streams present, projection caught up.
	Ready  []readiness.Check
	Logger *slog.Logger
	// Registry receives the server's metrics; a new registry by default.
	Registry *prometheus.Registry
	// BasePath, if set, is a second base path of the operator API besides OperatorBase, such
	// as /acme/api/v4 (see CheckBasePath).
	BasePath string
	// Attempts limits failed credential checks; DefaultAttemptLimits() if nil.
	Attempts *AttemptLimits
	// RequestTimeout bounds each request's work (DefaultRequestTimeout if zero): past it,
	// what the request waits for gives up and the answer is a 503. Keep it well inside the
	// http.Server's WriteTimeout, so that the client hears that answer.
	RequestTimeout time.Duration
	// Admin turns on the admin API; off without tokens.
	Admin AdminConfig
}

// DefaultRequestTimeout is Config.RequestTimeout's default.
const DefaultRequestTimeout = 10 * time.Second

// Server is the HTTP handler of both API surfaces.
type Server struct {
	cfg     Config
	router  *mux.Router
	log     *slog.Logger
	metrics *metrics
	// routes lists the router's path templates and their methods, for the Allow header.
	routes []routeMethods
	// attempts limits failed credential checks (attempts.go).
	attempts *attempts
	// adminTokens and adminCommands serve the admin API (admin.go); nil when it is off.
	adminTokens   adminTokens
	adminCommands *directory.Admin
	// agents runs the agent API's directory commands.
	agents *directory.Agents
}

// NewServer returns a Server with every route registered.
func NewServer(cfg Config) *Server {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Registry == nil {
		cfg.Registry = prometheus.NewRegistry()
	}
	if cfg.RequestTimeout <= 0 {
		cfg.RequestTimeout = DefaultRequestTimeout
	}
	limits := DefaultAttemptLimits()
	if cfg.Attempts != nil {
		limits = *cfg.Attempts
	}
	s := &Server{cfg: cfg, router: mux.NewRouter(), log: cfg.Logger, metrics: newMetrics(cfg.Registry), attempts: newAttempts(limits)}
	s.agents = cfg.Agents
	s.router.Use(s.instrument, s.deadline)
	// gorilla/mux tries routes in order, a regexp each: the API's routes come first, the
	// hottest first within each surface.
	s.registerOperatorRoutes(s.router.PathPrefix("/api/v4").Subrouter())
	if len(cfg.Admin.Tokens) > 0 && cfg.Admin.Commands != nil {
		s.adminTokens = newAdminTokens(cfg.Admin.Tokens)
		s.adminCommands = cfg.Admin.Commands
		s.registerAdminRoutes(s.router.PathPrefix(AdminBase).Subrouter())
	}
	s.registerAgentRoutes(s.router)
	s.router.HandleFunc("/healthz", s.healthz).Methods(http.MethodGet)
	s.router.Handle("/readyz", readiness.Handler(cfg.Ready)).Methods(http.MethodGet)
	s.router.Handle("/metrics", promhttp.HandlerFor(cfg.Registry, promhttp.HandlerOpts{})).Methods(http.MethodGet)
	s.router.NotFoundHandler = http.HandlerFunc(s.unrouted)
	s.router.MethodNotAllowedHandler = http.HandlerFunc(s.unrouted)
	routes, err := routeTable(s.router)
	if err != nil {
		panic(fmt.Sprintf("httpapi: route table: %v", err)) // a route this package registers is malformed
	}
	s.routes = routes
	return s
}

// surface answers err in the error shape of the surface the path belongs to.
func (s *Server) surface(err error) http.Handler {
	fail := func(w http.ResponseWriter, r *http.Request) error { return err }
	op, agent, admin := s.operator(fail), s.agent(fail), s.adminAnswer(fail)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/api/") {
			op(w, r)
			return
		}
		if r.URL.Path == "/admin" || strings.HasPrefix(r.URL.Path, "/admin/") {
			admin(w, r)
			return
		}
		agent(w, r)
	})
}

// TransferTimeout is the deadline of a file upload or download, which moves up to
// MaxAttachmentBytes through the request: inside the HTTP server's 30 s read and write
// timeouts, and longer than other requests'.
const TransferTimeout = 25 * time.Second

// deadline gives every request the deadline of Config.RequestTimeout, a file transfer
// (a route under .../files) TransferTimeout.
func (s *Server) deadline(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		d := s.cfg.RequestTimeout
		if cr := mux.CurrentRoute(r); cr != nil {
			if t, err := cr.GetPathTemplate(); err == nil && strings.Contains(t, "/files") {
				d = max(d, TransferTimeout)
			}
		}
		ctx, cancel := context.WithTimeout(r.Context(), d)
		defer cancel()
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

// ServeHTTP implements http.Handler. An operator API path under Config.BasePath or with a
// trailing slash is served as the route it names (see route). Every request gets an id and
// a log line (see serve).
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.serve(w, s.route(r))
}

func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	writeBody(w, http.StatusOK, "application/json", []byte(`{"status":"ok"}`+"\n"))
}

// writeJSON encodes v into a buffer, then writes the status and the buffer. An encoding
// failure becomes an error the caller's adapter turns into a 500.
func writeJSON(w http.ResponseWriter, status int, v any) error {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return err
	}
	writeBody(w, status, "application/json; charset=utf-8", buf.Bytes())
	return nil
}

func writeBody(w http.ResponseWriter, status int, contentType string, body []byte) {
	w.Header().Set("Content-Type", contentType)
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// Body errors, shared by both surfaces.
var (
	errBodyMalformed      = errors.New("malformed JSON body")
	errBodyTooLarge       = errors.New("body over 1 MiB")
	errBodyContentType    = errors.New("content type is not application/json")
	errRouteNotFound      = errors.New("no such route")
	errMethodNotAllowed   = errors.New("method not allowed")
	errServiceUnavailable = errors.New("service unavailable")
)
