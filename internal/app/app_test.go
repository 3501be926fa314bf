package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"golang.org/x/crypto/bcrypt"

	"github.com/casestream/casestream/events"
	"github.com/casestream/casestream/examples"
	"github.com/casestream/casestream/internal/directory"

	"github.com/casestream/casestream/internal/eventually"
	"github.com/casestream/casestream/internal/natsauth"
	"github.com/casestream/casestream/internal/readiness"
	"github.com/casestream/casestream/projection"
)

// demo is the demo directory.
func demo(t *testing.T) *directory.File {
	t.Helper()
	f, err := directory.Parse(examples.DemoDirectory)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// quiet is a logger for apps under test.
var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// get answers a GET of the app's path: status and body.
func get(t *testing.T, a *App, path string) (int, string) {
	t.Helper()
	resp, err := http.Get("http://" + a.Addr() + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

// readyz reads the app's readiness report.
func readyz(t *testing.T, a *App) (int, readiness.Report) {
	t.Helper()
	st, b := get(t, a, "/readyz")
	var r readiness.Report
	if err := json.Unmarshal([]byte(b), &r); err != nil {
		t.Fatalf("readyz body %q: %v", b, err)
	}
	return st, r
}

// check returns the named check's result from a report.
func check(r readiness.Report, name string) readiness.Result {
	for _, c := range r.Checks {
		if c.Name == name {
			return c
		}
	}
	return readiness.Result{Name: name, Error: "not in the report"}
}

// queryService reports whether a projector answers a query over NATS.
func queryService(nc *nats.Conn) error {
	_, _, err := projection.NewClient(nc, 5*time.Second).CaseLookup(context.Background(), "", 0, 0)
	return err
}

// startHeld starts an app whose projector's initial replay waits until the returned release
// is called, or until its context is cancelled, and then runs onCancel (if set). Start runs
// in a goroutine, so that a Start that waited for the replay fails the test instead of
// hanging it.
func startHeld(t *testing.T, data string, onCancel func()) (a *App, release func(), replayCtx func() context.Context) {
	t.Helper()
	gate, entered := make(chan struct{}), make(chan context.Context, 1)
	cfg := Config{
		Addr: "127.0.0.1:0", Data: data, Projector: true, Logger: quiet, Directory: demo(t), DirectoryName: "demo", BcryptCost: bcrypt.MinCost,
		beforeReplay: func(ctx context.Context) {
			entered <- ctx
			select {
			case <-gate:
			case <-ctx.Done():
				if onCancel != nil {
					onCancel()
				}
			}
		},
	}
	type started struct {
		a   *App
		err error
	}
	done := make(chan started, 1)
	go func() {
		a, err := Start(context.Background(), cfg)
		done <- started{a, err}
	}()
	released := false
	release = func() {
		if !released {
			released = true
			close(gate)
		}
	}
	var s started
	err := eventually.Wait(30*time.Second, 10*time.Millisecond, func() error {
		select {
		case s = <-done:
			return nil
		default:
			return errors.New("Start has not returned while the replay is held: it waits for the replay")
		}
	})
	if err != nil {
		release()
		s = <-done
		if s.a != nil {
			s.a.Close()
		}
		t.Fatal(err)
	}
	if s.err != nil {
		t.Fatal(s.err)
	}
	t.Cleanup(func() {
		release()
		s.a.Close()
	})
	var rctx context.Context
	replayCtx = func() context.Context {
		if rctx == nil {
			rctx = <-entered
		}
		return rctx
	}
	return s.a, release, replayCtx
}

// TestReadyAfterReplay checks that an app listens while its projector's initial replay runs:
// /healthz answers 200, /readyz 503 with the projection check saying "projector replaying",
// a listing that needs the replay answers 503 in the operator API's shape, the query service
// is not in the queue group yet; once the replay is done /readyz answers
// 200 and the query service answers.
func TestReadyAfterReplay(t *testing.T) {
	t.Parallel()
	data := t.TempDir()
	// One event in CASES, written by an earlier run: a read must wait for the replay to
	// reach it.
	first, err := Start(context.Background(), Config{Addr: "127.0.0.1:0", Data: data, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	_, err = first.JS.Publish(context.Background(), events.CaseSubject(1), []byte("written before the restart"))
	first.Close()
	if err != nil {
		t.Fatal(err)
	}
	a, release, _ := startHeld(t, data, nil)

	if st, b := get(t, a, "/healthz"); st != http.StatusOK {
		t.Errorf("healthz while replaying: got %d %s, want 200", st, b)
	}
	st, r := readyz(t, a)
	proj := check(r, "projection")
	if st != http.StatusServiceUnavailable || r.Status != "unavailable" || proj.OK || !strings.HasPrefix(proj.Error, "projector replaying") {
		t.Errorf("readyz while replaying: got %d %+v, want 503 with projection failing as %q", st, r, "projector replaying...")
	}
	for _, name := range []string{"nats", "streams"} {
		if c := check(r, name); !c.OK {
			t.Errorf("readyz while replaying: check %s got %+v, want ok", name, c)
		}
	}
	// A read is served, as a 503 in the surface's shape once it has waited for the replay.
	hr, _ := http.NewRequest("GET", "http://"+a.Addr()+"/api/v4/cases?touchpoint=demo-kiosk&token=demo-kiosk-token", nil)
	hr.SetBasicAuth("alice@example.com", "alice-password")
	resp, err := http.DefaultClient.Do(hr)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if want := `{"errors":{"service":"unavailable"}}`; resp.StatusCode != http.StatusServiceUnavailable || strings.TrimSpace(string(b)) != want {
		t.Errorf("a listing while replaying: got %d %s, want 503 %s", resp.StatusCode, b, want)
	}
	if err := queryService(a.NC); !errors.Is(err, nats.ErrNoResponders) {
		t.Errorf("query service while replaying: got %v, want no responders", err)
	}

	release()
	eventually.Check(t, 30*time.Second, 20*time.Millisecond, func() error {
		if st, r := readyz(t, a); st != http.StatusOK || !r.Ready() {
			return fmt.Errorf("readyz after the replay: got %d %+v, want 200 ready", st, r)
		}
		return nil
	})
	if err := queryService(a.NC); err != nil {
		t.Errorf("query service after the replay: got %v, want an answer", err)
	}
}

// TestCloseDuringReplay checks that Close stops a replay still running, first: the
// replay's context is cancelled while HTTP still serves (Close undoes Start's steps in
// reverse), its goroutine has returned when Close does, and Close returns without error.
func TestCloseDuringReplay(t *testing.T) {
	t.Parallel()
	var a *App
	healthzAtCancel := make(chan error, 1)
	a, _, replayCtx := startHeld(t, t.TempDir(), func() {
		resp, err := http.Get("http://" + a.Addr() + "/healthz")
		if err == nil {
			resp.Body.Close()
		}
		healthzAtCancel <- err
	})
	ctx := replayCtx()
	if err := a.Close(); err != nil {
		t.Fatalf("close during the replay: got %v, want nil", err)
	}
	if ctx.Err() == nil {
		t.Fatal("after Close the replay's context is not cancelled")
	}
	select {
	case <-a.replay.exited:
	default:
		t.Error("Close returned before the replay's goroutine did")
	}
	if err := <-healthzAtCancel; err != nil {
		t.Errorf("/healthz when the replay was cancelled: got %v, want an answer (the replay stops before HTTP)", err)
	}
}

// TestRoles checks what each kind of process serves over HTTP: the api both surfaces and
// the probes, a projector only the probes and metrics.
func TestRoles(t *testing.T) {
	t.Parallel()
	api, err := Start(context.Background(), Config{Addr: "127.0.0.1:0", Data: t.TempDir(), NATSListen: "127.0.0.1:-1", Projector: false, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { api.Close() })
	proj, err := Start(context.Background(), Config{
		Addr: "127.0.0.1:0", NATSURL: api.NATSURL(), ProjectorOnly: true, Logger: quiet,
		NATSAuth: natsauth.ClientConfig{Nkey: api.Identities().SeedFile(natsauth.Service)},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { proj.Close() })
	for _, tt := range []struct {
		name string
		a    *App
		path string
		want int
	}{
		{"api healthz", api, "/healthz", 200},
		{"api operator surface", api, "/api/v4/isAlive", 200},
		{"api metrics", api, "/metrics", 200},
		{"projector healthz", proj, "/healthz", 200},
		{"projector metrics", proj, "/metrics", 200},
		{"projector has no operator surface", proj, "/api/v4/isAlive", 404},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if st, b := get(t, tt.a, tt.path); st != tt.want {
				t.Errorf("got %d %s, want %d", st, b, tt.want)
			}
		})
	}
	// The api without a projector is ready once the projector process answers.
	eventually.Check(t, 30*time.Second, 20*time.Millisecond, func() error {
		for _, a := range []*App{proj, api} {
			if st, r := readyz(t, a); st != http.StatusOK {
				return fmt.Errorf("readyz of the %s: got %d %+v, want 200", a.role(), st, r)
			}
		}
		return nil
	})
	if proj.Cases != nil {
		t.Error("a projector has a command side")
	}
}

// TestProjectorOnlyNeedsNATSURL checks that a projector does not start an embedded server of
// its own, where no api would ever write.
func TestProjectorOnlyNeedsNATSURL(t *testing.T) {
	t.Parallel()
	a, err := Start(context.Background(), Config{Addr: "127.0.0.1:0", Data: t.TempDir(), ProjectorOnly: true, Logger: quiet})
	if err == nil {
		a.Close()
		t.Fatal("got a running projector, want an error")
	}
}
