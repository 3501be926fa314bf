package app_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"flag"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/casestream/casestream/events"
	"github.com/casestream/casestream/examples"
	"github.com/casestream/casestream/internal/app"
	"github.com/casestream/casestream/internal/directory"
	"github.com/casestream/casestream/internal/eventstore"
	"github.com/casestream/casestream/internal/powerloss"
)

var (
	powerCuts = flag.Int("powerloss.cuts", 3, "power cuts per durability mode in TestPowerLoss")
	powerSeed = flag.Uint64("powerloss.seed", 0, "seed of TestPowerLoss's cut moments (0: from the clock)")
)

// TestPowerLoss runs a node whose store is on a file system that drops what was not synced,
// cuts the power while clients create and assign cases through the operator API, restarts
// on what is left, and checks that every request answered 2xx is in the log exactly once and
// that every case loads. With SyncAlways nothing acknowledged may be lost; without it the
// test must see losses, or it would not be testing anything.
func TestPowerLoss(t *testing.T) {
	t.Parallel()
	if err := powerloss.Available(); err != nil {
		t.Skip(err)
	}
	seed := *powerSeed
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	t.Logf("seed %d (-powerloss.seed), %d cuts per mode (-powerloss.cuts)", seed, *powerCuts)
	for _, tt := range []struct {
		name       string
		syncAlways bool
		group      bool
		lossy      bool // must lose acknowledged requests
	}{
		{name: "sync always", syncAlways: true},
		{name: "group commit", group: true},
		{name: "sync lazily", lossy: true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := &powerHarness{t: t, syncAlways: tt.syncAlways, group: tt.group, rnd: rand.New(rand.NewPCG(seed, 0)), acked: map[string]ack{}, lost: map[string]bool{}}
			h.setUp()
			var ackedTotal, lostTotal int
			for cut := range *powerCuts {
				acked := h.load()
				st := h.fs.Stats()
				lost := h.cutAndRestart()
				ackedTotal += acked
				lostTotal += lost
				t.Logf("cut %d: %d requests answered 2xx since the last cut, %d acknowledged requests lost (the store's file system saw %d writes, %d file syncs, %d directory syncs since its mount)",
					cut+1, acked, lost, st.Writes, st.FileSyncs, st.DirSyncs)
			}
			h.stop()
			t.Logf("%d cuts: %d requests answered 2xx, %d lost", *powerCuts, ackedTotal, lostTotal)
			if !tt.lossy && lostTotal > 0 {
				t.Errorf("%s: %d acknowledged requests were lost, want 0", tt.name, lostTotal)
			}
			if tt.lossy && lostTotal == 0 {
				t.Errorf("%s: no acknowledged request was lost over %d cuts: the cuts drop nothing", tt.name, *powerCuts)
			}
		})
	}
}

// ack is a request answered 2xx: what it did and to which case.
type ack struct {
	what   string // "create" or "assign"
	caseID int64
}

type powerHarness struct {
	t          *testing.T
	syncAlways bool
	group      bool
	rnd        *rand.Rand
	dir        *directory.File
	backing    string
	mnt        string
	fs         *powerloss.FS
	n          *app.App

	mu    sync.Mutex      // guards acked and lost while clients run
	acked map[string]ack  // by correlation id
	lost  map[string]bool // acknowledged requests found missing after a cut
	next  atomic.Int64    // correlation ids
	shown uint64          // the last CASES sequence the projection had applied at the cut
}

func (h *powerHarness) setUp() {
	t := h.t
	f, err := directory.Parse(examples.DemoDirectory)
	if err != nil {
		t.Fatal(err)
	}
	h.dir = f
	h.backing, h.mnt = t.TempDir(), t.TempDir()
	h.mount()
	h.start()
	// The streams and the directory were written a while before the first cut: the kernel
	// has written everything back since.
	if err := h.fs.SyncAll(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.stop)
}

func (h *powerHarness) mount() {
	fs, err := powerloss.Mount(h.backing, h.mnt)
	if err != nil {
		h.t.Fatal(err)
	}
	h.fs = fs
}

func (h *powerHarness) start() {
	n, err := app.Start(context.Background(), app.Config{
		Addr: "127.0.0.1:0", Data: h.mnt, SyncAlways: h.syncAlways, GroupCommit: h.group,
		// After a cut every sync fails: the node must not stop the test's process.
		OnSyncError: func(error) {}, Projector: true,
		Directory: h.dir, DirectoryName: "demo directory", BcryptCost: bcrypt.MinCost,
		Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		h.t.Fatalf("start the app: %v", err)
	}
	h.n = n
}

func (h *powerHarness) stop() {
	if h.n != nil {
		h.n.Close()
		h.n = nil
	}
	if h.fs != nil {
		if err := h.fs.Close(); err != nil {
			h.t.Error(err)
		}
		h.fs = nil
	}
}

// load runs clients that open cases and assign them back and forth, and cuts the power once
// a random number of requests were answered 2xx, while others are in flight. It returns how
// many were answered 2xx, counting those answered after the cut.
func (h *powerHarness) load() int {
	const clients = 8
	target := int64(20 + h.rnd.IntN(180))
	h.mu.Lock()
	before := len(h.acked)
	h.mu.Unlock()
	var (
		answered atomic.Int64
		cutting  atomic.Bool
		wg       sync.WaitGroup
	)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cut := func() {
		if !cutting.Swap(true) {
			h.shown = h.n.Projector.Model().LastSeq()
			h.fs.Cut()
			cancel()
		}
	}
	client := &http.Client{Timeout: 30 * time.Second}
	defer client.CloseIdleConnections()
	for range clients {
		wg.Go(func() {
			for ctx.Err() == nil {
				id, ok := h.request(ctx, client, 0, "")
				for i := 0; ok && i < 3; i++ {
					_, ok = h.request(ctx, client, id, assignTargets[i%2])
				}
				if !ok && !cutting.Load() {
					h.t.Errorf("a request was answered other than 2xx before the power cut")
					cut()
				}
				if answered.Add(4) >= target {
					cut()
				}
			}
		})
	}
	wg.Wait()
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.acked) - before
}

