package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/casestream/casestream/events"
)

// TestAssignCaseContract runs every row of the "Assign case" table through the HTTP stack,
// with the touchpoint in the query and in headers, and a content type with and without a
// charset.
func TestAssignCaseContract(t *testing.T) {
	t.Parallel()
	m, c := startClient(t)
	open := c.openCase("ACCOUNTS", "OPEN_ACCOUNT")
	complaint := c.openCase("SUPPORT", "COMPLAINT") // bob may not handle complaints
	resolved := c.openCase("ACCOUNTS", "LOST_CARD")
	closed := c.openCase("ACCOUNTS", "LOST_CARD")
	c.transition(resolved, "Resolved")
	c.transition(closed, "Closed")
	type row struct {
		name   string
		caller string
		id     string
		body   string
		status int
		want   string
	}
	rows := []row{
		{"both given", alice, fmt.Sprint(open), `{"email":"bob@example.com","groupName":"Tier 1"}`, 400, `{"errors":{"assignment":"invalid"}}`},
		{"both given beats invalid id", alice, "abc", `{"email":"bob@example.com","groupName":"Tier 1"}`, 400, `{"errors":{"assignment":"invalid"}}`},
		{"neither given", alice, fmt.Sprint(open), `{}`, 400, `{"errors":{"assignment":"missing"}}`},
		{"both null", alice, fmt.Sprint(open), `{"email":null,"groupName":null}`, 400, `{"errors":{"assignment":"missing"}}`},
		{"both empty", alice, fmt.Sprint(open), `{"email":"","groupName":""}`, 400, `{"errors":{"assignment":"missing"}}`},
		{"no such case", alice, "999999", `{"email":"bob@example.com"}`, 400, `{"errors":{"case":"invalidId"}}`},
		{"non-integer id", alice, "abc", `{"email":"bob@example.com"}`, 400, `{"errors":{"case":"invalidId"}}`},
		{"zero id", alice, "0", `{"email":"bob@example.com"}`, 400, `{"errors":{"case":"invalidId"}}`},
		{"negative id", alice, "-4", `{"email":"bob@example.com"}`, 400, `{"errors":{"case":"invalidId"}}`},
		{"caller may not act on the case", bob, fmt.Sprint(complaint), `{"email":"alice@example.com"}`, 400, `{"errors":{"case":"invalidId"}}`},
		{"no such case beats unknown email", alice, "999999", `{"email":"nobody@example.com"}`, 400, `{"errors":{"case":"invalidId"}}`},
		{"unknown email", alice, fmt.Sprint(open), `{"email":"nobody@example.com"}`, 400, `{"errors":{"email":"operatorNotValid"}}`},
		{"unknown group", alice, fmt.Sprint(open), `{"groupName":"Tier 9"}`, 400, `{"errors":{"groupName":"invalidName"}}`},
		{"unknown email beats closed", alice, fmt.Sprint(closed), `{"email":"nobody@example.com"}`, 400, `{"errors":{"email":"operatorNotValid"}}`},
		{"target may not handle the type", alice, fmt.Sprint(open), `{"email":"dave@example.com"}`, 400, `{"errors":{"email":"isNotAuthorized"}}`},
		{"not authorized beats blocked and closed", alice, fmt.Sprint(closed), `{"email":"erin@example.com"}`, 400, `{"errors":{"email":"isNotAuthorized"}}`},
		{"target blocked", alice, fmt.Sprint(open), `{"email":"carol@example.com"}`, 400, `{"errors":{"email":"blocked"}}`},
		{"blocked beats closed", alice, fmt.Sprint(closed), `{"email":"carol@example.com"}`, 400, `{"errors":{"email":"blocked"}}`},
		{"resolved", alice, fmt.Sprint(resolved), `{"email":"bob@example.com"}`, 400, `{"errors":{"case":"statusIsAlreadyClose"}}`},
		{"closed, to a group", alice, fmt.Sprint(closed), `{"groupName":"Tier 1"}`, 400, `{"errors":{"case":"statusIsAlreadyClose"}}`},
	}
	passwords := map[string]string{alice: alicePW, bob: bobPW}
	for _, way := range []string{"query", "headers"} {
		for _, ct := range []string{jsonCT, jsonUTF8} {
			for _, r := range rows {
				t.Run(way+"/"+ct+"/"+r.name, func(t *testing.T) {
					q := req{method: "PUT", path: "/api/v4/cases/" + r.id + "/assignment", body: r.body, contentType: ct, basic: [2]string{r.caller, passwords[r.caller]}}
					if way == "query" {
						q.path += "?" + tpQuery
					} else {
						q.headers = map[string]string{"Thalamus-Touchpoint": "demo-kiosk", "Thalamus-Token": "demo-kiosk-token"}
					}
					st, b, _ := c.do(q)
					if st != r.status || !sameJSON(b, []byte(r.want)) {
						t.Fatalf("got %d %s, want %d %s", st, b, r.status, r.want)
					}
				})
			}
		}
	}
	// Refusals change nothing: the open case still has only its opening event.
	if n := caseEvents(t, m, open); n != 1 {
		t.Fatalf("after refusals the case has %d events, want 1", n)
	}
	t.Run("success to an operator", func(t *testing.T) {
		st, b, _ := c.do(asOperator(alice, alicePW, "PUT", fmt.Sprintf("/cases/%d/assignment", open), `{"email":"BOB@example.com"}`))
		if st != http.StatusCreated {
			t.Fatalf("got %d %s, want 201", st, b)
		}
		golden(t, "assign_operator.golden", b)
	})
	t.Run("success to a group", func(t *testing.T) {
		st, b, _ := c.do(asOperator(alice, alicePW, "PUT", fmt.Sprintf("/cases/%d/assignment", open), `{"groupName":"Tier 1"}`))
		if st != http.StatusCreated {
			t.Fatalf("got %d %s, want 201", st, b)
		}
		golden(t, "assign_group.golden", b)
	})
	t.Run("again to the same target writes nothing", func(t *testing.T) {
		before := caseEvents(t, m, open)
		st, b, _ := c.do(asOperator(alice, alicePW, "PUT", fmt.Sprintf("/cases/%d/assignment", open), `{"groupName":"Tier 1"}`))
		if st != http.StatusCreated {
			t.Fatalf("got %d %s, want 201", st, b)
		}
		if after := caseEvents(t, m, open); after != before {
			t.Fatalf("events: got %d, want %d", after, before)
		}
	})
}

