package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/casestream/casestream/internal/httpapi"
)

// carolID is the demo's blocked operator.
const carolID = "e5f6a7b8-c9d0-4e1f-8a2b-4c5d6e7f8a03"

// behindProxy makes the loopback address a trusted proxy, so that X-Forwarded-For names the
// client address in these tests.
func behindProxy(c *Config) {
	c.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}
}

// from sets X-Forwarded-For on r.
func from(addr string, r req) req {
	h := map[string]string{"X-Forwarded-For": addr}
	for k, v := range r.headers {
		h[k] = v
	}
	r.headers = h
	return r
}

// testLimits are attempt limits that refill in an hour, so that no token comes back during
// a test however slow the machine.
var testLimits = httpapi.AttemptLimits{
	PrincipalBurst: 3, PrincipalEvery: time.Hour, AddressBurst: 6, AddressEvery: time.Hour,
	MaxTracked: 1000, RememberGood: time.Hour,
}

func withTestLimits(c *Config) { l := testLimits; c.Attempts = &l }

// compares is the number of bcrypt comparisons m has run.
func compares(m *Main) uint64 { return m.app.Directory.CompareStats().Total }

func tokenForm(clientID, secret string) req {
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {clientID}, "client_secret": {secret}}
	return req{method: "POST", path: "/oauth2/token", body: form.Encode(), contentType: "application/x-www-form-urlencoded"}
}

func signin(principal, password string) req {
	return req{method: "POST", path: "/api/v4/signin?" + tpQuery, body: fmt.Sprintf(`{"principal":%q,"password":%q}`, principal, password)}
}

// TestGuessingOnePrincipal guesses one principal's secret on each surface: after
// PrincipalBurst failures the next guesses get 429 with Retry-After in the surface's error
// shape and run no bcrypt comparison, while the principal's own correct credentials and
// other clients at the same address keep working.
func TestGuessingOnePrincipal(t *testing.T) {
	t.Parallel()
	m, c := startClient(t, behindProxy, withTestLimits)
	limits := testLimits
	tpBad := "/api/v4/cases?touchpoint=demo-kiosk&token=guess"
	tests := []struct {
		name string
		// guess is the n-th wrong guess; legit the principal's own correct call.
		guess   func(n int) req
		legit   req
		wrong   string
		refused string
	}{
		{
			"sign-in", func(n int) req { return signin("Alice@Example.com", fmt.Sprint("guess-", n)) },
			signin(alice, alicePW), `{"errors":{"credential":"NotMatchAnyPrincipal"}}`, `{"errors":{"credential":"TooManyAttempts"}}`,
		},
		{
			"basic", func(n int) req { return asOperator(bob, fmt.Sprint("guess-", n), "GET", "/cases", "") },
			asOperator(bob, bobPW, "GET", "/cases", ""), `{"errors":{"credential":"NotMatchAnyPrincipal"}}`, `{"errors":{"credential":"TooManyAttempts"}}`,
		},
		{
			"touchpoint", func(n int) req {
				return req{method: "GET", path: tpBad + fmt.Sprint(n), basic: [2]string{alice, alicePW}}
			},
			asOperator(alice, alicePW, "GET", "/cases", ""), `{"errors":{"error.description":"Touchpoint credentials invalid"}}`, `{"errors":{"credential":"TooManyAttempts"}}`,
		},
		{
			"token", func(n int) req { return tokenForm("demo-app", fmt.Sprint("guess-", n)) },
			tokenForm("demo-app", "demo-app-secret"), `{"message":"invalid client credentials"}`,
			`{"errorCode":9002,"message":"too many failed attempts for this client or address; retry after the Retry-After seconds"}`,
		},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// The principal's own client succeeds first: its credentials are then known good.
			if st, b, _ := c.do(tt.legit); st != 200 {
				t.Fatalf("legit call: got %d %s, want 200", st, b)
			}
			guesser := fmt.Sprintf("203.0.113.%d", i+1)
			for n := range limits.PrincipalBurst {
				if st, b, _ := c.do(from(guesser, tt.guess(n))); st != 401 || !sameJSON(b, []byte(tt.wrong)) {
					t.Fatalf("guess %d: got %d %s, want 401 %s", n, st, b, tt.wrong)
				}
			}
			before := compares(m)
			for n := range 3 {
				// From another address too: the principal's bucket is empty.
				addr := guesser
				if n == 2 {
					addr = "198.51.100.1"
				}
				st, b, h := c.do(from(addr, tt.guess(limits.PrincipalBurst+n)))
				if st != http.StatusTooManyRequests || !sameJSON(b, []byte(tt.refused)) {
					t.Fatalf("guess over the limit: got %d %s, want 429 %s", st, b, tt.refused)
				}
				if s, err := strconv.Atoi(h.Get("Retry-After")); err != nil || s < 1 || s > int(limits.PrincipalEvery.Seconds()) {
					t.Errorf("Retry-After: got %q, want 1 to %v seconds", h.Get("Retry-After"), limits.PrincipalEvery.Seconds())
				}
			}
			if after := compares(m); after != before {
				t.Errorf("refused guesses ran %d bcrypt comparisons, want 0", after-before)
			}
			// Meanwhile the principal's own correct credentials, and another operator at the
			// guesser's address, keep working.
			for _, r := range []req{tt.legit, from(guesser, asOperator(dave, "dave-password", "GET", "/cases", ""))} {
				if st, b, _ := c.do(r); st != 200 {
					t.Errorf("correct credentials while guessing: got %d %s, want 200", st, b)
				}
			}
		})
	}
}

