package httpapi

import (
	"context"
	"errors"
	"net/http"
	"strconv"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/casestream/casestream/aggregate"
	"github.com/casestream/casestream/internal/cases"
	"github.com/casestream/casestream/internal/directory"
	"github.com/casestream/casestream/internal/eventstore"
	"github.com/casestream/casestream/projection"
)

// opError is an operator API refusal that is not a case rule: authentication, request shape.
type opError struct {
	status    int
	key, code string
}

func (e *opError) Error() string { return e.key + ": " + e.code }

// The operator API's own refusals.
var (
	// Authentication answers the vendor SDK's pairs (ThalamusErrors): error.message/
	// UNAUTHORIZED (900), credential/NotMatchAnyPrincipal (1204), credential/
	// NoCredentialsProvided (1205), error.description/User is disabled (1103); any other
	// error.description is its 1102, "401 Unauthorized", used for the touchpoint. Every one is a
	// 401, which the SDK raises as its authorization exception.
	errTouchpointMissing  = &opError{http.StatusUnauthorized, "error.description", "Touchpoint credentials missing"}
	errTouchpointInvalid  = &opError{http.StatusUnauthorized, "error.description", "Touchpoint credentials invalid"}
	errOperatorMissing    = &opError{http.StatusUnauthorized, "error.message", "UNAUTHORIZED"}
	errOperatorInvalid    = &opError{http.StatusUnauthorized, "credential", "NotMatchAnyPrincipal"}
	errOperatorBlocked    = &opError{http.StatusUnauthorized, "error.description", "User is disabled"}
	errPrincipalMissing   = &opError{http.StatusUnauthorized, "credential", "NoCredentialsProvided"}
	errPasswordMissing    = &opError{http.StatusUnauthorized, "credential", "NoCredentialsProvided"}
	errSigninInvalid      = &opError{http.StatusUnauthorized, "credential", "NotMatchAnyPrincipal"}
	errCaseDataInvalid    = &opError{http.StatusBadRequest, "caseData", "invalid"}
	errIdempotencyKeyLong = &opError{http.StatusBadRequest, "idempotencyKey", "invalid"}
)

// operatorStatus is the one table from errors to the operator API's status and error body.
func operatorStatus(err error) (status int, key, code string) {
	var oe *opError
	var ae *aggregate.Error
	var tm *tooManyAttempts
	var fe *fieldError
	switch {
	case errors.As(err, &oe):
		return oe.status, oe.key, oe.code
	case errors.As(err, &fe):
		return http.StatusBadRequest, fe.Field, fe.Code
	case errors.As(err, &tm):
		return http.StatusTooManyRequests, "credential", "TooManyAttempts"
	case errors.Is(err, directory.ErrBusy):
		return http.StatusServiceUnavailable, "credential", "VerificationBusy"
	case errors.As(err, &ae):
		return http.StatusBadRequest, ae.Key, ae.Code
	case errors.Is(err, cases.ErrNotFound):
		return http.StatusBadRequest, "case", "invalidId"
	case errors.Is(err, cases.ErrUnreadable):
		return http.StatusConflict, "case", "unreadable"
	case errors.Is(err, cases.ErrEventTooLarge):
		return http.StatusRequestEntityTooLarge, "event", "tooLarge"
	case errors.Is(err, errBodyInvalidJSON):
		// The vendor's pair for a body that is not JSON (ThalamusErrors.php, code 1200).
		return http.StatusBadRequest, "error.message", "InvalidJson"
	case errors.Is(err, errBodyMalformed):
		return http.StatusBadRequest, "body", "malformed"
	case errors.Is(err, errBodyContentType):
		return http.StatusBadRequest, "body", "unsupportedContentType"
	case errors.Is(err, errBodyTooLarge):
		return http.StatusRequestEntityTooLarge, "body", "tooLarge"
	case errors.Is(err, errRouteNotFound):
		return http.StatusNotFound, "route", "notFound"
	case errors.Is(err, errMethodNotAllowed):
		return http.StatusMethodNotAllowed, "method", "notAllowed"
	case errors.Is(err, eventstore.ErrTooManyConflicts):
		return http.StatusConflict, "case", "concurrentModification"
	case errors.Is(err, eventstore.ErrOutcomeUnknown):
		// Unlike the other 503s, the change may have been made: a retry with the same
		// Idempotency-Key finds it.
		return http.StatusServiceUnavailable, "service", "outcomeUnknown"
	case unavailable(err):
		return http.StatusServiceUnavailable, "service", "unavailable"
	}
	return http.StatusInternalServerError, "server", "internalError"
}

