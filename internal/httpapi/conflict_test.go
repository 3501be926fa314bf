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
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/casestream/casestream/events"
	"github.com/casestream/casestream/internal/cases"
	"github.com/casestream/casestream/internal/directory"
	"github.com/casestream/casestream/internal/embedded/embeddedtest"
	"github.com/casestream/casestream/internal/eventstore"
	"github.com/casestream/casestream/internal/tokens"
)

// rivalStore is a store on which another writer always appends to a subject first: before
// each append, a rival selects the other unit for the agent, so that every append expects a
// sequence the subject has just left behind, and a reload finds the agent elsewhere again.
type rivalStore struct {
	*eventstore.Memory
	other  string
	rounds atomic.Int64
}

func (s *rivalStore) Append(ctx context.Context, subject string, expected uint64, envs []events.Envelope) (uint64, error) {
	recs, err := s.Load(ctx, subject, 0)
	if err != nil {
		return 0, err
	}
	var last uint64
	if n := len(recs); n > 0 {
		last = recs[n-1].Seq
	}
	n := s.rounds.Add(1)
	env, err := events.Wrap(events.Meta{ID: fmt.Sprintf("rival-%d", n), Subject: subject, OccurredAt: time.Unix(0, 0)},
		events.AgentUnitSelected{UserID: conflictAgent, UnitID: s.other})
	if err != nil {
		return 0, err
	}
	if _, err := s.Memory.Append(ctx, subject, last, []events.Envelope{env}); err != nil {
		return 0, err
	}
	return s.Memory.Append(ctx, subject, expected, envs)
}

const (
	conflictAgent = "e5f6a7b8-c9d0-4e1f-8a2b-4c5d6e7f8a01"
	conflictApp   = "a7b8c9d0-e1f2-4a3b-8c4d-6e7f8a9b0c01"
	conflictUnitA = "5f0c6b1e-2d3a-4c8b-9e71-0a1b2c3d4e01"
	conflictUnitB = "5f0c6b1e-2d3a-4c8b-9e71-0a1b2c3d4e02"
)

// TestSelectUnitContendedAnswers409 selects a unit through the agent API while another
// writer wins every race for the agent's subject: the answer is the agent table's 409, not
// a 500, and nothing of the command is written.
func TestSelectUnitContendedAnswers409(t *testing.T) {
	ctx := context.Background()
	_, nc := embeddedtest.Start(t)
	js := embeddedtest.JetStream(t, nc)
	access, err := tokens.Open(ctx, js, "CASESTREAM_TOKENS", time.Hour, 1)
	if err != nil {
		t.Fatal(err)
	}
	d := directory.New()
	for i, ev := range []events.Event{
		events.Unit{UnitID: conflictUnitA, Name: "A"},
		events.Unit{UnitID: conflictUnitB, Name: "B"},
		events.Operator{UserID: conflictAgent, Email: "alice@example.com", Units: []string{conflictUnitA, conflictUnitB}},
	} {
		env, err := events.Wrap(events.Meta{ID: fmt.Sprintf("def-%d", i)}, ev)
		if err != nil {
			t.Fatal(err)
		}
		d.Apply(eventstore.Record{Seq: uint64(i + 1), Envelope: env})
	}
	store := &rivalStore{Memory: eventstore.NewMemory(), other: conflictUnitB}
	s := NewServer(Config{
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Directory: d, AccessTokens: access,
		Agents: directory.NewAgents(store, d, directory.BootstrapOptions{}),
	})
	g, err := json.Marshal(grant{ApplicationID: conflictApp, Roles: []string{events.RoleAgentImpersonator}})
	if err != nil {
		t.Fatal(err)
	}
	token, err := access.Issue(ctx, g)
	if err != nil {
		t.Fatal(err)
	}
	req := httptest.NewRequest(http.MethodPost, "/"+conflictApp+"/agents/"+conflictAgent+"/units/_current",
		strings.NewReader(`{"unitId":"`+conflictUnitA+`"}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	rec := httptest.NewRecorder()
	s.ServeHTTP(rec, req)

	want := `{"message":"the case or the agent kept changing under the request; retry"}`
	if got := strings.TrimSpace(rec.Body.String()); rec.Code != http.StatusConflict || got != want {
		t.Errorf("got %d %s, want 409 %s", rec.Code, got, want)
	}
	if store.rounds.Load() == 0 {
		t.Error("got no append, want the command to have raced the rival")
	}
	recs, err := store.Load(ctx, events.DirectorySubject(events.KindAgent, events.SubjectToken(conflictAgent)), 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range recs {
		if !strings.HasPrefix(r.Envelope.ID, "rival-") {
			t.Errorf("got event %s of the command stored, want only the rival's", r.Envelope.ID)
		}
	}
}

// TestTooManyConflictsMapped checks that the conflict error of both streams' loops, as each
// returns it, answers the concurrent-modification row of each surface.
func TestTooManyConflictsMapped(t *testing.T) {
	for _, tt := range []struct {
		name string
		err  error
	}{
		{"case", cases.ErrTooManyConflicts},
		{"directory", fmt.Errorf("%w on directory.agent.x", directory.ErrTooManyConflicts)},
		{"store", fmt.Errorf("wrapped: %w", eventstore.ErrTooManyConflicts)},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if status, key, code := operatorStatus(tt.err); status != http.StatusConflict || key != "case" || code != "concurrentModification" {
				t.Errorf("operator: got %d %s %s, want 409 case concurrentModification", status, key, code)
			}
			if got := agentStatus(tt.err); got != errConcurrent {
				t.Errorf("agent: got %d %q, want %d %q", got.status, got.message, errConcurrent.status, errConcurrent.message)
			}
			if !errors.Is(tt.err, eventstore.ErrTooManyConflicts) {
				t.Errorf("got %v, want it to be eventstore.ErrTooManyConflicts", tt.err)
			}
		})
	}
}
