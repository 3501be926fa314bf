package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/casestream/casestream/events"
	"github.com/casestream/casestream/internal/app"
)

var benchEvents = flag.Int("casectl.events", 20000, "events in the log of BenchmarkLog (ten per case)")

// Identifiers of the demo directory the generated cases use.
const (
	benchUnit     = "5f0c6b1e-2d3a-4c8b-9e71-0a1b2c3d4e01" // Downtown Branch
	benchInbox    = "7a3e9d20-1b4c-4f6a-8d2e-3c4b5a6d7e01" // Front Desk
	benchService  = "b2c3d4e5-f6a7-4b8c-9d0e-1f2a3b4c5d01" // Accounts
	benchCategory = "c3d4e5f6-a7b8-4c9d-8e0f-2a3b4c5d6e01" // ACCOUNTS
	benchLostCard = "d4e5f6a7-b8c9-4d0e-9f1a-3b4c5d6e7f02" // LOST_CARD
	daveID        = "e5f6a7b8-c9d0-4e1f-8a2b-4c5d6e7f8a04"
)

// benchEvent is the r-th event of case id: its opening, then assignments that alternate
// between bob and dave, each what Assign decides, so that verify finds nothing.
func benchEvent(id int64, r int) events.Event {
	if r == 0 {
		return events.CaseOpened{
			CaseInstanceID: id, CaseID: fmt.Sprintf("00000000-0000-4000-8000-%012d", id), ServiceTypeID: benchLostCard,
			ServiceCategoryID: benchCategory, ServiceID: benchService, UnitID: benchUnit, InboxID: benchInbox,
			Status: events.StatusWaiting, Ticket: events.Ticket{Prefix: "A", Number: int(id)},
		}
	}
	agents := [2]string{bobID, daveID}
	ev := events.CaseAssigned{To: events.Assignment{OperatorID: agents[r%2]}, Status: events.StatusActive}
	if r > 1 {
		ev.Previous = events.Assignment{OperatorID: agents[(r-1)%2]}
	}
	return ev
}

// writeLog writes n events over n/10 cases straight to the CASES stream, in rounds of one
// event per case, published asynchronously, each round acknowledged before the next.
func writeLog(b *testing.B, js jetstream.JetStream, n int) {
	const perCase = 10
	cases := max(n/perCase, 1)
	at := time.Now()
	for r := range perCase {
		for i := range cases {
			id := int64(i + 1)
			subject := events.CaseSubject(id)
			ev := benchEvent(id, r)
			env, err := events.Wrap(events.Meta{
				ID: fmt.Sprintf("bench-%d-%d", id, r), Subject: subject, OccurredAt: at,
				Actor: events.Actor{Kind: events.ActorOperator, ID: aliceID},
			}, ev)
			if err != nil {
				b.Fatal(err)
			}
			msg := nats.NewMsg(subject)
			if msg.Data, err = json.Marshal(env); err != nil {
				b.Fatal(err)
			}
			msg.Header.Set(events.HeaderMsgID, env.ID)
			msg.Header.Set(events.HeaderEventType, env.Type)
			if _, err := js.PublishMsgAsync(msg, jetstream.WithStallWait(time.Minute)); err != nil {
				b.Fatal(err)
			}
		}
		select {
		case <-js.PublishAsyncComplete():
		case <-time.After(5 * time.Minute):
			b.Fatal("publishing a round took too long")
		}
	}
}

// BenchmarkLog measures verify and export over a generated log against a bare ordered
// consumer's drain of the same stream, in rounds of the three:
//
//	go test ./cmd/casectl/ -run '^$' -bench BenchmarkLog -benchtime 3x -casectl.events 1000000
func BenchmarkLog(b *testing.B) {
	// No projector in the node: it would fold the log while it is measured.
	s := startStack(b, func(c *app.Config) { c.Projector = false })
	writeLog(b, s.n.JS, *benchEvents)
	last := s.lastSeq()
	b.Logf("log: %d CASES events", last)
	// The drain reads over a connection of its own, as casectl does, not the node's.
	var auth Auth
	auth.Nkey = s.readerSeed()
	nc, err := connect(Config{NATSURL: s.url, Auth: auth})
	if err != nil {
		b.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		b.Fatal(err)
	}
	// The parent runs once; its sub-benchmark as often as -benchtime says, on the same log.
	// One unmeasured read first, so that no figure pays for a cold cache alone.
	if err := drain(context.Background(), js, last); err != nil {
		b.Fatal(err)
	}
	b.Run("rounds", func(b *testing.B) { readRounds(b, s, js, last) })
}

// readRounds measures the three reads of the whole log.
func readRounds(b *testing.B, s *stack, js jetstream.JetStream, last uint64) {
	// The three reads alternate, b.N rounds of each, so that a machine whose load changes
	// over the run weighs on all three alike; the best round of each is reported.
	reads := []struct {
		name string
		run  func() error
	}{
		{"drain", func() error { return drain(context.Background(), js, last) }},
		{"verify", func() error { return s.runTo(io.Discard, "verify").err }},
		{"export", func() error { return s.runTo(io.Discard, "export").err }},
	}
	best := make([]time.Duration, len(reads))
	b.ResetTimer()
	for range b.N {
		for i, r := range reads {
			start := time.Now()
			if err := r.run(); err != nil {
				b.Fatalf("%s: %v", r.name, err)
			}
			if d := time.Since(start); best[i] == 0 || d < best[i] {
				best[i] = d
			}
		}
	}
	for i, r := range reads {
		b.ReportMetric(float64(last)/best[i].Seconds(), r.name+"-events/s")
		if i > 0 {
			b.ReportMetric(best[0].Seconds()/best[i].Seconds(), r.name+"/drain")
		}
	}
}

// runTo runs casectl with its output to w.
func (s *stack) runTo(w io.Writer, args ...string) result {
	return s.runContext(context.Background(), w, args...)
}

// drain reads the CASES stream up to last with an ordered consumer and does nothing with
// the messages: the floor of every read of the whole log (casebench's drain).
func drain(ctx context.Context, js jetstream.JetStream, last uint64) error {
	cons, err := js.OrderedConsumer(ctx, events.StreamCases, jetstream.OrderedConsumerConfig{DeliverPolicy: jetstream.DeliverAllPolicy})
	if err != nil {
		return err
	}
	it, err := cons.Messages(jetstream.PullMaxMessages(readBuffer))
	if err != nil {
		return err
	}
	defer it.Stop()
	for {
		msg, err := it.Next(jetstream.NextContext(ctx))
		if err != nil {
			return err
		}
		md, err := msg.Metadata()
		if err != nil {
			return err
		}
		if md.Sequence.Stream >= last {
			return nil
		}
	}
}
