package eventstore

import (
	"context"
	"errors"
	"testing"
	"time"
)

// TestRetry checks the pacing of a decide-append loop: races lost to other writers count up
// to MaxAttempts; refusals with nothing newer do not count, and give up only after
// InFlightWait; a cancelled context ends a pause.
func TestRetry(t *testing.T) {
	ctx := context.Background()
	t.Run("races lost", func(t *testing.T) {
		r := Retry{MaxAttempts: 3}
		for i := range 2 {
			if err := r.Refused(ctx, true); err != nil {
				t.Fatalf("race %d: got %v, want nil", i+1, err)
			}
		}
		if err := r.Refused(ctx, true); !errors.Is(err, ErrTooManyConflicts) {
			t.Errorf("race 3: got %v, want ErrTooManyConflicts", err)
		}
	})
	t.Run("in flight", func(t *testing.T) {
		r := Retry{MaxAttempts: 1}
		for i := range 8 {
			if err := r.Refused(ctx, false); err != nil {
				t.Fatalf("refusal %d with nothing newer: got %v, want nil", i+1, err)
			}
		}
		r.inFlightSince = time.Now().Add(-InFlightWait - time.Millisecond)
		if err := r.Refused(ctx, false); !errors.Is(err, ErrTooManyConflicts) {
			t.Errorf("after InFlightWait: got %v, want ErrTooManyConflicts", err)
		}
	})
	t.Run("cancelled", func(t *testing.T) {
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		r := Retry{MaxAttempts: 1}
		if err := r.Refused(cctx, false); !errors.Is(err, context.Canceled) {
			t.Errorf("got %v, want context.Canceled", err)
		}
	})
}
