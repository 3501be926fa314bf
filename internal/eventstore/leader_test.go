package eventstore_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/casestream/casestream/events"
	"github.com/casestream/casestream/internal/embedded/embeddedtest"
	"github.com/casestream/casestream/internal/eventstore"
	"github.com/casestream/casestream/internal/eventually"
	"github.com/casestream/casestream/internal/natsauth"
)

// staleReplica adds to stream a mirror that answers the stream's direct gets and holds
// only the messages of subject seed: for every other subject, a replica that never catches
// up. The server spreads direct gets over the stream and the mirror (one queue group), so
// about half of them are answered from nothing, as by a follower that has not applied the
// leader's latest appends. It returns once the mirror answers.
func staleReplica(t *testing.T, s *eventstore.JetStream, admin jetstream.JetStream, stream, seed string) {
	t.Helper()
	ctx := testCtx(t)
	if _, err := admin.CreateStream(ctx, jetstream.StreamConfig{
		Name:         stream + "_STALE",
		Mirror:       &jetstream.StreamSource{Name: stream, FilterSubject: seed},
		MirrorDirect: true,
	}); err != nil {
		t.Fatal(err)
	}
	// A mirror answers direct gets once it has copied a message.
	if _, err := s.Append(ctx, seed, 0, []events.Envelope{eventstore.NoteAdded(seed, "seed")}); err != nil {
		t.Fatal(err)
	}
	eventually.Check(t, 10*time.Second, 10*time.Millisecond, func() error {
		st, err := admin.Stream(ctx, stream+"_STALE")
		if err != nil {
			return err
		}
		if n := st.CachedInfo().State.Msgs; n != 1 {
			return fmt.Errorf("mirror: got %d messages, want 1", n)
		}
		return nil
	})
}

// staleStore starts a server and returns a store reading as a replicated stream from a
// CASES stream whose direct gets a stale replica answers half the time.
func staleStore(t *testing.T) *eventstore.JetStream {
	t.Helper()
	ns, nc := embeddedtest.Start(t)
	admin := embeddedtest.JetStream(t, embeddedtest.Connect(t, ns, natsauth.Admin))
	s, _ := eventstore.StoreOn(t, nc, eventstore.DefaultJetStreamOptions())
	staleReplica(t, s, admin, events.StreamCases, events.CaseSubject(1))
	s.ReadAsReplicated()
	return s
}

// TestLoadSeesEveryAcknowledgedAppend appends to subjects of a stream whose direct gets
// a stale replica answers half the time, then loads each at once: a store reading as a
// replicated stream (the last event from the leader) returns every event, whether Load
// walks back from the last one or, past maxWalk events, reads forward.
func TestLoadSeesEveryAcknowledgedAppend(t *testing.T) {
	s := staleStore(t)
	ctx := testCtx(t)
	for _, tc := range []struct {
		name   string
		events int
	}{
		{"one event, walked", 1},
		{"a few events, walked", 3},
		{"more than maxWalk events, read forward", eventstore.MaxWalk + 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			const subjects = 24
			misses := 0
			for c := range subjects {
				subj := events.CaseSubject(int64(1000*tc.events + c))
				var last uint64
				for i := range tc.events {
					seq, err := s.Append(ctx, subj, last, []events.Envelope{eventstore.NoteAdded(subj, fmt.Sprint(i))})
					if err != nil {
						t.Fatalf("Append(%s): %v", subj, err)
					}
					last = seq
				}
				recs, err := s.Load(ctx, subj, 0)
				if err != nil {
					t.Fatalf("Load(%s): %v", subj, err)
				}
				if len(recs) != tc.events || recs[len(recs)-1].Seq != last {
					misses++
					t.Errorf("Load(%s) right after the append acknowledged at %d: got %d events (%v), want %d ending at %d",
						subj, last, len(recs), ids(recs), tc.events, last)
				}
			}
			if misses > 0 {
				t.Logf("%d of %d subjects loaded short", misses, subjects)
			}
		})
	}
}
