package app

import (
	"context"
	"errors"
	"fmt"

	"github.com/casestream/casestream/events"
	"github.com/casestream/casestream/internal/readiness"
)

// lookup is the query the readiness probe asks a projector elsewhere.
type lookup interface {
	CaseLookup(ctx context.Context, caseID string, minCases, minDir uint64) (int64, bool, error)
}

// errReplaying is the projection check's answer while the projector's initial replay runs.
var errReplaying = errors.New("projector replaying")

// readiness returns the checks of /readyz: NATS connected, both streams present, and the
// projection caught up with the streams as they were when asked: the in-process projector
// (which first has to finish its initial replay), or a projector answering q at that
// position.
func (a *App) readiness(q lookup) []readiness.Check {
	return []readiness.Check{
		{Name: "nats", Run: func(ctx context.Context) error {
			if !a.NC.IsConnected() {
				return fmt.Errorf("NATS not connected (%s)", a.NC.Status())
			}
			return nil
		}},
		{Name: "streams", Run: func(ctx context.Context) error {
			for _, name := range []string{events.StreamCases, events.StreamDirectory} {
				if _, err := a.JS.Stream(ctx, name); err != nil {
					return fmt.Errorf("stream %s: %w", name, err)
				}
			}
			return nil
		}},
		{Name: "projection", Run: func(ctx context.Context) error { return a.projectionReady(ctx, q) }},
	}
}

// projectionReady is the projection check.
func (a *App) projectionReady(ctx context.Context, q lookup) error {
	if a.Projector != nil && !a.replay.finished() {
		err := fmt.Errorf("%w: applied CASES %d so far", errReplaying, a.Projector.Model().LastSeq())
		if last := a.replay.failed(); last != nil {
			err = fmt.Errorf("%w; the last attempt failed: %v", err, last)
		}
		return err
	}
	c, d, err := a.Positions(ctx)
	if err != nil {
		return fmt.Errorf("read the streams' last sequences: %w", err)
	}
	if a.Projector == nil {
		if _, _, err := q.CaseLookup(ctx, "", c, d); err != nil {
			return fmt.Errorf("no projector answered at CASES %d, DIRECTORY %d: %w", c, d, err)
		}
		return nil
	}
	if err := a.Projector.Reach(ctx, c, d); err != nil {
		return fmt.Errorf("applied CASES %d of %d, DIRECTORY %d of %d", a.Projector.Model().LastSeq(), c, a.Projector.Directory().LastSeq(), d)
	}
	return nil
}
