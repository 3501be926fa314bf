package main

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/casestream/casestream/internal/embedded"
)

// parsedMain is a Main set up from command-line args and an environment, as the binary
// would be, with the cheapest bcrypt cost and its log and output discarded; runMain runs it.
func parsedMain(t testing.TB, args []string, env map[string]string) *Main {
	t.Helper()
	m := NewMain()
	if err := m.ParseFlags(args, func(k string) (string, bool) { v, ok := env[k]; return v, ok }); err != nil {
		t.Fatal(err)
	}
	m.Config.BcryptCost = 4
	m.Logger, m.Stdout = slog.New(slog.NewTextHandler(io.Discard, nil)), io.Discard
	return m
}

// runMain runs m and closes it when the test ends.
func runMain(t testing.TB, m *Main) {
	t.Helper()
	if err := m.Run(context.Background()); err != nil {
		m.Close()
		t.Fatalf("run api: %v", err)
	}
	t.Cleanup(func() { m.Close() })
}

// withDirectory writes b as the bootstrap directory file, in a temp dir, and uses it.
func withDirectory(t testing.TB, b []byte) func(*Config) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "directory.json")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return func(c *Config) { c.DirectoryFile = path }
}

// withDemoEdited uses the demo directory as edit changes it: f holds its arrays by key.
func withDemoEdited(t testing.TB, edit func(f map[string][]map[string]any)) func(*Config) {
	t.Helper()
	b, err := os.ReadFile(demoFileP)
	if err != nil {
		t.Fatal(err)
	}
	var f map[string][]map[string]any
	mustJSON(t, b, &f)
	edit(f)
	out, err := json.Marshal(f)
	if err != nil {
		t.Fatal(err)
	}
	return withDirectory(t, out)
}

// connectJS connects to s as the api does and returns its JetStream and the connection, for
// the caller to close.
func connectJS(t testing.TB, s *embedded.Server) (jetstream.JetStream, *nats.Conn) {
	t.Helper()
	nc, err := embedded.Connect(s)
	if err != nil {
		t.Fatal(err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		t.Fatal(err)
	}
	return js, nc
}

// expect sends r and fails the test unless the answer has status want; it returns the body.
func (c *client) expect(want int, r req) []byte {
	c.t.Helper()
	st, b, _ := c.do(r)
	if st != want {
		c.t.Fatalf("%s %s: got %d %s, want %d", r.method, r.path, st, b, want)
	}
	return b
}

// restartAPI closes m and starts the api again on its data directory, with mods, and a
// client of the new one.
func restartAPI(t testing.TB, m *Main, mods ...func(*Config)) (*Main, *client) {
	t.Helper()
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	m2 := startAPI(t, m.Config.Data, mods...)
	return m2, newClient(t, m2)
}

// streamInfo returns the state of one of m's streams; opts ask for more of it.
func streamInfo(t testing.TB, m *Main, name string, opts ...jetstream.StreamInfoOpt) *jetstream.StreamInfo {
	t.Helper()
	s, err := jetStream(t, m).Stream(context.Background(), name)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(context.Background(), opts...)
	if err != nil {
		t.Fatal(err)
	}
	return info
}

// flagCase is a command line and an environment, and the setting they give (or an error).
type flagCase[T comparable] struct {
	name    string
	args    []string
	env     map[string]string
	want    T
	wantErr bool
}

// checkFlag parses each case and compares the setting that get reads from the config.
func checkFlag[T comparable](t *testing.T, get func(Config) T, cases []flagCase[T]) {
	t.Helper()
	for _, tt := range cases {
		t.Run(tt.name, func(t *testing.T) {
			m := NewMain()
			m.Stdout = io.Discard
			err := m.ParseFlags(tt.args, func(k string) (string, bool) { v, ok := tt.env[k]; return v, ok })
			if (err != nil) != tt.wantErr {
				t.Fatalf("got error %v, want error: %v", err, tt.wantErr)
			}
			if got := get(m.Config); !tt.wantErr && got != tt.want {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
		})
	}
}
