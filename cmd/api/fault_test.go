package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/casestream/casestream/events"
	"github.com/casestream/casestream/internal/embedded"
	"github.com/casestream/casestream/internal/eventstore"
	"github.com/casestream/casestream/internal/eventually"
	"github.com/casestream/casestream/internal/loadtest"
	"github.com/casestream/casestream/internal/natsauth"
)

// outcome is one answered (or unanswered) request of a load.
type outcome struct {
	marker string
	status int
	err    error
	retry  string // Retry-After
	start  time.Time
	took   time.Duration
}

// load opens cases as alice, every case carrying a unique marker in its caseData.
type load struct {
	*loadtest.Load[outcome]
}

func startLoad(t *testing.T, m *Main, workers int, pace time.Duration) load {
	t.Helper()
	c := newClient(t, m)
	c.hc.Timeout = 40 * time.Second // past the server's write timeout: a hang shows as an error
	return load{loadtest.Start(t, workers, pace, func() (outcome, bool) {
		marker := uuid.NewString()
		r := asOperator(alice, alicePW, "POST", "/cases",
			`{"categoryCode":"ACCOUNTS","typeCode":"OPEN_ACCOUNT","caseData":{"marker":"`+marker+`"}}`)
		start := time.Now()
		st, _, h, err := c.try(r)
		o := outcome{marker: marker, status: st, err: err, start: start, took: time.Since(start)}
		if h != nil {
			o.retry = h.Get("Retry-After")
		}
		return o, st == http.StatusCreated
	})}
}

// since counts the outcomes of requests started at or after t with the given status.
func (l load) since(t time.Time, status int) int {
	n := 0
	for _, o := range l.Results() {
		if !o.start.Before(t) && o.status == status {
			n++
		}
	}
	return n
}

