package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
	"golang.org/x/crypto/bcrypt"

	"github.com/casestream/casestream/aggregate"
	"github.com/casestream/casestream/events"
	"github.com/casestream/casestream/examples"
	"github.com/casestream/casestream/internal/app"
	"github.com/casestream/casestream/internal/cases"
	"github.com/casestream/casestream/internal/directory"
	"github.com/casestream/casestream/internal/natsauth"
)

// Demo identities, from examples/demo-directory.json.
const (
	alice    = "alice@example.com"
	alicePW  = "alice-password"
	bob      = "bob@example.com"
	aliceID  = "e5f6a7b8-c9d0-4e1f-8a2b-4c5d6e7f8a01"
	bobID    = "e5f6a7b8-c9d0-4e1f-8a2b-4c5d6e7f8a02"
	downtown = "5f0c6b1e-2d3a-4c8b-9e71-0a1b2c3d4e01"
	tpQuery  = "touchpoint=demo-kiosk&token=demo-kiosk-token"
)

// stack is a running casestream node (embedded NATS with a client listener, the demo
// directory) and the URL casectl reaches it at.
type stack struct {
	t    testing.TB
	n    *app.App
	data string
	url  string
	base string
	hc   *http.Client
}

func startStack(t testing.TB, mods ...func(*app.Config)) *stack {
	t.Helper()
	f, err := directory.Parse(examples.DemoDirectory)
	if err != nil {
		t.Fatal(err)
	}
	cfg := app.Config{
		Addr: "127.0.0.1:0", Data: t.TempDir(), NATSListen: "127.0.0.1:-1", Replicas: 1,
		Directory: f, DirectoryName: "demo", Projector: true, BcryptCost: bcrypt.MinCost,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
	for _, mod := range mods {
		mod(&cfg)
	}
	n, err := app.Start(context.Background(), cfg)
	if err != nil {
		t.Fatalf("start node: %v", err)
	}
	t.Cleanup(func() { n.Close() })
	hc := &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()}
	t.Cleanup(hc.CloseIdleConnections)
	return &stack{t: t, n: n, data: cfg.Data, url: n.NATSURL(), base: "http://" + n.Addr(), hc: hc}
}

// call makes an operator API call as alice and returns the status and body.
func (s *stack) call(method, path, body string) (int, []byte) {
	s.t.Helper()
	sep := "?"
	if strings.Contains(path, "?") {
		sep = "&"
	}
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, s.base+"/api/v4"+path+sep+tpQuery, r)
	if err != nil {
		s.t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	req.SetBasicAuth(alice, alicePW)
	resp, err := s.hc.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		s.t.Fatal(err)
	}
	return resp.StatusCode, b
}

// must makes a call that must answer want.
func (s *stack) must(want int, method, path, body string) []byte {
	s.t.Helper()
	st, b := s.call(method, path, body)
	if st != want {
		s.t.Fatalf("%s %s: got %d %s, want %d", method, path, st, b, want)
	}
	return b
}

// open opens a case of the given codes and returns its caseInstanceId.
func (s *stack) open(category, typeCode string) int64 {
	s.t.Helper()
	b := s.must(http.StatusCreated, "POST", "/cases", fmt.Sprintf(`{"categoryCode":%q,"typeCode":%q}`, category, typeCode))
	var out struct {
		Case struct {
			ID int64 `json:"id"`
		} `json:"case"`
	}
	if err := json.Unmarshal(b, &out); err != nil || out.Case.ID == 0 {
		s.t.Fatalf("open case: %s (%v)", b, err)
	}
	return out.Case.ID
}

// lastSeq returns the CASES stream's last sequence.
func (s *stack) lastSeq() uint64 {
	s.t.Helper()
	seq, _, err := s.n.Positions(context.Background())
	if err != nil {
		s.t.Fatal(err)
	}
	return seq
}

