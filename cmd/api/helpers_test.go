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
