package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/casestream/casestream/events"
	"github.com/casestream/casestream/internal/embedded/embeddedtest"
	"github.com/casestream/casestream/internal/natsauth"
)

// The admin tokens of the tests.
const (
	rootToken  = "root-token-0123456789abcdef0123456789"
	otherToken = "ops-token-0123456789abcdef0123456789ab"
)

// adminTokensFile writes an admin tokens file naming root and ops.
func adminTokensFile(t testing.TB) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "admins")
	body := "# administrators\nroot:" + rootToken + "\n\nops: " + otherToken + "\n"
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// withAdmin turns the admin API on.
func withAdmin(t testing.TB) func(*Config) {
	p := adminTokensFile(t)
	return func(c *Config) { c.AdminTokensFile = p }
}

// asAdmin is an admin API request with root's token.
func asAdmin(method, path, body string) req {
	return req{method: method, path: "/admin/v1" + path, body: body, headers: map[string]string{"Authorization": "Bearer " + rootToken}}
}

// adminError decodes an admin API error body.
func adminErrorOf(t testing.TB, b []byte) (code, field string) {
	t.Helper()
	var e struct {
		Error struct {
			Code    string `json:"code"`
			Message string `json:"message"`
			Field   string `json:"field"`
		} `json:"error"`
	}
	mustJSON(t, b, &e)
	if e.Error.Code == "" || e.Error.Message == "" {
		t.Fatalf("error body %s: want error.code and error.message", b)
	}
	return e.Error.Code, e.Error.Field
}

// lastDirectoryEvent returns the envelope of the DIRECTORY stream's last message.
func lastDirectoryEvent(t *testing.T, m *Main) (uint64, events.Envelope) {
	t.Helper()
	msgs := allMessages(t, jetStream(t, m), events.StreamDirectory)
	last := msgs[len(msgs)-1]
	env, err := events.Unmarshal(last.Data)
	if err != nil {
		t.Fatal(err)
	}
	return last.Sequence, env
}

func directorySeq(t testing.TB, m *Main) uint64 {
	t.Helper()
	seq, err := m.app.Store.LastSeq(context.Background(), events.StreamDirectory)
	if err != nil {
		t.Fatal(err)
	}
	return seq
}

// TestAdminOff: without admin tokens every /admin path answers 404, token or not.
func TestAdminOff(t *testing.T) {
	t.Parallel()
	_, c := startClient(t)
	for _, r := range []req{
		asAdmin("GET", "/units", ""),
		asAdmin("PUT", "/units/5f0c6b1e-2d3a-4c8b-9e71-0a1b2c3d4e09", `{"name":"x"}`),
		{method: "GET", path: "/admin/v1/operators"},
		{method: "GET", path: "/admin"},
	} {
		if st, b, _ := c.do(r); st != http.StatusNotFound {
			t.Errorf("%s %s: got %d %s, want 404", r.method, r.path, st, b)
		}
	}
}

// TestAdminAuthentication: no token, a wrong token, another scheme: 401 in the admin
// shape with WWW-Authenticate, and nothing written; each configured token works and is
// recorded by its name.
func TestAdminAuthentication(t *testing.T) {
	t.Parallel()
	m, c := startClient(t, withAdmin(t))
	before := directorySeq(t, m)
	body := `{"name":"Harbour","reason":"new branch"}`
	path := "/admin/v1/units/5f0c6b1e-2d3a-4c8b-9e71-0a1b2c3d4e09"
	for name, hdr := range map[string]map[string]string{
		"none":        nil,
		"wrong":       {"Authorization": "Bearer " + rootToken + "x"},
		"prefix":      {"Authorization": "Bearer " + rootToken[:len(rootToken)-1]},
		"basic":       {"Authorization": "Basic " + rootToken},
		"empty":       {"Authorization": "Bearer "},
		"bare token":  {"Authorization": rootToken},
		"other admin": {"Authorization": "Bearer " + strings.ToUpper(otherToken)},
	} {
		t.Run(name, func(t *testing.T) {
			st, b, h := c.do(req{method: "PUT", path: path, body: body, headers: hdr})
			if st != http.StatusUnauthorized || h.Get("WWW-Authenticate") == "" {
				t.Fatalf("got %d %s (WWW-Authenticate %q), want 401 with WWW-Authenticate", st, b, h.Get("WWW-Authenticate"))
			}
			if code, _ := adminErrorOf(t, b); code != "unauthorized" {
				t.Errorf("code: got %s, want unauthorized", code)
			}
		})
	}
	if got := directorySeq(t, m); got != before {
		t.Fatalf("directory: got seq %d after refused calls, want %d", got, before)
	}
	for _, tc := range []struct{ name, token string }{{"root", rootToken}, {"ops", otherToken}} {
		st, b, _ := c.do(req{method: "PUT", path: path, body: `{"name":"Harbour ` + tc.name + `"}`, headers: map[string]string{"Authorization": "Bearer " + tc.token}})
		if st != http.StatusOK && st != http.StatusCreated {
			t.Fatalf("%s: got %d %s", tc.name, st, b)
		}
		if _, env := lastDirectoryEvent(t, m); env.Actor != (events.Actor{Kind: events.ActorAdmin, ID: tc.name}) {
			t.Errorf("%s: actor %+v, want admin %s", tc.name, env.Actor, tc.name)
		}
	}
}

