package eventstore

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/casestream/casestream/events"
	"github.com/nats-io/nats.go/jetstream"
)

// followBuffer is how many messages a follower asks the server for ahead of its handler:
// large, so that delivery keeps up with a fast writer.
const followBuffer = 8192

// Follow delivers the events of stream after sequence after, in stream order, to fn, as they
// are stored, through an ordered consumer. A message that is not an envelope is logged and
// skipped. It returns ctx.Err() when ctx ends, or the error that stopped the consumer.
func Follow(ctx context.Context, js jetstream.JetStream, stream string, after uint64, fn func(Record)) error {
	return follow(ctx, js, stream, after, 0, fn)
}

// Replay delivers the events of stream up to its last sequence at the time of the call, in
// order, to fn, and returns that sequence. Messages that are not envelopes are logged and
// skipped.
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
func follow(ctx context.Context, js jetstream.JetStream, stream string, after, end uint64, fn func(Record)) error {
	cfg := jetstream.OrderedConsumerConfig{DeliverPolicy: jetstream.DeliverAllPolicy}
	if after > 0 {
		cfg.DeliverPolicy = jetstream.DeliverByStartSequencePolicy
		cfg.OptStartSeq = after + 1
	}
	cons, err := js.OrderedConsumer(ctx, stream, cfg)
	if err != nil {
		return fmt.Errorf("eventstore: follow %s: %w", stream, err)
	}
	it, err := cons.Messages(jetstream.PullMaxMessages(followBuffer))
	if err != nil {
		return fmt.Errorf("eventstore: follow %s: %w", stream, err)
	}
	defer it.Stop()
	for {
		msg, err := it.Next(jetstream.NextContext(ctx))
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return fmt.Errorf("eventstore: follow %s: %w", stream, err)
		}
		md, err := msg.Metadata()
		if err != nil {
			slog.Warn("eventstore: message without metadata skipped", "stream", stream, "subject", msg.Subject(), "err", err)
			continue
		}
		seq := md.Sequence.Stream
		env, err := events.Unmarshal(msg.Data())
		if err != nil {
			slog.Warn("eventstore: undecodable event skipped", "stream", stream, "seq", seq, "subject", msg.Subject(), "err", err)
		} else {
			fn(Record{Seq: seq, Envelope: env})
		}
		if end > 0 && seq >= end {
			return errReachedEnd
		}
	}
}
