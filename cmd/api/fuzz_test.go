package main

import (
	"encoding/json"
	"net/url"
	"strings"
	"testing"

	"github.com/casestream/casestream/events"
)

// FuzzOperatorAPI sends arbitrary bodies, content types, case ids and correlation ids to the
// operator API's writing calls through the whole stack: no input may produce a 5xx, every
// refusal is in the operator API's error shape, and every event an accepted call writes
// decodes back.
func FuzzOperatorAPI(f *testing.F) {
	for _, s := range []struct{ call, id, ct, body, correlation string }{
		{"assignment", "1", jsonCT, `{"email":"bob@example.com"}`, ""},
		{"assignment", "1", jsonUTF8, `{"groupName":"Tier 1"}`, ""},
		{"assignment", "1", jsonCT, `{"email":"bob@example.com","groupName":"Tier 1"}`, ""},
		{"assignment", "x", jsonCT, `{"email":null}`, ""},
		{"assignment", "-1", "text/plain", `{}`, ""},
		{"assignment", "99999999999999999999", jsonCT, `{"email":7}`, ""},
		{"transitions", "1", jsonCT, `{"statusName":"Closed"}`, ""},
		{"transitions", "1", jsonCT, `{"statusName":["Active"]}`, ""},
		{"notes", "1", jsonCT, `{"description":"hi"}`, ""},
		{"notes", "1", jsonCT, `{"description":`, ""},
		{"cases", "", jsonCT, `{"categoryCode":"ACCOUNTS","typeCode":"LOST_CARD","caseData":[1]}`, ""},
		{"cases", "", "application/json; charset=\"", `{}`, ""},
		{"cases", "", jsonCT, "{\"categoryCode\":\"ACCOUNTS\",\"typeCode\":\"LOST_CARD\",\"caseData\":{\"k\xff\":\"\xc3\"}}", ""},
		{"cases", "", jsonCT, `{"categoryCode":"ACCOUNTS","typeCode":"OPEN_ACCOUNT","caseData":{"a":"\ud800","b":{"c":[1,{"<":"&"}]}}}`, ""},
		{"cases", "", jsonCT, `{"categoryCode":"ACCOUNTS","typeCode":"OPEN_ACCOUNT","comments":"<<<>>>","resolution":7}`, "trace-1"},
		{"cases", "", jsonCT, `{"categoryCode":"ACCOUNTS","typeCode":"OPEN_ACCOUNT","caseData":{"a":1,"a":2}}`, ""},
		{"notes", "1", jsonCT, `{"description":"\udc00 caf\u00e9 <b>"}`, "a b"},
		{"notes", "1", jsonCT, "{\"description\":\"\xed\xa0\x80\"}", "\xff"},
		{"cases", "", jsonCT, `{"categoryCode":"ACCOUNTS","typeCode":"LOST_CARD","status":null,"resolution":null,"comments":[{"description":"a\/b"}]}`, ""},
		{"update", "1", jsonCT, `{"categoryCode":"ACCOUNTS","typeCode":"LOST_CARD","status":"Resolved","resolution":"x","caseData":{"a":1},"comments":[{"description":"d"},"e"]}`, ""},
		{"update", "1", jsonCT, `{"categoryCode":"ACCOUNTS","typeCode":"OPEN_ACCOUNT","comments":[{"description":7}]}`, ""},
		{"update", "x", jsonCT, `{"comments":"one"}`, ""},
	} {
		f.Add(s.call, s.id, s.ct, s.body, s.correlation)
	}
	m, c := startClient(f)
	c.openCase("ACCOUNTS", "OPEN_ACCOUNT")
	f.Fuzz(func(t *testing.T, call, id, ct, body, correlation string) {
		c.t = t
		before := lastSeq(t, m, events.StreamCases)
		path, method := "/api/v4/cases/"+url.PathEscape(id)+"/"+url.PathEscape(call), "PUT"
		switch call {
		case "notes":
			method = "POST"
		case "cases":
			path, method = "/api/v4/cases", "POST"
		case "update":
			path = "/api/v4/cases/" + url.PathEscape(id)
		}
		r := req{method: method, path: path + "?" + tpQuery, body: body, contentType: ct, basic: [2]string{alice, alicePW}}
		r.headers = map[string]string{"X-Correlation-Id": correlation}
		if body == "" {
			r.headers["Content-Type"] = ct
		}
		st, b, _, err := c.try(r)
		if err != nil {
			t.Skip("not a request an HTTP client sends:", err)
		}
		if st >= 500 {
			t.Fatalf("%s %s %q: got %d %s", method, path, body, st, b)
		}
		if st >= 400 {
			var e struct {
				Errors map[string]string `json:"errors"`
			}
			if err := json.Unmarshal(b, &e); err != nil || len(e.Errors) != 1 {
				t.Fatalf("%s %s: error body %s is not {\"errors\":{key:code}}", method, path, b)
			}
		}
		eventsDecodeSince(t, m, events.StreamCases, before)
	})
}

