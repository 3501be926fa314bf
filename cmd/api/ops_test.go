package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/casestream/casestream/events"
	"github.com/casestream/casestream/internal/eventstore"
	"github.com/casestream/casestream/internal/eventually"
	"github.com/casestream/casestream/internal/metricstest"
)

// startLogged is startAPI with the api's JSON log at debug level kept in the returned buffer.
func startLogged(t *testing.T, mods ...func(*Config)) (*Main, *syncBuffer) {
	t.Helper()
	logs := &syncBuffer{}
	m := startAPIWithLogger(t, t.TempDir(), slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})), mods...)
	return m, logs
}

// startAPIWithLogger is startAPI with the given logger.
func startAPIWithLogger(t testing.TB, data string, log *slog.Logger, mods ...func(*Config)) *Main {
	t.Helper()
	return startMain(t, data, mods, func(m *Main) { m.Logger = log })
}

// requestLines decodes the JSON log lines with msg "request".
func requestLines(t testing.TB, log string) []map[string]any {
	t.Helper()
	var out []map[string]any
	sc := bufio.NewScanner(strings.NewReader(log))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var line map[string]any
		if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
			t.Fatalf("log line %q is not JSON: %v", sc.Text(), err)
		}
		if line["msg"] == "request" {
			out = append(out, line)
		}
	}
	return out
}

// TestRequestID checks that X-Request-Id is taken when valid, generated otherwise, echoed,
// logged on the request's line and written as the events' correlationId unless
// X-Correlation-Id is given.
func TestRequestID(t *testing.T) {
	t.Parallel()
	m, logs := startLogged(t)
	c := newClient(t, m)
	tests := []struct {
		name              string
		headers           map[string]string
		wantStatus        int
		wantID            string // "" means a generated one (a uuid)
		wantCorrelationID string // "" means the request id
	}{
		{"given", map[string]string{"X-Request-Id": "abc"}, 201, "abc", "abc"},
		{"correlation id wins", map[string]string{"X-Request-Id": "abc2", "X-Correlation-Id": "corr-1"}, 201, "abc2", "corr-1"},
		{"generated", nil, 201, "", ""},
		{"invalid is refused and replaced", map[string]string{"X-Request-Id": "a b"}, 400, "", ""},
		{"too long is refused and replaced", map[string]string{"X-Request-Id": strings.Repeat("x", 129)}, 400, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := asOperator(alice, alicePW, "POST", "/cases", `{"categoryCode":"ACCOUNTS","typeCode":"OPEN_ACCOUNT"}`)
			r.headers = tt.headers
			st, b, h := c.do(r)
			if st != tt.wantStatus {
				t.Fatalf("got %d %s, want %d", st, b, tt.wantStatus)
			}
			id := h.Get("X-Request-Id")
			switch {
			case tt.wantID != "" && id != tt.wantID:
				t.Fatalf("X-Request-Id: got %q, want %q", id, tt.wantID)
			case tt.wantID == "" && (len(id) != 36 || id == tt.headers["X-Request-Id"]):
				t.Fatalf("X-Request-Id: got %q, want a generated uuid", id)
			}
			if st == 400 && !strings.Contains(string(b), `"requestId"`) {
				t.Errorf("refusal: got %s, want the requestId field", b)
			}
			// The request's own log line carries the id, the route template and the status.
			var line map[string]any
			for _, l := range requestLines(t, logs.String()) {
				if l["request_id"] == id {
					line = l
				}
			}
			if line == nil {
				t.Fatalf("no request line with request_id %q in\n%s", id, logs.String())
			}
			if line["route"] != "/api/v4/cases" || line["method"] != "POST" || line["status"] != float64(tt.wantStatus) || line["duration_ms"] == nil {
				t.Errorf("request line: got %v", line)
			}
			if st != 201 {
				return
			}
			var out struct {
				Case struct {
					ID int64 `json:"id"`
				} `json:"case"`
			}
			mustJSON(t, b, &out)
			recs, err := m.app.Store.Load(context.Background(), events.CaseSubject(out.Case.ID), 0)
			if err != nil || len(recs) == 0 {
				t.Fatalf("load case %d: %v, %d events", out.Case.ID, err, len(recs))
			}
			want := tt.wantCorrelationID
			if want == "" {
				want = id
			}
			if got := recs[0].Envelope.CorrelationID; got != want {
				t.Errorf("correlationId: got %q, want %q", got, want)
			}
		})
	}
}

