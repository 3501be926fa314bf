package directory

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/casestream/casestream/events"
	"github.com/casestream/casestream/eventstore"
)

var (
	// ErrUnknownAgent refuses an agent command for a userId that is no operator.
	ErrUnknownAgent = errors.New("directory: unknown agent")
	// ErrUnitNotAllowed refuses selecting a unit that does not exist or is not one of the
	// operator's units.
	ErrUnitNotAllowed = errors.New("directory: unit not allowed")
	// ErrWorkspaceNotAllowed refuses selecting a workspace that is not one of the operator's
	// workspaces in its current unit (or when no unit is current).
	ErrWorkspaceNotAllowed = errors.New("directory: workspace not allowed")
)

// SelectUnit makes unitID the current unit of the agent userID: it appends
// AgentUnitSelected on the agent's subject and applies it to d. Selecting the current unit
// again writes nothing. meta's ID, OccurredAt, Actor and CorrelationID are the caller's;
// its Subject is set here. On a conflict the agent's subject is reloaded and the command
// decided again. The agent's subject is brought up to date from store before deciding, so
// that a view lagging behind another replica's selection does not take a change for a no-op.
func SelectUnit(ctx context.Context, store eventstore.Store, d *Directory, meta events.Meta, userID, unitID string) error {
	userID, unitID = canonID(userID), canonID(unitID)
	subject := events.DirectorySubject(events.KindAgent, events.SubjectToken(userID))
	if err := catchUp(ctx, store, d, subject); err != nil {
		return err
	}
	_, err := appendDecided(ctx, store, d, subject, func() (events.Event, bool, error) {
		op, ok := d.Operator(userID)
		if !ok {
			return nil, false, ErrUnknownAgent
		}
		if _, ok := d.Unit(unitID); !ok || !slices.Contains(op.Units, unitID) {
			return nil, false, ErrUnitNotAllowed
		}
		if cur, _ := d.AgentState(userID); cur == unitID {
			return nil, false, nil
		}
		return events.AgentUnitSelected{UserID: userID, UnitID: unitID}, true, nil
	}, func() events.Meta { return meta })
	return err
}

// SelectWorkspace makes workspaceID the current workspace of the agent userID: it must be
// one of the operator's workspaces in the agent's current unit. It appends
// AgentWorkspaceSelected on the agent's subject and applies it to d. Selecting the
// workspace already selected writes nothing; selecting the workspace that is current only
// by default (the first in the unit) writes the selection, so that it survives a change of
// the operator's workspace list. meta is used as by SelectUnit.
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

// catchUp applies to d the records of subject that store holds beyond d's last one.
func catchUp(ctx context.Context, store eventstore.Store, d *Directory, subject string) error {
	recs, err := store.Load(ctx, subject, d.SubjectSeq(subject))
	if err != nil {
		return fmt.Errorf("directory: load %s: %w", subject, err)
	}
	for _, r := range recs {
		d.Apply(r)
	}
	return nil
}
