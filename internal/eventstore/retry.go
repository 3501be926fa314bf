package eventstore

import (
	"context"
	"log/slog"
	"time"
)

// setupAttempts bounds the attempts of a setup step, one a second.
const setupAttempts = 60

// SetupAttempt bounds one attempt of a start-up request (creating a stream or a bucket): a
// cluster still electing its leaders may leave a request unanswered, and the next attempt
// may reach a leader.
const SetupAttempt = 5 * time.Second

// RetrySetup runs a start-up step against JetStream (creating streams or buckets, an initial
// replay) until it succeeds, ctx ends, or a minute of attempts has failed: a cluster still
// electing its leaders refuses or times out for a while, and processes may start with it.
// Each attempt's context ends after timeout (SetupAttempt for a request), or with ctx if
// timeout is 0 (a replay, whose length depends on the log's).
func RetrySetup(ctx context.Context, log *slog.Logger, what string, timeout time.Duration, step func(ctx context.Context) error) error {
	for attempt := 1; ; attempt++ {
		actx, cancel := ctx, context.CancelFunc(func() {})
		if timeout > 0 {
			actx, cancel = context.WithTimeout(ctx, timeout)
		}
		err := step(actx)
		cancel()
		if err == nil || ctx.Err() != nil || attempt == setupAttempts {
			return err
		}
		log.Warn("NATS not ready; retrying", "step", what, "attempt", attempt, "err", err)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Second):
		}
	}
}