// markers returns how many case.opened events of the CASES stream carry each marker.
func markers(t *testing.T, js jetstream.JetStream) map[string]int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out := map[string]int{}
	_, err := eventstore.Replay(ctx, js, events.StreamCases, func(r eventstore.Record) {
		if r.Envelope.Type != events.TypeCaseOpened {
			return
		}
		var d struct {
			CaseData struct {
				Marker string `json:"marker"`
			} `json:"caseData"`
		}
		if json.Unmarshal(r.Envelope.Data, &d) == nil && d.CaseData.Marker != "" {
			out[d.CaseData.Marker]++
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestNATSStoppedUnderLoad stops the NATS server an api is connected to (-nats-url) while
// cases are being opened, and starts it again on the same port and store. During the
// outage every answer is a 503 with Retry-After, none a 500, none later than the request
// deadline; afterwards every case answered 201 is in the log exactly once, no case answered
// with an error is in it, and the api serves again soon after NATS is back.
func TestNATSStoppedUnderLoad(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("stops and restarts NATS under load")
	}
	dir, ids := t.TempDir(), t.TempDir()
	ns, err := embedded.Start(embedded.Options{StoreDir: dir, IdentityDir: ids, Listen: "127.0.0.1:-1"})
	if err != nil {
		t.Fatal(err)
	}
	port := ns.Addr().(*net.TCPAddr).Port
	var logs syncBuffer
	m := startMain(t, t.TempDir(), []func(*Config){func(c *Config) {
		c.NATSURL, c.NATSAuth = ns.ClientURL(), natsauth.ClientConfig{Nkey: ns.Keys.SeedFile(natsauth.Service)}
	}}, func(m *Main) {
		m.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	})

	l := startLoad(t, m, 4, 5*time.Millisecond)
	eventually.Check(t, 20*time.Second, 10*time.Millisecond, func() error {
		if n := l.OK(); n < 50 {
			r := l.Results()
			if len(r) > 0 {
				return fmt.Errorf("got %d cases opened before the outage, want 50; last answer %d %v", n, r[len(r)-1].status, r[len(r)-1].err)
			}
			return fmt.Errorf("got %d cases opened before the outage, want 50", n)
		}
		return nil
	})

	stopped := time.Now()
	ns.Shutdown()
	ns.WaitForShutdown()
	// The outage lasts until the api has refused 100 requests that arrived during it.
	eventually.Check(t, 20*time.Second, 10*time.Millisecond, func() error {
		if n := l.since(stopped, http.StatusServiceUnavailable); n < 400 {
			return fmt.Errorf("got %d answers 503 during the outage, want 400", n)
		}
		return nil
	})

	ns2, err := embedded.Start(embedded.Options{StoreDir: dir, IdentityDir: ids, Listen: fmt.Sprintf("127.0.0.1:%d", port)})
	if err != nil {
		t.Fatal(err)
	}
	back := time.Now()
	t.Cleanup(func() { ns2.Shutdown(); ns2.WaitForShutdown() })
	var firstOK time.Duration
	eventually.Check(t, 30*time.Second, 10*time.Millisecond, func() error {
		for _, o := range l.Results() {
			if o.status == http.StatusCreated && !o.start.Before(back) {
				firstOK = o.start.Add(o.took).Sub(back)
				return nil
			}
		}
		return errors.New("no case opened since NATS came back")
	})
	okBack := l.OK()
	eventually.Check(t, 20*time.Second, 10*time.Millisecond, func() error {
		if n := l.OK() - okBack; n < 50 {
			return fmt.Errorf("got %d cases opened after NATS came back, want 50", n)
		}
		return nil
	})
	l.End()

	var (
		results                     = l.Results()
		created, refused, other     int
		maxTook, maxTookRefused     time.Duration
		duringOutage, refusedOutage int
	)
	for _, o := range results {
		maxTook = max(maxTook, o.took)
		inOutage := !o.start.Before(stopped) && o.start.Before(back)
		if inOutage {
			duringOutage++
		}
		switch {
		case o.err != nil:
			other++
			t.Errorf("request started %v after the stop: no answer after %v: %v", o.start.Sub(stopped), o.took, o.err)
		case o.status == http.StatusCreated:
			created++
		case o.status == http.StatusServiceUnavailable:
			refused++
			maxTookRefused = max(maxTookRefused, o.took)
			if inOutage {
				refusedOutage++
			}
			if o.retry == "" {
				t.Errorf("503 without Retry-After (request started %v after the stop)", o.start.Sub(stopped))
			}
		default:
			other++
			t.Errorf("request started %v after the stop: got status %d, want 201 or 503", o.start.Sub(stopped), o.status)
		}
	}
	// Generous: the request deadline is 10 s and the write timeout 30 s.
	if maxTook > 15*time.Second {
		t.Errorf("got a request answered after %v, want every answer within the request deadline", maxTook)
	}

	js, nc := connectJS(t, ns2)
	defer nc.Close()
	inLog := markers(t, js)
	for _, o := range results {
		n := inLog[o.marker]
		switch {
		case o.status == http.StatusCreated && n != 1:
			t.Errorf("case %s answered 201: got it %d times in the log, want once", o.marker, n)
		case o.status != http.StatusCreated && n != 0:
			t.Errorf("case %s answered %d (%v): got it %d times in the log, want none", o.marker, o.status, o.err, n)
		}
	}
	// Both ends of the outage are logged with the server's URL.
	for _, want := range []string{`msg="NATS disconnected" url=` + ns2.ClientURL(), `msg="NATS reconnected" url=` + ns2.ClientURL()} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("got no log line with %s", want)
		}
	}
	t.Logf("%d requests: %d answered 201, %d answered 503 (%d of the %d started during the outage), %d otherwise; slowest answer %v, slowest 503 %v; outage %v; first 201 %v after NATS came back",
		len(results), created, refused, refusedOutage, duringOutage, other, maxTook, maxTookRefused, back.Sub(stopped), firstOK)
}

// syncBuffer is a bytes.Buffer safe for a logger's concurrent writes.
type syncBuffer struct {
	mu  sync.Mutex // guards buf
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
