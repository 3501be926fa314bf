package cases

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/casestream/casestream/aggregate"
	"github.com/casestream/casestream/events"
	"github.com/casestream/casestream/internal/eventstore"
)

// encodedSize is the size of env as the store encodes it.
func encodedSize(t testing.TB, env events.Envelope) int {
	t.Helper()
	b, err := json.Marshal(env)
	if err != nil {
		t.Fatal(err)
	}
	return len(b)
}

func TestEventTooLargeBurnsNoID(t *testing.T) {
	const limit = 4096
	store := eventstore.NewMemory()
	ids := &counterIDs{}
	svc := NewService(store, ids, Options{MaxEventBytes: limit})
	first := openOne(t, svc)
	open := func(comments string, caseData json.RawMessage) (aggregate.Case, error) {
		return svc.Open(context.Background(), system, OpenRequest{
			ServiceType: events.ServiceType{ServiceTypeID: "t1", ServiceCategoryID: "cat"},
			Service:     events.Service{ServiceID: "s1", UnitID: "unit", InboxID: "inbox", TicketPrefix: "A"},
			Comments:    []string{comments}, CaseData: caseData,
		})
	}
	tests := []struct {
		name     string
		comments string
		caseData json.RawMessage
	}{
		// Under the limit as bytes, over it once the encoder escapes each < to six bytes.
		{"escaped comments", strings.Repeat("<", limit/4), nil},
		{"caseData", "", json.RawMessage(`{"a":"` + strings.Repeat("x", limit) + `"}`)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := store.LastSeq()
			_, err := open(tt.comments, tt.caseData)
			if !errors.Is(err, ErrEventTooLarge) {
				t.Fatalf("got %v, want %v", err, ErrEventTooLarge)
			}
			if got := store.LastSeq(); got != before {
				t.Fatalf("stream sequence: got %d, want %d (nothing written)", got, before)
			}
		})
	}
	next, err := open(strings.Repeat("<", 100), nil)
	if err != nil {
		t.Fatal(err)
	}
	if next.CaseInstanceID != first.CaseInstanceID+1 {
		t.Fatalf("next case: got id %d, want %d (no id spent on refused events)", next.CaseInstanceID, first.CaseInstanceID+1)
	}

	t.Run("a command's event", func(t *testing.T) {
		before := store.LastSeq()
		_, err := svc.Execute(context.Background(), next.CaseInstanceID, system, func(c *aggregate.Case) ([]events.Event, error) {
			return c.AddNote(strings.Repeat("&", limit/4))
		})
		if !errors.Is(err, ErrEventTooLarge) {
			t.Fatalf("got %v, want %v", err, ErrEventTooLarge)
		}
		if got := store.LastSeq(); got != before {
			t.Fatalf("stream sequence: got %d, want %d (nothing written)", got, before)
		}
	})
}

func TestCheckSizeIsExact(t *testing.T) {
	env, err := events.Wrap(events.Meta{ID: "e1", Subject: "cases.1", OccurredAt: time.Unix(0, 0), CorrelationID: "<<<"},
		events.CaseNoteAdded{NoteID: 1, Description: strings.Repeat("<", 500)})
	if err != nil {
		t.Fatal(err)
	}
	size := encodedSize(t, env)
	for _, tt := range []struct {
		limit int
		ok    bool
	}{{size, true}, {size - 1, false}} {
		svc := NewService(eventstore.NewMemory(), &counterIDs{}, Options{MaxEventBytes: tt.limit})
		if err := svc.checkSize([]events.Envelope{env}); (err == nil) != tt.ok {
			t.Errorf("limit %d for an event of %d bytes: got %v, want ok %v", tt.limit, size, err, tt.ok)
		}
	}
}

func TestUnreadableCase(t *testing.T) {
	tests := []struct {
		name string
		env  events.Envelope
	}{
		{"data of the wrong shape", events.Envelope{ID: "bad1", Type: events.TypeCaseNoteAdded, Data: json.RawMessage(`{"noteId":"one"}`)}},
		{"unknown type", events.Envelope{ID: "bad2", Type: "case.renamed", Data: json.RawMessage(`{}`)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			store := eventstore.NewMemory()
			svc := NewService(store, &counterIDs{}, Options{})
			bad, good := openOne(t, svc), openOne(t, svc)
			subject := events.CaseSubject(bad.CaseInstanceID)
			recs, err := store.Load(context.Background(), subject, 0)
			if err != nil {
				t.Fatal(err)
			}
			tt.env.Subject = subject
			if _, err := store.Append(context.Background(), subject, recs[len(recs)-1].Seq, []events.Envelope{tt.env}); err != nil {
				t.Fatal(err)
			}
			if _, err := svc.Get(context.Background(), bad.CaseInstanceID); !errors.Is(err, ErrUnreadable) {
				t.Fatalf("Get: got %v, want %v", err, ErrUnreadable)
			}
			before := store.LastSeq()
			_, err = svc.Execute(context.Background(), bad.CaseInstanceID, system, func(c *aggregate.Case) ([]events.Event, error) {
				return c.AddNote("x")
			})
			if !errors.Is(err, ErrUnreadable) || store.LastSeq() != before {
				t.Fatalf("Execute: got %v and sequence %d, want %v and %d", err, store.LastSeq(), ErrUnreadable, before)
			}
			// A fresh service (a restart) refuses it too; the other case is untouched.
			fresh := NewService(store, &counterIDs{}, Options{})
			if _, err := fresh.Get(context.Background(), bad.CaseInstanceID); !errors.Is(err, ErrUnreadable) {
				t.Fatalf("Get after a restart: got %v, want %v", err, ErrUnreadable)
			}
			if _, err := fresh.Get(context.Background(), good.CaseInstanceID); err != nil {
				t.Fatalf("Get of another case: got %v, want nil", err)
			}
		})
	}
}
