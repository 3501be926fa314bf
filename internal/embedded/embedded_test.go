package embedded

import (
	"bytes"
	"context"
	"errors"
	"maps"
	"net"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/casestream/casestream/internal/natsauth"
)

func TestStart(t *testing.T) {
	tests := []struct {
		name       string
		listen     string
		syncAlways bool
		wantClient bool
	}{
		{name: "in process only", listen: "", wantClient: false},
		{name: "with listener", listen: "127.0.0.1:-1", syncAlways: true, wantClient: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := Start(Options{StoreDir: t.TempDir(), IdentityDir: t.TempDir(), Listen: tt.listen, SyncAlways: tt.syncAlways, ServerName: "test"})
			if err != nil {
				t.Fatalf("Start: %v", err)
			}
			t.Cleanup(func() { s.Shutdown(); s.WaitForShutdown() })

			if got := s.JetStreamEnabled(); !got {
				t.Fatalf("JetStreamEnabled: got false, want true")
			}
			if got := s.Name(); got != "test" {
				t.Errorf("Name: got %q, want %q", got, "test")
			}
			if got := s.JetStreamConfig().SyncAlways; got != tt.syncAlways {
				t.Errorf("SyncAlways: got %v, want %v", got, tt.syncAlways)
			}
			if got := s.Addr() != nil; got != tt.wantClient {
				t.Errorf("client listener: got %v, want %v", got, tt.wantClient)
			}
			if tt.wantClient {
				auth, err := s.Keys.Option(natsauth.Reader)
				if err != nil {
					t.Fatal(err)
				}
				nc, err := nats.Connect(s.ClientURL(), auth)
				if err != nil {
					t.Fatalf("connect over the network as the reader: %v", err)
				}
				nc.Close()
			}

			nc, err := Connect(s)
			if err != nil {
				t.Fatalf("Connect: %v", err)
			}
			defer nc.Close()
			js, err := jetstream.New(nc)
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if _, err := js.AccountInfo(ctx); err != nil {
				t.Errorf("AccountInfo: got %v, want nil", err)
			}
		})
	}
}

func TestStartBadListen(t *testing.T) {
	for _, addr := range []string{"nohost", "127.0.0.1:x", "127.0.0.1:70000"} {
		t.Run(addr, func(t *testing.T) {
			if s, err := Start(Options{StoreDir: t.TempDir(), IdentityDir: t.TempDir(), Listen: addr}); err == nil {
				s.Shutdown()
				t.Errorf("Start(%q): got nil error, want one", addr)
			}
		})
	}
}

// TestStartNeedsIdentityDir: without a place for the seeds there are no users, and the
// server would have to accept anyone.
func TestStartNeedsIdentityDir(t *testing.T) {
	if s, err := Start(Options{StoreDir: t.TempDir()}); err == nil {
		s.Shutdown()
		t.Fatal("Start without IdentityDir: got nil error, want one")
	}
}

// TestUnauthenticatedRefused: no client gets in without an identity's key, over the
// listener or in process; a key the server does not know is refused too.
func TestUnauthenticatedRefused(t *testing.T) {
	s, err := Start(Options{StoreDir: t.TempDir(), IdentityDir: t.TempDir(), Listen: "127.0.0.1:-1"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Shutdown(); s.WaitForShutdown() })
	other, err := natsauth.LoadOrCreate(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	stranger, err := other.Option(natsauth.Admin)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		url  string
		opts []nats.Option
	}{
		{name: "listener, no credentials", url: s.ClientURL()},
		{name: "listener, user and password", url: s.ClientURL(), opts: []nats.Option{nats.UserInfo("admin", "admin")}},
		{name: "listener, unknown nkey", url: s.ClientURL(), opts: []nats.Option{stranger}},
		{name: "in process, no credentials", opts: []nats.Option{nats.InProcessServer(queuedWrites{s.Server})}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			nc, err := nats.Connect(tt.url, tt.opts...)
			if err == nil {
				nc.Close()
				t.Fatal("connect: got nil error, want an authorization violation")
			}
			if !errors.Is(err, nats.ErrAuthorization) {
				t.Errorf("connect: got %v, want %v", err, nats.ErrAuthorization)
			}
		})
	}
}

// queuedWrites gives in-process connections whose writes do not wait for the server to read
// them. An in-process connection is a net.Pipe, where a write waits for the reader: the
// server writes its refusal of CONNECT while the client is still writing the PING after it,
// and both wait until the server's write deadline (10 s) closes the pipe, so the client sees
// a closed pipe rather than the refusal.
type queuedWrites struct {
	s interface{ InProcessConn() (net.Conn, error) }
}

func (q queuedWrites) InProcessConn() (net.Conn, error) {
	c, err := q.s.InProcessConn()
	if err != nil {
		return nil, err
	}
	w := &queuedConn{Conn: c, queue: make(chan []byte, 64), closed: make(chan struct{})}
	go func() {
		for {
			select {
			case b := <-w.queue:
				if _, err := c.Write(b); err != nil {
					return
				}
			case <-w.closed:
				return
			}
		}
	}()
	return w, nil
}

type queuedConn struct {
	net.Conn
	queue  chan []byte
	closed chan struct{}
	once   sync.Once
}

func (c *queuedConn) Write(b []byte) (int, error) {
	select {
	case c.queue <- bytes.Clone(b):
		return len(b), nil
	case <-c.closed:
		return 0, net.ErrClosed
	}
}

func (c *queuedConn) Close() error {
	c.once.Do(func() { close(c.closed) })
	return c.Conn.Close()
}

// TestIdentitiesKept: the seeds are created once, readable by their owner only, and a
// restart on the same directory accepts the same keys.
func TestIdentitiesKept(t *testing.T) {
	dir, store := t.TempDir(), t.TempDir()
	var first map[natsauth.Identity]string
	for run := range 2 {
		s, err := Start(Options{StoreDir: store, IdentityDir: dir})
		if err != nil {
			t.Fatal(err)
		}
		keys := map[natsauth.Identity]string{}
		for _, id := range natsauth.Identities {
			keys[id] = s.Keys.PublicKey(id)
			fi, err := os.Stat(s.Keys.SeedFile(id))
			if err != nil {
				t.Fatal(err)
			}
			if got := fi.Mode().Perm(); got != 0o600 {
				t.Errorf("run %d: %s seed mode: got %v, want 0600", run, id, got)
			}
		}
		nc, err := Connect(s)
		if err != nil {
			t.Fatalf("run %d: Connect: %v", run, err)
		}
		nc.Close()
		s.Shutdown()
		s.WaitForShutdown()
		if run == 0 {
			first = keys
		} else if !maps.Equal(keys, first) {
			t.Errorf("keys after restart: got %v, want %v", keys, first)
		}
	}
}