// jetStream returns a JetStream context on the api's own connection.
func jetStream(t testing.TB, m *Main) jetstream.JetStream {
	t.Helper()
	js, err := jetstream.New(m.app.NC)
	if err != nil {
		t.Fatal(err)
	}
	return js
}

// caseEvents counts the messages on the case's subject.
func caseEvents(t testing.TB, m *Main, id int64) int {
	t.Helper()
	return int(streamInfo(t, m, events.StreamCases, jetstream.WithSubjectFilter(events.CaseSubject(id))).State.Subjects[events.CaseSubject(id)])
}

func TestEventsOnTheCaseSubject(t *testing.T) {
	t.Parallel()
	m, c := startClient(t)
	id, _ := c.openAssigned(bob)
	s, err := jetStream(t, m).Stream(context.Background(), events.StreamCases)
	if err != nil {
		t.Fatal(err)
	}
	msg, err := s.GetLastMsgForSubject(context.Background(), events.CaseSubject(id))
	if err != nil {
		t.Fatal(err)
	}
	env, err := events.Unmarshal(msg.Data)
	if err != nil {
		t.Fatal(err)
	}
	if msg.Subject != fmt.Sprintf("cases.%d", id) || env.Subject != msg.Subject {
		t.Errorf("subject: got %s / %s, want cases.%d", msg.Subject, env.Subject, id)
	}
	if got := msg.Header.Get(events.HeaderEventType); got != events.TypeCaseAssigned || env.Type != got {
		t.Errorf("type header: got %q, envelope %q, want %q", got, env.Type, events.TypeCaseAssigned)
	}
	if got := msg.Header.Get("Nats-Msg-Id"); got == "" || got != env.ID {
		t.Errorf("Nats-Msg-Id: got %q, want the envelope id %q", got, env.ID)
	}
	if env.SchemaVersion != 1 || env.Actor.Kind != events.ActorOperator || env.Actor.ID != aliceID || env.OccurredAt.Location().String() != "UTC" {
		t.Errorf("envelope: got %+v", env)
	}
	ev, err := events.Decode(env)
	if err != nil {
		t.Fatal(err)
	}
	if a := ev.(events.CaseAssigned); a.To.OperatorID != bobID || a.Status != events.StatusActive {
		t.Errorf("data: got %+v", a)
	}
}

