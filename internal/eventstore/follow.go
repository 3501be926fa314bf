package eventstore

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/casestream/casestream/events"
	"github.com/casestream/casestream/internal/pipeline"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// followBuffer is how many messages a follower asks the server for ahead of its handler:
// large, so that delivery keeps up with a fast writer.
const followBuffer = 8192

// followHeartbeat is how often the server tells an idle follower it is still there. A
// follower that misses two starts again from where it was: after its server stopped, it
// moves on within two heartbeats rather than the ten seconds of nats.go's default.
const followHeartbeat = time.Second

// Follow delivers the events of stream after sequence after, in stream order, to fn, as they
// are stored, through an ordered consumer. A message that is not an envelope, or whose data
// does not decode, is reported (ReportUndecodable) and still delivered, with Record.Err or
// a nil Event, so that fn's sequence moves past it. It returns ctx.Err() when ctx ends, or the error that stopped the consumer.
func Follow(ctx context.Context, js jetstream.JetStream, stream string, after uint64, fn func(Record)) error {
	return follow(ctx, js, stream, after, 0, fn)
}

// Replay delivers the events of stream up to its last sequence at the time of the call, in
// order, to fn, and returns that sequence. Messages that do not decode are reported and
// delivered as Follow delivers them.
func Replay(ctx context.Context, js jetstream.JetStream, stream string, fn func(Record)) (last uint64, err error) {
	st, err := js.Stream(ctx, stream)
	if err != nil {
		return 0, fmt.Errorf("eventstore: replay %s: %w", stream, err)
	}
	state := st.CachedInfo().State
	last = state.LastSeq
	if state.Msgs == 0 || last == 0 {
		return last, nil
	}
	err = follow(ctx, js, stream, 0, last, fn)
	if errors.Is(err, errReachedEnd) {
		return last, nil
	}
	return 0, err
}

// errReachedEnd ends a follow that was given an end sequence.
var errReachedEnd = errors.New("eventstore: reached the end sequence")

// follow runs an ordered consumer from after+1; with end > 0 it returns errReachedEnd once
// the message at end (or after it) is delivered.
//
// A replay (end > 0) is a catch-up over many messages, where decoding costs as much as
// delivery: it runs beside it (pipeline.Ordered), the consumer's loop handing each message to
// decoders (decodeWorkers of them) and, in stream order, to the caller's goroutine, which
// waits for each message's decoding and calls fn. Following live (end == 0), messages come
// one at a time and every hand-off between goroutines would add to the lag: each is decoded
// and applied in the consumer's loop.
func follow(ctx context.Context, js jetstream.JetStream, stream string, after, end uint64, fn func(Record)) error {
	// One reset attempt: nats.go would retry a failed reset (the stream gone, NATS away) for
	// ever, inside Next and deaf to ctx, which held up shutdown. FollowResuming retries
	// instead, logging each failure and stopping when ctx ends.
	cfg := jetstream.OrderedConsumerConfig{DeliverPolicy: jetstream.DeliverAllPolicy, MaxResetAttempts: 1}
	if after > 0 {
		cfg.DeliverPolicy = jetstream.DeliverByStartSequencePolicy
		cfg.OptStartSeq = after + 1
	}
	cons, err := js.OrderedConsumer(ctx, stream, cfg)
	if err != nil {
		return fmt.Errorf("eventstore: follow %s: %w", stream, err)
	}
	it, err := cons.Messages(jetstream.PullMaxMessages(followBuffer), jetstream.PullHeartbeat(followHeartbeat))
	if err != nil {
		return fmt.Errorf("eventstore: follow %s: %w", stream, err)
	}
	defer it.Stop()
	// Stopping the iterator ends a reset in progress at its next attempt.
	defer context.AfterFunc(ctx, it.Stop)()
	// next returns the next message that has its metadata, as a delivery not yet decoded.
	next := func(ctx context.Context) (delivery, error) {
		for {
			msg, err := it.Next(jetstream.NextContext(ctx))
			if err != nil {
				return delivery{}, err
			}
			md, err := msg.Metadata()
			if err != nil {
				slog.Warn("eventstore: message without metadata skipped", "stream", stream, "subject", msg.Subject(), "err", err)
				continue
			}
			return delivery{seq: md.Sequence.Stream, subject: msg.Subject(), header: msg.Headers(), data: msg.Data()}, nil
		}
	}
	if end == 0 {
		for {
			d, err := next(ctx)
			if err != nil {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				return fmt.Errorf("eventstore: follow %s: %w", stream, err)
			}
			d.decode()
			fn(d.rec)
		}
	}

	err = pipeline.Ordered(ctx, decodeWorkers, followPipeline,
		func(ctx context.Context) (*delivery, bool, error) {
			d, err := next(ctx)
			return &d, err == nil, err
		},
		func(d *delivery) *delivery { d.decode(); return d },
		func(d *delivery) error {
			fn(d.rec)
			if d.seq >= end {
				return errReachedEnd
			}
			return nil
		})
	switch {
	case errors.Is(err, errReachedEnd):
		return err
	case ctx.Err() != nil:
		return ctx.Err()
	}
	return fmt.Errorf("eventstore: follow %s: %w", stream, err)
}

const (
	// followPipeline is how many messages may be decoded ahead of the caller's fold.
	followPipeline = 1024
	// decodeWorkers decode in parallel with delivery and the fold.
	decodeWorkers = 2
)

// delivery is one message on its way from the consumer to the caller.
type delivery struct {
	seq     uint64
	subject string
	header  nats.Header
	data    []byte
	rec     Record
}

// decode fills rec from the message: the envelope, and its data when the type is known. A
// message that does not decode is reported; its record carries the reason (Err) or no
// Event.
func (d *delivery) decode() {
	env, ev, err := events.UnmarshalEvent(d.data)
	if err != nil {
		typ := d.header.Get(events.HeaderEventType)
		ReportUndecodable(ReaderFollow, d.subject, d.seq, typ, err)
		d.rec = Record{Seq: d.seq, Envelope: events.Envelope{Subject: d.subject, Type: typ}, Err: err}
		return
	}
	if ev == nil {
		// Data that does not decode as its type, or a type this version does not know.
		if _, err := events.Decode(env); err != nil {
			ReportUndecodable(ReaderFollow, d.subject, d.seq, env.Type, err)
		}
	}
	d.rec = Record{Seq: d.seq, Envelope: env, Event: ev}
}
