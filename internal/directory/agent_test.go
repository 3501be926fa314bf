package directory

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/casestream/casestream/events"
	"github.com/casestream/casestream/internal/eventstore"
)

func agentMeta(id string) events.Meta {
	return events.Meta{
		ID:         id,
		OccurredAt: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
		Actor:      events.Actor{Kind: events.ActorApplication, ID: demoApp},
	}
}

// ErrWorkspaceNotAllowed refuses selecting a workspace that is not one of the operator's
// workspaces in its current unit (or when no unit is current).
var ErrWorkspaceNotAllowed = errors.New("directory: workspace not allowed")

// SelectWorkspace makes workspaceID the current workspace of the agent userID: it must be
// one of the operator's workspaces in the agent's current unit. It appends
// AgentWorkspaceSelected on the agent's subject and applies it to d. Selecting the
// workspace already selected writes nothing; selecting the workspace that is current only
// by default (the first in the unit) writes the selection, so that it survives a change of
// the operator's workspace list. meta is used as by SelectUnit. No API selects a workspace
// yet: the tests write the selections a replica must fold.
func SelectWorkspace(ctx context.Context, store eventstore.Store, d *Directory, meta events.Meta, userID, workspaceID string) error {
	userID, workspaceID = canonID(userID), canonID(workspaceID)
	subject := events.DirectorySubject(events.KindAgent, events.SubjectToken(userID))
	if err := catchUp(ctx, store, d, subject); err != nil {
		return err
	}
	_, err := appendDecided(ctx, store, d, subject, func() (events.Event, bool, error) {
		if _, ok := d.Operator(userID); !ok {
			return nil, false, ErrUnknownAgent
		}
		unitID, _ := d.AgentState(userID)
		if unitID == "" {
			return nil, false, ErrWorkspaceNotAllowed
		}
		ws := d.WorkspacesOf(userID, unitID)
		if !slices.ContainsFunc(ws, func(w events.Workspace) bool { return w.WorkspaceID == workspaceID }) {
			return nil, false, ErrWorkspaceNotAllowed
		}
		if d.selectedWorkspace(userID) == workspaceID {
			return nil, false, nil
		}
		return events.AgentWorkspaceSelected{UserID: userID, WorkspaceID: workspaceID}, true, nil
	}, func() events.Meta { return meta })
	return err
}

// selectedWorkspace returns the workspace explicitly selected in the agent's current unit.
func (d *Directory) selectedWorkspace(userID string) string {
	d.mu.RLock()
	defer d.mu.RUnlock()
	return d.agents[canonID(userID)].workspaceID
}

func TestSelectUnit(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name         string
		user, unit   string
		want         error
		wantWritten  uint64
		wantUnit     string
		wantWS       string
		selectBefore string // a unit selected before, if any
	}{
		{name: "allowed unit", user: alice, unit: airport, wantWritten: 1, wantUnit: airport, wantWS: wsArrivals},
		{name: "ids in upper case", user: "E5F6A7B8-C9D0-4E1F-8A2B-4C5D6E7F8A01", unit: "5F0C6B1E-2D3A-4C8B-9E71-0A1B2C3D4E01", wantWritten: 1, wantUnit: downtown, wantWS: wsCounter},
		{name: "unit not among the operator's", user: bob, unit: airport, want: ErrUnitNotAllowed},
		{name: "unknown unit", user: alice, unit: "5f0c6b1e-2d3a-4c8b-9e71-0a1b2c3d4e09", want: ErrUnitNotAllowed},
		{name: "unknown operator", user: "e5f6a7b8-c9d0-4e1f-8a2b-4c5d6e7f8a09", unit: downtown, want: ErrUnknownAgent},
		{name: "current unit again", user: alice, unit: downtown, selectBefore: downtown, wantUnit: downtown, wantWS: wsCounter},
		{name: "another unit", user: alice, unit: airport, selectBefore: downtown, wantWritten: 1, wantUnit: airport, wantWS: wsArrivals},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			store, d := bootstrapDemo(t)
			if tt.selectBefore != "" {
				if err := SelectUnit(ctx, store, d, agentMeta("before"), tt.user, tt.selectBefore); err != nil {
					t.Fatal(err)
				}
			}
			before := store.LastSeq()
			err := SelectUnit(ctx, store, d, agentMeta("cmd"), tt.user, tt.unit)
			if !errors.Is(err, tt.want) {
				t.Fatalf("got %v, want %v", err, tt.want)
			}
			if got := store.LastSeq() - before; got != tt.wantWritten {
				t.Errorf("events written: got %d, want %d", got, tt.wantWritten)
			}
			if u, w := d.AgentState(tt.user); u != tt.wantUnit || w != tt.wantWS {
				t.Errorf("agent state: got (%q, %q), want (%q, %q)", u, w, tt.wantUnit, tt.wantWS)
			}
			if tt.wantWritten > 0 {
				recs, err := store.Load(ctx, events.DirectorySubject(events.KindAgent, alice), before)
				if err != nil || len(recs) != 1 {
					t.Fatalf("agent subject: got %d records, %v, want 1", len(recs), err)
				}
				env := recs[0].Envelope
				if env.ID != "cmd" || env.Type != events.TypeAgentUnitSelected || env.Actor.ID != demoApp {
					t.Errorf("event: got id %q type %q actor %+v", env.ID, env.Type, env.Actor)
				}
				sameView(t, store.rebuild(t), d)
			}
		})
	}
}

