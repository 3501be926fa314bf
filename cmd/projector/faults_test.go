package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/casestream/casestream/events"
	"github.com/casestream/casestream/internal/embedded/embeddedtest"
	"github.com/casestream/casestream/internal/eventstore"
	"github.com/casestream/casestream/internal/eventually"
	"github.com/casestream/casestream/internal/httpapi"
	"github.com/casestream/casestream/internal/loadtest"
	"github.com/casestream/casestream/internal/natsauth"
)

// proc is a started program of the fault tests, killed when the test ends if still running.
type proc struct {
	cmd    *exec.Cmd
	log    string
	exited chan struct{} // closed once Wait returned; err is set then
	err    error
}

func startProc(t *testing.T, bin string, args ...string) *proc {
	t.Helper()
	return startProcEnv(t, nil, bin, args...)
}

// startProcEnv is startProc with env added to the test's environment.
func startProcEnv(t *testing.T, env []string, bin string, args ...string) *proc {
	t.Helper()
	logf, err := os.Create(filepath.Join(t.TempDir(), filepath.Base(bin)+".log"))
	if err != nil {
		t.Fatal(err)
	}
	p := &proc{cmd: exec.Command(bin, args...), log: logf.Name(), exited: make(chan struct{})}
	p.cmd.Env = append(os.Environ(), env...)
	p.cmd.Stdout, p.cmd.Stderr = logf, logf
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		p.err = p.cmd.Wait()
		logf.Close()
		close(p.exited)
	}()
	t.Cleanup(func() {
		_ = p.cmd.Process.Kill()
		<-p.exited
	})
	return p
}

// signal sends sig and returns how long the program took to exit, or an error if it had not
// after limit.
func (p *proc) signal(sig os.Signal, limit time.Duration) (time.Duration, error) {
	start := time.Now()
	if err := p.cmd.Process.Signal(sig); err != nil {
		return 0, err
	}
	select {
	case <-p.exited:
		return time.Since(start), nil
	case <-time.After(limit):
		b, _ := os.ReadFile(p.log)
		return 0, fmt.Errorf("%s did not exit within %v of %v:\n%s", filepath.Base(p.cmd.Path), limit, sig, b)
	}
}

// waitReady polls GET /readyz of an HTTP address until it answers 200.
func waitReady(t *testing.T, addr string, total time.Duration) {
	t.Helper()
	eventually.Check(t, total, 50*time.Millisecond, func() error {
		st, b, err := call("GET", "http://"+addr+"/readyz", "", nil)
		if err != nil || st != 200 {
			return fmt.Errorf("readyz %s: %d %s %v", addr, st, b, err)
		}
		return nil
	})
}

// TestSIGTERMWhateverNATSDoes stops NATS (or deletes the CASES stream) under a running api
// and projector, then sends both SIGTERM: each exits within 15 s. Meanwhile, opening a case
// answers 503 with Retry-After.
func TestSIGTERMWhateverNATSDoes(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("builds and runs binaries")
	}
	natsBin, apiBin, projBin := build(t, natsServerPkg), build(t, "./cmd/api"), build(t, "./cmd/projector")
	for _, fault := range []string{"NATS stopped", "CASES stream deleted"} {
		t.Run(fault, func(t *testing.T) {
			nodes := startNATS(t, natsBin, 1)
			apiAddr, projAddr := freeAddr(t), freeAddr(t)
			api := startProc(t, apiBin, append(nodes.serviceArgs(), "-addr", apiAddr, "-projector=false", "-directory", "../../examples/demo-directory.json")...)
			proj := startProc(t, projBin, append(nodes.serviceArgs(), "-addr", projAddr)...)
			waitReady(t, apiAddr, 60*time.Second)
			waitReady(t, projAddr, 60*time.Second)

			switch fault {
			case "NATS stopped":
				if _, err := nodes.procs[nodes.names[0]].signal(os.Interrupt, 15*time.Second); err != nil {
					t.Fatal(err)
				}
			case "CASES stream deleted":
				// Only the admin may delete a stream.
				js, _ := jetstream.New(nodes.connect(t, "admin"))
				if err := js.DeleteStream(context.Background(), events.StreamCases); err != nil {
					t.Fatal(err)
				}
			}
			basic := map[string]string{"Authorization": "Basic " + basicAuth("alice@example.com", "alice-password")}
			eventually.Check(t, 20*time.Second, 50*time.Millisecond, func() error {
				st, b, h, err := callFull("POST", "http://"+apiAddr+"/api/v4/cases?"+tp, `{"categoryCode":"ACCOUNTS","typeCode":"OPEN_ACCOUNT"}`, basic)
				if err != nil || st != http.StatusServiceUnavailable || h.Get("Retry-After") == "" || !strings.Contains(b, `"service":"unavailable"`) {
					return fmt.Errorf("open a case: got %d %s (Retry-After %q) %v, want 503 service unavailable with Retry-After", st, b, h.Get("Retry-After"), err)
				}
				return nil
			})
			for name, p := range map[string]*proc{"api": api, "projector": proj} {
				took, err := p.signal(syscall.SIGTERM, 15*time.Second)
				if err != nil {
					t.Error(err)
					continue
				}
				t.Logf("%s: %s exited %v after SIGTERM", fault, name, took)
			}
		})
	}
}

