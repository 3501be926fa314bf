package httpapi

import (
	"crypto/sha256"
	"errors"
	"math"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/casestream/casestream/internal/directory"
)

// AttemptLimits bounds failed credential checks. Each principal (operator email, lower-cased;
// touchpoint code; client_id) and each client address has a token bucket: a failed check
// takes a token, a success takes none, and a check finding the bucket empty (counting the
// checks still running) is refused before any bcrypt work. Credentials that succeeded within RememberGood are let through
// even when the bucket is empty: guessing a principal does not lock out its own clients.
type AttemptLimits struct {
	// PrincipalBurst failed checks of one principal in a row; then one per PrincipalEvery.
	PrincipalBurst int
	PrincipalEvery time.Duration
	// AddressBurst failed checks from one client address in a row; then one per AddressEvery.
	AddressBurst int
	AddressEvery time.Duration
	// MaxTracked bounds the buckets kept per kind (principals, addresses): full buckets are
	// dropped first, then arbitrary ones.
	MaxTracked int
	// RememberGood is how long a success lets the same credentials past an empty bucket.
	RememberGood time.Duration
	// TrustedProxies are the addresses whose X-Forwarded-For is believed: the client
	// address is then the last one in that header that is not a trusted proxy. Empty: the
	// connection's remote address, always.
	TrustedProxies []netip.Prefix
}

// DefaultAttemptLimits: five wrong passwords in a row per principal, then one every 20 s;
// twenty wrong checks in a row per address, then one every 3 s.
func DefaultAttemptLimits() AttemptLimits {
	return AttemptLimits{
		PrincipalBurst: 5, PrincipalEvery: 20 * time.Second,
		AddressBurst: 20, AddressEvery: 3 * time.Second,
		MaxTracked: 100_000, RememberGood: 60 * time.Second,
	}
}

// Kinds of principals, part of the bucket key.
const (
	principalOperator    = "operator"
	principalTouchpoint  = "touchpoint"
	principalApplication = "application"
)

// tooManyAttempts is a credential check refused by the attempt limits; after is when the
// empty bucket has a token again.
type tooManyAttempts struct{ after time.Duration }

func (e *tooManyAttempts) Error() string { return "too many failed attempts" }

// retryAfter is the Retry-After header's value: whole seconds, at least 1.
func retryAfter(d time.Duration) string {
	return strconv.Itoa(max(1, int(math.Ceil(d.Seconds()))))
}

// outcome is what a credential check came to.
type outcome int

const (
	// checkFailed: the secret was wrong, or the principal unknown.
	checkFailed outcome = iota
	// checkPassed: the secret was right (a blocked operator's too).
	checkPassed
	// checkVoid: no comparison ran (the bcrypt bound refused it).
	checkVoid
)

// attempts enforces AttemptLimits.
type attempts struct {
	cfg AttemptLimits
	now func() time.Time

	mu         sync.Mutex // guards principals, addresses and every limiter in them, and good
	principals buckets
	addresses  buckets
	good       map[[sha256.Size]byte]time.Time // credentials that succeeded -> until when they pass
}

// buckets is a bounded set of token buckets.
type buckets struct {
	every time.Duration
	burst int
	m     map[[sha256.Size]byte]*bucket
}

// bucket is one key's token bucket and its checks still running, each of which may yet
// take a token.
type bucket struct {
	lim     *rate.Limiter
	pending int
}

// wait is how long until b has a whole token beyond its pending checks; zero if it has one.
// A full bucket (no failure lately) admits any number of concurrent checks: a client's first
// calls often arrive together, and guesses among them are bounded by the bcrypt bound.
func (b *bucket) wait(now time.Time, burst int) time.Duration {
	tokens := b.lim.TokensAt(now)
	if tokens >= float64(burst) {
		return 0
	}
	tokens -= float64(b.pending)
	if tokens >= 1 {
		return 0
	}
	return time.Duration((1 - tokens) / float64(b.lim.Limit()) * float64(time.Second))
}

func newAttempts(cfg AttemptLimits) *attempts {
	return &attempts{
		cfg: cfg, now: time.Now,
		principals: buckets{every: cfg.PrincipalEvery, burst: cfg.PrincipalBurst, m: map[[sha256.Size]byte]*bucket{}},
		addresses:  buckets{every: cfg.AddressEvery, burst: cfg.AddressBurst, m: map[[sha256.Size]byte]*bucket{}},
		good:       map[[sha256.Size]byte]time.Time{},
	}
}

