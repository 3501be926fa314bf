package main

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/casestream/casestream/events"
	"github.com/casestream/casestream/internal/httpapi"
)

// lastSeq is the last sequence of a stream of m's.
func lastSeq(t testing.TB, m *Main, stream string) uint64 {
	t.Helper()
	return streamInfo(t, m, stream).State.LastSeq
}

// eventsDecodeSince checks that every message after seq in both streams of m decodes back:
// an envelope (events.Unmarshal) with data of its type (events.Decode).
func eventsDecodeSince(t testing.TB, m *Main, stream string, seq uint64) {
	t.Helper()
	s, err := jetStream(t, m).Stream(context.Background(), stream)
	if err != nil {
		t.Fatal(err)
	}
	last := lastSeq(t, m, stream)
	for n := seq + 1; n <= last; n++ {
		msg, err := s.GetMsg(context.Background(), n)
		if err != nil {
			t.Fatalf("get %s %d: %v", stream, n, err)
		}
		env, err := events.Unmarshal(msg.Data)
		if err != nil {
			t.Fatalf("%s %d %q: %v", stream, n, msg.Data, err)
		}
		if _, err := events.Decode(env); err != nil {
			t.Fatalf("%s %d %q: %v", stream, n, msg.Data, err)
		}
	}
}