// adminCall is one admin API call of TestAdminCalls and what it must answer.
type adminCall struct {
	name         string
	method, path string
	body         string
	status       int
	// events is the number of DIRECTORY events the call writes; typ the last one's type.
	events int
	typ    string
	// member is the answer's entity member; check, if set, inspects the answer.
	member string
	check  func(t *testing.T, answer map[string]any)
}

const (
	newUnit  = "5f0c6b1e-2d3a-4c8b-9e71-0a1b2c3d4e09"
	newOp    = "e5f6a7b8-c9d0-4e1f-8a2b-4c5d6e7f8a09"
	newApp   = "a7b8c9d0-e1f2-4a3b-8c4d-6e7f8a9b0c09"
	tier1    = "f6a7b8c9-d0e1-4f2a-9b3c-5d6e7f8a9b01"
	frontDsk = "7a3e9d20-1b4c-4f6a-8d2e-3c4b5a6d7e01"
)

// TestAdminCalls makes every admin API call in turn through HTTP: each answers its
// status and the entity as it now is, writes its events with the admin as actor and the
// reason in the envelope, and the GET of the entity reflects it.
func TestAdminCalls(t *testing.T) {
	t.Parallel()
	m, c := startClient(t, withAdmin(t))
	field := func(member, key string, want any) func(t *testing.T, a map[string]any) {
		return func(t *testing.T, a map[string]any) {
			t.Helper()
			e, _ := a[member].(map[string]any)
			if got := fmt.Sprint(e[key]); got != fmt.Sprint(want) {
				t.Errorf("%s.%s: got %s, want %v", member, key, got, want)
			}
		}
	}
	var tpToken, appSecret string
	calls := []adminCall{
		{name: "create unit", method: "PUT", path: "/units/" + newUnit, body: `{"name":"Harbour"}`, status: 201, events: 1, typ: events.TypeUnitDefined, member: "unit", check: field("unit", "name", "Harbour")},
		{name: "same unit again", method: "PUT", path: "/units/" + newUnit, body: `{"unitId":"` + strings.ToUpper(newUnit) + `","name":"Harbour"}`, status: 200, member: "unit"},
		{name: "rename unit", method: "PUT", path: "/units/" + newUnit, body: `{"name":"Harbour Office"}`, status: 200, events: 1, typ: events.TypeUnitDefined, member: "unit", check: field("unit", "name", "Harbour Office")},
		{name: "create inbox", method: "PUT", path: "/inboxes/harbour-desk", body: `{"unitId":"` + newUnit + `","name":"Desk","colorCode":"#000000"}`, status: 201, events: 1, typ: events.TypeInboxDefined, member: "inbox", check: field("inbox", "unitId", newUnit)},
		{name: "create workspace", method: "PUT", path: "/workspaces/harbour-ws", body: `{"unitId":"` + newUnit + `","name":"Harbour","inboxIds":["harbour-desk"]}`, status: 201, events: 1, typ: events.TypeWorkspaceDefined, member: "workspace", check: field("workspace", "startNextBehavior", "Auto")},
		{name: "create service", method: "PUT", path: "/services/harbour-svc", body: `{"unitId":"` + newUnit + `","inboxId":"harbour-desk","name":"Boats","ticketPrefix":"H"}`, status: 201, events: 1, typ: events.TypeServiceDefined, member: "service"},
		{name: "create category", method: "PUT", path: "/serviceCategories/marine", body: `{"code":"MARINE","name":"Marine"}`, status: 201, events: 1, typ: events.TypeServiceCategoryDefined, member: "serviceCategory"},
		{name: "create type", method: "PUT", path: "/serviceTypes/mooring", body: `{"code":"MOORING","name":"Mooring","serviceCategoryId":"marine","defaultServiceId":"harbour-svc","operatorGroup":"Tier 1"}`, status: 201, events: 1, typ: events.TypeServiceTypeDefined, member: "serviceType", check: field("serviceType", "operatorGroup", "Tier 1")},
		{name: "create operator", method: "PUT", path: "/operators/" + newOp, body: `{"email":"fay@example.com","displayName":"Fay Fox","serviceTypes":["MOORING"],"units":["` + newUnit + `"],"workspaces":["harbour-ws"],"roles":["Agent"],"password":"fay-password","reason":"hired"}`, status: 201, events: 2, typ: events.TypeSecretChanged, member: "operator", check: field("operator", "email", "fay@example.com")},
		{name: "authorize operator", method: "PUT", path: "/operators/" + newOp, body: `{"email":"fay@example.com","displayName":"Fay Fox","serviceTypes":["MOORING","LOST_CARD"],"units":["` + newUnit + `","` + downtown + `"],"workspaces":["harbour-ws"],"roles":["Agent"]}`, status: 200, events: 1, typ: events.TypeOperatorDefined, member: "operator", check: field("operator", "serviceTypes", []string{"MOORING", "LOST_CARD"})},
		{name: "block operator", method: "POST", path: "/operators/" + newOp + "/block", body: `{"reason":"left the company"}`, status: 200, events: 1, typ: events.TypeOperatorDefined, member: "operator", check: field("operator", "blocked", true)},
		{name: "block again", method: "POST", path: "/operators/" + newOp + "/block", status: 200, member: "operator", check: field("operator", "blocked", true)},
		{name: "unblock operator", method: "POST", path: "/operators/" + newOp + "/unblock", status: 200, events: 1, typ: events.TypeOperatorDefined, member: "operator", check: field("operator", "blocked", false)},
		{name: "reset password", method: "PUT", path: "/operators/" + newOp + "/password", body: `{"password":"fay-new-password","reason":"forgotten"}`, status: 200, events: 1, typ: events.TypeSecretChanged, member: "operator"},
		{name: "create group", method: "PUT", path: "/groups/harbour-team", body: `{"name":"Harbour Team","members":["` + newOp + `"]}`, status: 201, events: 1, typ: events.TypeGroupDefined, member: "group", check: field("group", "members", []string{newOp})},
		{name: "add member", method: "PUT", path: "/groups/harbour-team/members/" + bobID, status: 200, events: 1, typ: events.TypeGroupDefined, member: "group", check: field("group", "members", []string{newOp, bobID})},
		{name: "remove member", method: "DELETE", path: "/groups/harbour-team/members/" + newOp, body: `{"reason":"moved"}`, status: 200, events: 1, typ: events.TypeGroupDefined, member: "group", check: field("group", "members", []string{bobID})},
		{name: "create touchpoint", method: "PUT", path: "/touchpoints/harbour-kiosk", status: 201, events: 2, typ: events.TypeSecretChanged, member: "touchpoint", check: func(t *testing.T, a map[string]any) {
			tpToken, _ = a["token"].(string)
		}},
		{name: "rotate token", method: "POST", path: "/touchpoints/harbour-kiosk/token", status: 200, events: 1, typ: events.TypeSecretChanged, member: "touchpoint", check: func(t *testing.T, a map[string]any) {
			if tok, _ := a["token"].(string); tok == "" || tok == tpToken {
				t.Errorf("rotated token %q: want a new one", tok)
			} else {
				tpToken = tok
			}
		}},
		{name: "create application", method: "PUT", path: "/applications/" + newApp, body: `{"clientId":"harbour-app","roles":["CaseManager"]}`, status: 201, events: 2, typ: events.TypeSecretChanged, member: "application", check: func(t *testing.T, a map[string]any) {
			appSecret, _ = a["clientSecret"].(string)
		}},
		{name: "application roles", method: "PUT", path: "/applications/" + newApp, body: `{"clientId":"harbour-app","roles":["CaseManager","AgentImpersonator"]}`, status: 200, events: 1, typ: events.TypeApplicationDefined, member: "application"},
		{name: "rotate secret", method: "POST", path: "/applications/" + newApp + "/secret", body: `{"reason":"leaked"}`, status: 200, events: 1, typ: events.TypeSecretChanged, member: "application", check: func(t *testing.T, a map[string]any) {
			if s, _ := a["clientSecret"].(string); s == "" || s == appSecret {
				t.Errorf("rotated secret %q: want a new one", s)
			} else {
				appSecret = s
			}
		}},
	}
	for _, tc := range calls {
		t.Run(tc.name, func(t *testing.T) {
			before := directorySeq(t, m)
			r := asAdmin(tc.method, tc.path, tc.body)
			r.headers["X-Correlation-Id"] = "admin-test"
			st, b, h := c.do(r)
			if st != tc.status {
				t.Fatalf("got %d %s, want %d", st, b, tc.status)
			}
			var a map[string]any
			mustJSON(t, b, &a)
			if _, ok := a[tc.member].(map[string]any); !ok {
				t.Fatalf("answer %s: no %s", b, tc.member)
			}
			after := directorySeq(t, m)
			if got := after - before; got != uint64(tc.events) {
				t.Fatalf("events written: got %d, want %d", got, tc.events)
			}
			if v := fmt.Sprint(a["version"]); h.Get("ETag") != `"`+v+`"` || fmt.Sprint(a["written"]) != fmt.Sprint(tc.events) {
				t.Errorf("version %s, ETag %s, written %v: want the ETag of the version and %d written", v, h.Get("ETag"), a["written"], tc.events)
			}
			if tc.events > 0 {
				_, env := lastDirectoryEvent(t, m)
				var reason struct {
					Reason string `json:"reason"`
				}
				_ = json.Unmarshal([]byte(tc.body), &reason)
				if env.Type != tc.typ || env.Actor != (events.Actor{Kind: events.ActorAdmin, ID: "root"}) || env.Reason != reason.Reason || env.CorrelationID != "admin-test" {
					t.Errorf("last event: got %s by %+v, reason %q, correlation %q; want %s by admin root, reason %q", env.Type, env.Actor, env.Reason, env.CorrelationID, tc.typ, reason.Reason)
				}
			}
			if tc.check != nil {
				tc.check(t, a)
			}
			// The GET of the entity answers the same entity and version.
			path := tc.path
			for _, suffix := range []string{"/block", "/unblock", "/password", "/token", "/secret", "/members/" + bobID, "/members/" + newOp} {
				path = strings.TrimSuffix(path, suffix)
			}
			st, g, gh := c.do(asAdmin("GET", path, ""))
			var got map[string]any
			mustJSON(t, g, &got)
			if st != 200 || fmt.Sprint(got[tc.member]) != fmt.Sprint(a[tc.member]) || gh.Get("ETag") != h.Get("ETag") {
				t.Errorf("GET %s: got %d %s (ETag %s), want the change's %v (ETag %s)", path, st, g, gh.Get("ETag"), a[tc.member], h.Get("ETag"))
			}
		})
	}
	// The lists hold the new entities; no secret is in any answer of a GET.
	for _, l := range []struct{ path, want string }{
		{"/units", newUnit}, {"/inboxes", "harbour-desk"}, {"/workspaces", "harbour-ws"}, {"/services", "harbour-svc"},
		{"/serviceCategories", "MARINE"}, {"/serviceTypes", "MOORING"}, {"/operators", "fay@example.com"},
		{"/groups", "Harbour Team"}, {"/touchpoints", "harbour-kiosk"}, {"/applications", "harbour-app"},
	} {
		st, b, _ := c.do(asAdmin("GET", l.path, ""))
		if st != 200 || !strings.Contains(string(b), l.want) {
			t.Errorf("GET %s: got %d %s, want %s listed", l.path, st, b, l.want)
		}
		if strings.Contains(string(b), "password") || strings.Contains(string(b), tpToken) || strings.Contains(string(b), appSecret) || hashIn(string(b)) != "" {
			t.Errorf("GET %s: a secret in %s", l.path, b)
		}
	}
	// What the calls set takes effect: the operator signs in with the new password through
	// the new touchpoint's rotated token, and the application with its rotated secret.
	q := "touchpoint=harbour-kiosk&token=" + tpToken
	if st, b := signinThrough(c, q, "fay@example.com", "fay-new-password"); st != 200 {
		t.Errorf("fay's new password: got %d %s, want 200", st, b)
	}
	if st, b := signinThrough(c, q, "fay@example.com", "fay-password"); st != 401 {
		t.Errorf("fay's old password: got %d %s, want 401", st, b)
	}
	c.agentToken("harbour-app", appSecret)
	// No hash in any DIRECTORY message.
	for _, msg := range allMessages(t, jetStream(t, m), events.StreamDirectory) {
		if p := hashIn(string(msg.Data)); p != "" || strings.Contains(string(msg.Data), "fay-new-password") {
			t.Errorf("DIRECTORY seq %d: %s", msg.Sequence, msg.Data)
		}
	}
}