// TestLogHoldsNoSecrets reads the whole log of a run that signs in, is granted a token, uses
// both, and fails authentication in every way, and finds no password, token, secret or
// Authorization header in it.
func TestLogHoldsNoSecrets(t *testing.T) {
	t.Parallel()
	m, logs := startLogged(t)
	c := newClient(t, m)
	const wrongPW, wrongSecret = "wrong-password-7f3a", "wrong-secret-91bc"
	st, _, h := c.do(req{method: "POST", path: "/api/v4/signin?" + tpQuery, body: fmt.Sprintf(`{"principal":%q,"password":%q}`, alice, alicePW)})
	if st != 200 {
		t.Fatalf("signin: got %d", st)
	}
	cookie := strings.TrimPrefix(strings.Split(h.Get("Set-Cookie"), ";")[0], "casestream_session=")
	if cookie == "" || strings.Contains(cookie, "=") {
		t.Fatalf("session cookie: got %q", h.Get("Set-Cookie"))
	}
	c.do(req{method: "GET", path: "/api/v4/cases?" + tpQuery, headers: map[string]string{"Cookie": h.Get("Set-Cookie")}})
	c.do(req{method: "POST", path: "/api/v4/signin?" + tpQuery, body: fmt.Sprintf(`{"principal":%q,"password":%q}`, alice, wrongPW)})
	c.do(asOperator(bob, bobPW, "GET", "/cases", ""))
	c.do(asOperator(bob, wrongPW, "GET", "/cases", ""))
	c.do(req{method: "GET", path: "/api/v4/cases?touchpoint=demo-kiosk&token=" + wrongSecret, basic: [2]string{alice, alicePW}})
	tok := c.agentToken("demo-app", "demo-app-secret")
	c.do(bearer(tok, "GET", agentPath(aliceID, "/status"), ""))
	c.do(bearer(tok+"x", "GET", agentPath(aliceID, "/status"), ""))
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {"demo-app"}, "client_secret": {wrongSecret}}
	if st, _, _ := c.do(req{method: "POST", path: "/oauth2/token", body: form.Encode(), contentType: "application/x-www-form-urlencoded"}); st != 401 {
		t.Fatalf("wrong client secret: got %d, want 401", st)
	}

	log := logs.String()
	if n := len(requestLines(t, log)); n < 9 {
		t.Fatalf("got %d request lines, want at least 9:\n%s", n, log)
	}
	for name, secret := range map[string]string{
		"password": alicePW, "other password": bobPW, "wrong password": wrongPW,
		"touchpoint token": "demo-kiosk-token", "wrong touchpoint token": wrongSecret,
		"client secret": "demo-app-secret", "access token": tok, "session": cookie,
		"basic credentials":    base64.StdEncoding.EncodeToString([]byte(alice + ":" + alicePW)),
		"Authorization header": "Authorization", "bearer": "Bearer",
	} {
		if strings.Contains(log, secret) {
			t.Errorf("the log holds the %s (%q)", name, secret)
		}
	}
}

// TestReadyz checks /readyz's report: every check by name, 200 when all pass, 503 with the
// failing check when one fails (here no projector answers an api run with -projector=false).
func TestReadyz(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		projector  bool
		wantStatus int
		wantFailed string
	}{
		{"in-process projector", true, 200, ""},
		{"no projector answers", false, 503, "projection"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, c := startClient(t, func(c *Config) { c.Projector = tt.projector })
			// Run returns while the in-process projector replays CASES (503, "projector
			// replaying"): the report settles once it is done.
			var (
				st int
				b  []byte
			)
			eventually.Check(t, 10*time.Second, 20*time.Millisecond, func() error {
				if st, b, _ = c.do(req{method: "GET", path: "/readyz"}); st != tt.wantStatus {
					return fmt.Errorf("got %d %s, want %d", st, b, tt.wantStatus)
				}
				return nil
			})
			var rep struct {
				Status string `json:"status"`
				Checks []struct {
					Name  string `json:"name"`
					OK    bool   `json:"ok"`
					Error string `json:"error"`
				} `json:"checks"`
			}
			mustJSON(t, b, &rep)
			var names, failed []string
			for _, ch := range rep.Checks {
				names = append(names, ch.Name)
				if !ch.OK {
					failed = append(failed, ch.Name)
					if ch.Error == "" {
						t.Errorf("check %s failed without an error", ch.Name)
					}
				}
			}
			if got := strings.Join(names, ","); got != "nats,streams,projection" {
				t.Errorf("checks: got %s, want nats,streams,projection", got)
			}
			wantStatus := "ready"
			if tt.wantFailed != "" {
				wantStatus = "unavailable"
			}
			if rep.Status != wantStatus || strings.Join(failed, ",") != tt.wantFailed {
				t.Errorf("got status %q, failed %v; want %q, failed %q", rep.Status, failed, wantStatus, tt.wantFailed)
			}
		})
	}
}