// procLoad opens cases through an api process, each case with a unique marker in its caseData.
type procLoad struct {
	*loadtest.Load[procResult]
}

type procResult struct {
	marker     string
	status     int
	body       string // of an answer other than 201
	retryAfter bool   // the answer had a Retry-After header
	err        error
	took       time.Duration
}

func startProcLoad(t *testing.T, apiAddr string, workers int, pace time.Duration) procLoad {
	basic := map[string]string{"Authorization": "Basic " + basicAuth("alice@example.com", "alice-password")}
	hc := &http.Client{Timeout: 40 * time.Second, Transport: http.DefaultTransport.(*http.Transport).Clone()}
	return procLoad{loadtest.Start(t, workers, pace, func() (procResult, bool) {
		marker := uuid.NewString()
		body := `{"categoryCode":"ACCOUNTS","typeCode":"OPEN_ACCOUNT","caseData":{"marker":"` + marker + `"}}`
		r, _ := http.NewRequest("POST", "http://"+apiAddr+"/api/v4/cases?"+tp, strings.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
		for k, v := range basic {
			r.Header.Set(k, v)
		}
		start := time.Now()
		res := procResult{marker: marker}
		resp, err := hc.Do(r)
		if err == nil {
			res.status = resp.StatusCode
			res.retryAfter = resp.Header.Get("Retry-After") != ""
			if res.status != http.StatusCreated {
				b, _ := io.ReadAll(resp.Body)
				res.body = string(b)
			}
			resp.Body.Close()
		}
		res.err, res.took = err, time.Since(start)
		return res, res.status == http.StatusCreated
	})}
}

func (l procLoad) atLeast(t *testing.T, n int64, total time.Duration) {
	t.Helper()
	eventually.Check(t, total, 20*time.Millisecond, func() error {
		if got := l.OK(); got < n {
			return fmt.Errorf("got %d cases opened, want %d", got, n)
		}
		return nil
	})
}

// logMarkers returns how many case.opened events of the CASES stream carry each marker.
func logMarkers(t *testing.T, js jetstream.JetStream) map[string]int {
	t.Helper()
	out := map[string]int{}
	var err error
	// A cluster that just lost a node may refuse for a moment.
	eventually.Check(t, 30*time.Second, 100*time.Millisecond, func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		clear(out)
		_, err = eventstore.Replay(ctx, js, events.StreamCases, func(r eventstore.Record) {
			var d struct {
				CaseData struct {
					Marker string `json:"marker"`
				} `json:"caseData"`
			}
			if r.Envelope.Type == events.TypeCaseOpened && json.Unmarshal(r.Envelope.Data, &d) == nil && d.CaseData.Marker != "" {
				out[d.CaseData.Marker]++
			}
		})
		return err
	})
	return out
}

// checkAcknowledged fails the test for every case answered 201 that is not in the log
// exactly once, and returns how many were.
func checkAcknowledged(t *testing.T, results []procResult, inLog map[string]int) int {
	t.Helper()
	n := 0
	for _, r := range results {
		if r.status != http.StatusCreated {
			continue
		}
		n++
		if got := inLog[r.marker]; got != 1 {
			t.Errorf("case %s answered 201: got it %d times in the log, want once", r.marker, got)
		}
	}
	return n
}

