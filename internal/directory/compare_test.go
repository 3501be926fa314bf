package directory

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/casestream/casestream/internal/eventually"
)

// TestCompareBound holds comparisons in flight until released: no more than the bound run at
// once, the rest are refused with ErrBusy (known and unknown principals alike), and a
// cached verification answers meanwhile.
func TestCompareBound(t *testing.T) {
	const bound, callers = 2, 8
	_, d := bootstrapDemo(t)
	if _, err := d.VerifyOperator("alice@example.com", "alice-password"); err != nil {
		t.Fatalf("first verification: %v", err)
	}
	d.LimitCompares(bound, 10*time.Millisecond)
	release := make(chan struct{})
	var inFlight, most atomic.Int64
	d.compare = func(hash, secret []byte) error {
		n := inFlight.Add(1)
		for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
		}
		<-release
		inFlight.Add(-1)
		return bcrypt.ErrMismatchedHashAndPassword
	}
	errs := make(chan error, callers)
	var wg sync.WaitGroup
	for i := range callers {
		email := "alice@example.com"
		if i%2 == 1 {
			email = fmt.Sprintf("nobody%d@example.com", i)
		}
		wg.Go(func() {
			_, err := d.VerifyOperator(email, fmt.Sprint("guess-", i))
			errs <- err
		})
	}
	eventually.Check(t, 10*time.Second, time.Millisecond, func() error {
		if s := d.CompareStats(); s.InFlight != bound || s.Refused != callers-bound {
			return fmt.Errorf("got %+v, want %d in flight and %d refused", s, bound, callers-bound)
		}
		return nil
	})
	if _, err := d.VerifyOperator("ALICE@example.com", "alice-password"); err != nil {
		t.Errorf("cached verification while the bound is full: got %v, want nil", err)
	}
	close(release)
	wg.Wait()
	close(errs)
	count := map[error]int{}
	for err := range errs {
		switch {
		case errors.Is(err, ErrBusy):
			count[ErrBusy]++
		case errors.Is(err, ErrBadCredentials):
			count[ErrBadCredentials]++
		default:
			t.Errorf("got %v, want ErrBusy or ErrBadCredentials", err)
		}
	}
	if count[ErrBusy] != callers-bound || count[ErrBadCredentials] != bound {
		t.Errorf("got %d busy and %d bad credentials, want %d and %d", count[ErrBusy], count[ErrBadCredentials], callers-bound, bound)
	}
	if got := most.Load(); got != bound {
		t.Errorf("got at most %d comparisons at once, want %d", got, bound)
	}
	if s := d.CompareStats(); s.Total != bound || s.InFlight != 0 || s.Limit != bound {
		t.Errorf("got %+v, want %d run, none in flight, limit %d", s, bound, bound)
	}
}

func TestDefaultCompareLimit(t *testing.T) {
	if got := New().CompareStats().Limit; got != DefaultCompareLimit() || got < 1 {
		t.Errorf("got limit %d, want DefaultCompareLimit() = %d, at least 1", got, DefaultCompareLimit())
	}
}
