package directory

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/casestream/casestream/events"
	"github.com/casestream/casestream/internal/embedded/embeddedtest"
	"github.com/casestream/casestream/internal/eventstore"
	"github.com/casestream/casestream/internal/eventually"
)

// newJetStream starts an embedded server with the streams and returns a store on them.
func newJetStream(t testing.TB) (*eventstore.JetStream, jetstream.JetStream) {
	t.Helper()
	_, nc := embeddedtest.Start(t)
	js := embeddedtest.JetStream(t, nc)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := eventstore.EnsureStreams(ctx, js, 1); err != nil {
		t.Fatal(err)
	}
	s := eventstore.NewJetStream(js, eventstore.DefaultJetStreamOptions())
	t.Cleanup(s.Close)
	return s, js
}

// replay folds the whole DIRECTORY stream into a fresh Directory on a credentials bucket
// opened anew: a process starting.
func replay(t testing.TB, js jetstream.JetStream) *Directory {
	t.Helper()
	d := New()
	d.UseSecrets(openSecrets(t, js))
	if _, err := eventstore.Replay(context.Background(), js, events.StreamDirectory, d.Apply); err != nil {
		t.Fatal(err)
	}
	return d
}

// TestJetStream runs replicas bootstrapping the demo at the same time on the DIRECTORY
// stream, then a restart, then an agent command seen by a follower.
func TestJetStream(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	store, js := newJetStream(t)

	const replicas = 3
	dirs := make([]*Directory, replicas)
	written := make([]int, replicas)
	errs := make([]error, replicas)
	var wg sync.WaitGroup
	for i := range dirs {
		dirs[i] = New()
		dirs[i].UseSecrets(openSecrets(t, js))
		f := demoFile(t)
		wg.Go(func() { written[i], errs[i] = Bootstrap(ctx, store, dirs[i], f, testOptions()) })
	}
	wg.Wait()
	total := 0
	for i, err := range errs {
		if err != nil {
			t.Fatalf("replica %d: %v", i, err)
		}
		total += written[i]
	}
	if total != demoEvents {
		t.Errorf("written by all replicas: got %d, want %d", total, demoEvents)
	}

	// A restart: the view is rebuilt from the stream, and the same file writes nothing.
	d := replay(t, js)
	if got := d.LastSeq(); got != uint64(demoEvents) {
		t.Errorf("replayed LastSeq: got %d, want %d", got, demoEvents)
	}
	n, err := Bootstrap(ctx, store, d, demoFile(t), testOptions())
	if err != nil || n != 0 {
		t.Fatalf("restart: got %d, %v, want 0, nil", n, err)
	}
	for i := range dirs {
		t.Run(fmt.Sprintf("replica%d", i), func(t *testing.T) { sameView(t, dirs[i], d) })
	}
	if _, err := d.VerifyOperator("alice@example.com", "alice-password"); err != nil {
		t.Errorf("alice after replay: got %v, want nil", err)
	}

	// d follows the stream and also applies its own appends at once: each record arrives
	// twice and is folded once. dirs[0] follows only.
	fctx, fcancel := context.WithCancel(ctx)
	var fwg sync.WaitGroup
	for _, dd := range []*Directory{d, dirs[0]} {
		fwg.Go(func() {
			err := eventstore.Follow(fctx, js, events.StreamDirectory, dd.LastSeq(), dd.Apply)
			if err != nil && !errors.Is(err, context.Canceled) {
				t.Errorf("follow: %v", err)
			}
		})
	}
	defer func() { fcancel(); fwg.Wait() }()

	if err := SelectUnit(ctx, store, d, agentMeta("sel-1"), alice, airport); err != nil {
		t.Fatal(err)
	}
	if err := SelectWorkspace(ctx, store, d, agentMeta("sel-2"), alice, wsArrivals); err != nil {
		t.Fatal(err)
	}
	eventually.Check(t, 5*time.Second, 5*time.Millisecond, func() error {
		if u, w := dirs[0].AgentState(alice); u != airport || w != wsArrivals {
			return fmt.Errorf("follower's agent state: got (%q, %q), want (%q, %q)", u, w, airport, wsArrivals)
		}
		return nil
	})
	eventually.Check(t, 5*time.Second, 5*time.Millisecond, func() error {
		if dirs[0].LastSeq() != d.LastSeq() {
			return fmt.Errorf("follower at %d, writer at %d", dirs[0].LastSeq(), d.LastSeq())
		}
		return nil
	})
	sameView(t, dirs[0], d)
	sameView(t, replay(t, js), d)

	// The follower's view is behind no one: selecting through it a unit that is current
	// writes nothing.
	before := d.LastSeq()
	if err := SelectUnit(ctx, store, dirs[0], agentMeta("sel-3"), alice, airport); err != nil {
		t.Fatal(err)
	}
	if got := replay(t, js).LastSeq(); got != before {
		t.Errorf("stream last seq: got %d, want %d", got, before)
	}
}
