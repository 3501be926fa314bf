package events

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	jsonv2 "github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
)

// SchemaVersion is the schema version this package writes an event type at, unless the
// type's data has changed since: such a type says its own version with a SchemaVersion
// method (CaseOpened is at 2). docs/events.md lists every type's version.
const SchemaVersion = 1

// versioned is an event type whose data changed after schema version 1.
type versioned interface {
	SchemaVersion() int
}

// VersionOf returns the schema version ev is written at.
func VersionOf(ev Event) int {
	if v, ok := ev.(versioned); ok {
		return v.SchemaVersion()
	}
	return SchemaVersion
}

// Stream names and the headers every event carries.
const (
	// StreamCases holds the case events, one literal subject per case: cases.<caseInstanceId>.
	StreamCases = "CASES"
	// StreamDirectory holds the directory events, one subject per entity: directory.<kind>.<id>.
	StreamDirectory = "DIRECTORY"

	// HeaderEventType carries the envelope's type so that consumers can filter without decoding.
	HeaderEventType = "Casestream-Event-Type"
	// HeaderMsgID is JetStream's deduplication header; it carries the envelope's id.
	HeaderMsgID = "Nats-Msg-Id"
)

// Actor kinds.
const (
	ActorOperator    = "operator"
	ActorApplication = "application"
	ActorSystem      = "system"
	// ActorAdmin is an administrator of the directory through the admin API; the id is the
	// name their admin token is configured under.
	ActorAdmin = "admin"
)

// Actor is who caused an event: an operator (by userId), an application acting for an agent
// (by applicationId), or the system itself (bootstrap, demo).
type Actor struct {
	Kind string `json:"kind"`
	ID   string `json:"id"`
}

// Envelope is the JSON document stored as the body of every message in CASES and DIRECTORY.
type Envelope struct {
	ID            string    `json:"id"`
	Type          string    `json:"type"`
	SchemaVersion int       `json:"schemaVersion"`
	Subject       string    `json:"subject"`
	OccurredAt    time.Time `json:"occurredAt"`
	Actor         Actor     `json:"actor"`
	CorrelationID string    `json:"correlationId"`
	// Reason is why the actor made the change, in their own words; omitted when empty. It is
	// an optional member of the envelope, not of any type's data, so that every type may
	// carry it and no type's schema version changes (docs/events.md, "Versioning").
	Reason string          `json:"reason,omitempty"`
	Data   json.RawMessage `json:"data"`
}

// Event is the data of one event type.
type Event interface {
	// EventType returns the envelope type, such as "case.opened".
	EventType() string
}

// Meta is what an envelope holds besides its data.
type Meta struct {
	ID            string
	Subject       string
	OccurredAt    time.Time
	Actor         Actor
	CorrelationID string
	// Reason becomes the envelope's reason; empty for none.
	Reason string
}

// Wrap puts ev into an envelope described by m. OccurredAt is stored in UTC, truncated to
// the millisecond.
func Wrap(m Meta, ev Event) (Envelope, error) {
	data, err := json.Marshal(ev)
	if err != nil {
		return Envelope{}, fmt.Errorf("encode %s: %w", ev.EventType(), err)
	}
	return Envelope{
		ID:            m.ID,
		Type:          ev.EventType(),
		SchemaVersion: VersionOf(ev),
		Subject:       m.Subject,
		OccurredAt:    m.OccurredAt.UTC().Truncate(time.Millisecond),
		Actor:         m.Actor,
		CorrelationID: m.CorrelationID,
		Reason:        m.Reason,
		Data:          data,
	}, nil
}

// ErrUnknownType is returned by Decode for an event type this package does not know.
// Consumers should skip such events: later schema versions may add types.
var ErrUnknownType = errors.New("events: unknown event type")

// Decode returns the typed data of env. Data written at an older schema version of its type
// is returned as the current version reads it (upcast), so that readers fold one shape.
func Decode(env Envelope) (Event, error) {
	f, ok := decoderOf(env.Type, env.SchemaVersion)
	if !ok {
		return nil, fmt.Errorf("%w %q", ErrUnknownType, env.Type)
	}
	ev, err := f.bytes(env.Data)
	if err != nil {
		return nil, fmt.Errorf("decode %s %s: %w", env.Type, env.ID, err)
	}
	return ev, nil
}

// Unmarshal decodes a message body into an envelope.
//
// Bodies are decoded with github.com/go-json-experiment/json, the prototype of Go's
// encoding/json/v2: readers decode every event of a stream, and it decodes an envelope and
// its data in a third of encoding/json's time. It is stricter: member names match exactly,
// and duplicate names and invalid UTF-8 are errors. Encoding stays with encoding/json.
func Unmarshal(body []byte) (Envelope, error) {
	var env Envelope
	if err := jsonv2.Unmarshal(body, &env); err != nil {
		return Envelope{}, fmt.Errorf("decode envelope: %w", err)
	}
	return env, nil
}