// begin starts a credential check of secret for principal from addr. It returns
// tooManyAttempts if the principal's or the address's bucket is empty and these
// credentials have not succeeded lately; otherwise a func to call with the check's outcome.
func (a *attempts) begin(kind, principal, secret string, addr netip.Addr) (done func(outcome), err error) {
	goodKey := directory.Digest(kind, principal, secret)
	pKey, aKey := directory.Digest(kind, principal), directory.Digest(addr.String())
	now := a.now()
	a.mu.Lock()
	defer a.mu.Unlock()
	if until, ok := a.good[goodKey]; ok && now.Before(until) {
		return func(o outcome) { a.finish(goodKey, nil, o) }, nil
	}
	pb, ab := a.principals.get(pKey, now, a.cfg.MaxTracked), a.addresses.get(aKey, now, a.cfg.MaxTracked)
	if wait := max(pb.wait(now, a.cfg.PrincipalBurst), ab.wait(now, a.cfg.AddressBurst)); wait > 0 {
		return nil, &tooManyAttempts{after: wait}
	}
	bs := []*bucket{pb, ab}
	for _, b := range bs {
		b.pending++
	}
	return func(o outcome) { a.finish(goodKey, bs, o) }, nil
}

// finish records a check's outcome: a failure takes a token from each bucket; a success is
// remembered.
func (a *attempts) finish(goodKey [sha256.Size]byte, bs []*bucket, o outcome) {
	now := a.now()
	a.mu.Lock()
	defer a.mu.Unlock()
	switch o {
	case checkFailed:
		delete(a.good, goodKey)
	case checkPassed:
		a.remember(goodKey, now)
	}
	for _, b := range bs {
		b.pending--
		if o == checkFailed {
			b.lim.AllowN(now, 1)
		}
	}
}

// remember lets goodKey past empty buckets until RememberGood from now. The set is bounded
// like the buckets: expired entries go first, then arbitrary ones.
func (a *attempts) remember(key [sha256.Size]byte, now time.Time) {
	if _, ok := a.good[key]; !ok && len(a.good) >= a.cfg.MaxTracked {
		for k, until := range a.good {
			if !now.Before(until) {
				delete(a.good, k)
			}
		}
		for k := range a.good {
			if len(a.good) < a.cfg.MaxTracked-a.cfg.MaxTracked/8 {
				break
			}
			delete(a.good, k)
		}
	}
	a.good[key] = now.Add(a.cfg.RememberGood)
}

// get returns key's limiter, making room for a new one if needed: a full bucket is the same
// as none, so those go first; if none is full, an arbitrary eighth goes, so that a flood of
// distinct keys cannot grow memory without bound.
func (b *buckets) get(key [sha256.Size]byte, now time.Time, maxTracked int) *bucket {
	if bk, ok := b.m[key]; ok {
		return bk
	}
	if len(b.m) >= maxTracked {
		for k, bk := range b.m {
			if bk.pending == 0 && bk.lim.TokensAt(now) >= float64(b.burst) {
				delete(b.m, k)
			}
		}
		for k := range b.m {
			if len(b.m) < maxTracked-maxTracked/8 {
				break
			}
			delete(b.m, k)
		}
	}
	bk := &bucket{lim: rate.NewLimiter(rate.Every(b.every), b.burst)}
	b.m[key] = bk
	return bk
}

// check runs verify, a check of secret for principal (of kind) sent by r's client, under
// the attempt limits.
func (s *Server) check(r *http.Request, kind, principal, secret string, verify func() error) error {
	done, err := s.attempts.begin(kind, principal, secret, s.attempts.clientAddr(r))
	if err != nil {
		return err
	}
	err = verify()
	switch {
	case err == nil, errors.Is(err, directory.ErrBlocked):
		done(checkPassed)
	case errors.Is(err, directory.ErrBusy):
		done(checkVoid)
	default:
		done(checkFailed)
	}
	return err
}

// len returns the number of tracked buckets of both kinds.
func (a *attempts) len() (principals, addresses, good int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.principals.m), len(a.addresses.m), len(a.good)
}

// clientAddr is the address a request's attempts are counted against: the connection's
// remote address, or, when that is a trusted proxy, the last X-Forwarded-For entry that is
// not one.
func (a *attempts) clientAddr(r *http.Request) netip.Addr {
	addr := remoteAddr(r)
	if !a.trusted(addr) {
		return addr
	}
	fwd := r.Header.Values("X-Forwarded-For")
	for i := len(fwd) - 1; i >= 0; i-- {
		parts := strings.Split(fwd[i], ",")
		for j := len(parts) - 1; j >= 0; j-- {
			hop, err := netip.ParseAddr(strings.TrimSpace(parts[j]))
			if err != nil {
				return addr // a malformed hop: count it against the last trusted one
			}
			addr = hop.Unmap()
			if !a.trusted(addr) {
				return addr
			}
		}
	}
	return addr
}

func (a *attempts) trusted(addr netip.Addr) bool {
	for _, p := range a.cfg.TrustedProxies {
		if p.Contains(addr) {
			return true
		}
	}
	return false
}

// remoteAddr is the connection's remote IP address; the zero Addr if it has none (an
// in-process request), which then counts as one address.
func remoteAddr(r *http.Request) netip.Addr {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	addr, _ := netip.ParseAddr(host)
	return addr.Unmap()
}
