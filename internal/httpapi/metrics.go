package httpapi

import (
	"fmt"
	"net/http"
	"runtime/debug"
	"strconv"
	"time"

	"github.com/gorilla/mux"
	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the server's Prometheus collectors.
type metrics struct {
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
	errors   *prometheus.CounterVec
	// commands, signins and grants count outcomes by result (requests.go); refusals the
	// credential checks refused before any verification; replays the answers repeated for
	// an Idempotency-Key.
	commands *prometheus.CounterVec
	signins  *prometheus.CounterVec
	grants   *prometheus.CounterVec
	refusals *prometheus.CounterVec
	replays  prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "casestream_http_requests_total",
			Help: "HTTP requests by route template, method and status code.",
		}, []string{"route", "method", "code"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "casestream_http_request_duration_seconds",
			Help:    "HTTP request latency by route template and method.",
			Buckets: []float64{.0005, .001, .002, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
		}, []string{"route", "method"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "casestream_http_errors_total",
			Help: "Error answers by API surface, status and error code.",
		}, []string{"surface", "status", "code"}),
	}
	m.commands = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "casestream_commands_total",
		Help: "Commands of both APIs by command and result (ok, or the answer's error code such as operatorNotValid, concurrentModification, unavailable).",
	}, []string{"command", "result"})
	m.signins = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "casestream_auth_signins_total",
		Help: "Operator API sign-ins (POST /signin) by result (ok, or the answer's error code).",
	}, []string{"result"})
	m.grants = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "casestream_auth_token_grants_total",
		Help: "Agent API token requests (POST /oauth2/token) by result (ok, or a name of the refusal).",
	}, []string{"result"})
	m.refusals = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "casestream_auth_refusals_total",
		Help: "Credential checks refused without an answer on the credentials, by reason (too_many_attempts: the guessing limits; verification_busy: the bcrypt bound).",
	}, []string{"reason"})
	m.replays = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "casestream_idempotent_replays_total",
		Help: "Requests answered with the remembered answer of an earlier request with the same Idempotency-Key.",
	})
	reg.MustRegister(m.requests, m.latency, m.errors, m.commands, m.signins, m.grants, m.refusals, m.replays)
	// Known label values start at zero, so that a rate or an alert sees the first event.
	for _, cmd := range commandRoutes {
		m.commands.WithLabelValues(cmd, "ok")
	}
	m.signins.WithLabelValues("ok")
	m.grants.WithLabelValues("ok")
	m.refusals.WithLabelValues("too_many_attempts")
	m.refusals.WithLabelValues("verification_busy")
	return m
}

// statusRecorder remembers the status a handler wrote.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *statusRecorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.ResponseWriter.Write(b)
}

// instrument counts and times every routed request by its route template.
func (s *Server) instrument(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		route := "unmatched"
		if cr := mux.CurrentRoute(r); cr != nil {
			if t, err := cr.GetPathTemplate(); err == nil {
				route = t
			}
		}
		if ri := info(r); ri != nil {
			ri.route = route
		}
		rec := &statusRecorder{ResponseWriter: w}
		start := time.Now()
		defer func() {
			// A panic is a bug: it is logged with its stack and answered as a 500 in the
			// surface's shape (if nothing was written yet), not as a dropped connection.
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				s.log.Error("panic serving a request", "method", r.Method, "path", r.URL.Path, "panic", v, "stack", string(debug.Stack()))
				if rec.status == 0 {
					s.surface(fmt.Errorf("panic: %v", v)).ServeHTTP(rec, r)
				}
				s.metrics.requests.WithLabelValues(route, r.Method, strconv.Itoa(rec.status)).Inc()
			}
		}()
		next.ServeHTTP(rec, r)
		s.metrics.latency.WithLabelValues(route, r.Method).Observe(time.Since(start).Seconds())
		if rec.status == 0 {
			rec.status = http.StatusOK
		}
		s.metrics.requests.WithLabelValues(route, r.Method, strconv.Itoa(rec.status)).Inc()
	})
}