func TestConcurrentAssignmentsOverHTTP(t *testing.T) {
	t.Parallel()
	m, c := startClient(t)
	id := c.openCase("ACCOUNTS", "LOST_CARD")
	targets := []string{`{"email":"alice@example.com"}`, `{"email":"bob@example.com"}`, `{"email":"dave@example.com"}`, `{"groupName":"Tier 1"}`, `{"groupName":"Tier 2"}`}
	var wg sync.WaitGroup
	statuses := make(chan int, 24)
	for i := range 24 {
		wg.Go(func() {
			st, _, _ := c.do(asOperator(alice, alicePW, "PUT", fmt.Sprintf("/cases/%d/assignment", id), targets[i%len(targets)]))
			statuses <- st
		})
	}
	wg.Wait()
	close(statuses)
	for st := range statuses {
		if st != http.StatusCreated {
			t.Errorf("assignment: got %d, want 201", st)
		}
	}
	// The case's state equals its last event.
	s, _ := jetStream(t, m).Stream(context.Background(), events.StreamCases)
	msg, err := s.GetLastMsgForSubject(context.Background(), events.CaseSubject(id))
	if err != nil {
		t.Fatal(err)
	}
	env, _ := events.Unmarshal(msg.Data)
	ev, _ := events.Decode(env)
	last := ev.(events.CaseAssigned)
	_, b, _ := c.do(asOperator(alice, alicePW, "GET", fmt.Sprintf("/cases/%d", id), ""))
	var got struct {
		Status     string `json:"status"`
		Assignment struct {
			Operator *struct{ Email string } `json:"operator"`
			Group    *struct{ Name string }  `json:"group"`
		} `json:"assignment"`
	}
	mustJSON(t, b, &got)
	if got.Status != last.Status {
		t.Errorf("status: got %s, want %s from the last event", got.Status, last.Status)
	}
	switch {
	case last.To.GroupName != "":
		if got.Assignment.Group == nil || got.Assignment.Group.Name != last.To.GroupName || got.Assignment.Operator != nil {
			t.Errorf("assignment: got %s, want group %s", b, last.To.GroupName)
		}
	default:
		op, _ := m.app.Directory.Operator(last.To.OperatorID)
		if got.Assignment.Operator == nil || !strings.EqualFold(got.Assignment.Operator.Email, op.Email) || got.Assignment.Group != nil {
			t.Errorf("assignment: got %s, want operator %s", b, op.Email)
		}
	}
}

func TestRestartKeepsCasesAndDirectory(t *testing.T) {
	t.Parallel()
	m, c := startClient(t)
	id, _ := c.openAssigned(bob)
	dirSeq := directorySeq(t, m)
	m2, c2 := restartAPI(t, m)
	st, b, _ := c2.do(asOperator(alice, alicePW, "GET", fmt.Sprintf("/cases/%d", id), ""))
	if st != 200 || !strings.Contains(string(b), `"email":"bob@example.com"`) || !strings.Contains(string(b), `"status":"Active"`) {
		t.Fatalf("after restart: got %d %s", st, b)
	}
	if again := directorySeq(t, m2); again != dirSeq {
		t.Fatalf("applying the same directory file again wrote %d events", again-dirSeq)
	}
	// A new case gets a new id: ids survive the restart.
	if next := c2.openCase("ACCOUNTS", "OPEN_ACCOUNT"); next <= id {
		t.Fatalf("id after restart: got %d, want above %d", next, id)
	}
}

// TestIdempotencyKey: a retry with the first request's Idempotency-Key gets the first
// answer again, marked Idempotent-Replayed, and writes nothing; a refusal is such an answer
// too, even when the retry's body would now succeed.
func TestIdempotencyKey(t *testing.T) {
	t.Parallel()
	m, c := startClient(t)
	id := c.openCase("ACCOUNTS", "OPEN_ACCOUNT")
	path := fmt.Sprintf("/cases/%d/notes", id)
	withKey := func(key, body string) req {
		r := asOperator(alice, alicePW, "POST", path, body)
		r.headers = map[string]string{"Idempotency-Key": key}
		return r
	}
	tests := []struct {
		name         string
		first, retry req
		status       int
		wantEvents   int
	}{
		{"success", withKey("note-42", `{"description":"called back"}`), withKey("note-42", `{"description":"called back"}`), 201, 2},
		{"refusal", withKey("note-43", `{"description":" "}`), withKey("note-43", `{"description":"called back again"}`), 400, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st1, b1, h1 := c.do(tt.first)
			st2, b2, h2 := c.do(tt.retry)
			if st1 != tt.status || st2 != tt.status || string(b1) != string(b2) {
				t.Fatalf("got %d %s then %d %s, want the same %d twice", st1, b1, st2, b2, tt.status)
			}
			if got1, got2 := h1.Get("Idempotent-Replayed"), h2.Get("Idempotent-Replayed"); got1 != "" || got2 != "true" {
				t.Errorf("Idempotent-Replayed: got %q then %q, want none then true", got1, got2)
			}
			if n := caseEvents(t, m, id); n != tt.wantEvents {
				t.Fatalf("events: got %d, want %d (opened, one note)", n, tt.wantEvents)
			}
		})
	}
}

