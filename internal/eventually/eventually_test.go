package eventually

import (
	"errors"
	"fmt"
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
func (f *fatalRecorder) Fatal(args ...any) {
	f.msg = fmt.Sprint(args...)
}

func TestCheckFailsAfterTotal(t *testing.T) {
	rec := &fatalRecorder{TB: t}
	calls := 0
	Check(rec, 5*time.Millisecond, time.Millisecond, func() error { calls++; return errors.New("never") })
	if rec.msg == "" || calls < 2 {
		t.Errorf("after the deadline: Fatalf %q, %d calls; want a failure after several calls", rec.msg, calls)
	}
}

func TestWait(t *testing.T) {
	never := errors.New("never")
	tests := []struct {
		name    string
		failing int // calls that fail before fn succeeds; -1 for never
		want    error
	}{
		{"at once", 0, nil},
		{"after a few", 3, nil},
		{"never", -1, never},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			calls := 0
			err := Wait(20*time.Millisecond, time.Millisecond, func() error {
				calls++
				if tt.failing < 0 || calls <= tt.failing {
					return never
				}
				return nil
			})
			if !errors.Is(err, tt.want) || (tt.want == nil) != (err == nil) {
				t.Fatalf("got %v, want %v", err, tt.want)
			}
			if tt.failing >= 0 && calls != tt.failing+1 {
				t.Errorf("got %d calls, want %d", calls, tt.failing+1)
			}
		})
	}
}
