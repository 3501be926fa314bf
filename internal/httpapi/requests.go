package httpapi

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/google/uuid"

	"github.com/casestream/casestream/internal/directory"
)

// RequestIDHeader carries a request's id: taken from the request when it is a valid id
// (at most MaxCorrelationIDLen printable ASCII characters), generated otherwise, and echoed
// in the response. It is logged with the request, and it is the correlationId of the
// events the request writes unless X-Correlation-Id gives one.
const RequestIDHeader = "X-Request-Id"

// requestInfo follows a request through the handlers: the middleware fills in its route,
// the error adapters its result.
type requestInfo struct {
	id     string
	route  string
	result string // the error code the answer carries; empty for a success
	// arrival holds the streams' last sequences as first read for this request, after it
	// arrived: what its reads must reflect (arrivalPositions). Set once, by the request's
	// own goroutine, before any write of the request.
	arrival *[2]uint64
	// arrivalDir is DIRECTORY's last sequence, read alone for this request after it arrived
	// (arrivalDirectory), when arrival was not read first. Set once, as arrival is.
	arrivalDir *uint64
}

type requestInfoKey struct{}

// info returns the request's info, or nil outside Server.ServeHTTP.
func info(r *http.Request) *requestInfo {
	i, _ := r.Context().Value(requestInfoKey{}).(*requestInfo)
	return i
}

// RequestID returns the id of the request ctx belongs to, "" outside a request.
func RequestID(ctx context.Context) string {
	if i, ok := ctx.Value(requestInfoKey{}).(*requestInfo); ok {
		return i.id
	}
	return ""
}

// requestID returns the request's valid X-Request-Id, or a new one. An invalid header is
// also refused by the adapters (checkCorrelationID), never echoed or logged.
func requestID(r *http.Request) string {
	if v := r.Header.Get(RequestIDHeader); v != "" && checkHeaderID(v, RequestIDHeader, "requestId") == nil {
		return v
	}
	return uuid.NewString()
}

// serve runs the router for one request: it sets the request id, answers it in
// X-Request-Id, and logs one line and counts the outcome of commands and credential checks
// once the answer is written.
func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	ri := &requestInfo{id: requestID(r), route: "unmatched"}
	w.Header().Set(RequestIDHeader, ri.id)
	rec := &statusRecorder{ResponseWriter: w}
	r = r.WithContext(context.WithValue(r.Context(), requestInfoKey{}, ri))
	defer func() {
		status := rec.status
		if status == 0 {
			status = http.StatusOK
		}
		s.countOutcome(r.Method, ri, status)
		level := slog.LevelInfo
		if probeRoutes[ri.route] {
			level = slog.LevelDebug // probes and scrapes every few seconds would drown the rest
		}
		s.log.LogAttrs(r.Context(), level, "request",
			slog.String("method", r.Method), slog.String("route", ri.route), slog.Int("status", status),
			slog.Float64("duration_ms", float64(time.Since(start).Microseconds())/1000), slog.String("request_id", ri.id))
	}()
	s.router.ServeHTTP(rec, r)
}

// probeRoutes are logged at debug level.
var probeRoutes = map[string]bool{"/healthz": true, "/readyz": true, "/metrics": true}

// commandRoutes name the commands of both surfaces by method and route template.
var commandRoutes = map[string]string{
	"POST " + OperatorBase + "/cases":                                      "openCase",
	"PUT " + OperatorBase + "/cases/{caseInstanceId}":                      "updateCase",
	"PUT " + OperatorBase + "/cases/{caseInstanceId}/assignment":           "assignCase",
	"PUT " + OperatorBase + "/cases/{caseInstanceId}/transitions":          "transitionCase",
	"POST " + OperatorBase + "/cases/{caseInstanceId}/notes":               "addNote",
	"PUT " + OperatorBase + "/cases/{caseInstanceId}/notes":                "editNote",
	"POST " + OperatorBase + "/cases/{caseInstanceId}/files":               "attachFile",
	"DELETE " + OperatorBase + "/cases/{caseInstanceId}/files/{fileId}":    "removeFile",
	"POST /{applicationId}/agents/{userId}/units/_current":                 "selectUnit",
	"POST /{applicationId}/agents/{userId}/actions/startNext":              "startNext",
	"POST /{applicationId}/agents/{userId}/cases/{caseId}/actions/resolve": "resolveCase",
	"POST /{applicationId}/services/{serviceId}/cases":                     "queueUp",
}

// The credential exchanges counted by result.
const (
	signinRoute = "POST " + OperatorBase + "/signin"
	tokenRoute  = "POST /oauth2/token"
)

// countOutcome counts a finished request that was a command, a sign-in or a token grant,
// by its result: "ok" for a 2xx, else the error code of the answer.
func (s *Server) countOutcome(method string, ri *requestInfo, status int) {
	key := method + " " + ri.route
	result := ri.result
	if result == "" {
		result = "ok"
		if status >= 300 {
			result = strconv.Itoa(status)
		}
	}
	switch key {
	case signinRoute:
		s.metrics.signins.WithLabelValues(result).Inc()
	case tokenRoute:
		s.metrics.grants.WithLabelValues(result).Inc()
	default:
		if cmd, ok := commandRoutes[key]; ok {
			s.metrics.commands.WithLabelValues(cmd, result).Inc()
		}
	}
}

// noteResult records the error code a request is answered with, and counts a credential
// check refused by the attempt limits or by the bcrypt bound.
func (s *Server) noteResult(r *http.Request, code string, err error) {
	if ri := info(r); ri != nil {
		ri.result = code
	}
	var tm *tooManyAttempts
	switch {
	case errors.As(err, &tm):
		s.metrics.refusals.WithLabelValues("too_many_attempts").Inc()
	case errors.Is(err, directory.ErrBusy):
		s.metrics.refusals.WithLabelValues("verification_busy").Inc()
	}
}

// agentResult is the result label of an agent-impersonation API error: the vendor's
// errorCode where it gives one, else a name for the status.
func agentResult(ae *agentError) string {
	if ae.code != 0 {
		return strconv.Itoa(ae.code)
	}
	switch ae.status {
	case http.StatusBadRequest:
		return "invalid"
	case http.StatusUnauthorized:
		return "unauthorized"
	case http.StatusForbidden:
		return "forbidden"
	case http.StatusNotFound:
		return "notFound"
	case http.StatusConflict:
		return "conflict"
	case http.StatusRequestEntityTooLarge:
		return "tooLarge"
	case http.StatusTooManyRequests:
		return "tooManyAttempts"
	case http.StatusServiceUnavailable:
		return "unavailable"
	}
	return strconv.Itoa(ae.status)
}