// appendRaw appends events straight to a subject through the store, behind the api's
// commands, expecting the subject's last sequence.
func (s *stack) appendRaw(subject string, evs ...events.Event) uint64 {
	s.t.Helper()
	ctx := context.Background()
	recs, err := s.n.Store.Load(ctx, subject, 0)
	if err != nil {
		s.t.Fatal(err)
	}
	var expected uint64
	if len(recs) > 0 {
		expected = recs[len(recs)-1].Seq
	}
	envs := make([]events.Envelope, len(evs))
	for i, ev := range evs {
		if envs[i], err = events.Wrap(events.Meta{
			ID: uuid.NewString(), Subject: subject, OccurredAt: time.Now(), Actor: events.Actor{Kind: events.ActorSystem, ID: "test"},
		}, ev); err != nil {
			s.t.Fatal(err)
		}
	}
	seq, err := s.n.Store.Append(ctx, subject, expected, envs)
	if err != nil {
		s.t.Fatalf("append to %s: %v", subject, err)
	}
	return seq
}

// execute runs a case command through the command side, as the agent API does.
func (s *stack) execute(id int64, decide func(c *aggregate.Case) ([]events.Event, error)) {
	s.t.Helper()
	meta := cases.Meta{Actor: events.Actor{Kind: events.ActorOperator, ID: aliceID}}
	if _, err := s.n.Cases.Execute(context.Background(), id, meta, decide); err != nil {
		s.t.Fatalf("execute on case %d: %v", id, err)
	}
}

// result is one run of casectl.
type result struct {
	stdout, stderr string
	err            error
}

// run runs casectl's Main against the stack with the given arguments.
func (s *stack) run(args ...string) result {
	s.t.Helper()
	return s.runContext(context.Background(), nil, args...)
}

// runContext is run with a context and, if not nil, the writer of its standard output.
func (s *stack) runContext(ctx context.Context, stdout io.Writer, args ...string) result {
	s.t.Helper()
	var out, errOut bytes.Buffer
	m := NewMain()
	m.Stdout, m.Stderr, m.Progress = &out, &errOut, false
	if stdout != nil {
		m.Stdout = stdout
	}
	noEnv := func(string) (string, bool) { return "", false }
	if err := m.ParseFlags(append([]string{"-nats-url", s.url, "-nats-nkey", s.readerSeed()}, args...), noEnv); err != nil {
		s.t.Fatalf("casectl %v: %v", args, err)
	}
	err := m.Run(ctx)
	m.Close()
	return result{stdout: out.String(), stderr: errOut.String(), err: err}
}

// lines decodes JSON Lines into one value each.
func lines[T any](t testing.TB, out string) []T {
	t.Helper()
	var res []T
	for l := range strings.Lines(out) {
		var v T
		if err := json.Unmarshal([]byte(l), &v); err != nil {
			t.Fatalf("line %q: %v", l, err)
		}
		res = append(res, v)
	}
	return res
}

// syncBuffer is a bytes.Buffer safe for a writer and a poller.
type syncBuffer struct {
	mu sync.Mutex // guards b
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// rename appends a new definition of the operator with another display name, as the
// bootstrap does when the file changes.
func (s *stack) rename(userID, displayName string) {
	s.t.Helper()
	op, ok := s.n.Directory.Operator(userID)
	if !ok {
		s.t.Fatalf("no operator %s", userID)
	}
	op.DisplayName = displayName
	s.appendRaw(events.DirectorySubject(events.KindOperator, events.SubjectToken(userID)), op)
}

// publishRaw publishes a body straight to a subject with a type header and a fresh id.
func (s *stack) publishRaw(subject, typ string, body []byte) {
	s.t.Helper()
	s.publishRawID(subject, typ, uuid.NewString(), body)
}

// publishRawID publishes a body straight to a subject with the given headers.
func (s *stack) publishRawID(subject, typ, id string, body []byte) {
	s.t.Helper()
	msg := nats.NewMsg(subject)
	msg.Data = body
	msg.Header.Set(events.HeaderEventType, typ)
	msg.Header.Set(events.HeaderMsgID, id)
	if _, err := s.n.JS.PublishMsg(context.Background(), msg); err != nil {
		s.t.Fatal(err)
	}
}

// readerSeed is the seed file of the read-only identity, which casectl authenticates as.
func (s *stack) readerSeed() string {
	return s.n.Identities().SeedFile(natsauth.Reader)
}
