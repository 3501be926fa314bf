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
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/casestream/casestream/internal/cases"
	"github.com/casestream/casestream/internal/embedded/embeddedtest"
	"github.com/casestream/casestream/internal/idempotency"
)

// TestIdempotentRemembersFinalAnswers runs requests with an Idempotency-Key through the
// router, the operator adapter and the error table, over a real idempotency bucket: a success
// and a 4xx refusal are answered again to a retry, which runs nothing; a 5xx, a 503 and a
// refusal that says to come back later are not remembered, so the retry runs again.
func TestIdempotentRemembersFinalAnswers(t *testing.T) {
	_, nc := embeddedtest.Start(t)
	js := embeddedtest.JetStream(t, nc)
	store, err := idempotency.Open(context.Background(), js, 1)
	if err != nil {
		t.Fatal(err)
	}
	s := NewServer(Config{Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Idempotency: store})

	// Each test's handler answers its attempts in turn; a success says which run it was, so
	// that a replay shows the first success's body.
	var attempts []func(w http.ResponseWriter) error
	runs := 0
	s.router.Handle("/api/v4/test/idempotent", s.operator(func(w http.ResponseWriter, r *http.Request) error {
		key := idempotency.Key("test", r.Header.Get("Idempotency-Key"))
		return s.idempotent(w, r, key, func(w http.ResponseWriter) error {
			runs++
			if runs > len(attempts) {
				return fmt.Errorf("run %d of a request with %d attempts", runs, len(attempts))
			}
			return attempts[runs-1](w)
		})
	}))
	ok := func(w http.ResponseWriter) error {
		return writeJSON(w, http.StatusCreated, map[string]int{"run": runs})
	}
	fail := func(err error) func(w http.ResponseWriter) error {
		return func(http.ResponseWriter) error { return err }
	}
	partial := func(w http.ResponseWriter) error {
		_ = writeJSON(w, http.StatusCreated, map[string]bool{"partial": true})
		return errCaseDataInvalid
	}
	type answer struct {
		status   int
		body     string
		replayed bool
	}
	const (
		created  = `{"run":1}`
		again    = `{"run":2}`
		invalid  = `{"errors":{"caseData":"invalid"}}`
		busy     = `{"errors":{"service":"unavailable"}}`
		internal = `{"errors":{"server":"internalError"}}`
	)
	tests := []struct {
		name     string
		attempts []func(w http.ResponseWriter) error
		want     []answer
		wantRuns int
	}{
		{"success", []func(http.ResponseWriter) error{ok},
			[]answer{{201, created, false}, {201, created, true}}, 1},
		{"4xx refusal", []func(http.ResponseWriter) error{fail(errCaseDataInvalid), ok},
			[]answer{{400, invalid, false}, {400, invalid, true}}, 1},
		{"4xx refusal after a partial answer", []func(http.ResponseWriter) error{partial, ok},
			[]answer{{400, invalid, false}, {400, invalid, true}}, 1},
		{"503", []func(http.ResponseWriter) error{fail(fmt.Errorf("cases: load: %w", nats.ErrDisconnected)), ok},
			[]answer{{503, busy, false}, {201, again, false}, {201, again, true}}, 2},
		{"500", []func(http.ResponseWriter) error{fail(errors.New("boom")), ok},
			[]answer{{500, internal, false}, {201, again, false}, {201, again, true}}, 2},
		{"429", []func(http.ResponseWriter) error{fail(&tooManyAttempts{after: time.Second}), ok},
			[]answer{{429, `{"errors":{"credential":"TooManyAttempts"}}`, false}, {201, again, false}, {201, again, true}}, 2},
		{"409 concurrentModification", []func(http.ResponseWriter) error{fail(cases.ErrTooManyConflicts), ok},
			[]answer{{409, `{"errors":{"case":"concurrentModification"}}`, false}, {201, again, false}, {201, again, true}}, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			attempts, runs = tt.attempts, 0
			for i, want := range tt.want {
				r := httptest.NewRequest("POST", "/api/v4/test/idempotent", nil)
				r.Header.Set("Idempotency-Key", tt.name)
				rec := httptest.NewRecorder()
				s.ServeHTTP(rec, r)
				got := answer{rec.Code, rec.Body.String(), rec.Header().Get("Idempotent-Replayed") == "true"}
				if got.status != want.status || !sameJSON(got.body, want.body) || got.replayed != want.replayed {
					t.Errorf("attempt %d: got %d %s replayed %v, want %d %s replayed %v",
						i+1, got.status, got.body, got.replayed, want.status, want.body, want.replayed)
				}
			}
			if runs != tt.wantRuns {
				t.Errorf("got %d runs of the handler, want %d", runs, tt.wantRuns)
			}
		})
	}
}

// sameJSON reports whether two JSON texts hold the same value.
func sameJSON(a, b string) bool {
	var x, y any
	if json.Unmarshal([]byte(a), &x) != nil || json.Unmarshal([]byte(b), &y) != nil {
		return false
	}
	return fmt.Sprint(x) == fmt.Sprint(y)
}
