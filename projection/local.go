package projection

import (
	"context"
	"time"
)

// Local answers the api's queries from a Projector in the same process: the same answers and
// the same read-your-writes wait as the query service, without a NATS round trip and the
// copies of the answer it takes. The methods match Client's.
type Local struct {
	p    *Projector
	wait time.Duration
}

// NewLocal returns queries answered by p, waiting at most wait (DefaultWait if zero) for it to
// reach the sequences a query asks for.
func NewLocal(p *Projector, wait time.Duration) *Local {
	if wait <= 0 {
		wait = DefaultWait
	}
	return &Local{p: p, wait: wait}
}

// await returns once the projector has applied both sequences, ErrNotCaughtUp after the
// wait, or ctx's error when the caller gives up first.
func (l *Local) await(ctx context.Context, minCases, minDir uint64) error {
	if l.p.CaughtUp(minCases, minDir) {
		return nil
	}
	wctx, cancel := context.WithTimeout(ctx, l.wait)
	defer cancel()
	if err := l.p.WaitFor(wctx, minCases, minDir); err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return ErrNotCaughtUp
	}
	return nil
}

// ActiveCases is Client.ActiveCases. The listing's bytes may be shared with later answers:
// callers must not modify them.
func (l *Local) ActiveCases(ctx context.Context, userID string, minCases, minDir uint64) (ListResult, error) {
	if err := l.await(ctx, minCases, minDir); err != nil {
		return ListResult{}, err
	}
	return l.p.ListActive(userID), nil
}

// AssignedOpen is Client.AssignedOpen.
func (l *Local) AssignedOpen(ctx context.Context, operatorID string, minCases, minDir uint64) ([]int64, error) {
	if err := l.await(ctx, minCases, minDir); err != nil {
		return nil, err
	}
	return l.p.model.AssignedOpen(operatorID), nil
}

// OperatorCases is Client.OperatorCases.
func (l *Local) OperatorCases(ctx context.Context, operatorID string, page, size int, minCases, minDir uint64) ([]int64, error) {
	if err := l.await(ctx, minCases, minDir); err != nil {
		return nil, err
	}
	return l.p.OperatorCases(operatorID, page, size), nil
}

// NextWaiting is Client.NextWaiting.
func (l *Local) NextWaiting(ctx context.Context, inboxIDs, groups []string, limit int, minCases, minDir uint64) ([]int64, error) {
	if err := l.await(ctx, minCases, minDir); err != nil {
		return nil, err
	}
	return l.p.model.NextWaiting(inboxIDs, groups, min(max(limit, 1), maxNextWaiting)), nil
}

// QueuePosition is Client.QueuePosition.
func (l *Local) QueuePosition(ctx context.Context, id int64, minCases, minDir uint64) (int, bool, error) {
	if err := l.await(ctx, minCases, minDir); err != nil {
		return 0, false, err
	}
	pos, ok := l.p.model.QueuePosition(id)
	return pos, ok, nil
}

// CaseLookup is Client.CaseLookup.
func (l *Local) CaseLookup(ctx context.Context, caseID string, minCases, minDir uint64) (int64, bool, error) {
	if err := l.await(ctx, minCases, minDir); err != nil {
		return 0, false, err
	}
	id, ok := l.p.model.CaseInstanceID(caseID)
	return id, ok, nil
}
