package main

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/nats-io/nats.go"

	"github.com/casestream/casestream/events"
	"github.com/casestream/casestream/internal/eventstore"
)

// publishRaw stores body on subject behind the service's back, as a client with write
// access to the stream could: no expected sequence, no envelope unless body is one.
func publishRaw(t testing.TB, m *Main, subject, typ, body string) {
	t.Helper()
	msg := nats.NewMsg(subject)
	msg.Data = []byte(body)
	if typ != "" {
		msg.Header.Set(events.HeaderEventType, typ)
	}
	if _, err := jetStream(t, m).PublishMsg(context.Background(), msg); err != nil {
		t.Fatal(err)
	}
}

// undecodable is how often readers of this process met an undecodable event of stream, as
// GET /metrics tells it.
func (c *client) undecodable(stream, reader string) float64 {
	c.t.Helper()
	b := c.expect(http.StatusOK, req{method: "GET", path: "/metrics"})
	prefix := fmt.Sprintf("casestream_events_undecodable_total{reader=%q,stream=%q} ", reader, stream)
	for line := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), prefix); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				c.t.Fatalf("metric %q: %v", line, err)
			}
			return f
		}
	}
	return 0
}

// listed returns the caseInstanceIds of GET /cases as alice.
func (c *client) listed() map[int64]bool {
	c.t.Helper()
	b := c.expect(http.StatusOK, asOperator(alice, alicePW, "GET", "/cases", ""))
	var out struct {
		Cases []struct {
			ID int64 `json:"id"`
		} `json:"cases"`
	}
	mustJSON(c.t, b, &out)
	ids := map[int64]bool{}
	for _, cs := range out.Cases {
		ids[cs.ID] = true
	}
	return ids
}

func TestUndecodableEventsWedgeNothing(t *testing.T) {
	t.Parallel()
	m, c := startClient(t)
	tok := c.agentToken("demo-app", "demo-app-secret")
	c.expect(200, bearer(tok, "POST", agentPath(aliceID, "/units/_current"), `{"unitId":"`+downtown+`"}`))
	good, goodCaseID := c.openAssigned(alice)
	bad := []struct {
		name, typ, body string
		id              int64
		caseID          string
	}{
		{name: "not JSON", typ: events.TypeCaseNoteAdded, body: `{"id":"x","type":"case.noteAdded","data":{`},
		{name: "data of the wrong shape", typ: events.TypeCaseNoteAdded, body: `{"id":"y","type":"case.noteAdded","schemaVersion":1,"data":{"noteId":"one","description":7}}`},
		{name: "unknown type", typ: "case.renamed", body: `{"id":"z","type":"case.renamed","schemaVersion":1,"data":{"name":"x"}}`},
	}
	for i := range bad {
		bad[i].id, bad[i].caseID = c.openAssigned(alice)
	}
	casesBefore, dirBefore := c.undecodable(events.StreamCases, eventstore.ReaderFollow), c.undecodable(events.StreamDirectory, eventstore.ReaderFollow)
	// The bad events are the streams' last messages: a fold that stopped short of them would
	// keep every read waiting for the projector.
	for _, b := range bad {
		b.body = strings.Replace(b.body, `"id":`, fmt.Sprintf(`"subject":%q,"id":`, events.CaseSubject(b.id)), 1)
		publishRaw(t, m, events.CaseSubject(b.id), b.typ, b.body)
	}
	publishRaw(t, m, events.DirectorySubject("unit", "00000000-0000-4000-8000-000000000000"), "directory.unitDefined", `not JSON`)

	check := func(t *testing.T, m *Main, c *client) {
		t.Helper()
		tok := c.agentToken("demo-app", "demo-app-secret")
		if st, b, _ := c.do(asOperator(alice, alicePW, "GET", fmt.Sprintf("/cases/%d", good), "")); st != http.StatusOK {
			t.Errorf("GET the good case: got %d %s, want 200", st, b)
		}
		for _, b := range bad {
			t.Run(b.name, func(t *testing.T) {
				want := `{"errors":{"case":"unreadable"}}`
				for _, r := range []req{
					asOperator(alice, alicePW, "GET", fmt.Sprintf("/cases/%d", b.id), ""),
					asOperator(alice, alicePW, "PUT", fmt.Sprintf("/cases/%d/transitions", b.id), `{"statusName":"Pending"}`),
				} {
					if st, body, _ := c.do(r); st != http.StatusConflict || !sameJSON(body, []byte(want)) {
						t.Errorf("%s %s: got %d %s, want 409 %s", r.method, r.path, st, body, want)
					}
				}
				want = `{"message":"the case has an event this service cannot read"}`
				if st, body, _ := c.do(bearer(tok, "POST", agentPath(aliceID, "/cases/"+b.caseID+"/actions/resolve"), "")); st != http.StatusConflict || !sameJSON(body, []byte(want)) {
					t.Errorf("resolve: got %d %s, want 409 %s", st, body, want)
				}
			})
		}
		// The operator listing lists the rest; the agent listing (the projection) keeps every
		// case, the bad events skipped.
		listed := c.listed()
		if !listed[good] {
			t.Errorf("GET /cases: %d missing from %v", good, listed)
		}
		st, b, _ := c.do(bearer(tok, "GET", agentPath(aliceID, "/activeCases"), ""))
		if st != http.StatusOK || !strings.Contains(string(b), goodCaseID) {
			t.Errorf("activeCases: got %d %s, want 200 listing %s", st, b, goodCaseID)
		}
		for _, bc := range bad {
			if !strings.Contains(string(b), bc.caseID) {
				t.Errorf("activeCases: %s (%s) missing", bc.caseID, bc.name)
			}
		}
		// New writes go on.
		next, _ := c.openAssigned(alice)
		if !c.listed()[next] {
			t.Errorf("GET /cases: the new case %d missing", next)
		}
	}
	check(t, m, c)
	if got := c.undecodable(events.StreamCases, eventstore.ReaderFollow) - casesBefore; got != float64(len(bad)) {
		t.Errorf("undecodable CASES events counted by the projector: got %v, want %d", got, len(bad))
	}
	if got := c.undecodable(events.StreamDirectory, eventstore.ReaderFollow) - dirBefore; got != 1 {
		t.Errorf("undecodable DIRECTORY events counted: got %v, want 1", got)
	}
	if got := c.undecodable(events.StreamCases, eventstore.ReaderLoad); got == 0 {
		t.Errorf("undecodable CASES events met by the command side: got 0, want some")
	}

	// After a restart, the replays skip them too.
	casesBefore, dirBefore = c.undecodable(events.StreamCases, eventstore.ReaderFollow), c.undecodable(events.StreamDirectory, eventstore.ReaderFollow)
	m2, c2 := restartAPI(t, m)
	check(t, m2, c2)
	if got := c2.undecodable(events.StreamCases, eventstore.ReaderFollow) - casesBefore; got != float64(len(bad)) {
		t.Errorf("after a restart, undecodable CASES events counted: got %v, want %d", got, len(bad))
	}
	if got := c2.undecodable(events.StreamDirectory, eventstore.ReaderFollow) - dirBefore; got != 1 {
		t.Errorf("after a restart, undecodable DIRECTORY events counted: got %v, want 1", got)
	}
}
