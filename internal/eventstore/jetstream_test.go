package eventstore_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/casestream/casestream/events"
	"github.com/casestream/casestream/internal/embedded/embeddedtest"
	"github.com/casestream/casestream/internal/eventstore"
	"github.com/casestream/casestream/internal/eventstore/storetest"
	"github.com/casestream/casestream/internal/eventually"
	"github.com/casestream/casestream/internal/natsauth"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// newJetStream starts a server, creates the streams and returns a store on them.
func newJetStream(tb testing.TB, opts eventstore.JetStreamOptions) (*eventstore.JetStream, jetstream.JetStream) {
	tb.Helper()
	_, nc := embeddedtest.Start(tb)
	return eventstore.StoreOn(tb, nc, opts)
}

func testCtx(tb testing.TB) context.Context {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	tb.Cleanup(cancel)
	return ctx
}

func TestJetStreamContract(t *testing.T) {
	storetest.Run(t, func(t *testing.T) eventstore.Store {
		s, _ := newJetStream(t, eventstore.DefaultJetStreamOptions())
		return s
	})
}

// TestLoadOrderedContract runs the contract suite with Load reading through an ordered
// consumer.
func TestLoadOrderedContract(t *testing.T) {
	runLoaderContract(t, (*eventstore.JetStream).LoadOrdered)
}

func TestEnsureStreams(t *testing.T) {
	_, nc := embeddedtest.Start(t)
	js := embeddedtest.JetStream(t, nc)
	ctx := testCtx(t)
	// Twice: the second call updates streams that exist.
	for range 2 {
		if err := eventstore.EnsureStreams(ctx, js, 1); err != nil {
			t.Fatalf("EnsureStreams: %v", err)
		}
	}
	for _, tc := range []struct{ stream, subjects string }{
		{events.StreamCases, "cases.>"},
		{events.StreamDirectory, "directory.>"},
	} {
		t.Run(tc.stream, func(t *testing.T) {
			st, err := js.Stream(ctx, tc.stream)
			if err != nil {
				t.Fatalf("Stream: %v", err)
			}
			cfg := st.CachedInfo().Config
			checks := []struct {
				name      string
				got, want any
			}{
				{"Subjects", cfg.Subjects, []string{tc.subjects}},
				{"Storage", cfg.Storage, jetstream.FileStorage},
				{"MaxAge", cfg.MaxAge, time.Duration(0)},
				{"MaxMsgs", cfg.MaxMsgs, int64(-1)},
				{"MaxBytes", cfg.MaxBytes, int64(-1)},
				{"MaxMsgsPerSubject", cfg.MaxMsgsPerSubject, int64(-1)},
				{"Discard", cfg.Discard, jetstream.DiscardNew},
				{"DenyDelete", cfg.DenyDelete, true},
				{"DenyPurge", cfg.DenyPurge, true},
				{"AllowDirect", cfg.AllowDirect, true},
				{"Duplicates", cfg.Duplicates, 2 * time.Minute},
				{"AllowAtomicPublish", cfg.AllowAtomicPublish, true},
				{"Replicas", cfg.Replicas, 1},
			}
			for _, c := range checks {
				if fmt.Sprint(c.got) != fmt.Sprint(c.want) {
					t.Errorf("%s: got %v, want %v", c.name, c.got, c.want)
				}
			}
		})
	}
}

