package cases

import (
	"context"
	"errors"
	"time"

	"github.com/casestream/casestream/aggregate"
	"github.com/casestream/casestream/events"
)

// Waiting returns the ids of at most limit cases waiting in the given queues, the oldest
// (by the time each last became Waiting) first: the read model's answer.
type Waiting func(ctx context.Context, q aggregate.Queues, limit int) ([]int64, error)

// StartNextLimit is how many waiting candidates StartNext tries: others may take the oldest
// ones at the same moment.
const StartNextLimit = 16

// Started is the case an agent's start-next took, and when it had last become Waiting.
type Started struct {
	Case   aggregate.Case
	Queued time.Time
}

// StartNext starts the agent's service of the oldest waiting case in its queues, which
// aggregate.StartNextQueues decides from dir. A candidate that another agent took since the
// read model saw it, or that cannot be read, is passed over for the next. It reports false
// when no candidate was left to take.
func (s *Service) StartNext(ctx context.Context, meta Meta, dir aggregate.Workspaces, waiting Waiting,
	agentID, inboxID, workstationID string) (Started, bool, error) {
	q, err := aggregate.StartNextQueues(dir, agentID, inboxID)
	if err != nil {
		return Started{}, false, err
	}
	candidates, err := waiting(ctx, q, StartNextLimit)
	if err != nil {
		return Started{}, false, err
	}
	for _, id := range candidates {
		var queued time.Time
		c, err := s.Execute(ctx, id, meta, func(c *aggregate.Case) ([]events.Event, error) {
			queued = c.StatusDate
			return c.StartService(agentID, workstationID)
		})
		if errors.Is(err, aggregate.ErrWrongStatus) || errors.Is(err, ErrUnreadable) {
			continue
		}
		if err != nil {
			return Started{}, false, err
		}
		return Started{Case: c, Queued: queued}, true, nil
	}
	return Started{}, false, nil
}
