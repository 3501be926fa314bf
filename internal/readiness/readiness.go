// Package readiness answers /readyz: it runs a process's named checks (NATS connected,
// streams present, projection caught up) and reports each of them as JSON, with 503 when
// any fails, so that a load balancer stops sending requests and an operator sees why.
package readiness

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// Timeout bounds one /readyz answer: each check gets at most this long.
const Timeout = 2 * time.Second

// Check is one named condition of readiness; Run returns nil when it holds.
type Check struct {
	Name string
	Run  func(ctx context.Context) error
}

// Result is a check's outcome in the report.
type Result struct {
	Name  string `json:"name"`
	OK    bool   `json:"ok"`
	Error string `json:"error,omitempty"`
}

// Report is the /readyz body: status "ready" or "unavailable", and every check's result in
// the order given.
type Report struct {
	Status string   `json:"status"`
	Checks []Result `json:"checks"`
}

// Ready reports whether every check passed.
func (r Report) Ready() bool { return r.Status == "ready" }

// Run runs the checks concurrently, each bounded by ctx, and reports them.
func Run(ctx context.Context, checks []Check) Report {
	out := Report{Status: "ready", Checks: make([]Result, len(checks))}
	var wg sync.WaitGroup
	for i, c := range checks {
		wg.Go(func() {
			out.Checks[i] = Result{Name: c.Name, OK: true}
			if err := c.Run(ctx); err != nil {
				out.Checks[i] = Result{Name: c.Name, Error: err.Error()}
			}
		})
	}
	wg.Wait()
	for _, r := range out.Checks {
		if !r.OK {
			out.Status = "unavailable"
		}
	}
	return out
}

// Handler answers the checks' report: 200 when all pass, 503 otherwise.
func Handler(checks []Check) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), Timeout)
		defer cancel()
		rep := Run(ctx, checks)
		status := http.StatusOK
		if !rep.Ready() {
			status = http.StatusServiceUnavailable
		}
		b, err := json.Marshal(rep)
		if err != nil { // a Report always encodes
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		b = append(b, '\n')
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Length", strconv.Itoa(len(b)))
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(status)
		_, _ = w.Write(b)
	})
}