var assignTargets = [2]string{"bob@example.com", "dave@example.com"}

// request opens a case (caseID 0) or assigns one to an operator, as alice, with a fresh
// correlation id that the request's events carry. A 2xx answer is recorded as acknowledged.
func (h *powerHarness) request(ctx context.Context, client *http.Client, caseID int64, email string) (int64, bool) {
	corr := "powerloss-" + strconv.FormatInt(h.next.Add(1), 10)
	method, path, body, what := http.MethodPost, "/api/v4/cases", `{"categoryCode":"ACCOUNTS","typeCode":"LOST_CARD"}`, "create"
	if caseID != 0 {
		method, path, what = http.MethodPut, "/api/v4/cases/"+strconv.FormatInt(caseID, 10)+"/assignment", "assign"
		body = `{"email":"` + email + `"}`
	}
	req, err := http.NewRequestWithContext(ctx, method, "http://"+h.n.Addr()+path, bytes.NewReader([]byte(body)))
	if err != nil {
		h.t.Error(err)
		return 0, false
	}
	req.Header.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte("alice@example.com:alice-password")))
	req.Header.Set("Thalamus-Touchpoint", "demo-kiosk")
	req.Header.Set("Thalamus-Token", "demo-kiosk-token")
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Correlation-Id", corr)
	resp, err := client.Do(req)
	if err != nil {
		return 0, false
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode/100 != 2 {
		return 0, false
	}
	var answer struct {
		Case struct {
			ID int64 `json:"id"`
		} `json:"case"`
	}
	if err := json.Unmarshal(b, &answer); err != nil || answer.Case.ID <= 0 {
		h.t.Errorf("%s answered %d %s: no case id", what, resp.StatusCode, b)
		return 0, false
	}
	h.mu.Lock()
	h.acked[corr] = ack{what: what, caseID: answer.Case.ID}
	h.mu.Unlock()
	return answer.Case.ID, true
}

// cutAndRestart stops the node whose power was cut, restarts it on what the file system
// kept, and checks the log. It returns how many acknowledged requests it found lost.
func (h *powerHarness) cutAndRestart() int {
	t := h.t
	h.n.Close()
	h.n = nil
	if err := h.fs.Close(); err != nil {
		t.Fatal(err)
	}
	h.fs = nil
	h.mount()
	h.start()
	return h.check()
}

// check reads the whole CASES stream and checks that every acknowledged request not found
// lost before has its events there, once, on its case, and that every case loads. It
// returns how many acknowledged requests it newly found missing.
func (h *powerHarness) check() int {
	t := h.t
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	byCorr := map[string][]eventstore.Record{}
	ids := map[string]bool{}
	caseIDs := map[int64]bool{}
	_, err := eventstore.Replay(ctx, h.n.JS, events.StreamCases, func(r eventstore.Record) {
		if ids[r.Envelope.ID] {
			t.Errorf("event %s (%s on %s) is in the log twice", r.Envelope.ID, r.Envelope.Type, r.Envelope.Subject)
		}
		ids[r.Envelope.ID] = true
		byCorr[r.Envelope.CorrelationID] = append(byCorr[r.Envelope.CorrelationID], r)
		if id, ok := events.CaseInstanceID(r.Envelope.Subject); ok {
			caseIDs[id] = true
		}
	})
	if err != nil {
		t.Fatalf("replay CASES: %v", err)
	}
	// What the projection showed before the cut must have survived it: it applies only
	// durable events. (SyncAlways projects what its server stores, which it synced first.)
	if last, err := h.n.Store.LastSeq(ctx, events.StreamCases); err != nil {
		t.Fatal(err)
	} else if last < h.shown && h.group {
		t.Errorf("the projection showed CASES up to %d before the cut, but only %d survived it", h.shown, last)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	lost := 0
	for corr, a := range h.acked {
		if h.lost[corr] {
			continue
		}
		recs := byCorr[corr]
		if len(recs) == 0 {
			h.lost[corr] = true
			lost++
			if h.syncAlways || h.group {
				t.Errorf("acknowledged %s of case %d (%s) is not in the log", a.what, a.caseID, corr)
			}
			continue
		}
		types := map[string]bool{}
		for _, r := range recs {
			if types[r.Envelope.Type] {
				t.Errorf("%s of case %d (%s): %s is in the log twice", a.what, a.caseID, corr, r.Envelope.Type)
			}
			types[r.Envelope.Type] = true
			if want := events.CaseSubject(a.caseID); r.Envelope.Subject != want {
				t.Errorf("%s (%s): event on %s, want %s", a.what, corr, r.Envelope.Subject, want)
			}
		}
	}
	for id := range caseIDs {
		if _, err := h.n.Cases.Get(ctx, id); err != nil {
			t.Errorf("case %d does not load: %v", id, err)
		}
	}
	return lost
}