// TestAdminBadInput: refused calls answer their 4xx in the admin shape and write nothing.
func TestAdminBadInput(t *testing.T) {
	t.Parallel()
	m, c := startClient(t, withAdmin(t))
	long := strings.Repeat("x", 300)
	for _, tc := range []struct {
		name         string
		method, path string
		body, ct     string
		headers      map[string]string
		status       int
		code, field  string
	}{
		{"unit id not a uuid", "PUT", "/units/branch-9", `{"name":"x"}`, "", nil, 400, "invalid", "unitId"},
		{"unit without name", "PUT", "/units/" + newUnit, `{"name":" "}`, "", nil, 400, "invalid", "name"},
		{"body id differs", "PUT", "/units/" + newUnit, `{"unitId":"` + downtown + `","name":"x"}`, "", nil, 400, "invalid", "unitId"},
		{"unknown member", "PUT", "/units/" + newUnit, `{"name":"x","nmae":"y"}`, "", nil, 400, "invalid", "nmae"},
		{"wrong type", "PUT", "/units/" + newUnit, `{"name":7}`, "", nil, 400, "invalid", "name"},
		{"repeated member", "PUT", "/units/" + newUnit, `{"name":"a","name":"b"}`, "", nil, 400, "invalid", "name"},
		{"not JSON", "PUT", "/units/" + newUnit, `{"name":`, "", nil, 400, "malformedBody", ""},
		{"invalid UTF-8", "PUT", "/units/" + newUnit, "{\"name\":\"\xff\"}", "", nil, 400, "malformedBody", ""},
		{"no body", "PUT", "/units/" + newUnit, "", "", nil, 400, "malformedBody", ""},
		{"not application/json", "PUT", "/units/" + newUnit, `{"name":"x"}`, "text/plain", nil, 415, "unsupportedContentType", ""},
		{"name too long", "PUT", "/units/" + newUnit, `{"name":"` + long + `"}`, "", nil, 400, "invalid", "name"},
		{"reason too long", "PUT", "/units/" + newUnit, `{"name":"x","reason":"` + strings.Repeat("r", 1001) + `"}`, "", nil, 400, "invalid", "reason"},
		{"inbox of no unit", "PUT", "/inboxes/i9", `{"unitId":"` + newUnit + `","name":"x"}`, "", nil, 400, "invalid", "unitId"},
		{"id too long", "PUT", "/inboxes/" + strings.Repeat("i", 65), `{"unitId":"` + downtown + `","name":"x"}`, "", nil, 400, "invalid", "id"},
		{"workspace inbox of another unit", "PUT", "/workspaces/w9", `{"unitId":"` + airport + `","name":"x","inboxIds":["` + frontDsk + `"]}`, "", nil, 400, "invalid", "inboxIds"},
		{"workspace behaviour", "PUT", "/workspaces/w9", `{"unitId":"` + downtown + `","name":"x","inboxIds":[],"startNextBehavior":"Never"}`, "", nil, 400, "invalid", "startNextBehavior"},
		{"service inbox of another unit", "PUT", "/services/s9", `{"unitId":"` + airport + `","inboxId":"` + frontDsk + `","name":"x"}`, "", nil, 400, "invalid", "inboxId"},
		{"category code taken", "PUT", "/serviceCategories/c9", `{"code":"ACCOUNTS","name":"x"}`, "", nil, 400, "invalid", "code"},
		{"type code star", "PUT", "/serviceTypes/t9", `{"code":"*","name":"x","serviceCategoryId":"c3d4e5f6-a7b8-4c9d-8e0f-2a3b4c5d6e01","defaultServiceId":"` + accounts + `"}`, "", nil, 400, "invalid", "code"},
		{"type of no group", "PUT", "/serviceTypes/t9", `{"code":"T9","name":"x","serviceCategoryId":"c3d4e5f6-a7b8-4c9d-8e0f-2a3b4c5d6e01","defaultServiceId":"` + accounts + `","operatorGroup":"Nobody"}`, "", nil, 400, "invalid", "operatorGroup"},
		{"operator without password", "PUT", "/operators/" + newOp, `{"email":"fay@example.com","serviceTypes":[],"units":[],"workspaces":[],"roles":[]}`, "", nil, 400, "invalid", "password"},
		{"operator email taken", "PUT", "/operators/" + newOp, `{"email":"ALICE@example.com","password":"p"}`, "", nil, 400, "invalid", "email"},
		{"operator type unknown", "PUT", "/operators/" + newOp, `{"email":"fay@example.com","password":"p","serviceTypes":["NOPE"]}`, "", nil, 400, "invalid", "serviceTypes"},
		{"operator unit twice", "PUT", "/operators/" + newOp, `{"email":"fay@example.com","password":"p","units":["` + downtown + `","` + downtown + `"]}`, "", nil, 400, "invalid", "units"},
		{"password too long", "PUT", "/operators/" + bobID + "/password", `{"password":"` + strings.Repeat("p", 73) + `"}`, "", nil, 400, "invalid", "password"},
		{"password empty", "PUT", "/operators/" + bobID + "/password", `{"password":""}`, "", nil, 400, "invalid", "password"},
		{"block no one", "POST", "/operators/" + newOp + "/block", "", "", nil, 404, "notFound", ""},
		{"group name taken", "PUT", "/groups/g9", `{"name":"Tier 1","members":[]}`, "", nil, 400, "invalid", "name"},
		{"group member no one", "PUT", "/groups/g9", `{"name":"G9","members":["` + newOp + `"]}`, "", nil, 400, "invalid", "members"},
		{"add no one", "PUT", "/groups/" + tier1 + "/members/" + newOp, "", "", nil, 400, "invalid", "userId"},
		{"no such group", "PUT", "/groups/g9/members/" + bobID, "", "", nil, 404, "notFound", ""},
		{"application role", "PUT", "/applications/" + newApp, `{"clientId":"x","roles":["Root"]}`, "", nil, 400, "invalid", "roles"},
		{"client id taken", "PUT", "/applications/" + newApp, `{"clientId":"demo-app","roles":[]}`, "", nil, 400, "invalid", "clientId"},
		{"rotate no touchpoint", "POST", "/touchpoints/nope/token", "", "", nil, 404, "notFound", ""},
		{"rotate no application", "POST", "/applications/" + newApp + "/secret", "", "", nil, 404, "notFound", ""},
		{"touchpoint code space", "PUT", "/touchpoints/%20kiosk", "", "", nil, 400, "invalid", "code"},
		{"bad If-Match", "PUT", "/units/" + downtown, `{"name":"x"}`, "", map[string]string{"If-Match": "W/abc"}, 400, "invalid", "If-Match"},
		{"stale If-Match", "PUT", "/units/" + downtown, `{"name":"x"}`, "", map[string]string{"If-Match": `"1000000"`}, 412, "versionMismatch", "If-Match"},
		{"create with If-Match of existing", "PUT", "/units/" + newUnit, `{"name":"x"}`, "", map[string]string{"If-Match": `"1"`}, 412, "versionMismatch", "If-Match"},
		{"no such unit", "GET", "/units/" + newUnit, "", "", nil, 404, "notFound", ""},
		{"no such route", "GET", "/nothing", "", "", nil, 404, "notFound", ""},
		{"method", "DELETE", "/units/" + downtown, "", "", nil, 405, "methodNotAllowed", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before, hashes := directorySeq(t, m), bucketHashes(t, jetStream(t, m))
			r := asAdmin(tc.method, tc.path, tc.body)
			r.contentType = tc.ct
			for k, v := range tc.headers {
				r.headers[k] = v
			}
			st, b, _ := c.do(r)
			if st != tc.status {
				t.Fatalf("got %d %s, want %d", st, b, tc.status)
			}
			if code, field := adminErrorOf(t, b); code != tc.code || field != tc.field {
				t.Errorf("got code %s field %q, want %s %q", code, field, tc.code, tc.field)
			}
			if got := directorySeq(t, m); got != before {
				t.Errorf("directory: got seq %d, want %d (nothing written)", got, before)
			}
			if got := bucketHashes(t, jetStream(t, m)); fmt.Sprint(got) != fmt.Sprint(hashes) {
				t.Errorf("credentials bucket changed")
			}
		})
	}
}

