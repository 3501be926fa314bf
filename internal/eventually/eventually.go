// Package eventually lets a test wait, by polling, for what another goroutine or process
// brings about: tests never sleep a fixed time to wait for it.
package eventually

import (
	"fmt"
	"testing"
	"time"
)

// Check calls fn every step until it returns nil, and fails the test with fn's last error
// once total has passed. fn is called at least once.
func Check(tb testing.TB, total, step time.Duration, fn func() error) {
	tb.Helper()
	if err := Wait(total, step, fn); err != nil {
		tb.Fatal(err)
	}
}

// Wait calls fn every step until it returns nil, and returns nil then, or fn's last error
// once total has passed. fn is called at least once. It is Check for a goroutine that is not
// the test's own, where a test may not be stopped with Fatal: the caller reports the error.
func Wait(total, step time.Duration, fn func() error) error {
	deadline := time.Now().Add(total)
	for {
		err := fn()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("after %v: %w", total, err)
		}
		time.Sleep(step)
	}
}