func TestInputThatCannotBecomeABadEvent(t *testing.T) {
	t.Parallel()
	m, c := startClient(t)
	id := c.openCase("ACCOUNTS", "OPEN_ACCOUNT")
	tok := c.agentToken("demo-app", "demo-app-secret")
	create := func(body string) req { return asOperator(alice, alicePW, "POST", "/cases", body) }
	withCaseData := func(data string) req {
		return create(`{"categoryCode":"ACCOUNTS","typeCode":"OPEN_ACCOUNT","caseData":` + data + `}`)
	}
	note := func(body string) req {
		return asOperator(alice, alicePW, "POST", fmt.Sprintf("/cases/%d/notes", id), body)
	}
	queue := func(body string) req { return bearer(tok, "POST", "/"+appID+"/services/"+accounts+"/cases", body) }
	withHeader := func(r req, k, v string) req { r.headers = map[string]string{k: v}; return r }
	long := func(n int) string { return strings.Repeat("x", n) }
	tests := []struct {
		name   string
		r      req
		status int
		want   string
	}{
		{"invalid UTF-8 in a caseData value", withCaseData("{\"k\":\"\xff\"}"), 400, `{"errors":{"caseData":"InvalidFormat"}}`},
		{"invalid UTF-8 in a caseData key", withCaseData("{\"k\xc3\":1}"), 400, `{"errors":{"caseData":"InvalidFormat"}}`},
		{"unpaired surrogate in caseData", withCaseData(`{"k":"\udfff"}`), 400, `{"errors":{"caseData":"InvalidFormat"}}`},
		{"repeated caseData member", withCaseData(`{"k":1,"k":2}`), 400, `{"errors":{"caseData":"InvalidFormat"}}`},
		{"invalid UTF-8 in comments", create("{\"categoryCode\":\"ACCOUNTS\",\"typeCode\":\"OPEN_ACCOUNT\",\"comments\":\"\xe2\x82\"}"), 400, `{"errors":{"comments":"InvalidFormat"}}`},
		{"comments of the wrong type", create(`{"categoryCode":"ACCOUNTS","typeCode":"OPEN_ACCOUNT","comments":{}}`), 400, `{"errors":{"comments":"InvalidFormat"}}`},
		{"comments too long", create(`{"categoryCode":"ACCOUNTS","typeCode":"OPEN_ACCOUNT","comments":"` + long(httpapi.MaxTextLen+1) + `"}`), 400, `{"errors":{"comments.0":"tooLong"}}`},
		{"a comment too long, as the SDK sends it", create(`{"categoryCode":"ACCOUNTS","typeCode":"OPEN_ACCOUNT","comments":[{"description":"a"},{"description":"` + long(httpapi.MaxTextLen+1) + `"}]}`), 400, `{"errors":{"comments.1":"tooLong"}}`},
		{"too many comments", create(`{"categoryCode":"ACCOUNTS","typeCode":"OPEN_ACCOUNT","comments":[` + strings.Repeat(`"c",`, httpapi.MaxComments) + `"c"]}`), 400, `{"errors":{"comments":"tooMany"}}`},
		{"update with caseData too deep", asOperator(alice, alicePW, "PUT", fmt.Sprintf("/cases/%d", id), `{"categoryCode":"ACCOUNTS","typeCode":"OPEN_ACCOUNT","caseData":`+strings.Repeat(`{"a":`, httpapi.MaxCaseDataDepth)+`{}`+strings.Repeat(`}`, httpapi.MaxCaseDataDepth)+`}`), 400, `{"errors":{"caseData":"tooDeep"}}`},
		{"update with a comment too long", asOperator(alice, alicePW, "PUT", fmt.Sprintf("/cases/%d", id), `{"categoryCode":"ACCOUNTS","typeCode":"OPEN_ACCOUNT","comments":["`+long(httpapi.MaxTextLen+1)+`"]}`), 400, `{"errors":{"comments.0":"tooLong"}}`},
		{"note edit too long", asOperator(alice, alicePW, "PUT", fmt.Sprintf("/cases/%d/notes", id), `{"id":1,"description":"`+long(httpapi.MaxTextLen+1)+`"}`), 400, `{"errors":{"description":"tooLong"}}`},
		{"typeCode too long", create(`{"categoryCode":"ACCOUNTS","typeCode":"` + long(httpapi.MaxCodeLen+1) + `"}`), 400, `{"errors":{"typeCode":"tooLong"}}`},
		{"caseData 9,000 deep", withCaseData(strings.Repeat(`{"a":`, 8999) + `{}` + strings.Repeat(`}`, 8999)), 400, `{"errors":{"caseData":"tooDeep"}}`},
		{"caseData too large", withCaseData(`{"a":"` + strings.Repeat("<", httpapi.MaxCaseDataBytes/6+1) + `"}`), 400, `{"errors":{"caseData":"tooLarge"}}`},
		{"note too long", note(`{"description":"` + long(httpapi.MaxTextLen+1) + `"}`), 400, `{"errors":{"description":"tooLong"}}`},
		{"note with an unpaired surrogate", note(`{"description":"\ud800"}`), 400, `{"errors":{"description":"InvalidFormat"}}`},
		{"correlation id of 1 MB", withHeader(note(`{"description":"x"}`), "X-Correlation-Id", long(1<<20)), 400, `{"errors":{"correlationId":"tooLong"}}`},
		{"correlation id with a space", withHeader(note(`{"description":"x"}`), "X-Correlation-Id", "a b"), 400, `{"errors":{"correlationId":"InvalidFormat"}}`},
		{"malformed JSON", note(`{"description":"x"`), 400, `{"errors":{"error.message":"InvalidJson"}}`},
		{"agent: contact email too long", queue(`{"serviceTypeId":"` + openAcct + `","channel":"Phone","contactEmail":"` + long(httpapi.MaxEmailLen+1) + `"}`), 400, `{"message":"contactEmail is longer than 254 characters"}`},
		{"agent: customer name of the wrong type", queue(`{"serviceTypeId":"` + openAcct + `","channel":"Phone","customer":{"displayName":7}}`), 400, `{"message":"customer.displayName has the wrong JSON type or an out-of-range value"}`},
		{"agent: invalid UTF-8 in the language", queue("{\"serviceTypeId\":\"" + openAcct + "\",\"channel\":\"Phone\",\"language\":\"\xc0\"}"), 400, `{"message":"language is not valid UTF-8"}`},
		{"agent: workstation id too long", bearer(tok, "POST", agentPath(aliceID, "/actions/startNext"), `{"workstationId":"`+long(httpapi.MaxCodeLen+1)+`"}`), 400, `{"message":"workstationId is longer than 64 characters"}`},
		{"agent: correlation id too long", withHeader(queue(`{"serviceTypeId":"`+openAcct+`","channel":"Phone"}`), "X-Correlation-Id", long(httpapi.MaxCorrelationIDLen+1)), 400, `{"message":"correlationId (X-Correlation-Id) is longer than 128 characters"}`},
	}
	before := lastSeq(t, m, events.StreamCases)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st, b, _ := c.do(tt.r)
			if st != tt.status || !sameJSON(b, []byte(tt.want)) {
				t.Fatalf("got %d %s, want %d %s", st, b, tt.status, tt.want)
			}
		})
	}
	if got := lastSeq(t, m, events.StreamCases); got != before {
		t.Fatalf("refusals wrote %d events", got-before)
	}

	// At the limits everything is accepted, and reads back.
	accepted := []req{
		withCaseData(`{"é":"\ud83d\ude00","a":` + strings.Repeat(`{"a":`, httpapi.MaxCaseDataDepth-2) + `"<>&"` + strings.Repeat(`}`, httpapi.MaxCaseDataDepth-2) + `}`),
		create(`{"categoryCode":"ACCOUNTS","typeCode":"OPEN_ACCOUNT","comments":"` + strings.Repeat("<", httpapi.MaxTextLen) + `"}`),
		withHeader(note(`{"description":"`+strings.Repeat("é", httpapi.MaxTextLen)+`"}`), "X-Correlation-Id", long(httpapi.MaxCorrelationIDLen)),
		queue(`{"serviceTypeId":"` + openAcct + `","channel":"Phone","contactEmail":"` + long(httpapi.MaxEmailLen) + `","customer":{"displayName":"Zoë"}}`),
	}
	for i, r := range accepted {
		if st, b, _ := c.do(r); st != http.StatusCreated {
			t.Fatalf("accepted %d: got %d %s, want 201", i, st, b)
		}
	}
	eventsDecodeSince(t, m, events.StreamCases, before)
}

