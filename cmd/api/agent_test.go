package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// agentToken gets an access token for the demo application.
func (c *client) agentToken(clientID, secret string) string {
	c.t.Helper()
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {clientID}, "client_secret": {secret}, "scope": {"cases"}}
	b := c.expect(200, req{method: "POST", path: "/oauth2/token", body: form.Encode(), contentType: "application/x-www-form-urlencoded"})
	var tok struct {
		TokenType   string `json:"token_type"`
		ExpiresIn   int    `json:"expires_in"`
		ExtExpires  int    `json:"ext_expires_in"`
		AccessToken string `json:"access_token"`
	}
	mustJSON(c.t, b, &tok)
	if tok.TokenType != "Bearer" || tok.ExpiresIn != 3600 || tok.ExtExpires != 3600 || len(tok.AccessToken) < 32 {
		c.t.Fatalf("token answer: got %s", b)
	}
	return tok.AccessToken
}

func bearer(token, method, path, body string) req {
	return req{method: method, path: path, body: body, headers: map[string]string{"Authorization": "Bearer " + token}}
}

func agentPath(userID, rest string) string { return "/" + appID + "/agents/" + userID + rest }

func TestAgentAPIAuth(t *testing.T) {
	t.Parallel()
	_, c := startClient(t)
	tok := c.agentToken("demo-app", "demo-app-secret")
	form := "grant_type=client_credentials&client_id=demo-app&client_secret=wrong"
	tests := []struct {
		name   string
		r      req
		status int
		want   string
	}{
		{"wrong secret", req{method: "POST", path: "/oauth2/token", body: form, contentType: "application/x-www-form-urlencoded"}, 401, `{"message":"invalid client credentials"}`},
		{"wrong grant", req{method: "POST", path: "/oauth2/token", body: "grant_type=password", contentType: "application/x-www-form-urlencoded"}, 400, `{"message":"grant_type must be client_credentials"}`},
		{"no token", req{method: "GET", path: agentPath(aliceID, "/status")}, 401, `{"message":"missing bearer token"}`},
		{"unknown token", bearer("nope", "GET", agentPath(aliceID, "/status"), ""), 401, `{"message":"unknown or expired bearer token"}`},
		{"another application", bearer(tok, "GET", "/00000000-0000-4000-8000-000000000000/agents/"+aliceID+"/status", ""), 403, `{"message":"the token belongs to another application"}`},
		{"unknown user", bearer(tok, "GET", agentPath("00000000-0000-4000-8000-000000000000", "/status"), ""), 404, `{"message":"no such user"}`},
		{"unknown route", bearer(tok, "GET", "/"+appID+"/nothing", ""), 404, `{"message":"no such route"}`},
		{"unknown user's listing", bearer(tok, "GET", agentPath("00000000-0000-4000-8000-000000000000", "/activeCases"), ""), 404, `{"message":"no such user"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st, b, _ := c.do(tt.r)
			if st != tt.status || !sameJSON(b, []byte(tt.want)) {
				t.Fatalf("got %d %s, want %d %s", st, b, tt.status, tt.want)
			}
		})
	}
}

// Applications added with frank, each with one role.
const (
	managerApp      = "a7b8c9d0-e1f2-4a3b-8c4d-6e7f8a9b0c02"
	impersonatorApp = "a7b8c9d0-e1f2-4a3b-8c4d-6e7f8a9b0c03"
)

func TestApplicationRoles(t *testing.T) {
	t.Parallel()
	_, c := startClient(t, withFrank(t))
	manager := c.agentToken("manager-app", "manager-secret")
	impersonator := c.agentToken("impersonator-app", "impersonator-secret")
	queue := `{"serviceTypeId":"` + openAcct + `","channel":"Phone"}`
	tests := []struct {
		name   string
		r      req
		status int
	}{
		{"impersonation without AgentImpersonator", bearer(manager, "GET", "/"+managerApp+"/agents/"+aliceID+"/status", ""), 403},
		{"queue-up without CaseManager", bearer(impersonator, "POST", "/"+impersonatorApp+"/services/"+accounts+"/cases", queue), 403},
		{"impersonation with AgentImpersonator", bearer(impersonator, "GET", "/"+impersonatorApp+"/agents/"+aliceID+"/status", ""), 200},
		{"queue-up with CaseManager", bearer(manager, "POST", "/"+managerApp+"/services/"+accounts+"/cases", queue), 201},
		{"queue-up to an unknown service", bearer(manager, "POST", "/"+managerApp+"/services/00000000-0000-4000-8000-000000000000/cases", queue), 404},
		{"queue-up with an unknown type", bearer(manager, "POST", "/"+managerApp+"/services/"+accounts+"/cases", `{"serviceTypeId":"x","channel":"Phone"}`), 400},
		{"queue-up with an unknown channel", bearer(manager, "POST", "/"+managerApp+"/services/"+accounts+"/cases", `{"serviceTypeId":"`+openAcct+`","channel":"Pigeon"}`), 400},
		{"another application's path", bearer(manager, "POST", "/"+appID+"/services/"+accounts+"/cases", queue), 403},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if st, b, _ := c.do(tt.r); st != tt.status {
				t.Fatalf("got %d %s, want %d", st, b, tt.status)
			}
		})
	}
}

// frankID is an operator added to the demo directory with a unit but no workspace.
const frankID = "e5f6a7b8-c9d0-4e1f-8a2b-4c5d6e7f8a09"

// withFrank writes the demo directory plus frank to a temp file and uses it.
func withFrank(t *testing.T) func(*Config) {
	t.Helper()
	return withDemoEdited(t, func(f map[string][]map[string]any) {
		f["operators"] = append(f["operators"], map[string]any{
			"userId": frankID, "email": "frank@example.com", "displayName": "Frank Foster", "initials": "FF",
			"picture": "", "password": "frank-password", "blocked": false, "serviceTypes": []string{"*"},
			"units": []string{downtown}, "workspaces": []string{}, "roles": []string{"Agent"},
		})
		// Two applications with one role each.
		f["applications"] = append(f["applications"],
			map[string]any{"applicationId": managerApp, "clientId": "manager-app", "clientSecret": "manager-secret", "roles": []string{"CaseManager"}},
			map[string]any{"applicationId": impersonatorApp, "clientId": "impersonator-app", "clientSecret": "impersonator-secret", "roles": []string{"AgentImpersonator"}},
		)
	})
}

func TestActiveCasesContract(t *testing.T) {
	t.Parallel()
	_, c := startClient(t, withFrank(t))
	tok := c.agentToken("demo-app", "demo-app-secret")
	list := func(userID string) (int, []byte) {
		st, b, _ := c.do(bearer(tok, "GET", agentPath(userID, "/activeCases"), ""))
		return st, b
	}
	// No current unit: 403.
	if st, b := list(aliceID); st != 403 || !sameJSON(b, []byte(`{"message":"no current unit selected for the user"}`)) {
		t.Fatalf("no unit: got %d %s, want 403", st, b)
	}
	// bob may not select the airport unit.
	if st, b, _ := c.do(bearer(tok, "POST", agentPath(bobID, "/units/_current"), `{"unitId":"`+airport+`"}`)); st != 403 {
		t.Fatalf("select a unit not allowed: got %d %s, want 403", st, b)
	}
	for _, u := range []string{aliceID, bobID} {
		c.expect(200, bearer(tok, "POST", agentPath(u, "/units/_current"), `{"unitId":"`+downtown+`"}`))
	}
	st, b := list(aliceID)
	if st != 200 || string(b) != "[]" {
		t.Fatalf("empty listing: got %d %s, want 200 []", st, b)
	}
	// A case assigned through the operator API is listed for its agent at once.
	id := c.openCase("ACCOUNTS", "OPEN_ACCOUNT")
	assign := func(body string) {
		t.Helper()
		c.expect(201, asOperator(alice, alicePW, "PUT", fmt.Sprintf("/cases/%d/assignment", id), body))
	}
	assign(`{"email":"alice@example.com"}`)
	st, b = list(aliceID)
	if st != 200 {
		t.Fatalf("listing: got %d %s", st, b)
	}
	golden(t, "active_cases.golden", b)
	// Reassigned: it leaves alice's list and joins bob's, at once.
	assign(`{"email":"bob@example.com"}`)
	if _, b = list(aliceID); string(b) != "[]" {
		t.Fatalf("previous assignee still lists it: %s", b)
	}
	if _, b = list(bobID); !strings.Contains(string(b), `"lockedBy":{"userId":"`+bobID) {
		t.Fatalf("new assignee does not list it: %s", b)
	}
	// frank may select downtown but has no workspace there: 409 1011.
	c.expect(200, bearer(tok, "POST", agentPath(frankID, "/units/_current"), `{"unitId":"`+downtown+`"}`))
	if st, b := list(frankID); st != 409 || !sameJSON(b, []byte(`{"errorCode":1011,"message":"no workspace for the user in the current unit"}`)) {
		t.Fatalf("no workspace: got %d %s, want 409 1011", st, b)
	}
	var arr []map[string]any
	mustJSON(t, b, &arr)
	want := []string{"caseId", "ticket", "serviceCategoryId", "serviceCategoryName", "serviceTypeId", "serviceTypeName", "status", "statusDate", "referenceDate", "dateOpened", "dateClosed", "assignedTo", "lockedBy", "channel", "rank", "unitId", "unitName", "inboxId", "inboxName", "inboxColorCode", "caseTimestamp", "workstationId", "workstationName", "customer", "onlineMeeting", "printedTicket", "contactPhoneNumber", "contactEmail", "entryMode", "fields", "tags"}
	if len(arr) != 1 || len(arr[0]) != len(want) {
		t.Fatalf("fields: got %v, want exactly %v", arr, want)
	}
	for _, k := range want {
		if _, ok := arr[0][k]; !ok {
			t.Errorf("field %s missing", k)
		}
	}
	if arr[0]["fields"] != nil || arr[0]["tags"] != nil {
		t.Errorf("fields and tags: got %v and %v, want null", arr[0]["fields"], arr[0]["tags"])
	}
}

func TestAgentWorkflow(t *testing.T) {
	t.Parallel()
	_, c := startClient(t)
	tok := c.agentToken("demo-app", "demo-app-secret")
	for _, u := range []string{aliceID, bobID} {
		c.expect(200, bearer(tok, "POST", agentPath(u, "/units/_current"), `{"unitId":"`+downtown+`"}`))
	}
	golden(t, "agent_status.golden", c.expect(200, bearer(tok, "GET", agentPath(aliceID, "/status"), "")))
	golden(t, "workspaces.golden", c.expect(200, bearer(tok, "GET", agentPath(aliceID, "/workspaces"), "")))

	// Nothing waits yet: 204.
	if st, b, _ := c.do(bearer(tok, "POST", agentPath(aliceID, "/actions/startNext"), "")); st != http.StatusNoContent {
		t.Fatalf("start-next with nothing waiting: got %d %s, want 204", st, b)
	}
	// Queue up two cases; the first gets position 1, the second 2.
	queue := func() map[string]any {
		t.Helper()
		b := c.expect(201, bearer(tok, "POST", "/"+appID+"/services/"+accounts+"/cases", `{"serviceTypeId":"`+openAcct+`","channel":"FaceToFace","contactPhoneNumber":"+15550100"}`))
		var out map[string]any
		mustJSON(t, b, &out)
		return out
	}
	first, second := queue(), queue()
	if first["position"] != 1.0 || second["position"] != 2.0 || first["status"] != "Waiting" {
		t.Fatalf("positions: got %v and %v, want 1 and 2", first["position"], second["position"])
	}
	// Start-next takes the oldest.
	var started map[string]any
	mustJSON(t, c.expect(200, bearer(tok, "POST", agentPath(aliceID, "/actions/startNext"), `{"workstationId":"desk-4"}`)), &started)
	if started["caseId"] != first["caseId"] || started["status"] != "Active" {
		t.Fatalf("start-next took %v, want the oldest %v", started["caseId"], first["caseId"])
	}
	// bob may not resolve alice's case: 1002. The waiting case cannot be resolved: 1001.
	resolve := func(user string, caseID any) (int, []byte) {
		st, b, _ := c.do(bearer(tok, "POST", agentPath(user, fmt.Sprintf("/cases/%v/actions/resolve", caseID)), ""))
		return st, b
	}
	if st, b := resolve(bobID, first["caseId"]); st != 409 || !strings.Contains(string(b), `"errorCode":1002`) {
		t.Fatalf("resolve another's case: got %d %s, want 409 1002", st, b)
	}
	if st, b := resolve(aliceID, second["caseId"]); st != 409 || !strings.Contains(string(b), `"errorCode":1001`) {
		t.Fatalf("resolve a waiting case: got %d %s, want 409 1001", st, b)
	}
	if st, b := resolve(aliceID, "00000000-0000-4000-8000-000000000000"); st != 404 {
		t.Fatalf("resolve an unknown case: got %d %s, want 404", st, b)
	}
	if st, b := resolve(aliceID, first["caseId"]); st != 200 || !strings.Contains(string(b), `"caseTimestamp"`) {
		t.Fatalf("resolve: got %d %s", st, b)
	}
	if st, b, _ := c.do(bearer(tok, "GET", agentPath(aliceID, "/activeCases"), "")); st != 200 || string(b) != "[]" {
		t.Fatalf("after resolving: got %d %s, want []", st, b)
	}
	var listed []json.RawMessage
	c.expect(200, bearer(tok, "POST", agentPath(bobID, "/actions/startNext"), ""))
	_, b, _ := c.do(bearer(tok, "GET", agentPath(bobID, "/activeCases"), ""))
	mustJSON(t, b, &listed)
	if len(listed) != 1 || !strings.Contains(string(listed[0]), fmt.Sprint(second["caseId"])) {
		t.Fatalf("bob's listing: got %s, want the second case", b)
	}
}
