// Package embeddedtest starts the embedded nats-server for tests, as net/http/httptest does
// for HTTP servers: kept apart from package embedded so that programs do not link "testing".
package embeddedtest

import (
	"testing"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/casestream/casestream/embedded"
)

// Start starts a server for a test: a random client port on 127.0.0.1, JetStream storage in
// a temporary directory, lazy fsync. The connection and the server are closed when the test
// ends.
func Start(tb testing.TB) (*server.Server, *nats.Conn) {
	tb.Helper()
	return StartWith(tb, embedded.Options{})
}

// StartWith is Start with the given options; an empty StoreDir is a temporary directory
// and an empty Listen a random port on 127.0.0.1.
func StartWith(tb testing.TB, opts embedded.Options) (*server.Server, *nats.Conn) {
	tb.Helper()
	if opts.StoreDir == "" {
		opts.StoreDir = tb.TempDir()
	}
	if opts.Listen == "" {
		opts.Listen = "127.0.0.1:-1"
	}
	s, err := embedded.Start(opts)
	if err != nil {
		tb.Fatalf("start nats-server: %v", err)
	}
	nc, err := embedded.Connect(s)
	if err != nil {
		s.Shutdown()
		s.WaitForShutdown()
		tb.Fatalf("connect: %v", err)
	}
	tb.Cleanup(func() {
		nc.Close()
		s.Shutdown()
		s.WaitForShutdown()
	})
	return s, nc
}
