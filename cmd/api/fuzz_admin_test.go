package main

import (
	"net/url"
	"strings"
	"testing"

	"github.com/casestream/casestream/events"
)

// FuzzAdminAPI sends arbitrary methods, paths, bodies, If-Match and correlation ids to the
// admin API through the whole stack: no input may produce a 5xx, every refusal is in the
// admin API's error shape and writes nothing, and every event an accepted call writes
// decodes back.
func FuzzAdminAPI(f *testing.F) {
	for _, s := range []struct{ method, path, body, ifMatch, correlation string }{
		{"PUT", "units/" + newUnit, `{"name":"Harbour","reason":"r"}`, "", ""},
		{"PUT", "units/" + downtown, `{"name":"x"}`, `"3"`, "c-1"},
		{"PUT", "inboxes/i1", `{"unitId":"` + downtown + `","name":"i"}`, "", ""},
		{"PUT", "workspaces/w1", `{"unitId":"` + downtown + `","name":"w","inboxIds":["` + frontDsk + `"],"startNextBehavior":"AddTab"}`, "", ""},
		{"PUT", "operators/" + newOp, `{"email":"f@x","password":"p","serviceTypes":["*"],"units":["` + downtown + `"]}`, "", ""},
		{"POST", "operators/" + bobID + "/block", `{"reason":"\ud800"}`, "", ""},
		{"PUT", "operators/" + bobID + "/password", "{\"password\":\"\xff\"}", "", ""},
		{"PUT", "groups/g1/members/" + bobID, ``, "", ""},
		{"DELETE", "groups/" + tier1 + "/members/" + bobID, `{"reason":7}`, "", ""},
		{"PUT", "touchpoints/x%2Fy", ``, "", "a b"},
		{"POST", "applications/" + appID + "/secret", `[]`, "W/1", ""},
		{"PUT", "serviceTypes/t1", `{"code":"T","name":"t","serviceCategoryId":"x","defaultServiceId":"y","operatorGroup":""}`, "", ""},
	} {
		f.Add(s.method, s.path, s.body, s.ifMatch, s.correlation)
	}
	m, c := startClient(f, withAdmin(f))
	f.Fuzz(func(t *testing.T, method, path, body, ifMatch, correlation string) {
		c.t = t
		before := lastSeq(t, m, events.StreamDirectory)
		r := asAdmin(method, "/"+strings.TrimPrefix(path, "/"), body)
		r.headers["If-Match"] = ifMatch
		r.headers["X-Correlation-Id"] = correlation
		if _, err := url.Parse(r.path); err != nil {
			t.Skip()
		}
		st, b, _, err := c.try(r)
		if err != nil {
			t.Skip("not a request an HTTP client sends:", err)
		}
		if st >= 500 {
			t.Fatalf("%s %s %q: got %d %s", method, path, body, st, b)
		}
		after := lastSeq(t, m, events.StreamDirectory)
		if st >= 400 {
			adminErrorOf(t, b)
			if after != before {
				t.Fatalf("%s %s %q: refused with %d but wrote %d events", method, path, body, st, after-before)
			}
			return
		}
		for _, msg := range allMessages(t, jetStream(t, m), events.StreamDirectory)[before:] {
			if _, ev, err := events.UnmarshalEvent(msg.Data); err != nil || ev == nil {
				t.Fatalf("event %s does not decode: %v", msg.Data, err)
			}
		}
	})
}