func TestAppendHeaders(t *testing.T) {
	s, js := newJetStream(t, eventstore.DefaultJetStreamOptions())
	ctx := testCtx(t)
	subj := events.CaseSubject(7)
	envs := []events.Envelope{eventstore.NoteAdded(subj, "a"), eventstore.NoteAdded(subj, "b")}
	envs[1].Type = events.TypeCaseResolved
	last, err := s.Append(ctx, subj, 0, envs)
	if err != nil {
		t.Fatal(err)
	}
	st, err := js.Stream(ctx, events.StreamCases)
	if err != nil {
		t.Fatal(err)
	}
	for i, env := range envs {
		seq := last - uint64(len(envs)-1-i)
		m, err := st.GetMsg(ctx, seq)
		if err != nil {
			t.Fatalf("GetMsg(%d): %v", seq, err)
		}
		if got := m.Header.Get(jetstream.MsgIDHeader); got != env.ID {
			t.Errorf("event %d %s: got %q, want %q", i, jetstream.MsgIDHeader, got, env.ID)
		}
		if got := m.Header.Get(events.HeaderEventType); got != env.Type {
			t.Errorf("event %d %s: got %q, want %q", i, events.HeaderEventType, got, env.Type)
		}
		want, _ := json.Marshal(env)
		if string(m.Data) != string(want) {
			t.Errorf("event %d body: got %s, want %s", i, m.Data, want)
		}
	}
}

func TestAppendRefusals(t *testing.T) {
	s, _ := newJetStream(t, eventstore.DefaultJetStreamOptions())
	ctx := testCtx(t)
	subj := events.CaseSubject(1)
	tooMany := make([]events.Envelope, eventstore.MaxBatch+1)
	for i := range tooMany {
		tooMany[i] = eventstore.NoteAdded(subj, "x")
	}
	same := eventstore.NoteAdded(subj, "same")
	tests := []struct {
		name    string
		subject string
		envs    []events.Envelope
		wantErr error
	}{
		{"more events than a batch holds", subj, tooMany, eventstore.ErrTooLarge},
		{"a subject outside the streams", "orders.1", []events.Envelope{eventstore.NoteAdded("orders.1", "x")}, nil},
		{"one id twice", subj, []events.Envelope{same, same}, nil},
		{"an empty id", subj, []events.Envelope{{Type: events.TypeCaseNoteAdded}}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := s.Append(ctx, tt.subject, 0, tt.envs)
			if err == nil || (tt.wantErr != nil && !errors.Is(err, tt.wantErr)) {
				t.Errorf("Append: got %v, want an error (%v)", err, tt.wantErr)
			}
		})
	}
	recs, err := s.Load(ctx, subj, 0)
	if err != nil || len(recs) != 0 {
		t.Errorf("Load: got %d records, %v; want none", len(recs), err)
	}
}

func TestAppendAfterClose(t *testing.T) {
	s, _ := newJetStream(t, eventstore.DefaultJetStreamOptions())
	s.Close()
	subj := events.CaseSubject(1)
	if _, err := s.Append(testCtx(t), subj, 0, []events.Envelope{eventstore.NoteAdded(subj, "x")}); !errors.Is(err, eventstore.ErrClosed) {
		t.Errorf("Append after Close: got %v, want ErrClosed", err)
	}
}

func TestLoadPages(t *testing.T) {
	s, _ := newJetStream(t, eventstore.DefaultJetStreamOptions())
	ctx := testCtx(t)
	subj := events.CaseSubject(42)
	other := events.CaseSubject(43)
	var all []events.Envelope
	var last uint64
	for _, n := range []int{eventstore.MaxBatch, 300} {
		envs := make([]events.Envelope, n)
		for i := range envs {
			envs[i] = eventstore.NoteAdded(subj, fmt.Sprint(len(all)+i))
		}
		var err error
		if last, err = s.Append(ctx, subj, last, envs); err != nil {
			t.Fatal(err)
		}
		all = append(all, envs...)
		// Another subject interleaved in the stream.
		if _, err := s.Append(ctx, other, 0, []events.Envelope{eventstore.NoteAdded(other, "o")}); err != nil && !errors.Is(err, eventstore.ErrConflict) {
			t.Fatal(err)
		}
	}
	loaders := map[string]func(context.Context, string, uint64) ([]eventstore.Record, error){
		"direct":  s.Load,
		"ordered": s.LoadOrdered,
	}
	for name, load := range loaders {
		t.Run(name, func(t *testing.T) {
			recs, err := load(ctx, subj, 0)
			if err != nil {
				t.Fatal(err)
			}
			if len(recs) != len(all) {
				t.Fatalf("Load: got %d records, want %d", len(recs), len(all))
			}
			for i, r := range recs {
				if r.Envelope.ID != all[i].ID {
					t.Fatalf("record %d: got id %s, want %s", i, r.Envelope.ID, all[i].ID)
				}
			}
			if got := recs[len(recs)-1].Seq; got != last {
				t.Errorf("last seq: got %d, want %d", got, last)
			}
			tail, err := load(ctx, subj, recs[len(recs)-11].Seq)
			if err != nil {
				t.Fatal(err)
			}
			if len(tail) != 10 {
				t.Errorf("Load after: got %d records, want 10", len(tail))
			}
		})
	}
}