// FuzzAgentAPI does the same for the agent-impersonation API's writing calls.
func FuzzAgentAPI(f *testing.F) {
	for _, s := range []struct{ call, body string }{
		{"units/_current", `{"unitId":"` + downtown + `"}`},
		{"units/_current", `{"unitId":5}`},
		{"actions/startNext", `{"inboxId":"x"}`},
		{"actions/startNext", ``},
		{"cases/00000000-0000-4000-8000-000000000000/actions/resolve", ``},
		{"queue", `{"serviceTypeId":"` + openAcct + `","channel":"Phone"}`},
		{"queue", `{"serviceTypeId":"` + openAcct + `","channel":"Pigeon"}`},
		{"queue", `{"customer":"x"}`},
		{"queue", `{"serviceTypeId":"` + openAcct + `","channel":"Phone","customer":{"displayName":"<Zoë>","recordId":"\ud83d\ude00"},"language":"en"}`},
		{"queue", "{\"serviceTypeId\":\"" + openAcct + "\",\"channel\":\"Phone\",\"contactEmail\":\"\xff@x\"}"},
		{"queue", `{"serviceTypeId":"` + openAcct + `","channel":"Phone","contactPhoneNumber":12}`},
		{"actions/startNext", `{"workstationId":"\udfff"}`},
		{"token", `grant_type=client_credentials&client_id=demo-app&client_secret=%zz`},
	} {
		f.Add(s.call, s.body)
	}
	m, c := startClient(f)
	tok := c.agentToken("demo-app", "demo-app-secret")
	f.Fuzz(func(t *testing.T, call, body string) {
		c.t = t
		casesBefore, dirBefore := lastSeq(t, m, events.StreamCases), lastSeq(t, m, events.StreamDirectory)
		path := agentPath(aliceID, "/"+call)
		r := bearer(tok, "POST", path, body)
		switch call {
		case "queue":
			r.path = "/" + appID + "/services/" + accounts + "/cases"
		case "token":
			r = req{method: "POST", path: "/oauth2/token", body: body, contentType: "application/x-www-form-urlencoded"}
		}
		if strings.ContainsAny(call, "?#%") {
			return // not a path this call can take
		}
		st, b, _, err := c.try(r)
		if err != nil {
			t.Skip("not a request an HTTP client sends:", err)
		}
		if st >= 500 {
			t.Fatalf("POST %s %q: got %d %s", r.path, body, st, b)
		}
		if st >= 400 {
			var e struct {
				Message string `json:"message"`
			}
			if err := json.Unmarshal(b, &e); err != nil || e.Message == "" {
				t.Fatalf("POST %s: error body %s is not {\"errorCode\",\"message\"}", r.path, b)
			}
		}
		eventsDecodeSince(t, m, events.StreamCases, casesBefore)
		eventsDecodeSince(t, m, events.StreamDirectory, dirBefore)
	})
}