// TestAdminIfMatch: a change with the entity's current version applies; the same version
// again is refused, since the first change moved it.
func TestAdminIfMatch(t *testing.T) {
	t.Parallel()
	_, c := startClient(t, withAdmin(t))
	_, _, h := c.do(asAdmin("GET", "/units/"+downtown, ""))
	etag := h.Get("ETag")
	for i, want := range []int{200, 412} {
		r := asAdmin("PUT", "/units/"+downtown, fmt.Sprintf(`{"name":"Downtown %d"}`, i))
		r.headers["If-Match"] = etag
		if st, b, _ := c.do(r); st != want {
			t.Errorf("PUT %d with If-Match %s: got %d %s, want %d", i, etag, st, b, want)
		}
	}
}

// startReplicas starts two api nodes on one NATS server, as separate replicas: each its own
// directory view and projector, the admin API on both.
func startReplicas(t *testing.T) (a, b *Main) {
	t.Helper()
	ns, _ := embeddedtest.Start(t)
	seed := ns.Keys.SeedFile(natsauth.Service)
	replica := func(c *Config) {
		c.NATSURL = ns.ClientURL()
		c.NATSAuth = natsauth.ClientConfig{Nkey: seed}
	}
	tokens := withAdmin(t)
	a = startAPI(t, t.TempDir(), replica, tokens)
	b = startAPI(t, t.TempDir(), replica, tokens)
	return a, b
}