// TestLastSeq checks LastSeq and both of its ways to read a stream's last sequence: the
// direct get of the stream's last message (one replica) and STREAM.INFO (the fallback for
// an empty stream, and the way on replicated streams, tested in cmd/projector's cluster
// test).
func TestLastSeq(t *testing.T) {
	s, _ := newJetStream(t, eventstore.DefaultJetStreamOptions())
	ctx := testCtx(t)
	check := func(want uint64) {
		t.Helper()
		if got, err := s.LastSeq(ctx, events.StreamCases); err != nil || got != want {
			t.Errorf("LastSeq: got %d, %v; want %d, nil", got, err, want)
		}
		if got, err := s.LastSeqInfo(ctx, events.StreamCases); err != nil || got != want {
			t.Errorf("STREAM.INFO: got %d, %v; want %d, nil", got, err, want)
		}
		got, ok, err := s.LastSeqDirect(ctx, events.StreamCases)
		if err != nil || ok != (want > 0) || got != want {
			t.Errorf("direct get: got %d, %v, %v; want %d, %v, nil", got, ok, err, want, want > 0)
		}
	}
	check(0)
	var want uint64
	for i := range 3 {
		subj := events.CaseSubject(int64(i + 1))
		var err error
		if want, err = s.Append(ctx, subj, 0, []events.Envelope{eventstore.NoteAdded(subj, "x"), eventstore.NoteAdded(subj, "y")}); err != nil {
			t.Fatal(err)
		}
		check(want)
	}
	// The last sequence, not the last of one subject: append to the first case again.
	subj := events.CaseSubject(1)
	last, err := s.Append(ctx, subj, 2, []events.Envelope{eventstore.NoteAdded(subj, "z")})
	if err != nil {
		t.Fatal(err)
	}
	if last != want+1 {
		t.Fatalf("append: got sequence %d, want %d", last, want+1)
	}
	check(last)
	// The service may not ask about a stream not its own: the server drops the request,
	// which then ends with its context.
	nope, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	if _, err := s.LastSeq(nope, "NOPE"); err == nil {
		t.Errorf("LastSeq of an unknown stream: got nil error, want one")
	}
}

// appendN appends n single events to n subjects of CASES and returns their envelopes.
func appendN(tb testing.TB, s eventstore.Store, from, n int) []events.Envelope {
	tb.Helper()
	out := make([]events.Envelope, n)
	for i := range n {
		subj := events.CaseSubject(int64(from + i))
		out[i] = eventstore.NoteAdded(subj, fmt.Sprint(i))
		if _, err := s.Append(testCtx(tb), subj, 0, out[i:i+1]); err != nil {
			tb.Fatal(err)
		}
	}
	return out
}

// collector gathers followed records.
type collector struct {
	mu   sync.Mutex // guards recs
	recs []eventstore.Record
}

func (c *collector) add(r eventstore.Record) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.recs = append(c.recs, r)
}

// ids returns the ids of the envelopes followed.
func (c *collector) ids() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]string, 0, len(c.recs))
	for _, r := range c.recs {
		if r.Err == nil {
			out = append(out, r.Envelope.ID)
		}
	}
	return out
}