// TestAPIKilledUnderLoad kills an api process with SIGKILL while it opens cases: every case
// it answered 201 is in the log exactly once, and an api started again serves.
func TestAPIKilledUnderLoad(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("builds and runs binaries")
	}
	ns, _ := embeddedtest.Start(t)
	nc := embeddedtest.Connect(t, ns, natsauth.Admin)
	apiBin := build(t, "./cmd/api")
	natsURL := ns.ClientURL()
	apiAddr := freeAddr(t)
	args := []string{"-nats-url", natsURL, "-nats-nkey", ns.Keys.SeedFile(natsauth.Service), "-addr", apiAddr, "-directory", "../../examples/demo-directory.json"}
	api := startProc(t, apiBin, args...)
	waitReady(t, apiAddr, 60*time.Second)

	l := startProcLoad(t, apiAddr, 4, 2*time.Millisecond)
	l.atLeast(t, 200, 30*time.Second)
	if _, err := api.signal(syscall.SIGKILL, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	// The load goes on against a dead address until the api is back.
	again := startProc(t, apiBin, args...)
	defer func() {
		if t.Failed() {
			b, _ := os.ReadFile(again.log)
			t.Logf("api started again:\n%s", b)
		}
	}()
	waitReady(t, apiAddr, 60*time.Second)
	before := l.OK()
	l.atLeast(t, before+50, 30*time.Second)
	l.End()

	js := embeddedtest.JetStream(t, nc)
	results := l.Results()
	acked := checkAcknowledged(t, results, logMarkers(t, js))
	failed := 0
	for _, r := range results {
		if r.err != nil || r.status >= 500 {
			failed++
		}
	}
	t.Logf("%d requests, %d answered 201 (all in the log once), %d without an answer or 5xx (the api was dead)", len(results), acked, failed)
}

// TestClusterLeaderKilledUnderLoad runs an api on a three-node cluster (streams with three
// replicas, authenticated as production is) and kills the node leading the CASES stream
// with SIGKILL while cases are being opened: no answer is a 500, none takes longer than
// the request deadline (10 s), every case answered 201 is in the log exactly once, no case
// answered 503 "unavailable" is in it, and a case answered 503 "outcomeUnknown" (the
// cluster did not settle the write within the deadline) is in it at most once.
func TestClusterLeaderKilledUnderLoad(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("builds and runs a NATS cluster")
	}
	natsBin, apiBin := build(t, natsServerPkg), build(t, "./cmd/api")
	nodes := startNATS(t, natsBin, 3)
	js, _ := jetstream.New(nodes.connect(t, "admin"))
	apiAddr := freeAddr(t)
	api := startProc(t, apiBin, append(nodes.serviceArgs(), "-addr", apiAddr, "-replicas", "3", "-directory", "../../examples/demo-directory.json")...)
	defer func() {
		if t.Failed() {
			b, _ := os.ReadFile(api.log)
			t.Logf("api log:\n%s", b)
		}
	}()
	waitReady(t, apiAddr, 90*time.Second)

	l := startProcLoad(t, apiAddr, 4, 5*time.Millisecond)
	l.atLeast(t, 100, 30*time.Second)
	var leader string
	eventually.Check(t, 10*time.Second, 100*time.Millisecond, func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		st, err := js.Stream(ctx, events.StreamCases)
		if err != nil {
			return err
		}
		if c := st.CachedInfo().Cluster; c != nil && nodes.procs[c.Leader] != nil {
			leader = c.Leader
			return nil
		}
		return fmt.Errorf("no leader of %s known", events.StreamCases)
	})
	killed := l.OK()
	if _, err := nodes.procs[leader].signal(syscall.SIGKILL, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	l.atLeast(t, killed+100, 60*time.Second)
	l.End()

	results := l.Results()
	inLog := logMarkers(t, js)
	acked := checkAcknowledged(t, results, inLog)
	var slowest procResult
	refused, unknown, unknownStored := 0, 0, 0
	for _, r := range results {
		if r.took > slowest.took {
			slowest = r
		}
		switch {
		case r.err != nil:
			t.Errorf("no answer after %v: %v", r.took, r.err)
		case r.status == http.StatusServiceUnavailable && !r.retryAfter:
			t.Errorf("case %s answered 503 without Retry-After: %s", r.marker, r.body)
		case r.status == http.StatusServiceUnavailable && strings.Contains(r.body, `"service":"outcomeUnknown"`):
			unknown++
			switch inLog[r.marker] {
			case 0:
			case 1:
				unknownStored++
			default:
				t.Errorf("case %s answered 503 outcome unknown: got it %d times in the log, want at most once", r.marker, inLog[r.marker])
			}
		case r.status == http.StatusServiceUnavailable:
			refused++
			if inLog[r.marker] != 0 {
				t.Errorf("case %s answered 503 %s: got it %d times in the log, want none", r.marker, r.body, inLog[r.marker])
			}
		case r.status != http.StatusCreated:
			t.Errorf("got status %d %s, want 201 or 503", r.status, r.body)
		}
	}
	if slowest.took > httpapi.DefaultRequestTimeout {
		t.Errorf("got a request answered after %v, want every answer within the request deadline (%v)", slowest.took, httpapi.DefaultRequestTimeout)
	}
	t.Logf("leader %s killed: %d requests, %d answered 201 (all in the log once), %d answered 503 unavailable (none in the log), %d answered 503 outcomeUnknown (%d of them in the log); slowest answer %v (%d %s)",
		leader, len(results), acked, refused, unknown, unknownStored, slowest.took, slowest.status, slowest.body)
}