func TestOperatorAPIRefusals(t *testing.T) {
	t.Parallel()
	m, c := startClient(t)
	id := c.openCase("ACCOUNTS", "OPEN_ACCOUNT")
	path := fmt.Sprintf("/api/v4/cases/%d/assignment", id)
	big := `{"email":"` + strings.Repeat("x", 1<<20) + `"}`
	tests := []struct {
		name   string
		r      req
		status int
		want   string
	}{
		{"no touchpoint", req{method: "PUT", path: path, body: `{"email":"bob@example.com"}`, basic: [2]string{alice, alicePW}}, 401, `{"errors":{"error.description":"Touchpoint credentials missing"}}`},
		{"wrong touchpoint token", req{method: "PUT", path: path + "?touchpoint=demo-kiosk&token=nope", body: `{}`, basic: [2]string{alice, alicePW}}, 401, `{"errors":{"error.description":"Touchpoint credentials invalid"}}`},
		{"no operator", req{method: "PUT", path: path + "?" + tpQuery, body: `{}`}, 401, `{"errors":{"error.message":"UNAUTHORIZED"}}`},
		{"wrong password", req{method: "PUT", path: path + "?" + tpQuery, body: `{}`, basic: [2]string{alice, "nope"}}, 401, `{"errors":{"credential":"NotMatchAnyPrincipal"}}`},
		{"blocked caller", req{method: "PUT", path: path + "?" + tpQuery, body: `{}`, basic: [2]string{carol, "carol-password"}}, 401, `{"errors":{"error.description":"User is disabled"}}`},
		{"malformed JSON", asOperator(alice, alicePW, "PUT", strings.TrimPrefix(path, "/api/v4"), `{"email":`), 400, `{"errors":{"error.message":"InvalidJson"}}`},
		{"trailing data", asOperator(alice, alicePW, "PUT", strings.TrimPrefix(path, "/api/v4"), `{"email":"bob@example.com"} {}`), 400, `{"errors":{"error.message":"InvalidJson"}}`},
		{"wrong JSON type", asOperator(alice, alicePW, "PUT", strings.TrimPrefix(path, "/api/v4"), `{"email":42}`), 400, `{"errors":{"email":"InvalidFormat"}}`},
		{"not JSON", func() req {
			r := asOperator(alice, alicePW, "PUT", strings.TrimPrefix(path, "/api/v4"), `email=bob@example.com`)
			r.contentType = "application/x-www-form-urlencoded"
			return r
		}(), 400, `{"errors":{"body":"unsupportedContentType"}}`},
		{"over 1 MiB", asOperator(alice, alicePW, "PUT", strings.TrimPrefix(path, "/api/v4"), big), 413, `{"errors":{"body":"tooLarge"}}`},
		{"unknown route", asOperator(alice, alicePW, "GET", "/nothing", ""), 404, `{"errors":{"route":"notFound"}}`},
		{"create without category", asOperator(alice, alicePW, "POST", "/cases", `{"typeCode":"OPEN_ACCOUNT"}`), 400, `{"errors":{"category":"CodeRequired"}}`},
		{"create without type", asOperator(alice, alicePW, "POST", "/cases", `{"categoryCode":"ACCOUNTS"}`), 400, `{"errors":{"categoryOrType":"InvalidCode"}}`},
		{"create with unknown category", asOperator(alice, alicePW, "POST", "/cases", `{"categoryCode":"NOPE","typeCode":"OPEN_ACCOUNT"}`), 400, `{"errors":{"categoryOrType":"InvalidCode"}}`},
		{"create with a type of another category", asOperator(alice, alicePW, "POST", "/cases", `{"categoryCode":"SUPPORT","typeCode":"OPEN_ACCOUNT"}`), 400, `{"errors":{"categoryOrType":"InvalidCode"}}`},
		{"get invalid id", asOperator(alice, alicePW, "GET", "/cases/x1", ""), 400, `{"errors":{"case":"invalidId"}}`},
		{"get unknown case", asOperator(alice, alicePW, "GET", "/cases/424242", ""), 400, `{"errors":{"case":"invalidId"}}`},
		{"transition to an unknown status", asOperator(alice, alicePW, "PUT", fmt.Sprintf("/cases/%d/transitions", id), `{"statusName":"Done"}`), 400, `{"errors":{"statusName":"invalid"}}`},
		{"transition of an unknown case", asOperator(alice, alicePW, "PUT", "/cases/424242/transitions", `{"statusName":"Pending"}`), 400, `{"errors":{"case":"invalidId"}}`},
		{"empty note", asOperator(alice, alicePW, "POST", fmt.Sprintf("/cases/%d/notes", id), `{"description":""}`), 400, `{"errors":{"description":"missing"}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st, b, _ := c.do(tt.r)
			if st != tt.status || !sameJSON(b, []byte(tt.want)) {
				t.Fatalf("got %d %s, want %d %s", st, b, tt.status, tt.want)
			}
		})
	}
	if n := caseEvents(t, m, id); n != 1 {
		t.Fatalf("refusals wrote events: the case has %d, want 1", n)
	}
}

func TestOperatorAPISessionAndReads(t *testing.T) {
	t.Parallel()
	_, c := startClient(t)
	st, b, h := c.do(req{method: "POST", path: "/api/v4/signin?" + tpQuery, body: `{"principal":"alice@example.com","password":"alice-password"}`})
	if st != 200 {
		t.Fatalf("signin: got %d %s", st, b)
	}
	golden(t, "signin.golden", b)
	cookie := strings.Split(h.Get("Set-Cookie"), ";")[0]
	withCookie := func(method, path, body string) req {
		return req{method: method, path: "/api/v4" + path + "?" + tpQuery, body: body, headers: map[string]string{"Cookie": cookie}}
	}
	st, b, _ = c.do(withCookie("POST", "/cases", `{"categoryCode":"ACCOUNTS","typeCode":"OPEN_ACCOUNT","comments":"first","caseData":{"branch":"north"}}`))
	if st != 201 {
		t.Fatalf("create with the cookie: got %d %s", st, b)
	}
	golden(t, "create_case.golden", b)
	var created struct {
		Case struct {
			ID int64 `json:"id"`
		} `json:"case"`
	}
	mustJSON(t, b, &created)
	if st, b, _ = c.do(withCookie("PUT", fmt.Sprintf("/cases/%d/assignment", created.Case.ID), `{"email":"alice@example.com"}`)); st != 201 {
		t.Fatalf("assign to self: got %d %s", st, b)
	}
	st, b, _ = c.do(withCookie("GET", "/cases", ""))
	if st != 200 || !strings.Contains(string(b), fmt.Sprintf(`"id":%d`, created.Case.ID)) {
		t.Fatalf("my cases: got %d %s, want case %d listed", st, b, created.Case.ID)
	}
	st, b, _ = c.do(withCookie("POST", fmt.Sprintf("/cases/%d/notes", created.Case.ID), `{"description":"called back"}`))
	if st != 201 {
		t.Fatalf("note: got %d %s", st, b)
	}
	golden(t, "add_note.golden", b)
	for _, p := range []string{"/cases/status", "/cases/typecategory"} {
		st, b, _ = c.do(withCookie("GET", p, ""))
		if st != 200 {
			t.Fatalf("%s: got %d %s", p, st, b)
		}
		golden(t, strings.ReplaceAll(strings.TrimPrefix(p, "/"), "/", "_")+".golden", b)
	}
	st, b, _ = c.do(withCookie("GET", "/logout", ""))
	if st != 200 {
		t.Fatalf("logout: got %d %s", st, b)
	}
	golden(t, "logout.golden", b)
	if st, b, _ = c.do(withCookie("GET", "/cases", "")); st != 401 {
		t.Fatalf("after logout: got %d %s, want 401", st, b)
	}
	if st, b, _ = c.do(req{method: "GET", path: "/api/v4/isAlive"}); st != 200 || !sameJSON(b, []byte(`{"isAlive":true}`)) {
		t.Fatalf("isAlive: got %d %s", st, b)
	}
	for _, p := range []string{"/healthz", "/readyz"} {
		if st, b, _ = c.do(req{method: "GET", path: p}); st != 200 {
			t.Fatalf("%s: got %d %s", p, st, b)
		}
	}
	st, b, _ = c.do(req{method: "GET", path: "/metrics"})
	if st != 200 || !strings.Contains(string(b), `casestream_http_requests_total{code="201",method="PUT",route="/api/v4/cases/{caseInstanceId}/assignment"}`) {
		t.Fatalf("metrics: got %d, want a request count by route template", st)
	}
}

var _ = json.Marshal
