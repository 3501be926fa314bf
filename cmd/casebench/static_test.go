package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
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
	b := &bench{sc: scale{agents: 3}}
	get := b.lister(httpClient(1), "http://"+srv.Addr, "static")
	for k := range 3 {
		body, err := get(context.Background(), k, true)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(body, bodies[agentID(k)]) {
			t.Errorf("agent %d: got %q", k, body)
		}
	}
	if _, err := get(context.Background(), 3, true); err == nil {
		t.Error("an unknown agent was answered")
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
			c := httpClient(8)
			b.SetParallelism(4)
			b.RunParallel(func(pb *testing.PB) {
				k := 0
				for pb.Next() {
					resp, err := c.Get("http://" + srv.Addr + "/app/agents/" + agentID(k%agents) + "/activeCases")
					if err != nil {
						b.Error(err)
						return
					}
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode != http.StatusOK {
						b.Errorf("status %d", resp.StatusCode)
						return
					}
					k += 7
				}
			})
		})
	}
}
