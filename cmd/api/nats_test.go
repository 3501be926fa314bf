package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/casestream/casestream/internal/eventually"
	"github.com/casestream/casestream/internal/natsauth"
)

// TestDemoNATSListener: the embedded server's listener refuses anonymous clients, and the
// demo's instructions name the reader's seed, with which the log can be read.
func TestDemoNATSListener(t *testing.T) {
	t.Parallel()
	data := t.TempDir()
	var out bytes.Buffer
	m := parsedMain(t, []string{"-addr", "127.0.0.1:0", "-data", data, "-nats-listen", "127.0.0.1:-1", "-sync-always=false", "-demo"}, nil)
	m.Stdout = &out
	runMain(t, m)

	url := m.app.NATSURL()
	if nc, err := nats.Connect(url); err == nil {
		nc.Close()
		t.Fatal("anonymous connection to the listener: got nil error, want a refusal")
	} else if !errors.Is(err, nats.ErrAuthorization) {
		t.Errorf("anonymous connection: got %v, want %v", err, nats.ErrAuthorization)
	}

	reader := filepath.Join(data, "identities", "reader.nk")
	want := fmt.Sprintf("nats --server %s --nkey %s stream view CASES", url, reader)
	if !bytes.Contains(out.Bytes(), []byte(want)) {
		t.Fatalf("demo output lacks %q:\n%s", want, out.String())
	}
	if !regexp.MustCompile(`admin's, which may also delete, is \S+admin\.nk`).Match(out.Bytes()) {
		t.Errorf("demo output does not name the admin's seed:\n%s", out.String())
	}
	fi, err := os.Stat(reader)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("reader seed mode: got %v, want 0600", fi.Mode().Perm())
	}
	auth, err := nats.NkeyOptionFromSeed(reader)
	if err != nil {
		t.Fatal(err)
	}
	nc, err := nats.Connect(url, auth)
	if err != nil {
		t.Fatalf("connect as the reader: %v", err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	st, err := js.Stream(ctx, "CASES")
	if err != nil {
		t.Fatalf("CASES as the reader: %v", err)
	}
	if got := st.CachedInfo().State.Msgs; got < 3 {
		t.Errorf("CASES messages seen by the reader: got %d, want the demo's cases (3 or more)", got)
	}
}

// TestOutsideNATSWithPassword runs the api against an outside server whose only user has
// the service's permissions, its password read from the file that -nats-password-file (or
// its environment twin) names.
func TestOutsideNATSWithPassword(t *testing.T) {
	t.Parallel()
	perms, err := natsauth.Permissions(natsauth.Service)
	if err != nil {
		t.Fatal(err)
	}
	s, err := server.NewServer(&server.Options{
		Host: "127.0.0.1", Port: -1, JetStream: true, StoreDir: t.TempDir(), NoLog: true, NoSigs: true,
		Users: []*server.User{{Username: "casestream", Password: "pa55 word", Permissions: perms}},
	})
	if err != nil {
		t.Fatal(err)
	}
	s.Start()
	t.Cleanup(func() { s.Shutdown(); s.WaitForShutdown() })
	if !s.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats-server not ready")
	}
	pw := filepath.Join(t.TempDir(), "pw")
	if err := os.WriteFile(pw, []byte("pa55 word\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"CASESTREAM_NATS_URL": s.ClientURL(), "CASESTREAM_NATS_USER": "casestream", "CASESTREAM_NATS_PASSWORD_FILE": pw}
	m := parsedMain(t, []string{"-addr", "127.0.0.1:0", "-directory", demoFileP}, env)
	runMain(t, m)
	c := newClient(t, m)
	// Ready once the in-process projector has replayed CASES, which goes on after Run.
	eventually.Check(t, 10*time.Second, 20*time.Millisecond, func() error {
		if st, b, _ := c.do(req{method: "GET", path: "/readyz"}); st != http.StatusOK {
			return fmt.Errorf("readyz: got %d %s, want 200", st, b)
		}
		return nil
	})
	c.openCase("ACCOUNTS", "OPEN_ACCOUNT")
}
