package main

import (
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"golang.org/x/crypto/bcrypt"

	"github.com/casestream/casestream/events"
	"github.com/casestream/casestream/examples"
	"github.com/casestream/casestream/internal/app"
	"github.com/casestream/casestream/internal/directory"
	"github.com/casestream/casestream/internal/eventually"
	"github.com/casestream/casestream/internal/natsauth"
)

const tp = "touchpoint=demo-kiosk&token=demo-kiosk-token"

// startNode runs casestream on the demo directory with an embedded server that accepts
// NATS clients on a random port.
func startNode(t *testing.T) *app.App {
	t.Helper()
	f, err := directory.Parse(examples.DemoDirectory)
	if err != nil {
		t.Fatal(err)
	}
	n, err := app.Start(context.Background(), app.Config{
		Addr: "127.0.0.1:0", Data: t.TempDir(), NATSListen: "127.0.0.1:-1", Replicas: 1,
		Directory: f, DirectoryName: "demo", Projector: true, BcryptCost: bcrypt.MinCost,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close() })
	return n
}

// call makes one operator API call as alice.
func call(t *testing.T, n *app.App, method, path, body string) string {
	t.Helper()
	r, err := http.NewRequest(method, "http://"+n.Addr()+"/api/v4"+path+"?"+tp, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	r.Header.Set("Content-Type", "application/json")
	r.Header.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte("alice@example.com:alice-password")))
	resp, err := http.DefaultClient.Do(r)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("%s %s: got %d %s, want 201", method, path, resp.StatusCode, b)
	}
	return string(b)
}

// assign opens k cases and assigns each to bob: k case.assigned events.
func assign(t *testing.T, n *app.App, k int) {
	t.Helper()
	for range k {
		var id int64
		b := call(t, n, "POST", "/cases", `{"categoryCode":"ACCOUNTS","typeCode":"OPEN_ACCOUNT"}`)
		if _, err := fmt.Sscanf(b[strings.Index(b, `"case":{"id":`)+len(`"case":{"id":`):], "%d", &id); err != nil {
			t.Fatalf("case id in %s: %v", b, err)
		}
		call(t, n, "PUT", fmt.Sprintf("/cases/%d/assignment", id), `{"email":"bob@example.com"}`)
	}
}

// assignedIDs returns the event ids of every case.assigned event in CASES.
func assignedIDs(t *testing.T, n *app.App) map[string]bool {
	t.Helper()
	ctx := context.Background()
	s, err := n.JS.Stream(ctx, events.StreamCases)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ids := map[string]bool{}
	for seq := info.State.FirstSeq; seq <= info.State.LastSeq; seq++ {
		msg, err := s.GetMsg(ctx, seq)
		if err != nil {
			t.Fatal(err)
		}
		if msg.Header.Get(events.HeaderEventType) == events.TypeCaseAssigned {
			ids[msg.Header.Get(events.HeaderMsgID)] = true
		}
	}
	return ids
}

// handledLines returns the ids of the -out file's lines, in order.
func handledLines(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	var ids []string
	for _, line := range strings.Split(strings.TrimSuffix(string(b), "\n"), "\n") {
		if id, _, ok := strings.Cut(line, " "); ok {
			ids = append(ids, id)
		}
	}
	return ids
}

// TestSubscriberHandlesEachAssignmentOnce runs the example as a process, as the reader,
// against a node: it stops once before an acknowledgement (so the server delivers that
// assignment again), is killed in the middle of the stream, is restarted each time, and in
// the end has handled every case.assigned event of CASES exactly once.
func TestSubscriberHandlesEachAssignmentOnce(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs a binary")
	}
	n := startNode(t)
	bin := filepath.Join(t.TempDir(), "subscriber")
	build := exec.Command("go", "build", "-o", bin, "./examples/subscriber")
	build.Dir = "../.."
	if b, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, b)
	}
	out := filepath.Join(t.TempDir(), "assignments.log")
	logf, err := os.Create(filepath.Join(t.TempDir(), "subscriber.log"))
	if err != nil {
		t.Fatal(err)
	}
	start := func(extra ...string) *exec.Cmd {
		args := append([]string{"-nats-url", n.NATSURL(), "-nats-nkey", n.Identities().SeedFile(natsauth.Reader),
			"-out", out, "-ack-wait", "1s"}, extra...)
		cmd := exec.Command(bin, args...)
		cmd.Stdout, cmd.Stderr = logf, logf
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
		return cmd
	}
	atLeast := func(k int) {
		t.Helper()
		eventually.Check(t, 30*time.Second, 20*time.Millisecond, func() error {
			if got := len(handledLines(t, out)); got < k {
				return fmt.Errorf("handled %d, want %d or more", got, k)
			}
			return nil
		})
	}

	assign(t, n, 10)
	// Handles four and exits before acknowledging the fourth.
	first := start("-stop-before-ack", "4")
	if err := first.Wait(); err == nil {
		t.Fatal("the run with -stop-before-ack exited 0, want it stopped")
	}
	if got := len(handledLines(t, out)); got != 4 {
		t.Fatalf("after the stop: handled %d, want 4", got)
	}
	// Restarted: resumes, and is killed mid-stream while more assignments arrive.
	second := start()
	assign(t, n, 10)
	atLeast(12)
	if err := second.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = second.Wait()
	assign(t, n, 10)
	third := start()
	want := assignedIDs(t, n)
	if len(want) != 30 {
		t.Fatalf("CASES holds %d case.assigned events, want 30", len(want))
	}
	atLeast(len(want))
	// Nothing is handled twice, even after the consumer has had time to deliver again.
	eventually.Check(t, 30*time.Second, 100*time.Millisecond, func() error {
		info, err := consumerInfo(n)
		if err != nil {
			return err
		}
		if info.NumAckPending != 0 || info.NumPending != 0 {
			return fmt.Errorf("consumer: %d awaiting acknowledgement, %d pending", info.NumAckPending, info.NumPending)
		}
		return nil
	})
	_ = third.Process.Signal(os.Interrupt)
	_ = third.Wait()
	got := handledLines(t, out)
	seen := map[string]bool{}
	for _, id := range got {
		if seen[id] {
			t.Errorf("event %s handled twice", id)
		}
		if !want[id] {
			t.Errorf("event %s handled, but it is no case.assigned event", id)
		}
		seen[id] = true
	}
	if len(seen) != len(want) {
		t.Errorf("handled %d assignments, want %d", len(seen), len(want))
	}
}

// consumerInfo reads the example's durable consumer.
func consumerInfo(n *app.App) (*jetstream.ConsumerInfo, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := n.JS.Consumer(ctx, events.StreamCases, "assignments")
	if err != nil {
		return nil, err
	}
	return c.Info(ctx)
}
