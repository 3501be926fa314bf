package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"golang.org/x/crypto/bcrypt"

	"github.com/casestream/casestream/events"
	"github.com/casestream/casestream/internal/directory"
	"github.com/casestream/casestream/internal/embedded"
	"github.com/casestream/casestream/internal/eventstore"
)

// signinThrough signs an operator in through the touchpoint credentials of query.
func signinThrough(c *client, query, email, password string) (int, []byte) {
	c.t.Helper()
	body := fmt.Sprintf(`{"principal":%q,"password":%q}`, email, password)
	st, b, _ := c.do(req{method: "POST", path: "/api/v4/signin?" + query, body: body})
	return st, b
}

// signInsOverHTTP checks that every principal of the directory file authenticates through
// the HTTP API with its secret, and not with a wrong one.
func signInsOverHTTP(t *testing.T, m *Main, f *directory.File) {
	t.Helper()
	c := newClient(t, m)
	for _, tp := range f.Touchpoints {
		q := url.Values{"touchpoint": {tp.Code}, "token": {tp.Token}}.Encode()
		wrong := url.Values{"touchpoint": {tp.Code}, "token": {tp.Token + "x"}}.Encode()
		if st, b := signinThrough(c, wrong, alice, alicePW); st != 401 {
			t.Errorf("touchpoint %s with a wrong token: got %d %s, want 401", tp.Code, st, b)
		}
		// A blocked operator's right password gets an answer of its own: not the wrong
		// password's.
		_, wrongPassword := signinThrough(c, q, alice, alicePW+"x")
		for _, o := range f.Operators {
			st, b := signinThrough(c, q, o.Email, o.Password)
			switch {
			case o.Blocked && (st != 401 || string(b) == string(wrongPassword)):
				t.Errorf("%s (blocked) through %s: got %d %s, want 401 saying blocked", o.Email, tp.Code, st, b)
			case !o.Blocked && st != 200:
				t.Errorf("%s through %s: got %d %s, want 200", o.Email, tp.Code, st, b)
			}
			if st, b := signinThrough(c, q, o.Email, o.Password+"x"); st != 401 || string(b) != string(wrongPassword) {
				t.Errorf("%s with a wrong password: got %d %s, want 401 %s", o.Email, st, b, wrongPassword)
			}
		}
	}
	for _, a := range f.Applications {
		c.agentToken(a.ClientID, a.ClientSecret)
	}
}

// allMessages returns every message of a stream, body and headers.
func allMessages(t *testing.T, js jetstream.JetStream, stream string) []*jetstream.RawStreamMsg {
	t.Helper()
	ctx := context.Background()
	s, err := js.Stream(ctx, stream)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var out []*jetstream.RawStreamMsg
	for seq := info.State.FirstSeq; seq <= info.State.LastSeq && info.State.Msgs > 0; seq++ {
		msg, err := s.GetMsg(ctx, seq)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, msg)
	}
	return out
}

// hashIn names what in s looks like a secret's hash, "" if nothing does.
func hashIn(s string) string {
	for _, p := range []string{"$2a$", "$2b$", "$2y$"} {
		if strings.Contains(s, p) {
			return "a bcrypt hash " + p
		}
	}
	if i := strings.Index(strings.ToLower(s), `hash"`); i >= 0 {
		return "a member named like a hash: " + s[max(0, i-20):i+5]
	}
	return ""
}

// bucketHashes returns the hashes held in the credentials bucket, sorted.
func bucketHashes(t *testing.T, js jetstream.JetStream) []string {
	t.Helper()
	ctx := context.Background()
	kv, err := js.KeyValue(ctx, directory.CredentialsBucket)
	if err != nil {
		t.Fatal(err)
	}
	keys, err := kv.Keys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, k := range keys {
		e, err := kv.Get(ctx, k)
		if err != nil {
			t.Fatal(err)
		}
		var v directory.Secret
		if err := json.Unmarshal(e.Value(), &v); err != nil {
			t.Fatalf("%s: %v", k, err)
		}
		out = append(out, v.Hash)
	}
	slices.Sort(out)
	return out
}

