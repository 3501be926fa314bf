package main

import (
	"bufio"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"
)

// sdkBase is the base path the vendor's SDK builds for a client named acme:
// https://{env}-acme-rest.<host>/acme/api/v4.
const sdkBase = "/acme/api/v4"

// sdkGet sends, on a connection of its own, the bytes the vendor's PHP SDK (curl) sends for a
// GET: the path with the touchpoint and token appended to the query, HTTP Basic email:password,
// and the SDK's User-Agent and Accept-Encoding headers. It returns the status and body.
func sdkGet(t *testing.T, m *Main, path, email, password string) (int, []byte) {
	t.Helper()
	conn, err := net.DialTimeout("tcp", m.Addr(), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(30 * time.Second))
	raw := "GET " + path + "?" + tpQuery + " HTTP/1.1\r\n" +
		"Host: " + m.Addr() + "\r\n" +
		"Authorization: Basic " + base64.StdEncoding.EncodeToString([]byte(email+":"+password)) + "\r\n" +
		"Accept: */*\r\n" +
		"User-Agent: thalamus-sdk-php-v2.0.1\r\n" +
		"Accept-Encoding: *\r\n" +
		"\r\n"
	if _, err := io.WriteString(conn, raw); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, b
}

// sdkCases decodes a getCases answer as the SDK reads it: no "errors" member (the SDK throws
// on one, and on any status from 400), and a "cases" array of case objects, whose ids it
// returns.
func sdkCases(t *testing.T, st int, b []byte) []int64 {
	t.Helper()
	var body map[string]json.RawMessage
	mustJSON(t, b, &body)
	if _, ok := body["errors"]; ok || st >= 400 {
		t.Fatalf("getCases: got %d %s, want a list", st, b)
	}
	var cases []struct {
		ID         *int64          `json:"id"`
		CaseID     string          `json:"caseId"`
		TypeCode   string          `json:"typeCode"`
		Status     string          `json:"status"`
		Comments   []any           `json:"comments"`
		Assignment json.RawMessage `json:"assignment"`
	}
	if err := json.Unmarshal(body["cases"], &cases); err != nil || cases == nil {
		t.Fatalf("getCases: cases %s: want an array of case objects (%v)", body["cases"], err)
	}
	ids := make([]int64, 0, len(cases))
	for _, c := range cases {
		if c.ID == nil || c.CaseID == "" || c.TypeCode == "" || c.Status == "" || c.Comments == nil || len(c.Assignment) == 0 {
			t.Fatalf("getCases: a case object without its fields: %s", b)
		}
		ids = append(ids, *c.ID)
	}
	return ids
}