// TestGuessingFromOneAddress guesses many principals from one client address: after
// AddressBurst failures that address is refused before any bcrypt work, while other
// addresses are not. X-Forwarded-For counts only from a trusted proxy.
func TestGuessingFromOneAddress(t *testing.T) {
	t.Parallel()
	limits := testLimits
	tests := []struct {
		name  string
		mods  []func(*Config)
		xff   func(n int) string
		other string // a client at another address, which must not be refused
	}{
		{"behind a trusted proxy", []func(*Config){behindProxy, withTestLimits}, func(int) string { return "203.0.113.7" }, "203.0.113.8"},
		// Without trusted proxies the header is the client's to forge: every guess counts
		// against the connection's address whatever it says.
		{"forged X-Forwarded-For", []func(*Config){withTestLimits}, func(n int) string { return fmt.Sprintf("192.0.2.%d", n+1) }, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, c := startClient(t, tt.mods...)
			guess := func(n int) req {
				return from(tt.xff(n), signin(fmt.Sprintf("nobody%d@example.com", n), "guess"))
			}
			for n := range limits.AddressBurst {
				if st, b, _ := c.do(guess(n)); st != 401 {
					t.Fatalf("guess %d: got %d %s, want 401", n, st, b)
				}
			}
			before := compares(m)
			st, b, h := c.do(guess(limits.AddressBurst))
			if st != http.StatusTooManyRequests || !sameJSON(b, []byte(`{"errors":{"credential":"TooManyAttempts"}}`)) || h.Get("Retry-After") == "" {
				t.Fatalf("guess over the limit: got %d %s Retry-After %q, want 429 with Retry-After", st, b, h.Get("Retry-After"))
			}
			if after := compares(m); after != before {
				t.Errorf("a refused guess ran %d bcrypt comparisons, want 0", after-before)
			}
			if tt.other != "" {
				if st, b, _ := c.do(from(tt.other, signin(bob, bobPW))); st != 200 {
					t.Errorf("another address: got %d %s, want 200", st, b)
				}
			}
		})
	}
}