func TestSelectWorkspace(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name        string
		user, unit  string // unit: selected first, if any
		ws          string
		again       bool // select ws once before the command
		want        error
		wantWritten uint64
		wantWS      string
	}{
		{name: "second workspace of the unit", user: alice, unit: downtown, ws: wsBack, wantWritten: 1, wantWS: wsBack},
		{name: "the default one, made explicit", user: alice, unit: downtown, ws: wsCounter, wantWritten: 1, wantWS: wsCounter},
		{name: "the selected one again", user: alice, unit: downtown, ws: wsBack, again: true, wantWS: wsBack},
		{name: "workspace of another unit", user: alice, unit: downtown, ws: wsArrivals, want: ErrWorkspaceNotAllowed, wantWS: wsCounter},
		{name: "workspace not among the operator's", user: bob, unit: downtown, ws: wsBack, want: ErrWorkspaceNotAllowed, wantWS: wsCounter},
		{name: "unknown workspace", user: alice, unit: downtown, ws: "nope", want: ErrWorkspaceNotAllowed, wantWS: wsCounter},
		{name: "no current unit", user: alice, ws: wsCounter, want: ErrWorkspaceNotAllowed},
		{name: "unknown operator", user: "e5f6a7b8-c9d0-4e1f-8a2b-4c5d6e7f8a09", ws: wsCounter, want: ErrUnknownAgent},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			store, d := bootstrapDemo(t)
			if tt.unit != "" {
				if err := SelectUnit(ctx, store, d, agentMeta("unit"), tt.user, tt.unit); err != nil {
					t.Fatal(err)
				}
			}
			if tt.again {
				if err := SelectWorkspace(ctx, store, d, agentMeta("first"), tt.user, tt.ws); err != nil {
					t.Fatal(err)
				}
			}
			before := store.LastSeq()
			err := SelectWorkspace(ctx, store, d, agentMeta("cmd"), tt.user, tt.ws)
			if !errors.Is(err, tt.want) {
				t.Fatalf("got %v, want %v", err, tt.want)
			}
			if got := store.LastSeq() - before; got != tt.wantWritten {
				t.Errorf("events written: got %d, want %d", got, tt.wantWritten)
			}
			if _, w := d.AgentState(tt.user); w != tt.wantWS {
				t.Errorf("workspace: got %q, want %q", w, tt.wantWS)
			}
		})
	}
}

