package eventstore

import (
	"context"
	"errors"

	"github.com/casestream/casestream/events"
)

// Record is a stored event and the stream sequence it was stored at.
type Record struct {
	Seq      uint64
	Envelope events.Envelope
	// Event is the envelope's data decoded, when the reader decoded it already (Follow and
	// Replay do, in parallel with the caller's fold); nil otherwise: call events.Decode.
	Event events.Event
	// Err says why the message's body is not an envelope (something other than the service
	// wrote it); Envelope then holds only the message's subject and event type header.
	// Readers still receive such a record, so that their sequence moves past it.
	Err error
}

// Decoded returns the record's event data, decoding it unless the reader already did.
func (r Record) Decoded() (events.Event, error) {
	if r.Err != nil {
		return nil, r.Err
	}
	if r.Event != nil {
		return r.Event, nil
	}
	return events.Decode(r.Envelope)
}

var (
	// ErrConflict means the subject's last sequence was not the expected one: another writer
	// appended first. Reload and decide again.
	ErrConflict = errors.New("eventstore: wrong last subject sequence")
	// ErrDuplicate means the events were already stored by an earlier attempt of the same
	// append (same event ids). Nothing new was written; reload to see them.
	ErrDuplicate = errors.New("eventstore: duplicate append")
	// ErrTooManyConflicts means a command lost the race for a subject's next sequence
	// (ErrConflict) more often than its decide-append loop allows: the subject is changing
	// under it, and the caller may try again. The loops over both streams (the case commands
	// and the directory's) return this one error, so that each API surface maps it once.
	ErrTooManyConflicts = errors.New("eventstore: too many concurrent changes")
	// ErrNotStored means the append was not stored, and will not be, because NATS or the
	// stream was unavailable when it was to be sent: nothing was sent. Retry later.
	ErrNotStored = errors.New("eventstore: append not stored, NATS unavailable")
	// ErrOutcomeUnknown means the append was sent but its outcome could not be settled
	// before the caller's deadline (JetStreamOptions.ResolveWait without one): its
	// acknowledgement was lost and NATS stayed away, or the stream had no leader, for that
	// long. It may have been stored, or be stored still. A retry with the same event ids (an
	// Idempotency-Key) is recognised as a duplicate if it was.
	ErrOutcomeUnknown = errors.New("eventstore: append's acknowledgement lost, outcome unknown")
)

// Store appends events to a subject and loads them back.
type Store interface {
	// Load returns the events of subject whose stream sequence is above after, in order.
	Load(ctx context.Context, subject string, after uint64) ([]Record, error)
	// Append stores envs on subject, all or none, if the stream sequence of the subject's last
	// event is expected (0: the subject has no event). It returns the stream sequence of the
	// last event stored. Each envelope's ID is its deduplication id.
	Append(ctx context.Context, subject string, expected uint64, envs []events.Envelope) (uint64, error)
}
