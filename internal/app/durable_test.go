package app

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"golang.org/x/crypto/bcrypt"

	"github.com/casestream/casestream/events"
	"github.com/casestream/casestream/internal/directory"
	"github.com/casestream/casestream/internal/eventstore"
	"github.com/casestream/casestream/internal/eventually"
	"github.com/casestream/casestream/internal/natsauth"
)

// heldSync holds group-commit rounds for a test: while held, a round waits for the release
// before its sync.
type heldSync struct {
	mu      sync.Mutex // guards release
	release chan struct{}
}

func (h *heldSync) hold() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.release = make(chan struct{})
}

// let releases the round held, if any.
func (h *heldSync) let() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.release != nil {
		close(h.release)
		h.release = nil
	}
}

func (h *heldSync) sync() {
	h.mu.Lock()
	release := h.release
	h.mu.Unlock()
	if release != nil {
		<-release
	}
}

// startGroup starts a group-committing app on the demo directory, with a NATS listener,
// and returns it once its projector serves.
func startGroup(t *testing.T, h *heldSync) *App {
	t.Helper()
	a, err := Start(context.Background(), Config{
		Addr: "127.0.0.1:0", Data: t.TempDir(), NATSListen: "127.0.0.1:-1", GroupCommit: true, Projector: true,
		Logger: quiet, Directory: demo(t), DirectoryName: "demo", BcryptCost: bcrypt.MinCost, beforeSync: h.sync,
	})
	if err != nil {
		t.Fatal(err)
	}
	// A test that fails while it holds a round lets it go, or Close would wait for it.
	t.Cleanup(func() { h.let(); a.Close() })
	eventually.Check(t, 30*time.Second, 10*time.Millisecond, func() error {
		if !a.replay.finished() {
			return errors.New("projector replaying")
		}
		return nil
	})
	return a
}

// operatorCall makes one operator API call as alice and returns the status and body.
func operatorCall(t *testing.T, a *App, method, path, body string) (int, string) {
	t.Helper()
	r, err := http.NewRequest(method, "http://"+a.Addr()+"/api/v4"+path+"?touchpoint=demo-kiosk&token=demo-kiosk-token", strings.NewReader(body))
	if err != nil {
		t.Error(err)
		return 0, ""
	}
	r.Header.Set("Content-Type", "application/json")
	r.Header.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte("alice@example.com:alice-password")))
	resp, err := http.DefaultClient.Do(r)
	if err != nil {
		t.Error(err)
		return 0, ""
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// openCase opens a case as alice and returns its id, or 0 after reporting a failure.
func openCase(t *testing.T, a *App) int64 {
	t.Helper()
	st, b := operatorCall(t, a, "POST", "/cases", `{"categoryCode":"ACCOUNTS","typeCode":"OPEN_ACCOUNT"}`)
	var answer struct {
		Case struct {
			ID int64 `json:"id"`
		} `json:"case"`
	}
	if err := json.Unmarshal([]byte(b), &answer); st != http.StatusCreated || err != nil {
		t.Errorf("open a case: got %d %s, want 201", st, b)
	}
	return answer.Case.ID
}

// listed returns the ids of alice's listing (GET /api/v4/cases), answered by the projection.
func listed(t *testing.T, a *App) []int64 {
	t.Helper()
	st, b := operatorCall(t, a, "GET", "/cases", "")
	var answer struct {
		Cases []struct {
			ID int64 `json:"id"`
		} `json:"cases"`
	}
	if err := json.Unmarshal([]byte(b), &answer); st != http.StatusOK || err != nil {
		t.Fatalf("list cases: got %d %s, want 200", st, b)
	}
	var ids []int64
	for _, c := range answer.Cases {
		ids = append(ids, c.ID)
	}
	return ids
}

// witness follows stream from after, without any gate, and returns a channel of the
// sequences it sees: proof that a follower could have applied them.
func witness(t *testing.T, a *App, stream string, after uint64) <-chan uint64 {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	seen := make(chan uint64, 64)
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = eventstore.Follow(ctx, a.JS, stream, after, func(r eventstore.Record) { seen <- r.Seq })
	}()
	t.Cleanup(func() { cancel(); <-done })
	return seen
}

// stored returns the next sequence a witness of stream saw.
func stored(t *testing.T, stream string, seen <-chan uint64) uint64 {
	t.Helper()
	select {
	case seq := <-seen:
		return seq
	case <-time.After(30 * time.Second):
		t.Fatalf("%s: nothing stored while the round is held", stream)
		return 0
	}
}

// notShown checks, over many looks while a follower had every chance to apply seq, that
// shown stays below it. What must not happen can only be watched for a while.
func notShown(t *testing.T, what string, seq uint64, shown func() (uint64, error)) {
	t.Helper()
	var got uint64
	err := eventually.Wait(500*time.Millisecond, 5*time.Millisecond, func() (err error) {
		if got, err = shown(); err != nil {
			return err
		}
		if got < seq {
			return errStillHidden
		}
		return nil
	})
	switch {
	case err == nil:
		t.Fatalf("%s shows %d, at or above %d, which is not durable", what, got, seq)
	case !errors.Is(err, errStillHidden):
		t.Fatal(err)
	}
}

var errStillHidden = errors.New("not shown")