// TestSecretsStayOutOfTheLog runs the api on the demo directory, writes a few case events,
// and reads every message of both streams: none holds a bcrypt hash or a member named like
// a hash, the hashes are in the credentials bucket, and every principal signs in.
func TestSecretsStayOutOfTheLog(t *testing.T) {
	t.Parallel()
	m, c := startClient(t)
	c.openAssigned(bob)
	js := jetStream(t, m)
	for _, stream := range []string{events.StreamDirectory, events.StreamCases} {
		msgs := allMessages(t, js, stream)
		if len(msgs) == 0 {
			t.Fatalf("%s: no messages", stream)
		}
		for _, msg := range msgs {
			if p := hashIn(string(msg.Data)); p != "" {
				t.Errorf("%s seq %d: %s", stream, msg.Sequence, p)
			}
			for k, vs := range msg.Header {
				if p := hashIn(`"` + k + `":` + strings.Join(vs, ",")); p != "" {
					t.Errorf("%s seq %d header %s: %s", stream, msg.Sequence, k, p)
				}
			}
		}
	}
	f, err := directory.ReadFile(demoFileP)
	if err != nil {
		t.Fatal(err)
	}
	hashes := bucketHashes(t, js)
	if want := len(f.Operators) + len(f.Touchpoints) + len(f.Applications); len(hashes) != want {
		t.Errorf("bucket: got %d hashes, want %d", len(hashes), want)
	}
	for _, h := range hashes {
		if !strings.HasPrefix(h, "$2a$") {
			t.Errorf("bucket value %q is not a bcrypt hash", h)
		}
	}
	signInsOverHTTP(t, m, f)
}

// TestPasswordChangeOverHTTP restarts the api with bob's password changed in the directory
// file: one directory.secretChanged event, and over HTTP the old password (signed in with
// just before) is refused and the new one accepted.
func TestPasswordChangeOverHTTP(t *testing.T) {
	t.Parallel()
	m := startAPI(t, t.TempDir())
	newClient(t, m).expect(200, asOperator(bob, bobPW, "GET", "/cases", ""))
	before := directorySeq(t, m)
	m2, c2 := restartAPI(t, m, withDirectory(t, []byte(strings.Replace(string(mustRead(t, demoFileP)), `"bob-password"`, `"bob-new-password"`, 1))))
	msgs := allMessages(t, jetStream(t, m2), events.StreamDirectory)
	if got := uint64(len(msgs)); got != before+1 {
		t.Fatalf("directory events: got %d, want %d (one more)", got, before+1)
	}
	last := msgs[len(msgs)-1]
	if typ := last.Header.Get(events.HeaderEventType); typ != events.TypeSecretChanged || last.Subject != events.DirectorySubject(events.KindOperator, bobID) {
		t.Errorf("the new event: got %s on %s, want %s on bob's subject", typ, last.Subject, events.TypeSecretChanged)
	}
	if st, b, _ := c2.do(asOperator(bob, bobPW, "GET", "/cases", "")); st != 401 {
		t.Errorf("old password: got %d %s, want 401", st, b)
	}
	for range 2 { // the second from the cache
		if st, b, _ := c2.do(asOperator(bob, "bob-new-password", "GET", "/cases", "")); st != 200 {
			t.Errorf("new password: got %d %s, want 200", st, b)
		}
	}
}

