package eventstore_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"testing"

	"github.com/casestream/casestream/events"
	"github.com/casestream/casestream/internal/eventstore"
	"github.com/casestream/casestream/internal/eventstore/storetest"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/synadia-io/orbit.go/jetstreamext"
)

// loadVia is a JetStream whose Load is one of its other ways of reading a subject.
type loadVia struct {
	*eventstore.JetStream
	load func(s *eventstore.JetStream, ctx context.Context, subject string, after uint64) ([]eventstore.Record, error)
}

func (l loadVia) Load(ctx context.Context, subject string, after uint64) ([]eventstore.Record, error) {
	return l.load(l.JetStream, ctx, subject, after)
}

// runLoaderContract runs the store contract suite on a JetStream that loads with load.
func runLoaderContract(t *testing.T, load func(s *eventstore.JetStream, ctx context.Context, subject string, after uint64) ([]eventstore.Record, error)) {
	storetest.Run(t, func(t *testing.T) eventstore.Store {
		s, _ := newJetStream(t, eventstore.DefaultJetStreamOptions())
		return loadVia{s, load}
	})
}

func TestLoadForwardContract(t *testing.T) {
	runLoaderContract(t, (*eventstore.JetStream).LoadForward)
}

// ids returns the event ids of recs with their sequences.
func ids(recs []eventstore.Record) []string {
	out := make([]string, len(recs))
	for i, r := range recs {
		out[i] = fmt.Sprint(r.Seq, " ", r.Envelope.ID)
	}
	return out
}

// TestWalk writes interleaved Appends of one and of three events to several subjects
// from concurrent writers, and checks that walking back from each subject's last event
// finds what reading forward finds, from every position.
func TestWalk(t *testing.T) {
	s, _ := newJetStream(t, eventstore.DefaultJetStreamOptions())
	ctx := testCtx(t)
	const subjects, rounds = 8, 6
	var wg sync.WaitGroup
	for c := range subjects {
		wg.Go(func() {
			subj := events.CaseSubject(int64(500 + c))
			var last uint64
			for r := range rounds {
				envs := []events.Envelope{eventstore.NoteAdded(subj, fmt.Sprint(r))}
				if (r+c)%2 == 0 {
					envs = append(envs, eventstore.NoteAdded(subj, fmt.Sprint(r, "b")), eventstore.NoteAdded(subj, fmt.Sprint(r, "c")))
				}
				seq, err := s.Append(ctx, subj, last, envs)
				if err != nil {
					t.Errorf("Append(%s): %v", subj, err)
					return
				}
				last = seq
			}
		})
	}
	wg.Wait()
	for c := range subjects {
		subj := events.CaseSubject(int64(500 + c))
		all, err := s.LoadForward(ctx, subj, 0)
		if err != nil {
			t.Fatal(err)
		}
		if len(all) < rounds {
			t.Fatalf("%s: %d events forward, want at least %d", subj, len(all), rounds)
		}
		afters := []uint64{0}
		for _, r := range all {
			afters = append(afters, r.Seq-1, r.Seq)
		}
		for _, after := range afters {
			want, err := s.LoadForward(ctx, subj, after)
			if err != nil {
				t.Fatal(err)
			}
			got, ok, err := s.Walk(ctx, subj, after)
			if err != nil || !ok {
				t.Fatalf("Walk(%s, %d): ok %v, err %v", subj, after, ok, err)
			}
			if !slices.Equal(ids(got), ids(want)) {
				t.Fatalf("Walk(%s, %d) = %v, forward %v", subj, after, ids(got), ids(want))
			}
		}
	}
	got, ok, err := s.Walk(ctx, events.CaseSubject(999), 0)
	if err != nil || !ok || len(got) != 0 {
		t.Fatalf("Walk of a subject without events = %v, %v, %v", got, ok, err)
	}
}

// publish stores env on its subject with the given headers, outside the store.
func publish(t *testing.T, js jetstream.JetStream, env events.Envelope, hdr map[string]string) uint64 {
	t.Helper()
	m, err := rawMsg(env, hdr)
	if err != nil {
		t.Fatal(err)
	}
	ack, err := js.PublishMsg(testCtx(t), m)
	if err != nil {
		t.Fatal(err)
	}
	return ack.Sequence
}

