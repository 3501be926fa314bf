package main

import (
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// BenchmarkVerifiedUnderGuessing measures a verified operator's calls (correct HTTP Basic,
// answered from the credential cache) while 16 clients guess alice's password through
// POST /api/v4/signin as fast as they are answered, all on loopback, with secrets hashed at
// bcrypt's default cost. It reports the verified calls' p50 and p99 and logs the guessers'
// answers by status. Run it with a fixed count, e.g.
//
//	go test ./cmd/api/ -run '^$' -bench VerifiedUnderGuessing -benchtime 300x
func BenchmarkVerifiedUnderGuessing(b *testing.B) {
	const guessers = 16
	m, c := startClient(b, func(c *Config) { c.BcryptCost = bcrypt.DefaultCost })
	verified := asOperator(bob, bobPW, "GET", "/cases", "")
	if st, body, _ := c.do(verified); st != http.StatusOK {
		b.Fatalf("verified call: got %d %s, want 200", st, body)
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var mu sync.Mutex // guards answers
	answers := map[int]int{}
	var sent atomic.Int64
	for g := range guessers {
		gc := newClient(b, m)
		wg.Go(func() {
			for n := 0; ; n++ {
				select {
				case <-stop:
					return
				default:
				}
				body := fmt.Sprintf(`{"principal":%q,"password":"guess-%d-%d"}`, alice, g, n)
				st, _, _, err := gc.try(req{method: "POST", path: "/api/v4/signin?" + tpQuery, body: body})
				if err != nil {
					st = -1
				}
				sent.Add(1)
				mu.Lock()
				answers[st]++
				mu.Unlock()
			}
		})
	}
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for range b.N {
		start := time.Now()
		st, body, _ := c.do(verified)
		lat = append(lat, time.Since(start))
		if st != http.StatusOK {
			b.Fatalf("verified call during guessing: got %d %s, want 200", st, body)
		}
	}
	b.StopTimer()
	close(stop)
	wg.Wait()
	slices.Sort(lat)
	pct := func(p float64) time.Duration { return lat[min(len(lat)-1, int(p*float64(len(lat))))] }
	b.ReportMetric(float64(pct(0.50).Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(pct(0.99).Microseconds())/1000, "p99-ms")
	var mix []string
	codes := make([]int, 0, len(answers))
	for st := range answers {
		codes = append(codes, st)
	}
	sort.Ints(codes)
	for _, st := range codes {
		mix = append(mix, fmt.Sprintf("%d: %d", st, answers[st]))
	}
	b.Logf("verified calls %d, p50 %v, p99 %v; guesses %d: %s", len(lat), pct(0.50), pct(0.99), sent.Load(), strings.Join(mix, ", "))
}