// RetryAfter is the Retry-After of every 503, in seconds: about how long NATS takes to
// come back from a restart or to elect a stream's leader again.
const RetryAfter = 2

// unavailableErrs are the errors that mean the service cannot answer now but will:
// NATS away, JetStream electing or without the stream, the read model behind, a deadline
// passed, the process shutting down.
var unavailableErrs = []error{
	errServiceUnavailable,
	context.DeadlineExceeded,
	context.Canceled,
	projection.ErrNotCaughtUp,
	projection.ErrUnavailable,
	eventstore.ErrClosed,
	eventstore.ErrNotStored,
	eventstore.ErrOutcomeUnknown,
	nats.ErrNoResponders,
	nats.ErrConnectionClosed,
	nats.ErrDisconnected,
	nats.ErrConnectionDraining,
	nats.ErrConnectionReconnecting,
	nats.ErrReconnectBufExceeded,
	nats.ErrTimeout,
	nats.ErrNoServers,
	nats.ErrStaleConnection,
	jetstream.ErrNoHeartbeat,
	jetstream.ErrNoStreamResponse,
	jetstream.ErrStreamNotFound,
	jetstream.ErrJetStreamNotEnabled,
	jetstream.ErrJetStreamNotEnabledForAccount,
	jetstream.ErrServerShutdown,
	jetstream.ErrConsumerLeadershipChanged,
	jetstream.ErrAsyncPublishTimeout,
	jetstream.ErrJetStreamPublisherClosed,
	jetstream.ErrBucketNotFound,
}

// unavailable reports whether err means the service is unavailable for a while (503 with
// Retry-After), not that the request or the server is at fault. Besides the errors above,
// every JetStream API error with status 503 counts: "JetStream system temporarily
// unavailable" (10008) during a leader election, a stream offline, insufficient resources.
func unavailable(err error) bool {
	for _, u := range unavailableErrs {
		if errors.Is(err, u) {
			return true
		}
	}
	var apiErr *jetstream.APIError
	return errors.As(err, &apiErr) && apiErr.Code == http.StatusServiceUnavailable
}

// operator adapts an operator API handler: a returned error becomes the answer.
func (s *Server) operator(h func(w http.ResponseWriter, r *http.Request) error) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		err := checkCorrelationID(r)
		if err == nil {
			err = h(w, r)
		}
		if err != nil {
			s.operatorError(w, r, err)
		}
	}
}

func (s *Server) operatorError(w http.ResponseWriter, r *http.Request, err error) {
	status, key, code := operatorStatus(err)
	s.countError("operator", status, code)
	s.noteResult(r, code, err)
	if status >= 500 && !errors.Is(err, directory.ErrBusy) { // busy is expected under guessing
		s.log.Error("operator api", "method", r.Method, "path", r.URL.Path, "err", err)
	}
	setRetryAfter(w, err)
	if werr := writeJSON(w, status, map[string]map[string]string{"errors": {key: code}}); werr != nil {
		s.log.Error("write error body", "err", werr)
	}
}

// setRetryAfter tells a client refused by the attempt limits or the bcrypt bound, or while
// the service is unavailable, when to try again.
func setRetryAfter(w http.ResponseWriter, err error) {
	var tm *tooManyAttempts
	switch {
	case errors.As(err, &tm):
		w.Header().Set("Retry-After", retryAfter(tm.after))
	case errors.Is(err, directory.ErrBusy):
		w.Header().Set("Retry-After", "1")
	case unavailable(err):
		w.Header().Set("Retry-After", strconv.Itoa(RetryAfter))
	}
}

func (s *Server) countError(surface string, status int, code string) {
	s.metrics.errors.WithLabelValues(surface, strconv.Itoa(status), code).Inc()
}