func rawMsg(env events.Envelope, hdr map[string]string) (*nats.Msg, error) {
	body, err := json.Marshal(env)
	if err != nil {
		return nil, err
	}
	m := nats.NewMsg(env.Subject)
	m.Data = body
	m.Header.Set(jetstream.MsgIDHeader, env.ID)
	for k, v := range hdr {
		m.Header.Set(k, v)
	}
	return m, nil
}

// TestWalkBreaks checks that Load reads forward where an event does not name its
// predecessor, and that it finds every event all the same.
func TestWalkBreaks(t *testing.T) {
	s, js := newJetStream(t, eventstore.DefaultJetStreamOptions())
	ctx := testCtx(t)
	expect := func(seq uint64) map[string]string {
		return map[string]string{jetstream.ExpectedLastSubjSeqHeader: strconv.FormatUint(seq, 10)}
	}
	check := func(t *testing.T, subj string, want int) {
		t.Helper()
		if _, ok, err := s.Walk(ctx, subj, 0); ok || err != nil {
			t.Errorf("Walk(%s): ok %v, err %v; want a break", subj, ok, err)
		}
		got, err := s.Load(ctx, subj, 0)
		if err != nil {
			t.Fatal(err)
		}
		fwd, err := s.LoadForward(ctx, subj, 0)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != want || !slices.Equal(ids(got), ids(fwd)) {
			t.Errorf("Load(%s) = %v, want %d events: %v", subj, ids(got), want, ids(fwd))
		}
	}

	t.Run("an event without expectation", func(t *testing.T) {
		subj := events.CaseSubject(601)
		first := publish(t, js, eventstore.NoteAdded(subj, "no header"), nil)
		if _, err := s.Append(ctx, subj, first, []events.Envelope{eventstore.NoteAdded(subj, "after")}); err != nil {
			t.Fatal(err)
		}
		check(t, subj, 2)
	})

	t.Run("an expectation about another subject", func(t *testing.T) {
		subj, other := events.CaseSubject(602), events.CaseSubject(603)
		publish(t, js, eventstore.NoteAdded(subj, "first"), expect(0))
		publish(t, js, eventstore.NoteAdded(other, "other"), expect(0))
		hdr := expect(0)
		hdr[jetstream.ExpectedLastSubjSeqSubjHeader] = other + ".none"
		publish(t, js, eventstore.NoteAdded(subj, "second"), hdr)
		check(t, subj, 2)
	})

	t.Run("a batch whose previous message is another subject's", func(t *testing.T) {
		a, b := events.CaseSubject(604), events.CaseSubject(605)
		var msgs []*nats.Msg
		for _, x := range []struct {
			env events.Envelope
			hdr map[string]string
		}{{eventstore.NoteAdded(a, "a1"), expect(0)}, {eventstore.NoteAdded(b, "b1"), expect(0)}, {eventstore.NoteAdded(a, "a2"), nil}} {
			m, err := rawMsg(x.env, x.hdr)
			if err != nil {
				t.Fatal(err)
			}
			msgs = append(msgs, m)
		}
		if _, err := jetstreamext.PublishMsgBatch(ctx, js, msgs); err != nil {
			t.Fatal(err)
		}
		check(t, a, 2)
		got, ok, err := s.Walk(ctx, b, 0)
		if err != nil || !ok || len(got) != 1 {
			t.Errorf("Walk(%s) = %v, %v, %v; want its one event", b, ids(got), ok, err)
		}
	})

	t.Run("more events than a walk reads", func(t *testing.T) {
		subj := events.CaseSubject(606)
		var last uint64
		for i := range eventstore.MaxWalk + 1 {
			seq, err := s.Append(ctx, subj, last, []events.Envelope{eventstore.NoteAdded(subj, fmt.Sprint(i))})
			if err != nil {
				t.Fatal(err)
			}
			last = seq
		}
		check(t, subj, eventstore.MaxWalk+1)
		// From further on, the walk is short enough.
		all, _ := s.LoadForward(ctx, subj, 0)
		got, ok, err := s.Walk(ctx, subj, all[0].Seq)
		if err != nil || !ok || len(got) != eventstore.MaxWalk {
			t.Errorf("Walk after the first event: %d events, ok %v, err %v", len(got), ok, err)
		}
	})
}
