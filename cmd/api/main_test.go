package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"

	"github.com/casestream/casestream/internal/app"
	goldenfile "github.com/casestream/casestream/internal/golden"
)

// Demo identities, from examples/demo-directory.json.
const (
	alice     = "alice@example.com"
	alicePW   = "alice-password"
	bob       = "bob@example.com"
	bobPW     = "bob-password"
	carol     = "carol@example.com"
	dave      = "dave@example.com"
	aliceID   = "e5f6a7b8-c9d0-4e1f-8a2b-4c5d6e7f8a01"
	bobID     = "e5f6a7b8-c9d0-4e1f-8a2b-4c5d6e7f8a02"
	daveID    = "e5f6a7b8-c9d0-4e1f-8a2b-4c5d6e7f8a04"
	erinID    = "e5f6a7b8-c9d0-4e1f-8a2b-4c5d6e7f8a05"
	downtown  = "5f0c6b1e-2d3a-4c8b-9e71-0a1b2c3d4e01"
	airport   = "5f0c6b1e-2d3a-4c8b-9e71-0a1b2c3d4e02"
	accounts  = "b2c3d4e5-f6a7-4b8c-9d0e-1f2a3b4c5d01"
	openAcct  = "d4e5f6a7-b8c9-4d0e-9f1a-3b4c5d6e7f01"
	appID     = "a7b8c9d0-e1f2-4a3b-8c4d-6e7f8a9b0c01"
	tpQuery   = "touchpoint=demo-kiosk&token=demo-kiosk-token"
	jsonCT    = "application/json"
	jsonUTF8  = "application/json; charset=utf-8"
	demoFileP = "../../examples/demo-directory.json"
)

// startAPI runs the api's Main on a random port with an embedded NATS server in a temp dir.
func startAPI(t testing.TB, data string, mods ...func(*Config)) *Main {
	t.Helper()
	return startMain(t, data, mods, nil)
}

// startClient runs the api as startAPI does, in a temp dir, and returns a client of it too.
func startClient(t testing.TB, mods ...func(*Config)) (*Main, *client) {
	t.Helper()
	m := startAPI(t, t.TempDir(), mods...)
	return m, newClient(t, m)
}

// startMain is startAPI with a change to the Main (its logger) before it runs.
func startMain(t testing.TB, data string, mods []func(*Config), modMain func(*Main)) *Main {
	t.Helper()
	m := NewMain()
	m.Config = Config{
		Config:        app.Config{Addr: "127.0.0.1:0", Data: data, NATSListen: "", Replicas: 1, SyncAlways: false, Projector: true, BcryptCost: bcrypt.MinCost},
		DirectoryFile: demoFileP,
	}
	for _, mod := range mods {
		mod(&m.Config)
	}
	m.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	if testing.Verbose() {
		m.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	if modMain != nil {
		modMain(m)
	}
	m.Stdout = io.Discard
	runMain(t, m)
	return m
}

// client calls one api.
type client struct {
	t    testing.TB
	base string
	hc   *http.Client
}

// newClient returns a client of m with its own connections, closed when the test ends
// (before the api, so that its shutdown does not wait for connections never used).
func newClient(t testing.TB, m *Main) *client {
	hc := &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()}
	t.Cleanup(hc.CloseIdleConnections)
	return &client{t: t, base: "http://" + m.Addr(), hc: hc}
}

// req describes one HTTP request.
type req struct {
	method, path string
	body         string
	contentType  string
	headers      map[string]string
	basic        [2]string
}

func (c *client) do(r req) (int, []byte, http.Header) {
	c.t.Helper()
	st, b, h, err := c.try(r)
	if err != nil {
		c.t.Fatal(err)
	}
	return st, b, h
}

// try is do for requests the client itself may refuse to send (fuzzed paths and headers).
func (c *client) try(r req) (int, []byte, http.Header, error) {
	var body io.Reader
	if r.body != "" {
		body = strings.NewReader(r.body)
	}
	hr, err := http.NewRequest(r.method, c.base+r.path, body)
	if err != nil {
		return 0, nil, nil, err
	}
	if r.body != "" {
		ct := r.contentType
		if ct == "" {
			ct = jsonCT
		}
		hr.Header.Set("Content-Type", ct)
	}
	for k, v := range r.headers {
		hr.Header.Set(k, v)
	}
	if r.basic[0] != "" {
		hr.SetBasicAuth(r.basic[0], r.basic[1])
	}
	resp, err := c.hc.Do(hr)
	if err != nil {
		return 0, nil, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, resp.Header, err
}

// asAlice is an operator API request by alice with the touchpoint in the query.
func asOperator(email, pw, method, path, body string) req {
	sep := "?"
	if strings.Contains(path, "?") {
		sep = "&"
	}
	return req{method: method, path: "/api/v4" + path + sep + tpQuery, body: body, basic: [2]string{email, pw}}
}

// openCase opens a case of the given type code as alice and returns its caseInstanceId.
func (c *client) openCase(category, typeCode string) int64 {
	c.t.Helper()
	id, _ := c.openCaseIDs(category, typeCode)
	return id
}

// openCaseIDs is openCase returning the case's caseId too.
func (c *client) openCaseIDs(category, typeCode string) (id int64, caseID string) {
	c.t.Helper()
	b := c.expect(http.StatusCreated, asOperator(alice, alicePW, "POST", "/cases", fmt.Sprintf(`{"categoryCode":%q,"typeCode":%q}`, category, typeCode)))
	var out struct {
		Case struct {
			ID     int64  `json:"id"`
			CaseID string `json:"caseId"`
		} `json:"case"`
	}
	mustJSON(c.t, b, &out)
	return out.Case.ID, out.Case.CaseID
}

// transition moves a case to a status as alice.
func (c *client) transition(id int64, status string) {
	c.t.Helper()
	c.expect(http.StatusCreated, asOperator(alice, alicePW, "PUT", fmt.Sprintf("/cases/%d/transitions", id), fmt.Sprintf(`{"statusName":%q}`, status)))
}

// openAssigned opens an OPEN_ACCOUNT case as alice, assigns it to the operator with the
// given email, and returns its ids.
func (c *client) openAssigned(email string) (id int64, caseID string) {
	c.t.Helper()
	id, caseID = c.openCaseIDs("ACCOUNTS", "OPEN_ACCOUNT")
	c.expect(http.StatusCreated, asOperator(alice, alicePW, "PUT", fmt.Sprintf("/cases/%d/assignment", id), fmt.Sprintf(`{"email":%q}`, email)))
	return id, caseID
}

func mustJSON(t testing.TB, b []byte, v any) {
	t.Helper()
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("decode %s: %v", b, err)
	}
}

// sameJSON reports whether a and b are the same JSON value.
func sameJSON(a, b []byte) bool {
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return false
	}
	return fmt.Sprint(x) == fmt.Sprint(y)
}

var volatile = regexp.MustCompile(`"(caseId|dateOpened|statusDate|referenceDate|caseTimestamp|queueTimestamp)":"[^"]*"`)

// golden compares got, with ids and times masked, to testdata/name.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	var buf bytes.Buffer
	if err := json.Indent(&buf, volatile.ReplaceAll(got, []byte(`"$1":"*"`)), "", "  "); err != nil {
		t.Fatalf("indent %s: %v", got, err)
	}
	buf.WriteByte('\n')
	goldenfile.Check(t, filepath.Join("testdata", name), buf.Bytes())
}
