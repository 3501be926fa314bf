package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/casestream/casestream/events"
	"github.com/casestream/casestream/internal/app"
	"github.com/casestream/casestream/internal/directory"
	"github.com/casestream/casestream/internal/embedded/embeddedtest"
	"github.com/casestream/casestream/internal/eventually"
	"github.com/casestream/casestream/internal/metricstest"
	"github.com/casestream/casestream/internal/natsauth"
	"github.com/casestream/casestream/projection"
)

// startPair starts an api without a projector and a projector Main, in this process,
// against one embedded NATS server, and returns the api's and the projector's base URLs once
// the projector is ready.
func startPair(t *testing.T) (api, proj string, nc *nats.Conn, stopNATS func()) {
	t.Helper()
	ns, nc := embeddedtest.Start(t)
	seed := ns.Keys.SeedFile(natsauth.Service)
	dir, err := directory.ReadFile("../../examples/demo-directory.json")
	if err != nil {
		t.Fatal(err)
	}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	n, err := app.Start(context.Background(), app.Config{
		Addr: "127.0.0.1:0", Data: t.TempDir(), NATSURL: ns.ClientURL(), NATSAuth: natsauth.ClientConfig{Nkey: seed},
		Replicas: 1, Directory: dir, DirectoryName: "demo", BcryptCost: 4, Logger: quiet,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close() })
	m := NewMain()
	if err := m.ParseFlags([]string{"-addr", "127.0.0.1:0", "-nats-url", ns.ClientURL(), "-nats-nkey", seed, "-wait", "100ms"}, func(string) (string, bool) { return "", false }); err != nil {
		t.Fatal(err)
	}
	m.Logger = quiet
	if err := m.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	// Run returns while the model is rebuilt; the projector takes queries once /readyz passes.
	proj = "http://" + m.Addr()
	eventually.Check(t, 30*time.Second, 20*time.Millisecond, func() error {
		if st, b, err := call("GET", proj+"/readyz", "", nil); err != nil || st != 200 {
			return fmt.Errorf("projector readyz: %d %s %v", st, b, err)
		}
		return nil
	})
	return "http://" + n.Addr(), proj, nc, func() { ns.Shutdown(); ns.WaitForShutdown() }
}

// TestProjectorMetrics lints the projector's /metrics and checks that writes, a listing and
// a read that cannot be answered in time move every family it exports.
func TestProjectorMetrics(t *testing.T) {
	if testing.Short() {
		t.Skip("starts an api node and a projector")
	}
	api, proj, nc, _ := startPair(t)
	before, _ := metricstest.Scrape(t, proj)

	basic := map[string]string{"Authorization": "Basic " + basicAuth("alice@example.com", "alice-password")}
	if st, b, err := call("POST", api+"/api/v4/cases?"+tp, `{"categoryCode":"ACCOUNTS","typeCode":"OPEN_ACCOUNT"}`, basic); err != nil || st != 201 {
		t.Fatalf("create: %d %s %v", st, b, err)
	}
	bearer := demoAppBearer(t, api)
	if st, b, err := call("POST", api+"/"+appID+"/agents/"+aliceID+"/units/_current", `{"unitId":"`+downtown+`"}`, bearer); err != nil || st != 200 {
		t.Fatalf("select unit: %d %s %v", st, b, err)
	}
	// A read at a position no write reaches waits out the projector's -wait.
	if _, _, err := projection.NewClient(nc, 5*time.Second).CaseLookup(context.Background(), "x", 1<<40, 0); err == nil {
		t.Fatal("lookup at an unreached position: got nil, want not caught up")
	}
	if err := nc.Publish(events.CaseSubject(999999), []byte("not an envelope")); err != nil {
		t.Fatal(err)
	}

	var body []byte
	eventually.Check(t, 10*time.Second, 20*time.Millisecond, func() error {
		mfs, b := metricstest.Scrape(t, proj)
		body = b
		if metricstest.Value(mfs["casestream_projection_agents_with_unit"]) == 0 || metricstest.Value(mfs["casestream_events_undecodable_total"]) == metricstest.Value(before["casestream_events_undecodable_total"]) {
			return fmt.Errorf("projector has not applied the writes")
		}
		return nil
	})
	metricstest.Lint(t, body)
	mfs, body := metricstest.Scrape(t, proj)
	for _, name := range []string{
		"casestream_projection_applied_sequence", "casestream_stream_last_sequence", "casestream_stream_messages",
		"casestream_stream_bytes", "casestream_projection_open_cases", "casestream_projection_agents_with_unit",
		"casestream_projection_apply_lag_seconds", "casestream_projection_read_waits_total", "casestream_events_undecodable_total",
	} {
		t.Run(name, func(t *testing.T) {
			if b, a := metricstest.Value(before[name]), metricstest.Value(mfs[name]); a == b {
				t.Errorf("got %v before and after the run, want it moved", a)
			}
		})
	}
	if v := metricstest.Value(mfs["casestream_projection_rebuild_duration_seconds"]); v <= 0 {
		t.Errorf("rebuild duration: got %v, want > 0", v)
	}
	for _, want := range []string{`casestream_projection_read_waits_total{result="expired"}`, `casestream_projection_lag_events{stream="CASES"} 0`, "go_goroutines", "process_start_time_seconds"} {
		if !strings.Contains(string(body), want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}

// TestProjectorReadyz checks the projector's /readyz: every check by name, 200 while NATS
// answers and the model has caught up, 503 naming the failed checks once NATS is gone.
func TestProjectorReadyz(t *testing.T) {
	if testing.Short() {
		t.Skip("starts an api node and a projector")
	}
	_, proj, _, stopNATS := startPair(t)
	type report struct {
		Status string `json:"status"`
		Checks []struct {
			Name  string `json:"name"`
			OK    bool   `json:"ok"`
			Error string `json:"error"`
		} `json:"checks"`
	}
	read := func() (int, report) {
		st, b, err := call("GET", proj+"/readyz", "", nil)
		if err != nil {
			t.Fatal(err)
		}
		var r report
		if err := json.Unmarshal([]byte(b), &r); err != nil {
			t.Fatalf("readyz body %q: %v", b, err)
		}
		return st, r
	}
	summary := func(r report) string {
		var parts []string
		for _, c := range r.Checks {
			parts = append(parts, fmt.Sprintf("%s=%v", c.Name, c.OK))
		}
		return r.Status + " " + strings.Join(parts, ",")
	}
	if st, r := read(); st != 200 || summary(r) != "ready nats=true,streams=true,projection=true" {
		t.Fatalf("got %d %s, want 200 ready with every check ok", st, summary(r))
	}
	stopNATS()
	eventually.Check(t, 10*time.Second, 20*time.Millisecond, func() error {
		st, r := read()
		if st != 503 || r.Status != "unavailable" || len(r.Checks) != 3 || r.Checks[0].OK || r.Checks[0].Error == "" {
			return fmt.Errorf("got %d %s, want 503 with nats failing", st, summary(r))
		}
		return nil
	})
}
