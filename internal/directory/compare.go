package directory

import (
	"errors"
	"runtime"
	"sync/atomic"
	"time"

	"golang.org/x/sync/singleflight"
)

// ErrBusy refuses a verification that needed a bcrypt comparison while the comparisons in
// flight were at their bound for longer than the bounded wait. It says nothing about the
// credentials: the caller may retry.
var ErrBusy = errors.New("directory: credential verification busy")

// DefaultCompareWait is how long a verification waits for a free comparison slot before
// ErrBusy: about as long as a few comparisons take at bcrypt's default cost.
const DefaultCompareWait = 250 * time.Millisecond

// DefaultCompareLimit is the number of bcrypt comparisons run at once by default: half the
// usable CPUs, at least one, so that guessing cannot take every CPU from verified callers
// (credential-cache hits, sessions, tokens), who need none.
func DefaultCompareLimit() int { return max(1, runtime.GOMAXPROCS(0)/2) }

// compareBound bounds the bcrypt comparisons in flight: a slot is a buffered channel's
// place, so at most cap(slots) run at once, and a caller waits at most wait for one.
type compareBound struct {
	slots chan struct{}
	wait  time.Duration

	// flights shares one comparison among concurrent checks of the same hash and secret: a
	// client's first calls often arrive together with the same credentials.
	flights singleflight.Group

	// Counters for CompareStats.
	total, refused atomic.Uint64
}

func newCompareBound(n int, wait time.Duration) *compareBound {
	return &compareBound{slots: make(chan struct{}, max(1, n)), wait: wait}
}

// CompareStats counts the bcrypt comparisons of a Directory.
type CompareStats struct {
	// Total is the number of comparisons run; InFlight those running now; Refused the
	// verifications answered ErrBusy.
	Total, InFlight, Refused uint64
	// Limit is the bound on InFlight.
	Limit int
}

// LimitCompares sets the bound on bcrypt comparisons at once (at least 1) and how long a
// verification waits for a free slot before ErrBusy. Call it before the first
// verification; New sets DefaultCompareLimit and DefaultCompareWait.
func (d *Directory) LimitCompares(n int, wait time.Duration) {
	d.bound = newCompareBound(n, wait)
}

// CompareStats returns the counts of bcrypt comparisons.
func (d *Directory) CompareStats() CompareStats {
	b := d.bound
	return CompareStats{Total: b.total.Load(), InFlight: uint64(len(b.slots)), Refused: b.refused.Load(), Limit: cap(b.slots)}
}

// compareBounded runs d.compare in one of the bound's slots, or returns ErrBusy when none
// frees up within the bounded wait: a flood of wrong guesses gets fast refusals instead of
// a queue that grows without limit.
func (d *Directory) compareBounded(hash, secret []byte) error {
	k := Digest(string(hash), string(secret))
	_, err, _ := d.bound.flights.Do(string(k[:]), func() (any, error) { return nil, d.compareInSlot(hash, secret) })
	return err
}

func (d *Directory) compareInSlot(hash, secret []byte) error {
	b := d.bound
	select {
	case b.slots <- struct{}{}:
	default:
		t := time.NewTimer(b.wait)
		select {
		case b.slots <- struct{}{}:
			t.Stop()
		case <-t.C:
			b.refused.Add(1)
			return ErrBusy
		}
	}
	defer func() { <-b.slots }()
	b.total.Add(1)
	return d.compare(hash, secret)
}

// refusal is the answer after a comparison that did not match or did not run: ErrBusy if
// it was refused (so that a busy refusal does not tell known principals from unknown
// ones), ErrBadCredentials otherwise.
func refusal(compareErr error) error {
	if errors.Is(compareErr, ErrBusy) {
		return ErrBusy
	}
	return ErrBadCredentials
}
