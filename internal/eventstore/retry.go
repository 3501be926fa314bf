package eventstore

import (
	"context"
	"log/slog"
	"time"
)

// setupAttempts bounds the attempts of a setup step, one a second.
const setupAttempts = 60

// RetrySetup runs a start-up step against JetStream (creating streams or buckets, an initial
// replay) until it succeeds, ctx ends, or a minute of attempts has failed: a cluster still
// electing its leaders refuses or times out for a while, and processes may start with it.
func RetrySetup(ctx context.Context, log *slog.Logger, what string, step func() error) error {
	for attempt := 1; ; attempt++ {
		err := step()
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