// TestAdminBlockOnAnotherReplica blocks bob through one replica; on the other, at once,
// assigning him a case is refused (email: blocked), he can neither sign in nor act, and the
// case assigned to him before stays his; unblocking him through the first replica lets the
// other assign him again at once. The block is in the DIRECTORY stream with the admin as
// actor and the reason. Rounds repeat it, so that a replica answering from a view that
// has not applied the change yet is caught.
func TestAdminBlockOnAnotherReplica(t *testing.T) {
	t.Parallel()
	a, b := startReplicas(t)
	ca, cb := newClient(t, a), newClient(t, b)
	held := cb.openCase("ACCOUNTS", "OPEN_ACCOUNT")
	if st, body, _ := cb.do(asOperator(alice, alicePW, "PUT", fmt.Sprintf("/cases/%d/assignment", held), `{"email":"bob@example.com"}`)); st != 201 {
		t.Fatalf("assign bob: got %d %s", st, body)
	}
	for round := range 5 {
		reason := fmt.Sprintf("round %d", round)
		if st, body, _ := ca.do(asAdmin("POST", "/operators/"+bobID+"/block", `{"reason":"`+reason+`"}`)); st != 200 {
			t.Fatalf("block: got %d %s", st, body)
		}
		seq, env := lastDirectoryEvent(t, a)
		if env.Type != events.TypeOperatorDefined || env.Actor != (events.Actor{Kind: events.ActorAdmin, ID: "root"}) || env.Reason != reason {
			t.Fatalf("DIRECTORY seq %d: got %s by %+v reason %q, want the block by admin root, reason %q", seq, env.Type, env.Actor, env.Reason, reason)
		}
		id := cb.openCase("ACCOUNTS", "OPEN_ACCOUNT")
		st, body, _ := cb.do(asOperator(alice, alicePW, "PUT", fmt.Sprintf("/cases/%d/assignment", id), `{"email":"bob@example.com"}`))
		if st != 400 || !sameJSON(body, []byte(`{"errors":{"email":"blocked"}}`)) {
			t.Fatalf("round %d: assign blocked bob on the other replica: got %d %s, want 400 email blocked", round, st, body)
		}
		if st, body := signinThrough(cb, tpQuery, bob, bobPW); st != 401 {
			t.Fatalf("round %d: blocked bob signs in on the other replica: got %d %s, want 401", round, st, body)
		}
		if st, body, _ := cb.do(asOperator(bob, bobPW, "GET", "/cases", "")); st != 401 {
			t.Fatalf("round %d: blocked bob acts on the other replica: got %d %s, want 401", round, st, body)
		}
		st, body, _ = cb.do(asOperator(alice, alicePW, "GET", fmt.Sprintf("/cases/%d", held), ""))
		if st != 200 || !strings.Contains(string(body), `"email":"bob@example.com"`) {
			t.Fatalf("round %d: bob's case: got %d %s, want still assigned to bob", round, st, body)
		}
		if st, body, _ := ca.do(asAdmin("POST", "/operators/"+bobID+"/unblock", "")); st != 200 {
			t.Fatalf("unblock: got %d %s", st, body)
		}
		if st, body, _ := cb.do(asOperator(alice, alicePW, "PUT", fmt.Sprintf("/cases/%d/assignment", id), `{"email":"bob@example.com"}`)); st != 201 {
			t.Fatalf("round %d: assign unblocked bob on the other replica: got %d %s, want 201", round, st, body)
		}
	}
}

