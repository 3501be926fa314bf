// Package embeddedtest starts the embedded nats-server for tests, as net/http/httptest does
// for HTTP servers: kept apart from package embedded so that programs do not link "testing".
package embeddedtest

import (
	"testing"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/casestream/casestream/internal/embedded"
	"github.com/casestream/casestream/internal/natsauth"
)

// Start starts a server for a test: a random client port on 127.0.0.1, JetStream storage and
// the identities' seeds in temporary directories, lazy fsync. The connection, in process and
// authenticated as the service, and the server are closed when the test ends.
func Start(tb testing.TB) (*embedded.Server, *nats.Conn) {
	tb.Helper()
	return StartWith(tb, embedded.Options{})
}

// StartWith is Start with the given options; an empty StoreDir or IdentityDir is a
// temporary directory and an empty Listen a random port on 127.0.0.1.
func StartWith(tb testing.TB, opts embedded.Options) (*embedded.Server, *nats.Conn) {
	tb.Helper()
	if opts.StoreDir == "" {
		opts.StoreDir = tb.TempDir()
	}
	if opts.IdentityDir == "" {
		opts.IdentityDir = tb.TempDir()
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

// Connect connects to s's client listener as id (with the service's inbox prefix when id is
// the service, as its programs connect); the connection is closed when the test ends.
func Connect(tb testing.TB, s *embedded.Server, id natsauth.Identity, opts ...nats.Option) *nats.Conn {
	tb.Helper()
	auth, err := s.Keys.Option(id)
	if err != nil {
		tb.Fatalf("%s's nkey: %v", id, err)
	}
	opts = append([]nats.Option{auth, nats.Name("test-" + string(id))}, opts...)
	if id == natsauth.Service {
		opts = append(opts, nats.CustomInboxPrefix(natsauth.ServiceInboxPrefix))
	}
	nc, err := nats.Connect(s.ClientURL(), opts...)
	if err != nil {
		tb.Fatalf("connect as %s: %v", id, err)
	}
	tb.Cleanup(nc.Close)
	return nc
}

// JetStream returns a JetStream context on nc.
func JetStream(tb testing.TB, nc *nats.Conn, opts ...jetstream.JetStreamOpt) jetstream.JetStream {
	tb.Helper()
	js, err := jetstream.New(nc, opts...)
	if err != nil {
		tb.Fatalf("jetstream: %v", err)
	}
	return js
}