// writeV1Log writes the demo directory into a store under data as the bootstrap did before
// secrets left the log: "defined" events of schema version 1, with the hashes of the
// secrets in them. It returns the hashes, sorted.
func writeV1Log(t *testing.T, data string, f *directory.File) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ns, err := embedded.Start(embedded.Options{StoreDir: filepath.Join(data, "nats"), IdentityDir: filepath.Join(data, "identities"), ServerName: "casestream"})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { ns.Shutdown(); ns.WaitForShutdown() }()
	js, nc := connectJS(t, ns)
	defer nc.Close()
	if err := eventstore.EnsureStreams(ctx, js, 1); err != nil {
		t.Fatal(err)
	}
	store := eventstore.NewJetStream(js, eventstore.DefaultJetStreamOptions())
	defer store.Close()

	var hashes []string
	hash := func(clear string) string {
		h, err := bcrypt.GenerateFromPassword([]byte(clear), bcrypt.MinCost)
		if err != nil {
			t.Fatal(err)
		}
		hashes = append(hashes, string(h))
		return string(h)
	}
	n := 0
	write := func(kind, id string, ev events.Event) {
		n++
		subject := events.DirectorySubject(kind, events.SubjectToken(id))
		env, err := events.Wrap(events.Meta{ID: fmt.Sprintf("v1-%d", n), Subject: subject, OccurredAt: time.Now(),
			Actor: events.Actor{Kind: events.ActorSystem, ID: "bootstrap"}}, ev)
		if err != nil {
			t.Fatal(err)
		}
		if env.SchemaVersion != 1 {
			t.Fatalf("%s at version %d, want 1", env.Type, env.SchemaVersion)
		}
		if _, err := store.Append(ctx, subject, 0, []events.Envelope{env}); err != nil {
			t.Fatal(err)
		}
	}
	for _, e := range f.Units {
		write(events.KindUnit, e.UnitID, e)
	}
	for _, e := range f.Inboxes {
		write(events.KindInbox, e.InboxID, e)
	}
	for _, e := range f.Workspaces {
		write(events.KindWorkspace, e.WorkspaceID, e)
	}
	for _, e := range f.Services {
		write(events.KindService, e.ServiceID, e)
	}
	for _, e := range f.ServiceCategories {
		write(events.KindServiceCategory, e.ServiceCategoryID, e)
	}
	for _, e := range f.ServiceTypes {
		write(events.KindServiceType, e.ServiceTypeID, e)
	}
	for _, e := range f.Operators {
		write(events.KindOperator, e.UserID, events.OperatorV1{
			UserID: e.UserID, Email: e.Email, DisplayName: e.DisplayName, Initials: e.Initials, Picture: e.Picture,
			PasswordHash: hash(e.Password), Blocked: e.Blocked, ServiceTypes: e.ServiceTypes, Units: e.Units,
			Workspaces: e.Workspaces, Roles: e.Roles,
		})
	}
	for _, e := range f.Groups {
		write(events.KindGroup, e.GroupID, e)
	}
	for _, e := range f.Touchpoints {
		write(events.KindTouchpoint, e.Code, events.TouchpointV1{Code: e.Code, TokenHash: hash(e.Token)})
	}
	for _, e := range f.Applications {
		write(events.KindApplication, e.ApplicationID, events.ApplicationV1{
			ApplicationID: e.ApplicationID, ClientID: e.ClientID, ClientSecretHash: hash(e.ClientSecret), Roles: e.Roles,
		})
	}
	slices.Sort(hashes)
	return hashes
}

// TestUpgradeFromHashesInTheLog starts the api on a log written before secrets left it:
// every principal signs in over HTTP, with no directory file at all; the hashes of the
// version 1 events are in the bucket; nothing is written to the log; and a later start
// with the same directory file writes nothing either.
func TestUpgradeFromHashesInTheLog(t *testing.T) {
	t.Parallel()
	data := t.TempDir()
	f, err := directory.ReadFile(demoFileP)
	if err != nil {
		t.Fatal(err)
	}
	want := writeV1Log(t, data, f)

	m := startAPI(t, data, func(c *Config) { c.DirectoryFile = "" })
	signInsOverHTTP(t, m, f)
	js := jetStream(t, m)
	if got := bucketHashes(t, js); !slices.Equal(got, want) {
		t.Errorf("bucket: got %q, want the hashes of the version 1 events %q", got, want)
	}
	written := len(allMessages(t, js, events.StreamDirectory))

	m2, _ := restartAPI(t, m)
	signInsOverHTTP(t, m2, f)
	if got := len(allMessages(t, jetStream(t, m2), events.StreamDirectory)); got != written {
		t.Errorf("directory events after applying the same file: got %d, want %d", got, written)
	}
}
