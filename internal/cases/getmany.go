package cases

import (
	"context"
	"errors"
	"fmt"
	"math"

	"github.com/casestream/casestream/aggregate"
	"github.com/casestream/casestream/events"
)

// LastSeqReader reads the last sequences of many subjects at once (eventstore.JetStream
// and eventstore.Memory implement it).
type LastSeqReader interface {
	// LastSeqsOf returns the stream sequence of the last event of each of subjects that
	// has one, a subject without events left out: every event acknowledged before the
	// call is at or below it.
	LastSeqsOf(ctx context.Context, subjects []string) (map[string]uint64, error)
}

// GetMany returns the current states of the cases ids, in that order, as Get returns
// each, but for a case holding an event this service cannot decode (ErrUnreadable), which
// is left out. Any other error ends it; a case that does not exist is ErrNotFound.
//
// With Options.LastSeqs it reads the last sequences of all the cases first, in one
// request, and then reads the log only of the cases not cached or whose last sequence is
// past the cached state: a listing of cases that did not change costs one request, where
// Get costs at least one per case. It holds one case's entry at a time, as a command
// does, so that it never waits for an entry while holding another.
func (s *Service) GetMany(ctx context.Context, ids []int64) ([]aggregate.Case, error) {
	var last map[string]uint64
	if s.opts.LastSeqs != nil && len(ids) > 0 {
		subjects := make([]string, 0, len(ids))
		for _, id := range ids {
			if id > 0 {
				subjects = append(subjects, events.CaseSubject(id))
			}
		}
		var err error
		if last, err = s.opts.LastSeqs.LastSeqsOf(ctx, subjects); err != nil {
			return nil, fmt.Errorf("cases: last sequences: %w", err)
		}
	}
	out := make([]aggregate.Case, 0, len(ids))
	for _, id := range ids {
		seq := uint64(lastSeqUnknown)
		if last != nil {
			seq = last[events.CaseSubject(id)]
		}
		c, err := s.getAt(ctx, id, seq)
		if errors.Is(err, ErrUnreadable) {
			continue
		}
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, nil
}

// lastSeqUnknown, as getAt's seq, says that the case's last sequence was not read: the
// log is read after the cached state, whatever it holds.
const lastSeqUnknown = math.MaxUint64

// getAt is Get of a case whose last event was read, after the call began, to be at seq (0:
// none; lastSeqUnknown: not read): the log is read only when seq is past the cached state.
// A cached state past seq holds a command's append acknowledged since, and is returned as
// it is.
func (s *Service) getAt(ctx context.Context, id int64, seq uint64) (aggregate.Case, error) {
	if id <= 0 {
		return aggregate.Case{}, ErrNotFound
	}
	e := s.acquire(id)
	defer s.release(e)
	countLookup(e.seq)
	if seq > e.seq {
		if err := s.refresh(ctx, id, e); err != nil {
			return aggregate.Case{}, err
		}
	}
	if !e.state.Exists() {
		return aggregate.Case{}, ErrNotFound
	}
	return e.state.Clone(), nil
}