// TestSelectUnitStaleView selects a unit through a directory that missed another replica's
// selection: the agent's subject is brought up to date before the decision.
func TestSelectUnitStaleView(t *testing.T) {
	ctx := context.Background()
	store, d1 := bootstrapDemo(t)
	d2 := store.rebuild(t)
	if err := SelectUnit(ctx, store, d1, agentMeta("a1"), alice, airport); err != nil {
		t.Fatal(err)
	}
	// d2 has not seen it: it catches up, decides against the selection of airport, and writes.
	if err := SelectUnit(ctx, store, d2, agentMeta("a2"), alice, downtown); err != nil {
		t.Fatal(err)
	}
	if u, _ := d2.AgentState(alice); u != downtown {
		t.Errorf("d2: got %q, want %q", u, downtown)
	}
	// d1 missed d2's selection: to it airport is still current, but selecting it again is
	// not a no-op.
	if err := SelectUnit(ctx, store, d1, agentMeta("a3"), alice, airport); err != nil {
		t.Fatal(err)
	}
	recs, err := store.Load(ctx, events.DirectorySubject(events.KindAgent, alice), 0)
	if err != nil || len(recs) != 3 {
		t.Fatalf("got %d records, %v, want 3", len(recs), err)
	}
	if u, _ := d1.AgentState(alice); u != airport {
		t.Errorf("d1: got %q, want %q", u, airport)
	}
}

// conflictOnce is a store whose first append conflicts after another writer slipped in.
type conflictOnce struct {
	*subjectLog
	once  sync.Once
	other func()
}

func (s *conflictOnce) Append(ctx context.Context, subject string, expected uint64, envs []events.Envelope) (uint64, error) {
	s.once.Do(s.other)
	return s.subjectLog.Append(ctx, subject, expected, envs)
}

// TestSelectUnitConflict has another replica select a unit between the decision and the
// append: the append conflicts, the subject is reloaded and the command decided again.
func TestSelectUnitConflict(t *testing.T) {
	ctx := context.Background()
	log, d := bootstrapDemo(t)
	store := &conflictOnce{subjectLog: log}
	store.other = func() {
		if err := SelectUnit(ctx, log, log.rebuild(t), agentMeta("other"), alice, airport); err != nil {
			t.Error(err)
		}
	}
	// The command decides on a view where alice has no unit and appends; the append
	// conflicts with the other replica's selection of airport; after the reload airport is
	// current, and nothing is written.
	if err := SelectUnit(ctx, store, d, agentMeta("cmd"), alice, airport); err != nil {
		t.Fatal(err)
	}
	recs, err := log.Load(ctx, events.DirectorySubject(events.KindAgent, alice), 0)
	if err != nil || len(recs) != 1 || recs[0].Envelope.ID != "other" {
		t.Fatalf("got %d records, %v, want only the other replica's", len(recs), err)
	}
	if u, _ := d.AgentState(alice); u != airport {
		t.Errorf("got %q, want %q", u, airport)
	}
}

// TestSelectUnitRetry repeats a command with the same event id after the first attempt was
// stored: nothing is written twice.
func TestSelectUnitRetry(t *testing.T) {
	ctx := context.Background()
	store, d := bootstrapDemo(t)
	stale := store.rebuild(t)
	if err := SelectUnit(ctx, store, d, agentMeta("same"), alice, airport); err != nil {
		t.Fatal(err)
	}
	before := store.LastSeq()
	if err := SelectUnit(ctx, store, stale, agentMeta("same"), alice, airport); err != nil {
		t.Fatalf("retry: got %v, want nil", err)
	}
	if store.LastSeq() != before {
		t.Errorf("retry wrote %d events, want 0", store.LastSeq()-before)
	}
	if u, _ := stale.AgentState(alice); u != airport {
		t.Errorf("retry's view: got %q, want %q", u, airport)
	}
}

func TestSelectUnitConcurrent(t *testing.T) {
	ctx := context.Background()
	store, d := bootstrapDemo(t)
	var wg sync.WaitGroup
	errs := make([]error, 8)
	for i := range errs {
		unit := []string{downtown, airport}[i%2]
		wg.Go(func() {
			errs[i] = SelectUnit(ctx, store, d, agentMeta("c"+string(rune('0'+i))), alice, unit)
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil && !errors.Is(err, ErrTooManyConflicts) {
			t.Errorf("command %d: %v", i, err)
		}
	}
	sameView(t, store.rebuild(t), d)
}

var _ eventstore.Store = (*subjectLog)(nil)
