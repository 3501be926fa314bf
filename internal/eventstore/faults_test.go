package eventstore

import (
	"bytes"
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
	_, nc := embeddedtest.Start(t)
	opts := DefaultJetStreamOptions()
	opts.AckTimeout = 20 * time.Microsecond
	s, js := StoreOn(t, nc, opts)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

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
				e := NoteAdded(subject, strconv.Itoa(r))
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
	s, _ := StoreOn(t, nc, DefaultJetStreamOptions())
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := s.Append(ctx, events.CaseSubject(1), 0, []events.Envelope{NoteAdded(events.CaseSubject(1), "before")}); err != nil {
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
	away := NoteAdded(events.CaseSubject(2), "while away")
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

// stall holds what the server sends on the connections it dials, as a network that loses
// acknowledgements on their way does, while what the client sends goes through.
type stall struct {
	mu      sync.Mutex    // guards open and written
	open    chan struct{} // closed while what the server sends flows
	written bytes.Buffer  // what the client sent since the last hold
}

func newStall() *stall {
	st := &stall{open: make(chan struct{})}
	close(st.open)
	return st
}

// hold stops what the server sends from reaching the client, until release.
func (st *stall) hold() {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.open = make(chan struct{})
	st.written.Reset()
}

func (st *stall) release() {
	st.mu.Lock()
	defer st.mu.Unlock()
	close(st.open)
}

// sent reports whether the client has sent s to the server since the last hold.
func (st *stall) sent(s string) bool {
	st.mu.Lock()
	defer st.mu.Unlock()
	return bytes.Contains(st.written.Bytes(), []byte(s))
}

// waitSent waits until the client has sent s to the server.
func (st *stall) waitSent(t *testing.T, s string) {
	t.Helper()
	eventually.Check(t, 10*time.Second, time.Millisecond, func() error {
		if !st.sent(s) {
			return fmt.Errorf("%s not sent yet", s)
		}
		return nil
	})
}

// Dial implements nats.CustomDialer.
func (st *stall) Dial(network, address string) (net.Conn, error) {
	c, err := net.Dial(network, address)
	if err != nil {
		return nil, err
	}
	return stalledConn{c, st}, nil
}

type stalledConn struct {
	net.Conn
	st *stall
}

// Read holds what it read while the stall holds: a read may be waiting already when hold
// is called.
func (c stalledConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.st.mu.Lock()
	open := c.st.open
	c.st.mu.Unlock()
	<-open
	return n, err
}

func (c stalledConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	c.st.mu.Lock()
	c.st.written.Write(p[:n])
	c.st.mu.Unlock()
	return n, err
}

// stalledStore returns a store on a connection of its own to a fresh server, whose answers
// the returned stall holds, and the server's own connection.
func stalledStore(t *testing.T) (*JetStream, *nats.Conn, *stall) {
	t.Helper()
	srv, admin := embeddedtest.Start(t)
	st := newStall()
	s, _ := StoreOn(t, embeddedtest.Connect(t, srv, natsauth.Service, nats.SetCustomDialer(st)), DefaultJetStreamOptions())
	return s, admin, st
}

// TestAppendAnswersByItsDeadline holds the server's answers while Appends reach it. An
// Append whose caller's deadline passes, or whose caller cancels it, before its
// acknowledgement arrives answers ErrOutcomeUnknown (it is stored, and its caller must not
// answer that it failed); one whose context ended before it was sent answers the context's
// error, and is never stored. The store goes on once the answers flow again.
func TestAppendAnswersByItsDeadline(t *testing.T) {
	s, _, st := stalledStore(t)
	bg := context.Background()
	st.hold()

	late := NoteAdded(events.CaseSubject(1), "deadline passed")
	dctx, dcancel := context.WithTimeout(bg, 300*time.Millisecond)
	defer dcancel()
	if _, err := s.Append(dctx, late.Subject, 0, []events.Envelope{late}); !errors.Is(err, ErrOutcomeUnknown) {
		t.Errorf("Append unanswered at its deadline: got %v, want %v", err, ErrOutcomeUnknown)
	}

	dropped := NoteAdded(events.CaseSubject(2), "cancelled")
	cctx, ccancel := context.WithCancel(bg)
	answer := make(chan error, 1)
	go func() {
		_, err := s.Append(cctx, dropped.Subject, 0, []events.Envelope{dropped})
		answer <- err
	}()
	st.waitSent(t, dropped.ID)
	ccancel()
	if err := <-answer; !errors.Is(err, ErrOutcomeUnknown) {
		t.Errorf("Append cancelled after it was sent: got %v, want %v", err, ErrOutcomeUnknown)
	}

	unsent := NoteAdded(events.CaseSubject(3), "never sent")
	gone, cancelGone := context.WithCancel(bg)
	cancelGone()
	if _, err := s.Append(gone, unsent.Subject, 0, []events.Envelope{unsent}); !errors.Is(err, context.Canceled) || errors.Is(err, ErrOutcomeUnknown) {
		t.Errorf("Append whose context ended before it was sent: got %v, want %v and not %v", err, context.Canceled, ErrOutcomeUnknown)
	}
	if !st.sent(late.ID) || st.sent(unsent.ID) {
		t.Fatalf("sent to the server: %s %v, %s %v; want the first only", late.Data, st.sent(late.ID), unsent.Data, st.sent(unsent.ID))
	}
	st.release()

	ctx, cancel := context.WithTimeout(bg, 30*time.Second)
	defer cancel()
	later := NoteAdded(events.CaseSubject(4), "later")
	if _, err := s.Append(ctx, later.Subject, 0, []events.Envelope{later}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		env  events.Envelope
		want int
	}{{late, 1}, {dropped, 1}, {unsent, 0}} {
		recs, err := s.Load(ctx, tc.env.Subject, 0)
		if err != nil {
			t.Fatal(err)
		}
		if len(recs) != tc.want {
			t.Errorf("%s: got %d events in the log, want %d", tc.env.Data, len(recs), tc.want)
		}
	}
}

// TestCloseWaitsForAppends closes the store, then its connection, while an Append is
// waiting for its acknowledgement: Close waits for the Append's answer, so that the
// connection's closing does not cut it off with a failure (ErrNotStored) when it was
// stored.
func TestCloseWaitsForAppends(t *testing.T) {
	s, admin, st := stalledStore(t)
	st.hold()
	e := NoteAdded(events.CaseSubject(1), "in flight")
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	answer := make(chan error, 1)
	go func() {
		_, err := s.Append(ctx, e.Subject, 0, []events.Envelope{e})
		answer <- err
	}()
	st.waitSent(t, e.ID)
	s.Close()
	s.js.Conn().Close()
	if err := <-answer; !errors.Is(err, ErrOutcomeUnknown) {
		t.Errorf("Append in flight at Close: got %v, want %v", err, ErrOutcomeUnknown)
	}
	st.release()

	js := embeddedtest.JetStream(t, admin)
	other := NewJetStream(js, DefaultJetStreamOptions())
	defer other.Close()
	eventually.Check(t, 10*time.Second, 10*time.Millisecond, func() error {
		if recs, err := other.Load(context.Background(), e.Subject, 0); err != nil || len(recs) != 1 {
			return fmt.Errorf("Load: got %d events (%v), want the one in flight", len(recs), err)
		}
		return nil
	})
}
