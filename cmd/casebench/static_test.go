package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"testing"
)

// staticBodies returns n distinct bodies of size bytes, keyed by agentID.
func staticBodies(n, size int) map[string][]byte {
	out := make(map[string][]byte, n)
	for k := range n {
		out[agentID(k)] = bytes.Repeat([]byte{byte('a' + k%26)}, size)
	}
	return out
}

func TestServeStatic(t *testing.T) {
	bodies := staticBodies(3, 100)
	srv, err := serveStatic(bodies)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	// A fourth agent, whose listing the server does not hold.
	b := &bench{sc: scale{agents: 4}}
	get := b.lister(srv.Addr, "static")
	c := newWireConns(srv.Addr, 1)[0]
	defer c.close()
	for k := range 3 {
		body, err := get(context.Background(), c, k, true)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(body, bodies[agentID(k)]) {
			t.Errorf("agent %d: got %q", k, body)
		}
	}
	var status *errStatus
	if _, err := get(context.Background(), c, 3, true); !errors.As(err, &status) || status.status != http.StatusNotFound {
		t.Errorf("an unknown agent: got %v, want status 404", err)
	}
}

// BenchmarkServeStatic measures the static handler answering 110 kB bodies to 8 parallel
// clients: always the same body, or each agent's own among 100, which is what the listing
// answers.
func BenchmarkServeStatic(b *testing.B) {
	for _, agents := range []int{1, 100} {
		b.Run(fmt.Sprintf("bodies=%d", agents), func(b *testing.B) {
			srv, err := serveStatic(staticBodies(agents, 110_000))
			if err != nil {
				b.Fatal(err)
			}
			defer srv.Close()
			b.SetParallelism(4)
			b.RunParallel(func(pb *testing.PB) {
				c := newWireConns(srv.Addr, 1)[0]
				defer c.close()
				k := 0
				for pb.Next() {
					req := request(http.MethodGet, srv.Addr, "/app/agents/"+agentID(k%agents)+"/activeCases", http.Header{}, nil)
					if _, err := c.do(context.Background(), req, http.StatusOK, false); err != nil {
						b.Error(err)
						return
					}
					k += 7
				}
			})
		})
	}
}
