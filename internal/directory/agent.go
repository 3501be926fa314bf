package directory

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/casestream/casestream/events"
	"github.com/casestream/casestream/internal/eventstore"
)

var (
	// ErrUnknownAgent refuses an agent command for a userId that is no operator.
	ErrUnknownAgent = errors.New("directory: unknown agent")
	// ErrUnitNotAllowed refuses selecting a unit that does not exist or is not one of the
	// operator's units.
	ErrUnitNotAllowed = errors.New("directory: unit not allowed")
)

// Agents runs the agent-impersonation API's directory commands. It stamps their events with
// its clock and ids (BootstrapOptions' Now and NewID, injected so that tests fix them), and
// appends them through the decide-append loop that Bootstrap and Admin use: a subject that
// keeps changing under it ends in ErrTooManyConflicts, as a case does.
type Agents struct {
	store eventstore.Store
	d     *Directory
	opts  BootstrapOptions
}

// NewAgents returns Agents appending to store and deciding against d. opts.Actor and
// opts.BcryptCost are not used: each command names its actor, and sets no secret.
func NewAgents(store eventstore.Store, d *Directory, opts BootstrapOptions) *Agents {
	return &Agents{store: store, d: d, opts: opts.withDefaults()}
}

// SelectUnit is SelectUnit on a's store and directory, made by actor under correlationID at
// the time of a's clock.
func (a *Agents) SelectUnit(ctx context.Context, actor events.Actor, correlationID, userID, unitID string) error {
	return SelectUnit(ctx, a.store, a.d, events.Meta{
		ID: a.opts.NewID(), OccurredAt: a.opts.Now(), Actor: actor, CorrelationID: correlationID,
	}, userID, unitID)
}

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
