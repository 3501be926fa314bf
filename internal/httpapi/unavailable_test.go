package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/casestream/casestream/internal/eventstore"
	"github.com/casestream/casestream/projection"
)

// TestUnavailableAnswers503WithRetryAfter drives both surfaces into every family of
// unavailability, as the lower layers wrap them, through the real adapters: each answers
// 503 with Retry-After in the surface's error shape; an unexpected error stays a 500
// without Retry-After.
func TestUnavailableAnswers503WithRetryAfter(t *testing.T) {
	s := NewServer(Config{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	families := []struct {
		name string
		err  error
	}{
		{"NATS disconnected", fmt.Errorf("eventstore: load cases.1: %w", nats.ErrDisconnected)},
		{"NATS connection closed", fmt.Errorf("tokens: %w", nats.ErrConnectionClosed)},
		{"no responders", fmt.Errorf("eventstore: stream CASES: %w", nats.ErrNoResponders)},
		{"no stream response", fmt.Errorf("eventstore: append to cases.1: %w", jetstream.ErrNoStreamResponse)},
		{"reconnect buffer", fmt.Errorf("eventstore: append to cases.1: %w", nats.ErrReconnectBufExceeded)},
		{"NATS timeout", fmt.Errorf("look up token: %w", nats.ErrTimeout)},
		{"no heartbeat", fmt.Errorf("eventstore: follow CASES: %w", jetstream.ErrNoHeartbeat)},
		{"JetStream temporarily unavailable (10008)", fmt.Errorf("eventstore: stream CASES: %w",
			&jetstream.APIError{Code: 503, ErrorCode: 10008, Description: "JetStream system temporarily unavailable"})},
		{"stream missing", fmt.Errorf("eventstore: stream CASES: %w", jetstream.ErrStreamNotFound)},
		{"stream missing, as the server says it", fmt.Errorf("eventstore: stream CASES: %w",
			&jetstream.APIError{Code: 404, ErrorCode: jetstream.JSErrCodeStreamNotFound, Description: "stream not found"})},
		{"deadline", fmt.Errorf("cases: load: %w", context.DeadlineExceeded)},
		{"projector behind", projection.ErrNotCaughtUp},
		{"no projector", fmt.Errorf("%w: activeCases: %w", projection.ErrUnavailable, nats.ErrNoResponders)},
		{"append not stored", fmt.Errorf("%w: cases.1: %w", eventstore.ErrNotStored, nats.ErrDisconnected)},
		{"store closed", eventstore.ErrClosed},
	}
	surfaces := []struct {
		name, path string
		shape      func(body []byte) error
	}{
		{"operator", "/api/v4/cases", func(b []byte) error {
			var got struct {
				Errors map[string]string `json:"errors"`
			}
			if err := json.Unmarshal(b, &got); err != nil || got.Errors["service"] != "unavailable" {
				return fmt.Errorf(`got body %s, want {"errors":{"service":"unavailable"}}`, b)
			}
			return nil
		}},
		{"agent", "/" + "app" + "/agents/u/activeCases", func(b []byte) error {
			var got struct {
				Message *string `json:"message"`
			}
			if err := json.Unmarshal(b, &got); err != nil || got.Message == nil || *got.Message == "" {
				return fmt.Errorf(`got body %s, want {"message": "..."}`, b)
			}
			return nil
		}},
	}
	for _, sf := range surfaces {
		for _, f := range families {
			t.Run(sf.name+"/"+f.name, func(t *testing.T) {
				rec := httptest.NewRecorder()
				s.surface(f.err).ServeHTTP(rec, httptest.NewRequest("GET", sf.path, nil))
				if rec.Code != 503 {
					t.Fatalf("got status %d, want 503 (body %s)", rec.Code, rec.Body)
				}
				if got := rec.Header().Get("Retry-After"); got != strconv.Itoa(RetryAfter) {
					t.Errorf("got Retry-After %q, want %q", got, strconv.Itoa(RetryAfter))
				}
				if err := sf.shape(rec.Body.Bytes()); err != nil {
					t.Error(err)
				}
			})
		}
		t.Run(sf.name+"/unexpected error", func(t *testing.T) {
			rec := httptest.NewRecorder()
			s.surface(errors.New("boom")).ServeHTTP(rec, httptest.NewRequest("GET", sf.path, nil))
			if rec.Code != 500 || rec.Header().Get("Retry-After") != "" {
				t.Errorf("got %d with Retry-After %q, want 500 without", rec.Code, rec.Header().Get("Retry-After"))
			}
		})
	}
}

// TestOutcomeUnknownAnswersItsOwn503 checks that an append whose outcome the store could
// not settle answers a 503 of its own on both surfaces, with Retry-After: the client must
// not take it for a failure, unlike the other 503s.
func TestOutcomeUnknownAnswersItsOwn503(t *testing.T) {
	s := NewServer(Config{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	err := fmt.Errorf("append to cases.1: %w", fmt.Errorf("%w: cases.1: %w", eventstore.ErrOutcomeUnknown, nats.ErrTimeout))
	for _, tc := range []struct {
		surface, path, body string
	}{
		{"operator", "/api/v4/cases", `{"errors":{"service":"outcomeUnknown"}}`},
		{"agent", "/app/agents/u/activeCases", `{"errorCode":9004,"message":"` + errOutcomeUnknown.message + `"}`},
	} {
		t.Run(tc.surface, func(t *testing.T) {
			rec := httptest.NewRecorder()
			s.surface(err).ServeHTTP(rec, httptest.NewRequest("POST", tc.path, nil))
			if rec.Code != 503 {
				t.Errorf("got status %d, want 503", rec.Code)
			}
			if got := rec.Header().Get("Retry-After"); got != strconv.Itoa(RetryAfter) {
				t.Errorf("got Retry-After %q, want %q", got, strconv.Itoa(RetryAfter))
			}
			var got, want any
			if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
				t.Fatalf("body %s: %v", rec.Body, err)
			}
			_ = json.Unmarshal([]byte(tc.body), &want)
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("got body %s, want %s", rec.Body, tc.body)
			}
		})
	}
}

// TestAdminOutcomeUnknown checks the admin API's row for an append of unknown outcome: a 503
// of its own, not the plain "unavailable" that promises nothing was changed.
func TestAdminOutcomeUnknown(t *testing.T) {
	err := fmt.Errorf("append to directory.operator.x: %w", eventstore.ErrOutcomeUnknown)
	status, body := adminStatus(err)
	if status != 503 || body.Code != "outcomeUnknown" {
		t.Errorf("got %d %q, want 503 %q", status, body.Code, "outcomeUnknown")
	}
}

// TestRequestDeadline checks that every routed request carries a deadline of
// Config.RequestTimeout, and a file transfer one of TransferTimeout.
func TestRequestDeadline(t *testing.T) {
	s := NewServer(Config{Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), RequestTimeout: time.Second})
	var got time.Duration
	record := func(w http.ResponseWriter, r *http.Request) {
		d, ok := r.Context().Deadline()
		if !ok {
			got = -1
			return
		}
		got = time.Until(d)
	}
	s.router.HandleFunc("/test/deadline", record)
	s.router.HandleFunc("/test/{id}/files", record)
	for _, tc := range []struct {
		path     string
		min, max time.Duration
	}{
		{"/test/deadline", 0, time.Second},
		{"/test/7/files", TransferTimeout - time.Second, TransferTimeout},
	} {
		t.Run(tc.path, func(t *testing.T) {
			got = 0
			s.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", tc.path, nil))
			if got <= tc.min || got > tc.max {
				t.Errorf("got a deadline %v away, want in (%v, %v]", got, tc.min, tc.max)
			}
		})
	}
}
