package eventstore_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/casestream/casestream/internal/eventstore"
)

// TestRetrySetupBoundsEachAttempt: a request left unanswered (a cluster electing its
// leaders) ends with its attempt, not with the caller's much later deadline, and the next
// attempt runs; the first attempt's bound is a fifth of the timeout and each later one
// twice the one before, up to the timeout; a step without a bound runs on the caller's
// context.
func TestRetrySetupBoundsEachAttempt(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
	defer cancel()
	const timeout = 250 * time.Millisecond
	var bounds []time.Duration
	err := eventstore.RetrySetup(ctx, log, "create", timeout, func(actx context.Context) error {
		d, ok := actx.Deadline()
		if !ok {
			return errors.New("no deadline")
		}
		bounds = append(bounds, time.Until(d))
		if len(bounds) < 4 {
			<-actx.Done() // unanswered until the attempt's end
			return actx.Err()
		}
		return nil
	})
	if err != nil || len(bounds) != 4 {
		t.Fatalf("got %v after %d attempts, want success at the fourth", err, len(bounds))
	}
	for i, want := range []time.Duration{timeout / 5, 2 * timeout / 5, 4 * timeout / 5, timeout} {
		if got := bounds[i]; got > want || got < want-timeout/10 {
			t.Errorf("attempt %d: got a bound of %v, want %v", i+1, got, want)
		}
	}

	want, _ := ctx.Deadline()
	err = eventstore.RetrySetup(ctx, log, "replay", 0, func(actx context.Context) error {
		if d, ok := actx.Deadline(); !ok || !d.Equal(want) {
			return fmt.Errorf("got deadline %v (%v), want the caller's %v", d, ok, want)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