// UnmarshalEvent decodes a message body into its envelope and, as Decode would, its typed
// data: the same results as Unmarshal followed by Decode, in one pass over the body where
// the type precedes the data, as in every envelope this package writes. ev is nil when
// Decode would fail (an unknown type, data that does not decode); err is Unmarshal's.
func UnmarshalEvent(body []byte) (env Envelope, ev Event, err error) {
	var w wireEnvelope
	w.Data.typ, w.Data.version, w.Data.body = &w.Type, &w.SchemaVersion, body
	if err := jsonv2.Unmarshal(body, &w); err != nil || w.Data.failed {
		// Not an envelope, or data that does not decode as its type: the two passes decide
		// what is kept and what the error is.
		env, err := Unmarshal(body)
		if err != nil {
			return Envelope{}, nil, err
		}
		ev, _ := Decode(env)
		return env, ev, nil
	}
	env = w.Envelope
	env.Data = w.Data.raw
	if (w.Data.ev == nil && w.Data.raw != nil) || (w.Data.ev != nil && w.Data.decodedAt != env.SchemaVersion) {
		w.Data.ev, _ = Decode(env) // the data came before the type or the schema version
	}
	return env, w.Data.ev, nil
}

// wireEnvelope is Envelope with data decoded as its type once the type is known: its own
// data member hides the embedded envelope's.
type wireEnvelope struct {
	Envelope
	Data typedData `json:"data"`
}

// typedData is an envelope's data member: its bytes as they stand in the body and, when
// the envelope's type came before it, its decoded event.
type typedData struct {
	typ       *string // the envelope's type, as decoded so far
	version   *int    // the envelope's schema version, as decoded so far
	decodedAt int     // the schema version ev was decoded as
	body      []byte  // the whole message body
	raw       json.RawMessage
	ev        Event
	failed    bool // the data did not decode as its type
}

func (t *typedData) UnmarshalJSONFrom(dec *jsontext.Decoder) error {
	start := dec.InputOffset()
	t.decodedAt = *t.version
	f, ok := decoderOf(*t.typ, t.decodedAt)
	if !ok || dec.PeekKind() == 'n' {
		raw, err := dec.ReadValue()
		if err != nil {
			return err
		}
		t.raw, t.ev = bytes.Clone(raw), nil
		return nil
	}
	ev, err := f.from(dec)
	if err != nil {
		t.failed = true
		return err
	}
	// Between the member's name and its value stand only a colon and white space.
	t.raw, t.ev = bytes.Clone(bytes.TrimLeft(t.body[start:dec.InputOffset()], " \t\r\n:")), ev
	return nil
}

// decoder decodes the data of one event type, from its bytes or from a decoder.
type decoder struct {
	bytes func([]byte) (Event, error)
	from  func(*jsontext.Decoder) (Event, error)
}

// registry maps an event type to the decoder of its data at its current schema version.
// Decoded events are values, as the aggregates produce them.
var registry = map[string]decoder{}

// typeVersion names one schema version of an event type.
type typeVersion struct {
	typ     string
	version int
}

// older maps the older schema versions of event types to decoders that upcast their data
// to the current version.
var older = map[typeVersion]decoder{}

// decoderOf returns the decoder of the data of typ written at the given schema version.
// Versions without a decoder of their own (the current one, and any newer one a later
// writer may use) are decoded as the current version.
func decoderOf(typ string, version int) (decoder, bool) {
	if f, ok := older[typeVersion{typ, version}]; ok {
		return f, true
	}
	f, ok := registry[typ]
	return f, ok
}

func register[T Event]() {
	var zero T
	registry[zero.EventType()] = decoderFor(func(v T) T { return v })
}

// registerOlder registers the decoder of an older schema version of T's data, whose shape
// is O, and the function that upcasts it.
func registerOlder[O any, T Event](version int, upcast func(O) T) {
	var zero T
	older[typeVersion{zero.EventType(), version}] = decoderFor(upcast)
}

func decoderFor[O any, T Event](upcast func(O) T) decoder {
	return decoder{
		bytes: func(b []byte) (Event, error) {
			var v O
			err := jsonv2.Unmarshal(b, &v)
			return upcast(v), err
		},
		from: func(dec *jsontext.Decoder) (Event, error) {
			var v O
			err := jsonv2.UnmarshalDecode(dec, &v)
			return upcast(v), err
		},
	}
}

// Types returns every registered event type.
func Types() []string {
	out := make([]string, 0, len(registry))
	for t := range registry {
		out = append(out, t)
	}
	return out
}

// CaseSubject is the literal subject of the case with the given caseInstanceId.
func CaseSubject(caseInstanceID int64) string {
	return "cases." + strconv.FormatInt(caseInstanceID, 10)
}

// CaseInstanceID parses a subject made by CaseSubject.
func CaseInstanceID(subject string) (int64, bool) {
	rest, ok := strings.CutPrefix(subject, "cases.")
	if !ok {
		return 0, false
	}
	id, err := strconv.ParseInt(rest, 10, 64)
	return id, err == nil && id > 0
}

// DurableSubject is the core NATS subject on which a node that group-commits
// (-durability group) publishes the durable sequence of stream (StreamCases or
// StreamDirectory), in decimal: every event of the stream at or below it is on disk. It is
// published after each sync that advanced it and at least once a second.
func DurableSubject(stream string) string {
	return "casestream.durable." + stream
}

// ParseDurable parses the payload of a message on a DurableSubject.
func ParseDurable(data []byte) (uint64, error) {
	return strconv.ParseUint(string(data), 10, 64)
}

// DirectorySubject is the literal subject of one directory entity.
func DirectorySubject(kind, id string) string {
	return "directory." + kind + "." + id
}