// undecodable returns the subjects of the records followed that were not envelopes.
func (c *collector) undecodable() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
	for _, r := range c.recs {
		if r.Err != nil {
			out = append(out, r.Envelope.Subject)
		}
	}
	return out
}

func idsOf(envs []events.Envelope) []string {
	out := make([]string, len(envs))
	for i, e := range envs {
		out[i] = e.ID
	}
	return out
}

func TestFollow(t *testing.T) {
	tests := []struct {
		name  string
		after func(seqs []uint64) uint64
		skip  int // how many of the first events are not delivered
	}{
		{"from the start", func([]uint64) uint64 { return 0 }, 0},
		{"after a sequence", func(seqs []uint64) uint64 { return seqs[1] }, 2},
		{"after the last", func(seqs []uint64) uint64 { return seqs[len(seqs)-1] + 1 }, 5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, js := newJetStream(t, eventstore.DefaultJetStreamOptions())
			ctx := testCtx(t)
			before := appendN(t, s, 1, 5)
			var seqs []uint64
			for _, e := range before {
				recs, err := s.Load(ctx, e.Subject, 0)
				if err != nil {
					t.Fatal(err)
				}
				seqs = append(seqs, recs[0].Seq)
			}
			// A message that is no envelope is delivered with Err, never fatal, so that the
			// follower's sequence moves past it.
			if _, err := js.Publish(ctx, "cases.999", []byte("not json")); err != nil {
				t.Fatal(err)
			}

			fctx, cancel := context.WithCancel(ctx)
			defer cancel()
			var c collector
			done := make(chan error, 1)
			go func() { done <- eventstore.Follow(fctx, js, events.StreamCases, tt.after(seqs), c.add) }()

			want := idsOf(before[tt.skip:])
			eventually.Check(t, 10*time.Second, 5*time.Millisecond, func() error {
				if got := c.ids(); !slices.Equal(got, want) {
					return fmt.Errorf("followed %v, want %v", got, want)
				}
				return nil
			})
			// Events stored while following are delivered too, in order.
			want = append(want, idsOf(appendN(t, s, 100, 3))...)
			eventually.Check(t, 10*time.Second, 5*time.Millisecond, func() error {
				if got := c.ids(); !slices.Equal(got, want) {
					return fmt.Errorf("followed %v, want %v", got, want)
				}
				return nil
			})
			if got := c.undecodable(); tt.skip < 5 && !slices.Equal(got, []string{"cases.999"}) {
				t.Errorf("undecodable records: got %v, want [cases.999]", got)
			}
			c.mu.Lock()
			for i := 1; i < len(c.recs); i++ {
				if c.recs[i].Seq <= c.recs[i-1].Seq {
					t.Errorf("record %d: seq %d after %d, want increasing", i, c.recs[i].Seq, c.recs[i-1].Seq)
				}
			}
			c.mu.Unlock()

			cancel()
			select {
			case err := <-done:
				if !errors.Is(err, context.Canceled) {
					t.Errorf("Follow after cancel: got %v, want context.Canceled", err)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("Follow did not return after its context ended")
			}
		})
	}
}

func TestReplay(t *testing.T) {
	s, js := newJetStream(t, eventstore.DefaultJetStreamOptions())
	ctx := testCtx(t)

	var c collector
	last, err := eventstore.Replay(ctx, js, events.StreamCases, c.add)
	if err != nil || last != 0 || len(c.ids()) != 0 {
		t.Fatalf("Replay of an empty stream: got last %d, %d events, %v; want 0, 0, nil", last, len(c.ids()), err)
	}

	envs := appendN(t, s, 1, 20)
	if _, err := js.Publish(ctx, "cases.999", []byte("{")); err != nil {
		t.Fatal(err)
	}
	envs = append(envs, appendN(t, s, 21, 5)...)
	want, err := s.LastSeq(ctx, events.StreamCases)
	if err != nil {
		t.Fatal(err)
	}
	last, err = eventstore.Replay(ctx, js, events.StreamCases, c.add)
	if err != nil {
		t.Fatalf("Replay: %v", err)
	}
	if last != want {
		t.Errorf("Replay: got last %d, want %d", last, want)
	}
	if got := c.ids(); !slices.Equal(got, idsOf(envs)) {
		t.Errorf("Replay: got %d events %v, want %d", len(got), got, len(envs))
	}
	if got := c.undecodable(); !slices.Equal(got, []string{"cases.999"}) {
		t.Errorf("Replay: undecodable records %v, want [cases.999]", got)
	}
}

