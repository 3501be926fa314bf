package eventstore

import (
	"context"
	"time"
)

// InFlightWait bounds how long a decide-append loop keeps retrying a subject whose append is
// refused while a reload finds nothing newer. A replicated stream's leader refuses an append
// expecting a subject's last sequence while another append on that subject is still being
// replicated (nats-server's expectedPerSubjectInProcess), and that append is readable only
// once applied: with sync_interval: always, after an fsync on a majority of the nodes.
const InFlightWait = 2 * time.Second

// maxRetryPause caps the growing pause between two refusals of an append still in flight.
const maxRetryPause = 100 * time.Millisecond

// Retry paces the decide-append loop of one subject, the one loop every command side uses:
// after a refused append (ErrConflict, ErrDuplicate) the caller reloads the subject and
// calls Refused, saying whether the reload brought newer events. A refusal that brought
// newer events is a race lost to another writer and counts against MaxAttempts; one that
// brought nothing is another writer's append still in flight, retried after a pause that
// grows from a millisecond, for up to InFlightWait since the first such refusal.
type Retry struct {
	// MaxAttempts bounds the races lost to other writers.
	MaxAttempts int

	attempts      int
	inFlightSince time.Time
	pause         time.Duration
}

// Refused records a refused append and returns nil when the loop should decide again,
// ErrTooManyConflicts when it must give up, or ctx's error if ctx ends during a pause.
func (r *Retry) Refused(ctx context.Context, progressed bool) error {
	if progressed {
		r.attempts++
		if r.attempts >= r.MaxAttempts {
			return ErrTooManyConflicts
		}
		return nil
	}
	if r.inFlightSince.IsZero() {
		r.inFlightSince = time.Now()
		r.pause = time.Millisecond
	} else if time.Since(r.inFlightSince) > InFlightWait {
		return ErrTooManyConflicts
	}
	t := time.NewTimer(r.pause)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
	}
	r.pause = min(2*r.pause, maxRetryPause)
	return nil
}