// TestSigninErrorPairs answers each authentication failure of the operator API with the
// vendor SDK's pair, through the HTTP stack.
func TestSigninErrorPairs(t *testing.T) {
	t.Parallel()
	_, c := startClient(t)
	tests := []struct {
		name   string
		r      req
		status int
		want   string
	}{
		{"wrong password", signin(alice, "nope"), 401, `{"errors":{"credential":"NotMatchAnyPrincipal"}}`},
		{"unknown principal", signin("nobody@example.com", alicePW), 401, `{"errors":{"credential":"NotMatchAnyPrincipal"}}`},
		{"no principal", signin("", alicePW), 401, `{"errors":{"credential":"NoCredentialsProvided"}}`},
		{"no password", signin(alice, ""), 401, `{"errors":{"credential":"NoCredentialsProvided"}}`},
		{"empty body", req{method: "POST", path: "/api/v4/signin?" + tpQuery, body: `{}`}, 401, `{"errors":{"credential":"NoCredentialsProvided"}}`},
		{"blocked operator", signin(carol, "carol-password"), 401, `{"errors":{"error.description":"User is disabled"}}`},
		{"blocked operator, wrong password", signin(carol, "nope"), 401, `{"errors":{"credential":"NotMatchAnyPrincipal"}}`},
		{"no touchpoint", req{method: "POST", path: "/api/v4/signin", body: `{"principal":"alice@example.com","password":"alice-password"}`}, 401, `{"errors":{"error.description":"Touchpoint credentials missing"}}`},
		{"wrong touchpoint token", req{method: "POST", path: "/api/v4/signin?touchpoint=demo-kiosk&token=nope", body: `{"principal":"alice@example.com","password":"alice-password"}`}, 401, `{"errors":{"error.description":"Touchpoint credentials invalid"}}`},
		{"call without authentication", req{method: "GET", path: "/api/v4/cases?" + tpQuery}, 401, `{"errors":{"error.message":"UNAUTHORIZED"}}`},
		{"unknown session", req{method: "GET", path: "/api/v4/cases?" + tpQuery, headers: map[string]string{"Cookie": "casestream_session=nope"}}, 401, `{"errors":{"error.message":"UNAUTHORIZED"}}`},
		{"basic, wrong password", asOperator(alice, "nope", "GET", "/cases", ""), 401, `{"errors":{"credential":"NotMatchAnyPrincipal"}}`},
		{"basic, blocked operator", asOperator(carol, "carol-password", "GET", "/cases", ""), 401, `{"errors":{"error.description":"User is disabled"}}`},
		{"logout without touchpoint", req{method: "GET", path: "/api/v4/logout"}, 401, `{"errors":{"error.description":"Touchpoint credentials missing"}}`},
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

// withCarolUnblocked writes the demo directory with carol not blocked and uses it.
func withCarolUnblocked(t *testing.T) func(*Config) {
	t.Helper()
	return withDemoEdited(t, func(f map[string][]map[string]any) {
		for _, op := range f["operators"] {
			if op["userId"] == carolID {
				op["blocked"] = false
			}
		}
	})
}

// TestBlockedOperatorOnAgentAPI blocks an operator who serves a case: every agent call on
// their behalf is 403 and writes nothing, and their case stays as it was.
func TestBlockedOperatorOnAgentAPI(t *testing.T) {
	t.Parallel()
	data := t.TempDir()
	m := startAPI(t, data, withCarolUnblocked(t))
	c := newClient(t, m)
	tok := c.agentToken("demo-app", "demo-app-secret")
	c.expect(200, bearer(tok, "POST", agentPath(carolID, "/units/_current"), `{"unitId":"`+downtown+`"}`))
	served, _ := c.openAssigned(carol)
	caseOf := func(c *client, id int64) string {
		t.Helper()
		b := c.expect(200, asOperator(alice, alicePW, "GET", fmt.Sprintf("/cases/%d", id), ""))
		var out struct {
			CaseID     string          `json:"caseId"`
			Status     string          `json:"status"`
			Assignment json.RawMessage `json:"assignment"`
		}
		mustJSON(t, b, &out)
		return out.CaseID + " " + out.Status + " " + string(out.Assignment)
	}
	before := caseOf(c, served)
	servedID := strings.Fields(before)[0]

	// The demo directory blocks carol.
	m, c = restartAPI(t, m)
	tok = c.agentToken("demo-app", "demo-app-secret")
	waiting := c.openCase("ACCOUNTS", "OPEN_ACCOUNT") // something start-next could take
	positions := func() string {
		t.Helper()
		cs, ds, err := m.app.Positions(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		return fmt.Sprint(cs, " ", ds)
	}
	atStart := positions()
	blocked := `{"errorCode":9001,"message":"the user is blocked"}`
	routes := []req{
		bearer(tok, "GET", agentPath(carolID, "/status"), ""),
		bearer(tok, "POST", agentPath(carolID, "/units/_current"), `{"unitId":"`+downtown+`"}`),
		bearer(tok, "GET", agentPath(carolID, "/workspaces"), ""),
		bearer(tok, "GET", agentPath(carolID, "/activeCases"), ""),
		bearer(tok, "POST", agentPath(carolID, "/actions/startNext"), `{}`),
		bearer(tok, "POST", agentPath(carolID, "/cases/"+servedID+"/actions/resolve"), ""),
	}
	for _, r := range routes {
		t.Run(r.method+" "+strings.TrimPrefix(r.path, agentPath(carolID, "")), func(t *testing.T) {
			if st, b, _ := c.do(r); st != http.StatusForbidden || !sameJSON(b, []byte(blocked)) {
				t.Fatalf("got %d %s, want 403 %s", st, b, blocked)
			}
		})
	}
	if got := positions(); got != atStart {
		t.Errorf("stream positions: got %s, want %s (nothing written)", got, atStart)
	}
	if got := caseOf(c, served); got != before {
		t.Errorf("carol's case: got %s, want %s", got, before)
	}
	if got := caseOf(c, waiting); !strings.Contains(got, " Waiting ") {
		t.Errorf("the waiting case: got %s, want Waiting", got)
	}
	// Another operator's calls are unaffected.
	if st, b, _ := c.do(bearer(tok, "GET", agentPath(aliceID, "/status"), "")); st != 200 {
		t.Errorf("alice's status: got %d %s, want 200", st, b)
	}
}