// TestMetrics lints the api's /metrics and checks that a scripted run moves every
// casestream_ family: commands and their outcomes, the store's commit paths, conflicts and
// duplicates, the projection, and authentication.
func TestMetrics(t *testing.T) {
	t.Parallel()
	m, c := startClient(t)
	base := "http://" + m.Addr()
	before, _ := metricstest.Scrape(t, base)
	ctx := context.Background()

	// Commands, with a refusal and an idempotent replay.
	id := c.openCase("ACCOUNTS", "OPEN_ACCOUNT")
	c.do(asOperator(alice, alicePW, "PUT", fmt.Sprintf("/cases/%d/assignment", id), `{"email":"nobody@example.com"}`))
	note := asOperator(alice, alicePW, "POST", fmt.Sprintf("/cases/%d/notes", id), `{"description":"once"}`)
	note.headers = map[string]string{"Idempotency-Key": "k1"}
	for range 2 {
		c.expect(201, note)
	}
	// Another writer appends to the case behind the api's cache: the api's next append is
	// refused (10071), found to be a conflict, and decided again.
	seq := caseLastSeq(t, m, id)
	other := eventstore.NewJetStream(m.app.JS, eventstore.JetStreamOptions{})
	defer other.Close()
	env := noteEvent(t, id, "elsewhere")
	if _, err := other.Append(ctx, events.CaseSubject(id), seq, []events.Envelope{env}); err != nil {
		t.Fatal(err)
	}
	// Its retry of stored events is a duplicate (10071, then the last id matches).
	if _, err := other.Append(ctx, events.CaseSubject(id), seq, []events.Envelope{env}); !errors.Is(err, eventstore.ErrDuplicate) {
		t.Fatalf("retried append: got %v, want ErrDuplicate", err)
	}
	c.expect(201, asOperator(alice, alicePW, "POST", fmt.Sprintf("/cases/%d/notes", id), `{"description":"after"}`))
	// An append of two events is one atomic batch.
	two := []events.Envelope{noteEvent(t, id, "one"), noteEvent(t, id, "two")}
	if _, err := other.Append(ctx, events.CaseSubject(id), caseLastSeq(t, m, id), two); err != nil {
		t.Fatal(err)
	}
	// Something other than the service writes an event nobody can decode.
	if err := m.app.NC.Publish(events.CaseSubject(999999), []byte("not an envelope")); err != nil {
		t.Fatal(err)
	}
	// A read that must wait for a position the projector never reaches.
	wctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	_ = m.app.Projector.WaitFor(wctx, 1<<40, 0)
	cancel()

	// Authentication: sign-ins, token grants, cache hits, and the guessing limits.
	c.do(req{method: "POST", path: "/api/v4/signin?" + tpQuery, body: fmt.Sprintf(`{"principal":%q,"password":%q}`, bob, bobPW)})
	for range 7 {
		c.do(req{method: "POST", path: "/api/v4/signin?" + tpQuery, body: fmt.Sprintf(`{"principal":%q,"password":"wrong"}`, carol)})
	}
	tok := c.agentToken("demo-app", "demo-app-secret")
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {"demo-app"}, "client_secret": {"wrong"}}
	c.do(req{method: "POST", path: "/oauth2/token", body: form.Encode(), contentType: "application/x-www-form-urlencoded"})
	c.expect(200, bearer(tok, "POST", agentPath(aliceID, "/units/_current"), `{"unitId":"`+downtown+`"}`))

	var after map[string]*dto.MetricFamily
	var body []byte
	// The follower applies the writes beside the requests: wait until the projection shows them.
	eventually.Check(t, 10*time.Second, 20*time.Millisecond, func() error {
		after, body = metricstest.Scrape(t, base)
		if metricstest.Value(after["casestream_projection_agents_with_unit"]) == 0 || metricstest.Value(after["casestream_projection_lag_events"]) != 0 {
			return fmt.Errorf("projection not caught up")
		}
		return nil
	})
	metricstest.Lint(t, body)
	if testing.Verbose() {
		t.Logf("%s", body)
	}

	// Families that a run moves; the rest are state that must be present and sane.
	moved := []string{
		"casestream_http_requests_total", "casestream_http_request_duration_seconds", "casestream_http_errors_total",
		"casestream_commands_total", "casestream_command_decide_rounds_total", "casestream_command_conflicts_total",
		"casestream_case_cache_lookups_total", "casestream_case_cache_entries",
		"casestream_store_append_duration_seconds",
		"casestream_store_wrong_last_sequence_total", "casestream_store_duplicate_appends_total",
		"casestream_idempotent_replays_total", "casestream_events_undecodable_total",
		"casestream_projection_apply_lag_seconds", "casestream_projection_read_waits_total",
		"casestream_projection_applied_sequence", "casestream_stream_last_sequence",
		"casestream_stream_messages", "casestream_stream_bytes",
		"casestream_projection_open_cases", "casestream_projection_agents_with_unit",
		"casestream_auth_signins_total", "casestream_auth_token_grants_total", "casestream_auth_refusals_total",
		"casestream_auth_credential_cache_total", "casestream_auth_bcrypt_comparisons_total",
	}
	for _, name := range moved {
		t.Run(name, func(t *testing.T) {
			if b, a := metricstest.Value(before[name]), metricstest.Value(after[name]); a == b {
				t.Errorf("got %v before and after the run, want it moved", a)
			}
		})
	}
	if v := metricstest.Value(after["casestream_projection_rebuild_duration_seconds"]); v <= 0 {
		t.Errorf("rebuild duration: got %v, want > 0", v)
	}
	if _, ok := after["casestream_projection_lag_events"]; !ok {
		t.Error("casestream_projection_lag_events missing")
	}
	var names []string
	for name := range after {
		if strings.HasPrefix(name, "casestream_") {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	if len(names) < 25 {
		t.Errorf("got %d casestream_ families, want at least 25: %v", len(names), names)
	}
	// Outcomes by result, labelled with the answer's code.
	for _, want := range []string{
		`casestream_commands_total{command="assignCase",result="operatorNotValid"} 1`,
		`casestream_commands_total{command="openCase",result="ok"} 1`,
		`casestream_command_conflicts_total{kind="conflict"} `,
		`casestream_store_wrong_last_sequence_total{outcome="conflict"} `,
		`casestream_store_wrong_last_sequence_total{outcome="duplicate"} `,
		`casestream_store_append_duration_seconds_count{path="atomic_batch"} `,
		`casestream_auth_signins_total{result="NotMatchAnyPrincipal"} 5`,
		`casestream_auth_signins_total{result="TooManyAttempts"} 2`,
		`casestream_auth_refusals_total{reason="too_many_attempts"} 2`,
		`casestream_auth_token_grants_total{result="ok"} 1`,
		`casestream_auth_credential_cache_total{result="hit"} `,
		`casestream_auth_credential_cache_total{result="miss"} `,
		`casestream_case_cache_lookups_total{result="hit"} `,
		`casestream_idempotent_replays_total 1`,
		`casestream_auth_token_grants_total{result="unauthorized"} 1`,
	} {
		if !bytes.Contains(body, []byte(want)) {
			t.Errorf("metrics lack %s", want)
		}
	}
}

// caseLastSeq returns the stream sequence of the case's last event.
func caseLastSeq(t testing.TB, m *Main, id int64) uint64 {
	t.Helper()
	recs, err := m.app.Store.Load(context.Background(), events.CaseSubject(id), 0)
	if err != nil || len(recs) == 0 {
		t.Fatalf("load case %d: %v", id, err)
	}
	return recs[len(recs)-1].Seq
}

// noteIDs numbers the notes noteEvent writes.
var noteIDs atomic.Int64

func init() { noteIDs.Store(900) }

// noteEvent is a case.noteAdded envelope for case id.
func noteEvent(t testing.TB, id int64, text string) events.Envelope {
	t.Helper()
	env, err := events.Wrap(events.Meta{
		ID: fmt.Sprintf("note-%d-%s-%d", id, text, time.Now().UnixNano()), Subject: events.CaseSubject(id), OccurredAt: time.Now(),
		Actor: events.Actor{Kind: events.ActorOperator, ID: aliceID},
	}, events.CaseNoteAdded{NoteID: int(noteIDs.Add(1)), Description: text})
	if err != nil {
		t.Fatal(err)
	}
	return env
}