// TestGroupCommitShowsOnlyDurable holds a group-commit round while a case is opened and a
// directory entry changes: both are stored, neither is durable, and neither the listing
// (the projection), the directory view nor the positions a read waits for show them; once
// the round ends, the answers come and both show.
func TestGroupCommitShowsOnlyDurable(t *testing.T) {
	t.Parallel()
	h := &heldSync{}
	a := startGroup(t, h)
	first := openCase(t, a)
	if got := listed(t, a); len(got) != 1 || got[0] != first {
		t.Fatalf("listing after the first case: got %v, want [%d]", got, first)
	}
	casesDurable, dirDurable := a.syncer.Durable(events.StreamCases), a.syncer.Durable(events.StreamDirectory)
	casesSeen, dirSeen := witness(t, a, events.StreamCases, casesDurable), witness(t, a, events.StreamDirectory, dirDurable)

	h.hold()
	var writers sync.WaitGroup
	t.Cleanup(func() { h.let(); writers.Wait() })
	opened := make(chan int64, 1)
	writers.Go(func() { opened <- openCase(t, a) })
	renamed := demo(t)
	renamed.Units[0].Name = "Renamed while held"
	bootstrapped := make(chan error, 1)
	writers.Go(func() {
		_, err := directory.Bootstrap(context.Background(), a.appender, a.Directory, renamed, directory.BootstrapOptions{BcryptCost: bcrypt.MinCost})
		bootstrapped <- err
	})
	heldCase, heldDir := stored(t, events.StreamCases, casesSeen), stored(t, events.StreamDirectory, dirSeen)
	if heldCase <= casesDurable || heldDir <= dirDurable {
		t.Fatalf("stored while held: CASES %d, DIRECTORY %d; want above the durable %d, %d", heldCase, heldDir, casesDurable, dirDurable)
	}
	notShown(t, "the projection", heldCase, func() (uint64, error) { return a.Projector.Model().LastSeq(), nil })
	notShown(t, "the directory view", heldDir, func() (uint64, error) { return a.Directory.LastSeq(), nil })
	notShown(t, "the positions a read waits for", heldCase, func() (uint64, error) {
		c, _, err := a.Positions(context.Background())
		return c, err
	})
	if got := listed(t, a); len(got) != 1 {
		t.Errorf("listing while the round is held: got %v, want only [%d]", got, first)
	}
	if u, _ := a.Directory.Unit(renamed.Units[0].UnitID); u.Name == renamed.Units[0].Name {
		t.Errorf("directory view while the round is held: unit renamed to %q, which is not durable", u.Name)
	}

	h.let()
	second := <-opened
	if err := <-bootstrapped; err != nil {
		t.Fatalf("bootstrap: %v", err)
	}
	// Read-your-writes: the acknowledged case is in the next listing, with no waiting here.
	if got := listed(t, a); len(got) != 2 || !containsID(got, second) {
		t.Errorf("listing after the round: got %v, want %d and %d", got, first, second)
	}
	if _, d, err := a.Positions(context.Background()); err != nil || d < heldDir {
		t.Fatalf("directory position after the round: got %d, %v, want %d or more", d, err, heldDir)
	} else if err := a.Directory.WaitFor(context.Background(), d); err != nil {
		t.Fatal(err)
	}
	if u, _ := a.Directory.Unit(renamed.Units[0].UnitID); u.Name != renamed.Units[0].Name {
		t.Errorf("directory view after the round: unit named %q, want %q", u.Name, renamed.Units[0].Name)
	}
}

func containsID(ids []int64, id int64) bool {
	for _, x := range ids {
		if x == id {
			return true
		}
	}
	return false
}

// TestDurablePublished: a group-committing node publishes the durable sequence of each
// stream, without a write and after one; the reader hears it and may not publish it.
func TestDurablePublished(t *testing.T) {
	t.Parallel()
	a := startGroup(t, &heldSync{})
	auth, err := a.Identities().Option(natsauth.Reader)
	if err != nil {
		t.Fatal(err)
	}
	violations := make(chan error, 8)
	reader, err := nats.Connect(a.NATSURL(), auth, nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
		select {
		case violations <- err:
		default:
		}
	}))
	if err != nil {
		t.Fatal(err)
	}
	defer reader.Close()
	subs := map[string]*nats.Subscription{}
	for _, stream := range guardedStreams {
		if subs[stream], err = reader.SubscribeSync(events.DurableSubject(stream)); err != nil {
			t.Fatal(err)
		}
	}
	// hear returns once the reader hears stream's durable sequence at or above min.
	hear := func(stream string, min uint64) {
		t.Helper()
		for {
			m, err := subs[stream].NextMsg(10 * time.Second)
			if err != nil {
				t.Fatalf("%s: no durable sequence at or above %d heard: %v", stream, min, err)
			}
			seq, err := events.ParseDurable(m.Data)
			if err != nil {
				t.Fatalf("%s: payload %q: %v", stream, m.Data, err)
			}
			if seq >= min {
				return
			}
		}
	}
	// The bootstrap wrote the directory before the reader subscribed: heard without a write.
	hear(events.StreamDirectory, a.syncer.Durable(events.StreamDirectory))
	hear(events.StreamCases, 0)
	openCase(t, a)
	c, err := a.Store.LastSeq(context.Background(), events.StreamCases)
	if err != nil {
		t.Fatal(err)
	}
	hear(events.StreamCases, c)

	if err := reader.Publish(events.DurableSubject(events.StreamCases), []byte("999999")); err != nil {
		t.Fatal(err)
	}
	if err := reader.Flush(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-violations:
		if !errors.Is(err, nats.ErrPermissionViolation) {
			t.Errorf("reader's publish: got %v, want a permission violation", err)
		}
	case <-time.After(10 * time.Second):
		t.Error("reader's publish of a durable sequence: no permission violation")
	}
}
