package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/casestream/casestream/events"
	"github.com/casestream/casestream/internal/pipeline"
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
	// dec is the body decoded by the reader, or nil: decoding() decodes it then.
	dec *decoding
}

// decoding is the result of decoding an entry's body.
type decoding struct {
	env events.Envelope
	ev  events.Event
	// envErr means the body is no envelope; dataErr that its data does not decode as its
	// type (events.ErrUnknownType for a type this version does not know).
	envErr, dataErr error
}

// decode decodes a body in one pass (events.UnmarshalEvent); only a body whose data does
// not decode is decoded again, for the reason.
func decode(body []byte) decoding {
	env, ev, err := events.UnmarshalEvent(body)
	if err != nil {
		return decoding{env: env, envErr: err}
	}
	if ev == nil {
		ev, err = events.Decode(env)
		if err != nil {
			return decoding{env: env, dataErr: err} // Decode returns what it could read beside the error
		}
	}
	return decoding{env: env, ev: ev}
}

// decoding returns the entry's body decoded: by the reader, when it did it already.
func (e entry) decoding() decoding {
	if e.dec != nil {
		return *e.dec
	}
	return decode(e.Data)
}

// decoded is an entry's envelope and event; err says why they are missing. ev is nil with
// a nil err for a type this version does not know.
func (e entry) decoded() (env events.Envelope, ev events.Event, err error) {
	d := e.decoding()
	switch {
	case d.envErr != nil:
		return d.env, nil, d.envErr
	case errors.Is(d.dataErr, events.ErrUnknownType):
		return d.env, nil, nil
	case d.dataErr != nil:
		return d.env, nil, d.dataErr
	}
	return d.env, d.ev, nil
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
	next := func(ctx context.Context) (entry, *jetstream.MsgMetadata, error) {
		msg, err := it.Next(jetstream.NextContext(ctx))
		if err != nil {
			if ctx.Err() != nil {
				return entry{}, nil, ctx.Err()
			}
			return entry{}, nil, fmt.Errorf("read %s: %w", stream, err)
		}
		md, err := msg.Metadata()
		if err != nil {
			return entry{}, nil, fmt.Errorf("read %s: %w", stream, err)
		}
		return entry{Stream: stream, Seq: md.Sequence.Stream, Time: md.Timestamp.UTC(), Subject: msg.Subject(), Header: msg.Headers(), Data: msg.Data()}, md, nil
	}
	if follow {
		// Live events come one at a time: each is handed over as it comes.
		for {
			e, _, err := next(ctx)
			if err != nil {
				return err
			}
			if err := fn(e); err != nil {
				return err
			}
		}
	}

	// A read of the log decodes beside delivery and the caller's fold: the reader hands
	// each message to decoders (decodeWorkers of them) and, in stream order, to this
	// goroutine, which waits for its decoding and calls fn.
	last := false
	return pipeline.Ordered(ctx, decodeWorkers, readPipeline,
		func(ctx context.Context) (entry, bool, error) {
			if last {
				return entry{}, false, nil
			}
			e, md, err := next(ctx)
			if err != nil || e.Seq > end {
				return entry{}, false, err
			}
			last = e.Seq >= end || md.NumPending == 0
			return e, true, nil
		},
		func(e entry) entry {
			d := decode(e.Data)
			e.dec = &d
			return e
		},
		fn)
}

const (
	// readPipeline is how many messages may be decoded ahead of the caller's fold.
	readPipeline = 1024
	// decodeWorkers decode in parallel with delivery and the fold.
	decodeWorkers = 2
)

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