// TestSDKGetCases runs the SDK's getCases() (GET {base}/cases/ with the touchpoint in the
// query and Basic credentials) against the api started with -base-path, over the wire: it
// answers alice's open cases (opened by her, assigned to her, waiting in her group Tier 2),
// newest first, under the SDK's base path and the plain one.
func TestSDKGetCases(t *testing.T) {
	t.Parallel()
	m, c := startClient(t, func(c *Config) { c.BasePath = sdkBase })
	open := func(email, pw, category, typeCode string) int64 {
		t.Helper()
		st, b, _ := c.do(asOperator(email, pw, "POST", "/cases", fmt.Sprintf(`{"categoryCode":%q,"typeCode":%q}`, category, typeCode)))
		if st != http.StatusCreated {
			t.Fatalf("open %s as %s: got %d %s", typeCode, email, st, b)
		}
		var out struct {
			Case struct {
				ID int64 `json:"id"`
			} `json:"case"`
		}
		mustJSON(t, b, &out)
		return out.Case.ID
	}
	put := func(email, pw, path, body string) {
		t.Helper()
		if st, b, _ := c.do(asOperator(email, pw, "PUT", path, body)); st != http.StatusCreated {
			t.Fatalf("PUT %s %s as %s: got %d %s", path, body, email, st, b)
		}
	}
	const davePW = "dave-password"
	aliceOpened := open(alice, alicePW, "ACCOUNTS", "OPEN_ACCOUNT")
	bobTier1 := open(bob, bobPW, "ACCOUNTS", "OPEN_ACCOUNT")
	put(bob, bobPW, fmt.Sprintf("/cases/%d/assignment", bobTier1), `{"groupName":"Tier 1"}`)
	daveTier2 := open(dave, davePW, "SUPPORT", "COMPLAINT") // waits in Tier 2, alice's group
	bobToAlice := open(bob, bobPW, "ACCOUNTS", "LOST_CARD")
	put(bob, bobPW, fmt.Sprintf("/cases/%d/assignment", bobToAlice), `{"email":"alice@example.com"}`)
	aliceClosed := open(alice, alicePW, "ACCOUNTS", "LOST_CARD")
	put(alice, alicePW, fmt.Sprintf("/cases/%d/transitions", aliceClosed), `{"statusName":"Closed"}`)
	daveOwn := open(dave, davePW, "ACCOUNTS", "LOST_CARD")

	tests := []struct {
		name, path, email, pw string
		want                  []int64
	}{
		{"alice under the SDK's base", sdkBase + "/cases/", alice, alicePW, []int64{bobToAlice, daveTier2, aliceOpened}},
		{"alice under /api/v4", "/api/v4/cases/", alice, alicePW, []int64{bobToAlice, daveTier2, aliceOpened}},
		{"alice without the slash", sdkBase + "/cases", alice, alicePW, []int64{bobToAlice, daveTier2, aliceOpened}},
		{"bob: opened, and Tier 1's", sdkBase + "/cases/", bob, bobPW, []int64{bobToAlice, bobTier1}},
		{"dave: opened, and Tier 2's", sdkBase + "/cases/", dave, davePW, []int64{daveOwn, daveTier2}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st, b := sdkGet(t, m, tt.path, tt.email, tt.pw)
			if got := sdkCases(t, st, b); st != http.StatusOK || !slices.Equal(got, tt.want) {
				t.Errorf("got %d %v, want 200 %v", st, got, tt.want)
			}
		})
	}
	// A wrong method under the SDK's base is a 405 in the operator API's shape.
	st, b, h := c.do(req{method: "DELETE", path: sdkBase + "/cases/?" + tpQuery, basic: [2]string{alice, alicePW}})
	if st != http.StatusMethodNotAllowed || h.Get("Allow") != "GET, POST" || !sameJSON(b, []byte(`{"errors":{"method":"notAllowed"}}`)) {
		t.Errorf("DELETE %s/cases/: got %d Allow %q %s, want 405 Allow \"GET, POST\"", sdkBase, st, h.Get("Allow"), b)
	}
}

// TestCasesPaging checks the case list's page and size parameters and the 400 for bad ones.
func TestCasesPaging(t *testing.T) {
	t.Parallel()
	_, c := startClient(t)
	var ids []int64
	for range 5 {
		ids = append(ids, c.openCase("ACCOUNTS", "OPEN_ACCOUNT"))
	}
	slices.Reverse(ids)
	list := func(query string) (int, []byte) {
		st, b, _ := c.do(asOperator(alice, alicePW, "GET", "/cases"+query, ""))
		return st, b
	}
	pages := []struct {
		query string
		want  []int64
	}{
		{"", ids},
		{"?page=0&size=2", ids[:2]},
		{"?page=1&size=2", ids[2:4]},
		{"?page=2&size=2", ids[4:]},
		{"?page=3&size=2", []int64{}},
		{"?size=200", ids},
		{"?page=&size=", ids},
		{"?page=99999999999", []int64{}},
	}
	for _, tt := range pages {
		t.Run("list"+tt.query, func(t *testing.T) {
			st, b := list(tt.query)
			if got := sdkCases(t, st, b); st != http.StatusOK || !slices.Equal(got, tt.want) {
				t.Errorf("got %d %v, want 200 %v", st, got, tt.want)
			}
		})
	}
	bad := []struct{ query, body string }{
		{"?page=-1", `{"errors":{"page":"invalid"}}`},
		{"?page=x", `{"errors":{"page":"invalid"}}`},
		{"?page=1.5", `{"errors":{"page":"invalid"}}`},
		{"?page=99999999999999999999", `{"errors":{"page":"invalid"}}`},
		{"?size=0", `{"errors":{"size":"invalid"}}`},
		{"?size=201", `{"errors":{"size":"invalid"}}`},
		{"?size=-3", `{"errors":{"size":"invalid"}}`},
		{"?size=ten", `{"errors":{"size":"invalid"}}`},
	}
	for _, tt := range bad {
		t.Run("refused"+tt.query, func(t *testing.T) {
			if st, b := list(tt.query); st != http.StatusBadRequest || !sameJSON(b, []byte(tt.body)) {
				t.Errorf("got %d %s, want 400 %s", st, b, tt.body)
			}
		})
	}
}

