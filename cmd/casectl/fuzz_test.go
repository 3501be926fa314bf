package main

import (
	"context"
	"encoding/json"
	"io"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/casestream/casestream/aggregate"
	"github.com/casestream/casestream/events"
	"github.com/casestream/casestream/internal/directory"
)

// FuzzVerifyEntry feeds verify and history any stored message: whatever a writer put in the
// log, casectl reports it and does not crash, and a body that is not JSON is a finding.
func FuzzVerifyEntry(f *testing.F) {
	for _, ev := range []events.Event{
		events.CaseOpened{CaseInstanceID: 1, Status: events.StatusWaiting},
		events.CaseAssigned{To: events.Assignment{OperatorID: bobID}, Status: events.StatusActive},
		events.CaseNoteAdded{NoteID: 1, Description: "a"},
		events.CaseUpdated{CaseData: json.RawMessage(`{"a":1}`)},
		events.Operator{UserID: bobID},
	} {
		env, err := events.Wrap(events.Meta{ID: "id-1", Subject: "cases.1", OccurredAt: time.Now(), Actor: events.Actor{Kind: events.ActorSystem}}, ev)
		if err != nil {
			f.Fatal(err)
		}
		body, _ := json.Marshal(env)
		f.Add("cases.1", ev.EventType(), body)
	}
	f.Add("cases.1", "case.opened", []byte(`{"type":"case.opened","data":null}`))
	f.Add("cases.x", "", []byte("{not json"))
	f.Add("directory.operator.a", "case.closed", []byte(`{"type":"case.closed","schemaVersion":99,"data":{"from":7}}`))
	f.Fuzz(func(t *testing.T, subject, typ string, body []byte) {
		v := &verifier{m: &Main{}, cases: map[int64]*aggregate.Case{}, from: 1, out: newPrinter(io.Discard), tl: &timeline{dir: directory.New()}}
		h := nats.Header{}
		h.Set(events.HeaderEventType, typ)
		e := entry{Stream: events.StreamCases, Seq: 1, Time: time.Now(), Subject: subject, Header: h, Data: body}
		if err := v.checkCase(context.Background(), e); err != nil {
			t.Fatalf("checkCase: %v", err)
		}
		if !json.Valid(body) && len(v.findings) == 0 {
			t.Errorf("body %q: got no finding, want one", body)
		}
		if _, ev, err := e.decoded(); err == nil {
			_ = summary(v.tl.dir, ev)
			_ = directorySummary(ev)
		}
	})
}
