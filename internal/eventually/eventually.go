// Package eventually lets a test wait, by polling, for what another goroutine or process
// brings about: tests never sleep a fixed time to wait for it.
package eventually

import (
	"testing"
	"time"
)

// Check calls fn every step until it returns nil, and fails the test with fn's last error
// once total has passed. fn is called at least once.
func Check(tb testing.TB, total, step time.Duration, fn func() error) {
	tb.Helper()
	deadline := time.Now().Add(total)
	for {
		err := fn()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			tb.Fatalf("after %v: %v", total, err)
			return
		}
		time.Sleep(step)
	}
}
