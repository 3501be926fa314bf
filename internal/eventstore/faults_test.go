package eventstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/casestream/casestream/events"
	"github.com/casestream/casestream/internal/embedded"
	"github.com/casestream/casestream/internal/embedded/embeddedtest"
	"github.com/casestream/casestream/internal/eventually"
	"github.com/casestream/casestream/internal/natsauth"
	"github.com/casestream/casestream/internal/natsconn"
)

// TestLostAcknowledgementsSettled loses acknowledgements on purpose: an AckTimeout so short
// that most appends time out before their PubAck arrives, while the publish itself reached
// the server. Each such append must be settled by its ids: an answer of success (or
// duplicate) means its events are in the log exactly once at the answered sequence, an
// error means they are not in it.
func TestLostAcknowledgementsSettled(t *testing.T) {
	forVariants(t, func(t *testing.T, opts JetStreamOptions) {
		_, nc := embeddedtest.Start(t)
		js, err := jetstream.New(nc)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := EnsureStreams(ctx, js, 1); err != nil {
			t.Fatal(err)
		}
		opts.AckTimeout = 20 * time.Microsecond
		s := NewJetStream(js, opts)
		defer s.Close()

		const subjects, rounds = 16, 8
		type answer struct {
			env events.Envelope
			seq uint64
			err error
		}
		var (
			mu      sync.Mutex // guards answers
			answers []answer
			wg      sync.WaitGroup
		)
		for i := range subjects {
			subject := events.CaseSubject(int64(1000 + i))
			wg.Go(func() {
				var expected uint64
				for r := range rounds {
					e := note(subject, strconv.Itoa(r))
					seq, err := s.Append(ctx, subject, expected, []events.Envelope{e})
					mu.Lock()
					answers = append(answers, answer{e, seq, err})
					mu.Unlock()
					if err == nil || errors.Is(err, ErrDuplicate) {
						expected = seq
					} else if last, lerr := s.lastMsg(ctx, subject); lerr == nil && last != nil {
						expected = last.Sequence
					}
				}
			})
		}
		wg.Wait()

		stored := map[string][]uint64{} // event id: sequences it is stored at
		st, err := js.Stream(ctx, events.StreamCases)
		if err != nil {
			t.Fatal(err)
		}
		info, err := st.Info(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for seq := uint64(1); seq <= info.State.LastSeq; seq++ {
			m, err := st.GetMsg(ctx, seq)
			if err != nil {
				t.Fatalf("message %d: %v", seq, err)
			}
			id := m.Header.Get(jetstream.MsgIDHeader)
			stored[id] = append(stored[id], seq)
		}
		failed, duplicates := 0, 0
		for _, a := range answers {
			if errors.Is(a.err, ErrDuplicate) {
				duplicates++ // settled after its acknowledgement was lost
			}
			got := stored[a.env.ID]
			switch {
			case a.err == nil || errors.Is(a.err, ErrDuplicate):
				if len(got) != 1 || got[0] != a.seq {
					t.Errorf("event %s answered stored at %d (err %v): got it at %v, want exactly [%d]", a.env.ID, a.seq, a.err, got, a.seq)
				}
			default:
				failed++
				if len(got) != 0 {
					t.Errorf("event %s answered %v: got it stored at %v, want absent", a.env.ID, a.err, got)
				}
			}
		}
		t.Logf("%d appends: %d settled as stored after a lost acknowledgement, %d answered with an error", len(answers), duplicates, failed)
	})
}

// TestNothingSentWhileNATSAway stops the server under a connection made with the programs'
// options: an Append fails at once with ErrNotStored, and so does a bare publish on the
// connection (it buffers nothing while reconnecting); when the server comes back on the
// same port and store, neither is in the stream.
func TestNothingSentWhileNATSAway(t *testing.T) {
	dir, ids := t.TempDir(), t.TempDir()
	ns, err := embedded.Start(embedded.Options{StoreDir: dir, IdentityDir: ids, Listen: "127.0.0.1:-1"})
	if err != nil {
		t.Fatal(err)
	}
	addr := ns.Addr().(*net.TCPAddr)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	auth, err := ns.Keys.Option(natsauth.Service)
	if err != nil {
		t.Fatal(err)
	}
	nc, err := nats.Connect(ns.ClientURL(), append(natsconn.Options(log, "test"), auth, nats.CustomInboxPrefix(natsauth.ServiceInboxPrefix))...)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := EnsureStreams(ctx, js, 1); err != nil {
		t.Fatal(err)
	}
	s := NewJetStream(js, DefaultJetStreamOptions())
	defer s.Close()
	if _, err := s.Append(ctx, events.CaseSubject(1), 0, []events.Envelope{note(events.CaseSubject(1), "before")}); err != nil {
		t.Fatal(err)
	}

	ns.Shutdown()
	ns.WaitForShutdown()
	eventually.Check(t, 10*time.Second, 10*time.Millisecond, func() error {
		if nc.IsConnected() {
			return errors.New("still connected")
		}
		return nil
	})
	away := note(events.CaseSubject(2), "while away")
	if _, err := s.Append(ctx, away.Subject, 0, []events.Envelope{away}); !errors.Is(err, ErrNotStored) {
		t.Errorf("append while NATS is away: got %v, want ErrNotStored", err)
	}
	raw := nats.NewMsg(events.CaseSubject(3))
	raw.Data = []byte(`{}`)
	raw.Header.Set(jetstream.MsgIDHeader, "raw-while-away")
	if err := nc.PublishMsg(raw); !errors.Is(err, nats.ErrReconnectBufExceeded) {
		t.Errorf("publish while NATS is away: got %v, want nats.ErrReconnectBufExceeded", err)
	}

	ns2, err := embedded.Start(embedded.Options{StoreDir: dir, IdentityDir: ids, Listen: fmt.Sprintf("127.0.0.1:%d", addr.Port)})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { ns2.Shutdown(); ns2.WaitForShutdown() }()
	eventually.Check(t, 10*time.Second, 10*time.Millisecond, func() error {
		if !nc.IsConnected() {
			return errors.New("not reconnected")
		}
		return nil
	})
	// Whatever the connection would have sent on reconnecting has been by now: a request
	// on it is answered after everything sent before it.
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	for _, subject := range []string{events.CaseSubject(2), events.CaseSubject(3)} {
		m, err := s.lastMsg(ctx, subject)
		if err != nil {
			t.Fatal(err)
		}
		if m != nil {
			t.Errorf("%s: got message %d stored after NATS came back, want none", subject, m.Sequence)
		}
	}
}

// TestAppendAnswersByItsDeadline holds the committer's first batch, with one Append taken
// for it, past that Append's deadline, while a second Append waits in the queue: the first,
// which may yet be stored, answers ErrOutcomeUnknown (and is stored once the batch goes);
// the second gives up unsent before its deadline with a plain deadline error, and is never
// stored.
func TestAppendAnswersByItsDeadline(t *testing.T) {
	forVariants(t, func(t *testing.T, opts JetStreamOptions) {
		holding, release := make(chan struct{}), make(chan struct{})
		s, _ := heldStore(t, opts, func(*JetStream, int) {
			close(holding)
			<-release
		})
		type answer struct {
			seq uint64
			err error
		}
		appendBy := func(e events.Envelope, d time.Duration) <-chan answer {
			out := make(chan answer, 1)
			go func() {
				ctx, cancel := context.WithTimeout(context.Background(), d)
				defer cancel()
				seq, err := s.Append(ctx, e.Subject, 0, []events.Envelope{e})
				out <- answer{seq, err}
			}()
			return out
		}
		sent, queued := note(events.CaseSubject(1), "sent"), note(events.CaseSubject(2), "queued")
		sentAnswer := appendBy(sent, answerMargin+500*time.Millisecond)
		<-holding
		queuedAnswer := appendBy(queued, answerMargin+500*time.Millisecond)
		if a := <-queuedAnswer; !errors.Is(a.err, context.DeadlineExceeded) || errors.Is(a.err, ErrOutcomeUnknown) {
			t.Errorf("Append still queued at its deadline: got %v, want a deadline error that is not %v", a.err, ErrOutcomeUnknown)
		}
		if a := <-sentAnswer; !errors.Is(a.err, ErrOutcomeUnknown) {
			t.Errorf("Append taken for a batch, unanswered at its deadline: got %v, want %v", a.err, ErrOutcomeUnknown)
		}
		close(release)

		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		// The committer goes on: a later Append is stored after both were dealt with.
		later := note(events.CaseSubject(3), "later")
		if _, err := s.Append(ctx, later.Subject, 0, []events.Envelope{later}); err != nil {
			t.Fatal(err)
		}
		for _, tc := range []struct {
			env  events.Envelope
			want int
		}{{sent, 1}, {queued, 0}} {
			recs, err := s.Load(ctx, tc.env.Subject, 0)
			if err != nil {
				t.Fatal(err)
			}
			if len(recs) != tc.want {
				t.Errorf("%s: got %d events in the log, want %d", tc.env.Data, len(recs), tc.want)
			}
		}
	})
}