func TestLoadDeliversUndecodableRecords(t *testing.T) {
	s, js := newJetStream(t, eventstore.DefaultJetStreamOptions())
	ctx := testCtx(t)
	subject := events.CaseSubject(7)
	if _, err := s.Append(ctx, subject, 0, []events.Envelope{eventstore.NoteAdded(subject, "first")}); err != nil {
		t.Fatal(err)
	}
	msg := nats.NewMsg(subject)
	msg.Data = []byte(`{"id":`)
	msg.Header.Set(events.HeaderEventType, events.TypeCaseNoteAdded)
	if _, err := js.PublishMsg(ctx, msg); err != nil {
		t.Fatal(err)
	}
	loads := map[string]func(context.Context, string, uint64) ([]eventstore.Record, error){
		"Load": s.Load, "LoadForward": s.LoadForward, "LoadOrdered": s.LoadOrdered,
	}
	for name, load := range loads {
		t.Run(name, func(t *testing.T) {
			recs, err := load(ctx, subject, 0)
			if err != nil {
				t.Fatalf("got %v, want the records", err)
			}
			if len(recs) != 2 || recs[0].Err != nil || recs[1].Err == nil {
				t.Fatalf("got %+v, want a record, then one with Err", recs)
			}
			bad := recs[1]
			if bad.Envelope.Subject != subject || bad.Envelope.Type != events.TypeCaseNoteAdded || bad.Seq <= recs[0].Seq {
				t.Errorf("undecodable record: got %+v, want subject %s, type %s", bad, subject, events.TypeCaseNoteAdded)
			}
			if _, err := bad.Decoded(); err == nil {
				t.Errorf("Decoded: got nil error, want the record's")
			}
		})
	}
}

// TestFollowAsksForHeartbeats: a follower's pull requests ask the server for a heartbeat
// every second, so that a follower whose server stopped notices within two seconds and starts
// again on another, where nats.go's default for ordered consumers would leave it ten seconds
// behind.
func TestFollowAsksForHeartbeats(t *testing.T) {
	ns, nc := embeddedtest.Start(t)
	_, js := eventstore.StoreOn(t, nc, eventstore.DefaultJetStreamOptions())
	// The service may not watch the JetStream API; the admin may.
	admin := embeddedtest.Connect(t, ns, natsauth.Admin)
	pulls, err := admin.SubscribeSync("$JS.API.CONSUMER.MSG.NEXT." + events.StreamCases + ".>")
	if err != nil {
		t.Fatal(err)
	}
	if err := admin.Flush(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(testCtx(t))
	done := make(chan error, 1)
	go func() { done <- eventstore.Follow(ctx, js, events.StreamCases, 0, func(eventstore.Record) {}) }()
	defer func() { cancel(); <-done }()
	msg, err := pulls.NextMsg(10 * time.Second)
	if err != nil {
		t.Fatalf("no pull request seen: %v", err)
	}
	var req struct {
		Heartbeat time.Duration `json:"idle_heartbeat"`
		Expires   time.Duration `json:"expires"`
	}
	if err := json.Unmarshal(msg.Data, &req); err != nil {
		t.Fatalf("pull request %s: %v", msg.Data, err)
	}
	if req.Heartbeat != time.Second || req.Expires < 2*req.Heartbeat {
		t.Errorf("pull request %s: got heartbeat %v and expiry %v, want a heartbeat of 1s and an expiry of at least 2s", msg.Data, req.Heartbeat, req.Expires)
	}
}
