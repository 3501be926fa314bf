package eventstore

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/casestream/casestream/events"
)

// StoreOn creates the streams through the connection nc and returns a store with opts on
// them, closed when the test ends, and the JetStream context it uses. The tests of both
// packages in this folder start their stores with it.
func StoreOn(tb testing.TB, nc *nats.Conn, opts JetStreamOptions) (*JetStream, jetstream.JetStream) {
	tb.Helper()
	js, err := jetstream.New(nc)
	if err != nil {
		tb.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := EnsureStreams(ctx, js, 1); err != nil {
		tb.Fatal(err)
	}
	s := NewJetStream(js, opts)
	tb.Cleanup(s.Close)
	return s, js
}

// NoteAdded returns a new case.note_added event on subject carrying text, as the tests of
// both packages in this folder append it.
func NoteAdded(subject, text string) events.Envelope {
	return events.Envelope{
		ID:            uuid.NewString(),
		Type:          events.TypeCaseNoteAdded,
		SchemaVersion: events.SchemaVersion,
		Subject:       subject,
		OccurredAt:    time.Now().UTC().Truncate(time.Millisecond),
		Actor:         events.Actor{Kind: events.ActorSystem, ID: "test"},
		Data:          json.RawMessage(fmt.Sprintf(`{"text":%q}`, text)),
	}
}
