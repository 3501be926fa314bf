package eventually

import (
	"errors"
	"testing"
	"time"
)

func TestCheckReturnsOnceTrue(t *testing.T) {
	n := 0
	Check(t, time.Second, time.Millisecond, func() error {
		if n++; n < 3 {
			return errors.New("not yet")
		}
		return nil
	})
	if n != 3 {
		t.Errorf("fn called %d times, want 3", n)
	}
}

// fatalRecorder records Fatalf instead of stopping the goroutine.
type fatalRecorder struct {
	testing.TB
	msg string
}

func (f *fatalRecorder) Helper() {}
func (f *fatalRecorder) Fatalf(format string, args ...any) {
	f.msg = format
}

func TestCheckFailsAfterTotal(t *testing.T) {
	rec := &fatalRecorder{TB: t}
	calls := 0
	Check(rec, 5*time.Millisecond, time.Millisecond, func() error { calls++; return errors.New("never") })
	if rec.msg == "" || calls < 2 {
		t.Errorf("after the deadline: Fatalf %q, %d calls; want a failure after several calls", rec.msg, calls)
	}
}
