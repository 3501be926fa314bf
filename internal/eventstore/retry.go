package eventstore

import (
	"context"
	"log/slog"
	"time"
)

// setupAttempts bounds the attempts of a setup step.
const setupAttempts = 60

// SetupAttempt bounds one attempt of a start-up request (creating a stream or a bucket): a
// cluster still electing its leaders may leave a request unanswered, and the next attempt
// may reach a leader.
const SetupAttempt = 5 * time.Second

// RetrySetup runs a start-up step against JetStream (creating streams or buckets, an initial
// replay) until it succeeds, ctx ends, or 60 attempts have failed: a cluster still
// electing its leaders refuses or times out for a while, and processes may start with it.
// Attempts start at most once a second (once every fifth of timeout if that is shorter).
//
// With timeout > 0 (a request: SetupAttempt), the first attempt's context ends after a fifth
// of timeout and each later one's after twice the one before, up to timeout: a cluster that
// has just elected its leaders answers the next attempt at once, where a request sent before
// the election waits out its bound unanswered, and a slow answer still gets the whole of
// timeout. With timeout 0 (a replay, whose length depends on the log's), each attempt runs on
// ctx.
func RetrySetup(ctx context.Context, log *slog.Logger, what string, timeout time.Duration, step func(ctx context.Context) error) error {
	bound, pace := timeout/5, time.Second
	if bound > 0 {
		pace = min(pace, bound)
	}
	for attempt := 1; ; attempt++ {
		started := time.Now()
		actx, cancel := ctx, context.CancelFunc(func() {})
		if timeout > 0 {
			actx, cancel = context.WithTimeout(ctx, bound)
			bound = min(2*bound, timeout)
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
		case <-time.After(pace - time.Since(started)):
		}
	}
}
