package eventstore_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/casestream/casestream/internal/eventstore"
)

// TestRetrySetupBoundsEachAttempt: a request left unanswered (a cluster electing its
// leaders) ends with its attempt, not with the caller's much later deadline, and the next
// attempt runs; a step without a bound runs on the caller's context.
func TestRetrySetupBoundsEachAttempt(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
	defer cancel()
	attempts := 0
	err := eventstore.RetrySetup(ctx, log, "create", 50*time.Millisecond, func(actx context.Context) error {
		attempts++
		if attempts == 1 {
			<-actx.Done() // unanswered until the attempt's end
			return actx.Err()
		}
		return nil
	})
	if err != nil || attempts != 2 {
		t.Fatalf("got %v after %d attempts, want success at the second", err, attempts)
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
