package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/casestream/casestream/events"
	"github.com/casestream/casestream/internal/embedded/embeddedtest"
	"github.com/casestream/casestream/internal/eventstore"
	"github.com/casestream/casestream/internal/eventually"
	"github.com/casestream/casestream/internal/natsauth"
)

// TestSubscriberWaitsForDurable runs the example with -durable-only, as the reader, against
// a server where the service stores three assignments and publishes the durable sequence
// of CASES as a group-committing node does: the example handles only what the durable
// sequence has reached, and the rest once it reaches them.
func TestSubscriberWaitsForDurable(t *testing.T) {
	s, nc := embeddedtest.Start(t)
	js := embeddedtest.JetStream(t, nc)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := eventstore.EnsureStreams(ctx, js, 1); err != nil {
		t.Fatal(err)
	}
	store := eventstore.NewJetStream(js, eventstore.JetStreamOptions{})
	defer store.Close()
	for i := range 3 {
		env, err := events.Wrap(events.Meta{ID: "assigned-" + strconv.Itoa(i+1), Subject: events.CaseSubject(int64(i + 1)), OccurredAt: time.Now()},
			events.CaseAssigned{To: events.Assignment{OperatorID: "bob"}, Status: "Active"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := store.Append(ctx, env.Subject, 0, []events.Envelope{env}); err != nil {
			t.Fatal(err)
		}
	}
	publishDurable := func(seq uint64) {
		t.Helper()
		if err := nc.Publish(events.DurableSubject(events.StreamCases), []byte(strconv.FormatUint(seq, 10))); err != nil {
			t.Fatal(err)
		}
	}

	out := filepath.Join(t.TempDir(), "assignments.log")
	runCtx, stop := context.WithCancel(ctx)
	ran := make(chan error, 1)
	go func() {
		ran <- run(runCtx, config{url: s.ClientURL(), nkey: s.Keys.SeedFile(natsauth.Reader), durable: "assignments", out: out,
			ackWait: 30 * time.Second, durableOnly: true}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	}()
	defer func() {
		stop()
		if err := <-ran; err != nil && !errors.Is(err, context.Canceled) {
			t.Errorf("run: %v", err)
		}
	}()
	handled := func(k int) func() error {
		return func() error {
			if got := len(handledLines(t, out)); got != k {
				return fmt.Errorf("handled %d, want %d", got, k)
			}
			return nil
		}
	}
	// Published again and again, as the node does every second: the example may subscribe
	// after the first publication.
	eventually.Check(t, 30*time.Second, 20*time.Millisecond, func() error {
		publishDurable(1)
		return handled(1)()
	})
	// The two others are stored and delivered, but not durable: watched for a while, never
	// handled.
	err := eventually.Wait(500*time.Millisecond, 10*time.Millisecond, func() error {
		if got := len(handledLines(t, out)); got > 1 {
			return nil
		}
		return errors.New("not handled")
	})
	if err == nil {
		t.Fatalf("handled %v before the durable sequence reached them, want only assigned-1", handledLines(t, out))
	}
	publishDurable(3)
	eventually.Check(t, 30*time.Second, 20*time.Millisecond, handled(3))
}
