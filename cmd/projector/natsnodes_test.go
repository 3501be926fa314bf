package main

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nkeys"

	"github.com/casestream/casestream/internal/eventually"
	"github.com/casestream/casestream/internal/natsauth"
)

// natsNodes are nats-server processes configured as production configures them, by
// deploy/nats-server.conf: the nkey users service, reader and admin, no anonymous access.
// Several make a JetStream cluster; one is a lone server. The identities' seeds are files,
// as docker-compose mounts them.
type natsNodes struct {
	names []string         // node names, nats-1 first
	urls  []string         // client URLs, in the order of names
	procs map[string]*proc // by node name
	seeds string           // directory of <identity>.nk
}

// startNATS starts n nodes of natsBin, killed when the test ends.
func startNATS(t *testing.T, natsBin string, n int) *natsNodes {
	t.Helper()
	c := &natsNodes{procs: map[string]*proc{}, seeds: t.TempDir()}
	// The identities' seeds, as an operator generates them; the servers get the public keys.
	var env []string
	for _, id := range []string{"service", "admin", "reader"} {
		kp, err := nkeys.CreateUser()
		if err != nil {
			t.Fatal(err)
		}
		seed, _ := kp.Seed()
		pub, _ := kp.PublicKey()
		if err := os.WriteFile(c.seed(id), append(seed, '\n'), 0o600); err != nil {
			t.Fatal(err)
		}
		env = append(env, "CASESTREAM_"+strings.ToUpper(id)+"_NKEY="+pub)
	}
	var clients, routeURLs []string
	for range n {
		clients = append(clients, freeAddr(t))
		routeURLs = append(routeURLs, "nats://"+freeAddr(t))
	}
	for i, addr := range clients {
		host, port, _ := strings.Cut(addr, ":")
		name := fmt.Sprintf("nats-%d", i+1)
		args := []string{"-c", "../../deploy/nats-server.conf", "-a", host, "-p", port, "-js", "-sd", filepath.Join(t.TempDir(), "js"), "-n", name}
		if n > 1 {
			args = append(args, "--cluster_name", "casestream", "--cluster", routeURLs[i], "--routes", strings.Join(routeURLs, ","))
		}
		c.names = append(c.names, name)
		c.urls = append(c.urls, "nats://"+addr)
		c.procs[name] = startProcEnv(t, env, natsBin, args...)
	}
	return c
}

// url is the URL list a client of every node connects with.
func (c *natsNodes) url() string { return strings.Join(c.urls, ",") }

// seed is the seed file of identity id (service, reader, admin).
func (c *natsNodes) seed(id string) string { return filepath.Join(c.seeds, id+".nk") }

// connect connects as id, retrying until a node answers and reconnecting forever; closed
// when the test ends.
func (c *natsNodes) connect(t *testing.T, id string) *nats.Conn {
	t.Helper()
	auth, err := nats.NkeyOptionFromSeed(c.seed(id))
	if err != nil {
		t.Fatal(err)
	}
	opts := []nats.Option{auth, nats.MaxReconnects(-1), nats.RetryOnFailedConnect(true)}
	if id == "service" {
		opts = append(opts, nats.CustomInboxPrefix(natsauth.ServiceInboxPrefix))
	}
	nc, err := nats.Connect(c.url(), opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	return nc
}

// serviceArgs are the flags that connect a casestream program to the nodes as the service.
func (c *natsNodes) serviceArgs() []string {
	return []string{"-nats-url", c.url(), "-nats-nkey", c.seed("service")}
}

// callAsClient calls as a client that honours the service's contract for a write: on a
// 503 it waits the Retry-After seconds and sends the same request again (with the same
// headers, an Idempotency-Key among them), for up to total. Any other status is returned,
// and so is a 503 without Retry-After, which breaks the contract.
func callAsClient(t *testing.T, total time.Duration, method, u, body string, hdr map[string]string) (int, string, error) {
	t.Helper()
	var st int
	var b string
	var err error
	var retried []string
	eventually.Check(t, total, 10*time.Millisecond, func() error {
		var h http.Header
		st, b, h, err = callFull(method, u, body, hdr)
		if err != nil || st != http.StatusServiceUnavailable || h.Get("Retry-After") == "" {
			return nil
		}
		retried = append(retried, b)
		secs, perr := strconv.Atoi(h.Get("Retry-After"))
		if perr != nil || secs < 0 {
			return nil
		}
		wait := time.Duration(secs) * time.Second
		select {
		case <-time.After(wait):
		case <-t.Context().Done():
		}
		return fmt.Errorf("%s %s: %d %s, retried after %v", method, u, st, b, wait)
	})
	if len(retried) > 0 {
		t.Logf("%s %s: 503 %d times before %d (%s)", method, u, len(retried), st, strings.Join(retried, " "))
	}
	return st, b, err
}