// TestAdminPasswordOnAnotherReplica resets dave's password through one replica: on the
// other, at once, the old password is refused and the new one accepted, and no DIRECTORY
// message holds a hash or the password.
func TestAdminPasswordOnAnotherReplica(t *testing.T) {
	t.Parallel()
	a, b := startReplicas(t)
	ca, cb := newClient(t, a), newClient(t, b)
	// Both replicas have verified the old password (and cached it).
	for _, c := range []*client{ca, cb} {
		if st, body := signinThrough(c, tpQuery, dave, "dave-password"); st != 200 {
			t.Fatalf("dave: got %d %s", st, body)
		}
	}
	pw := "dave-password"
	for round := range 3 {
		next := fmt.Sprintf("dave-password-%d", round)
		if st, body, _ := ca.do(asAdmin("PUT", "/operators/"+daveID+"/password", `{"password":"`+next+`","reason":"reset"}`)); st != 200 {
			t.Fatalf("reset: got %d %s", st, body)
		}
		for name, c := range map[string]*client{"other": cb, "same": ca} {
			if st, body := signinThrough(c, tpQuery, dave, pw); st != 401 {
				t.Errorf("round %d, %s replica: old password: got %d %s, want 401", round, name, st, body)
			}
			if st, body := signinThrough(c, tpQuery, dave, next); st != 200 {
				t.Errorf("round %d, %s replica: new password: got %d %s, want 200", round, name, st, body)
			}
		}
		pw = next
	}
	for _, msg := range allMessages(t, jetStream(t, a), events.StreamDirectory) {
		if p := hashIn(string(msg.Data)); p != "" || strings.Contains(string(msg.Data), "dave-password") {
			t.Errorf("DIRECTORY seq %d holds a secret: %s", msg.Sequence, msg.Data)
		}
	}
}