// TestSessionCookieUnderBasePath checks that the session cookie's Path is the base path the
// signin came in under, that the cookie works there, and that the context's links are under
// it too.
func TestSessionCookieUnderBasePath(t *testing.T) {
	t.Parallel()
	_, c := startClient(t, func(c *Config) { c.BasePath = sdkBase })
	for _, base := range []string{sdkBase, "/api/v4"} {
		t.Run(base, func(t *testing.T) {
			st, b, h := c.do(req{method: "POST", path: base + "/signin?" + tpQuery, body: `{"principal":"alice@example.com","password":"alice-password"}`})
			if st != http.StatusOK {
				t.Fatalf("signin: got %d %s", st, b)
			}
			// The context's links stay under the base the client came in under.
			var ctx struct {
				Links []struct{ Ref, Href string } `json:"links"`
			}
			if err := json.Unmarshal([]byte(b), &ctx); err != nil || len(ctx.Links) == 0 {
				t.Fatalf("signin context %s: %v", b, err)
			}
			for _, l := range ctx.Links {
				if !strings.HasPrefix(l.Href, base+"/") {
					t.Errorf("link %s: got %s, want it under %s", l.Ref, l.Href, base)
				}
			}
			sc := h.Get("Set-Cookie")
			if !strings.Contains(sc, "; Path="+base+";") && !strings.HasSuffix(sc, "; Path="+base) {
				t.Fatalf("Set-Cookie %q: want Path=%s", sc, base)
			}
			cookie := strings.Split(sc, ";")[0]
			st, b, _ = c.do(req{method: "GET", path: base + "/cases/?" + tpQuery, headers: map[string]string{"Cookie": cookie}})
			if st != http.StatusOK {
				t.Errorf("list with the cookie: got %d %s", st, b)
			}
			_, _, h = c.do(req{method: "GET", path: base + "/logout?" + tpQuery, headers: map[string]string{"Cookie": cookie}})
			if sc := h.Get("Set-Cookie"); !strings.Contains(sc, "Path="+base) {
				t.Errorf("logout Set-Cookie %q: want Path=%s", sc, base)
			}
		})
	}
}

// TestBasePathFlag checks -base-path and its environment twin CASESTREAM_BASE_PATH.
func TestBasePathFlag(t *testing.T) {
	t.Parallel()
	env := func(v string) map[string]string { return map[string]string{"CASESTREAM_BASE_PATH": v} }
	checkFlag(t, func(c Config) string { return c.BasePath }, []flagCase[string]{
		{"default", nil, nil, "", false},
		{"flag", []string{"-base-path", "/acme/api/v4"}, nil, "/acme/api/v4", false},
		{"environment", nil, env("/env/api/v4"), "/env/api/v4", false},
		{"flag wins", []string{"-base-path", "/flag/api/v4"}, env("/env/api/v4"), "/flag/api/v4", false},
		{"flag not ending in /api/v4", []string{"-base-path", "/acme"}, nil, "", true},
		{"environment naming /api/v4 itself", nil, env("/api/v4"), "", true},
	})
}