// startSmallPayloadServer starts a nats-server whose maximum payload is maxPayload bytes,
// as an operator may configure a cluster, and returns its client URL.
func startSmallPayloadServer(t *testing.T, maxPayload int32) string {
	t.Helper()
	s, err := server.NewServer(&server.Options{
		Host: "127.0.0.1", Port: -1, JetStream: true, StoreDir: t.TempDir(), MaxPayload: maxPayload, NoSigs: true, NoLog: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	s.Start()
	t.Cleanup(func() {
		s.Shutdown()
		s.WaitForShutdown()
	})
	if !s.ReadyForConnections(10e9) {
		t.Fatal("nats-server not ready")
	}
	return s.ClientURL()
}

func TestEventTooLargeForTheServer(t *testing.T) {
	t.Parallel()
	url := startSmallPayloadServer(t, 16<<10)
	m, c := startClient(t, func(c *Config) { c.NATSURL = url })
	first := c.openCase("ACCOUNTS", "OPEN_ACCOUNT")
	// 4,000 characters pass the field limit; escaped to six bytes each they do not fit in
	// 16 KiB.
	big := strings.Repeat("<", httpapi.MaxTextLen)
	before := lastSeq(t, m, events.StreamCases)
	tests := []struct {
		name string
		r    req
	}{
		{"create", asOperator(alice, alicePW, "POST", "/cases", `{"categoryCode":"ACCOUNTS","typeCode":"OPEN_ACCOUNT","comments":"`+big+`"}`)},
		{"note", asOperator(alice, alicePW, "POST", fmt.Sprintf("/cases/%d/notes", first), `{"description":"`+big+`"}`)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st, b, _ := c.do(tt.r)
			if want := `{"errors":{"event":"tooLarge"}}`; st != http.StatusRequestEntityTooLarge || !sameJSON(b, []byte(want)) {
				t.Fatalf("got %d %s, want 413 %s", st, b, want)
			}
		})
	}
	if got := lastSeq(t, m, events.StreamCases); got != before {
		t.Fatalf("refusals wrote %d events", got-before)
	}
	if next := c.openCase("ACCOUNTS", "OPEN_ACCOUNT"); next != first+1 {
		t.Fatalf("next case: got id %d, want %d (no id spent on a refused event)", next, first+1)
	}
}
