package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/casestream/casestream/internal/embedded"
	"github.com/casestream/casestream/internal/natsauth"
)

// nodeEnv, set in casebench's environment, makes the process one nats-server node of the
// three-replica scenario instead of the load tool: its value is the node's nodeSpec. The
// cluster's nodes are then separate processes, as in production, without a nats-server
// binary to install.
const nodeEnv = "CASEBENCH_NATS_NODE"

// nodeReady is the line a node prints on its standard output once it accepts clients.
const nodeReady = "ready"

// nodeTimeout bounds how long the cluster waits for a node to start or to stop.
const nodeTimeout = 30 * time.Second

// nodeSpec configures one node: the production server's settings (deploy/nats-server.conf:
// JetStream, a sync before every acknowledgement, the nkey identities) on loopback.
type nodeSpec struct {
	Name        string   `json:"name"`
	StoreDir    string   `json:"storeDir"`
	IdentityDir string   `json:"identityDir"`
	Listen      string   `json:"listen"`
	RouteListen string   `json:"routeListen"`
	Routes      []string `json:"routes"`
}

// runNode runs the node spec describes until its standard input closes (the load tool
// that started it stopped or died) or it is signalled.
func runNode(spec string) error {
	var n nodeSpec
	if err := json.Unmarshal([]byte(spec), &n); err != nil {
		return fmt.Errorf("%s: %w", nodeEnv, err)
	}
	s, err := embedded.Start(embedded.Options{
		StoreDir: n.StoreDir, Listen: n.Listen, SyncAlways: true, ServerName: n.Name, IdentityDir: n.IdentityDir,
		Cluster: &embedded.Cluster{Name: "casebench", Listen: n.RouteListen, Routes: n.Routes},
	})
	if err != nil {
		return err
	}
	defer func() {
		s.Shutdown()
		s.WaitForShutdown()
	}()
	fmt.Println(nodeReady)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		_, _ = io.Copy(io.Discard, os.Stdin)
		stop()
	}()
	<-ctx.Done()
	return nil
}

// cluster is three node processes on loopback.
type cluster struct {
	urls  []string
	keys  *natsauth.Keys
	procs []*exec.Cmd
	stdin []io.Closer
}

// startCluster starts n nodes in dir and returns once each accepts clients; the streams'
// leaders may still be in election.
func startCluster(dir string, n int) (c *cluster, err error) {
	keys, err := natsauth.LoadOrCreate(filepath.Join(dir, "identities"))
	if err != nil {
		return nil, err
	}
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	c = &cluster{keys: keys}
	defer func() {
		if err != nil {
			err = errors.Join(err, c.close())
		}
	}()
	var clients, routes []string
	for range n {
		a, err := freeAddr()
		if err != nil {
			return nil, err
		}
		r, err := freeAddr()
		if err != nil {
			return nil, err
		}
		clients, routes = append(clients, a), append(routes, "nats://"+r)
	}
	var ready []*bufio.Reader
	for i := range n {
		spec, err := json.Marshal(nodeSpec{
			Name: fmt.Sprintf("casebench-%d", i+1), StoreDir: filepath.Join(dir, fmt.Sprintf("node-%d", i+1)),
			IdentityDir: keys.Dir(), Listen: clients[i], RouteListen: strings.TrimPrefix(routes[i], "nats://"), Routes: routes,
		})
		if err != nil {
			return nil, err
		}
		cmd := exec.Command(self)
		cmd.Env = append(os.Environ(), nodeEnv+"="+string(spec))
		cmd.Stderr = os.Stderr
		in, err := cmd.StdinPipe()
		if err != nil {
			return nil, err
		}
		out, err := cmd.StdoutPipe()
		if err != nil {
			return nil, err
		}
		if err := cmd.Start(); err != nil {
			return nil, err
		}
		c.procs, c.stdin = append(c.procs, cmd), append(c.stdin, in)
		c.urls = append(c.urls, "nats://"+clients[i])
		ready = append(ready, bufio.NewReader(out))
	}
	for i, r := range ready {
		line := make(chan string, 1)
		go func() {
			s, _ := r.ReadString('\n')
			line <- strings.TrimSpace(s)
		}()
		select {
		case s := <-line:
			if s != nodeReady {
				return nil, fmt.Errorf("node %d did not start (%q)", i+1, s)
			}
		case <-time.After(nodeTimeout):
			return nil, fmt.Errorf("node %d not ready after %v", i+1, nodeTimeout)
		}
	}
	return c, nil
}

// url is the URL list a client of every node connects with.
func (c *cluster) url() string { return strings.Join(c.urls, ",") }

// service authenticates as the service identity.
func (c *cluster) service() natsauth.ClientConfig {
	return natsauth.ClientConfig{Nkey: c.keys.SeedFile(natsauth.Service)}
}

// close stops the nodes: their standard input closes, and a node still running after
// nodeTimeout is killed.
func (c *cluster) close() error {
	for _, in := range c.stdin {
		in.Close()
	}
	var errs []error
	for _, p := range c.procs {
		done := make(chan error, 1)
		go func() { done <- p.Wait() }()
		select {
		case err := <-done:
			errs = append(errs, err)
		case <-time.After(nodeTimeout):
			errs = append(errs, p.Process.Kill(), <-done)
		}
	}
	c.procs, c.stdin = nil, nil
	return errors.Join(errs...)
}

// freeAddr returns a loopback address with a port free a moment ago.
func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}
