// Package embedded runs a nats-server with JetStream inside the casestream process: the
// default one-machine deployment, and the server every integration test starts. Every
// client, the in-process connection included, authenticates with one of the identities of
// internal/natsauth.
package embedded

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/casestream/casestream/internal/natsauth"
)

// readyTimeout bounds how long Start waits for the server to accept connections.
const readyTimeout = 10 * time.Second

// ErrNotReady is returned by Start when the server did not become ready in time.
var ErrNotReady = errors.New("embedded: nats-server not ready for connections")

// Options says where and how the embedded server runs.
type Options struct {
	// StoreDir is the directory of JetStream's file storage.
	StoreDir string
	// Listen is the "host:port" where NATS clients connect. Empty means no client listener:
	// the server is reachable only in process, through Connect.
	Listen string
	// SyncAlways makes the server fsync before acknowledging every write. Without it the
	// server syncs lazily and may lose acknowledged writes on power loss.
	SyncAlways bool
	// ServerName names the server in monitoring and cluster output; empty lets the server
	// pick one.
	ServerName string
	// Cluster, if set, makes the server one node of a JetStream cluster.
	Cluster *Cluster
	// IdentityDir keeps the identities' nkey seeds (natsauth.LoadOrCreate): created on the
	// first start, reused after. Required: the server accepts no client without one.
	IdentityDir string
}

// Cluster says how a server joins a JetStream cluster. Every node needs a distinct
// ServerName.
type Cluster struct {
	// Name is the cluster's name, the same on every node.
	Name string
	// Listen is the "host:port" where the other nodes connect their routes.
	Listen string
	// Routes are the route URLs (nats://host:port) of every node, this one's included.
	Routes []string
}

// Server is a running embedded server and the keys of the identities it accepts.
type Server struct {
	*server.Server
	// Keys are the identities' nkeys; Connect authenticates as the service with them.
	Keys *natsauth.Keys
}

// Start starts a nats-server with JetStream on file storage in opts.StoreDir and returns it
// once it accepts connections. Its only users are the identities whose seeds are in
// opts.IdentityDir, each with its permissions; there is no anonymous access. The server
// installs no signal handlers: the caller owns the process's lifecycle and calls Shutdown.
func Start(opts Options) (*Server, error) {
	if opts.StoreDir == "" {
		return nil, errors.New("embedded: StoreDir is required")
	}
	if opts.IdentityDir == "" {
		return nil, errors.New("embedded: IdentityDir is required")
	}
	keys, err := natsauth.LoadOrCreate(opts.IdentityDir)
	if err != nil {
		return nil, err
	}
	users, err := keys.Users()
	if err != nil {
		return nil, err
	}
	sopts := &server.Options{
		ServerName: opts.ServerName,
		JetStream:  true,
		StoreDir:   opts.StoreDir,
		SyncAlways: opts.SyncAlways,
		Nkeys:      users,
		NoSigs:     true,
		NoLog:      true,
	}
	if opts.Listen == "" {
		sopts.DontListen = true
	} else {
		host, port, err := splitHostPort(opts.Listen)
		if err != nil {
			return nil, err
		}
		sopts.Host, sopts.Port = host, port
	}
	if c := opts.Cluster; c != nil {
		host, port, err := splitHostPort(c.Listen)
		if err != nil {
			return nil, err
		}
		sopts.Cluster = server.ClusterOpts{Name: c.Name, Host: host, Port: port}
		sopts.Routes = server.RoutesFromStr(strings.Join(c.Routes, ","))
	}
	s, err := start(sopts)
	if err != nil {
		return nil, err
	}
	return &Server{Server: s, Keys: keys}, nil
}

func start(sopts *server.Options) (*server.Server, error) {
	s, err := server.NewServer(sopts)
	if err != nil {
		return nil, fmt.Errorf("embedded: new server: %w", err)
	}
	s.Start()
	if !s.ReadyForConnections(readyTimeout) {
		s.Shutdown()
		s.WaitForShutdown()
		return nil, ErrNotReady
	}
	return s, nil
}

// splitHostPort parses "host:port"; port -1 asks for a random free port.
func splitHostPort(addr string) (string, int, error) {
	host, p, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, fmt.Errorf("embedded: listen address %q: %w", addr, err)
	}
	port, err := strconv.Atoi(p)
	if err != nil || port < -1 || port > 65535 {
		return "", 0, fmt.Errorf("embedded: listen address %q: bad port", addr)
	}
	return host, port, nil
}

// Connect opens a client connection to s in process, without a network listener, so it
// works whether or not s accepts outside clients. It authenticates as the service, with the
// service's inbox prefix.
func Connect(s *Server, opts ...nats.Option) (*nats.Conn, error) {
	auth, err := s.Keys.Option(natsauth.Service)
	if err != nil {
		return nil, fmt.Errorf("embedded: connect: %w", err)
	}
	opts = append([]nats.Option{nats.InProcessServer(s.Server), auth, nats.CustomInboxPrefix(natsauth.ServiceInboxPrefix)}, opts...)
	nc, err := nats.Connect("", opts...)
	if err != nil {
		return nil, fmt.Errorf("embedded: connect: %w", err)
	}
	return nc, nil
}
