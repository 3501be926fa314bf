package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/casestream/casestream/events"
)

// entry is one stored message as casectl reads it: where and when it was stored, its
// headers and its body, not yet decoded, so that verify can report what does not decode.
type entry struct {
	Stream  string
	Seq     uint64
	Time    time.Time // the server's time of storage
	Subject string
	Header  nats.Header
	Data    []byte
}

// decoded is an entry's envelope and event; err says why they are missing. ev is nil with
// a nil err for a type this version does not know. The body is decoded in one pass
// (events.UnmarshalEvent); only one whose data does not decode is decoded again, for the
// error.
func (e entry) decoded() (env events.Envelope, ev events.Event, err error) {
	env, ev, err = events.UnmarshalEvent(e.Data)
	if err != nil || ev != nil {
		return env, ev, err
	}
	ev, err = events.Decode(env)
	switch {
	case errors.Is(err, events.ErrUnknownType):
		return env, nil, nil
	case err != nil:
		return env, nil, err // Decode returns what it could read beside the error
	}
	return env, ev, nil
}

// span is a range of stream sequences, both ends included; To 0 means up to the stream's
// last sequence when the read starts.
type span struct {
	From, To uint64
}

// readBuffer is how many messages the reader asks the server for ahead of its handler.
const readBuffer = 8192

// scan delivers, in stream order, the messages of stream in sp whose subject matches filter
// ("" for every subject) to fn, through an ordered consumer, and returns the last sequence
// it read to. With follow, it does not stop at the end but waits for new messages until ctx
// ends. start, if not nil, is called once with the number of messages the read will deliver
// at most (the span's width), before the first.
func (m *Main) scan(ctx context.Context, stream, filter string, sp span, follow bool, start func(total uint64), fn func(entry) error) error {
	st, err := m.js.Stream(ctx, stream)
	if err != nil {
		return fmt.Errorf("stream %s: %w", stream, err)
	}
	state := st.CachedInfo().State
	end := state.LastSeq
	if filter != "" && !follow && !hasWildcard(filter) {
		last, err := st.GetLastMsgForSubject(ctx, filter)
		switch {
		case errors.Is(err, jetstream.ErrMsgNotFound):
			end = 0
		case err != nil:
			return fmt.Errorf("read %s: %w", filter, err)
		default:
			end = last.Sequence
		}
	}
	if sp.To > 0 && sp.To < end {
		end = sp.To
	}
	from := max(sp.From, state.FirstSeq, 1)
	if !follow && (end == 0 || from > end) {
		if start != nil {
			start(0)
		}
		return nil
	}
	if start != nil {
		start(end - from + 1)
	}
	cfg := jetstream.OrderedConsumerConfig{DeliverPolicy: jetstream.DeliverByStartSequencePolicy, OptStartSeq: from}
	if follow && sp.From == 0 {
		cfg = jetstream.OrderedConsumerConfig{DeliverPolicy: jetstream.DeliverNewPolicy}
	}
	if filter != "" {
		cfg.FilterSubjects = []string{filter}
	}
	cons, err := m.js.OrderedConsumer(ctx, stream, cfg)
	if err != nil {
		return fmt.Errorf("read %s: %w", stream, err)
	}
	it, err := cons.Messages(jetstream.PullMaxMessages(readBuffer))
	if err != nil {
		return fmt.Errorf("read %s: %w", stream, err)
	}
	defer it.Stop()
	for {
		msg, err := it.Next(jetstream.NextContext(ctx))
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return fmt.Errorf("read %s: %w", stream, err)
		}
		md, err := msg.Metadata()
		if err != nil {
			return fmt.Errorf("read %s: %w", stream, err)
		}
		seq := md.Sequence.Stream
		if !follow && seq > end {
			return nil
		}
		if err := fn(entry{Stream: stream, Seq: seq, Time: md.Timestamp.UTC(), Subject: msg.Subject(), Header: msg.Headers(), Data: msg.Data()}); err != nil {
			return err
		}
		if !follow && (seq >= end || md.NumPending == 0) {
			return nil
		}
	}
}

func hasWildcard(subject string) bool {
	for i := 0; i < len(subject); i++ {
		if subject[i] == '*' || subject[i] == '>' {
			return true
		}
	}
	return false
}

// readAll returns every message of stream whose subject matches filter, up to the stream's
// last sequence when the read starts.
func (m *Main) readAll(ctx context.Context, stream, filter string) ([]entry, error) {
	var out []entry
	err := m.scan(ctx, stream, filter, span{}, false, nil, func(e entry) error {
		out = append(out, e)
		return nil
	})
	return out, err
}
