package directory

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"sync"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/casestream/casestream/events"
)

var (
	// ErrBadCredentials refuses an unknown principal or a wrong secret; the two are not told
	// apart.
	ErrBadCredentials = errors.New("directory: bad credentials")
	// ErrBlocked refuses an operator whose credentials are right but who is blocked.
	ErrBlocked = errors.New("directory: operator blocked")
)

// Defaults of the verification cache. HTTP Basic sends the password with every call; a
// bcrypt comparison costs tens of milliseconds at the default cost, so a success is
// remembered for a short while.
const (
	defaultCacheTTL  = 60 * time.Second
	defaultCacheSize = 10_000
)

// Kinds of secrets, part of the cache key so that equal ids of different kinds never meet,
// and of the credentials bucket's keys. They are the kinds of the entities that own them.
const (
	secretOperator    = events.KindOperator
	secretTouchpoint  = events.KindTouchpoint
	secretApplication = events.KindApplication
)

// dummyHash is compared against when the principal is unknown, so that an unknown email
// costs as much as a wrong password and the two cannot be told apart by timing.
var dummyHash = sync.OnceValue(func() []byte {
	h, err := bcrypt.GenerateFromPassword([]byte("casestream: no such principal"), bcrypt.DefaultCost)
	if err != nil {
		panic(err) // only for a secret over 72 bytes, which this one is not
	}
	return h
})

// VerifyOperator returns the operator with the given email (any case) if password is its
// password. It returns ErrBadCredentials for an unknown email or a wrong password, and
// ErrBlocked for a blocked operator; the password is checked first, so that whether an
// operator is blocked is told only to someone who knows the password.
func (d *Directory) VerifyOperator(email, password string) (events.Operator, error) {
	op, ok := d.OperatorByEmail(email)
	if !ok {
		return events.Operator{}, refusal(d.compareBounded(dummyHash(), []byte(password)))
	}
	if err := d.verify(secretOperator, op.UserID, d.currentHash(secretOperator, op.UserID), password); err != nil {
		return events.Operator{}, err
	}
	if op.Blocked {
		return events.Operator{}, ErrBlocked
	}
	return op, nil
}

// VerifyTouchpoint returns nil if token is the token of the touchpoint with the given code,
// and ErrBadCredentials otherwise.
func (d *Directory) VerifyTouchpoint(code, token string) error {
	tp, ok := d.Touchpoint(code)
	if !ok {
		return refusal(d.compareBounded(dummyHash(), []byte(token)))
	}
	return d.verify(secretTouchpoint, tp.Code, d.currentHash(secretTouchpoint, tp.Code), token)
}

// VerifyApplication returns the application with the given client id if secret is its
// client secret, and ErrBadCredentials otherwise.
func (d *Directory) VerifyApplication(clientID, secret string) (events.Application, error) {
	app, ok := d.ApplicationByClientID(clientID)
	if !ok {
		return events.Application{}, refusal(d.compareBounded(dummyHash(), []byte(secret)))
	}
	if err := d.verify(secretApplication, app.ApplicationID, d.currentHash(secretApplication, app.ApplicationID), secret); err != nil {
		return events.Application{}, err
	}
	return app, nil
}

// reloadTimeout bounds the read of one bucket value that currentHash makes.
const reloadTimeout = 2 * time.Second

// currentHash returns the hash of a secret as the log says it is now. The bucket's watch
// and the DIRECTORY follower are separate deliveries: a replica may apply another's
// SecretChanged event before its watch brings the value that event announces. Since the
// value is written before its event, the value is in the bucket by then, and is read from
// it once, so that a changed secret takes effect with its event on every replica.
func (d *Directory) currentHash(kind, id string) string {
	if d.secrets == nil {
		return ""
	}
	key := secretKey(kind, id)
	e, _ := d.secrets.get(key)
	d.mu.RLock()
	want := d.secretEvents[key]
	d.mu.RUnlock()
	if want != "" && e.EventID != want && d.secrets.reloadOnce(key, want) {
		ctx, cancel := context.WithTimeout(context.Background(), reloadTimeout)
		defer cancel()
		if err := d.secrets.reload(ctx, key); err == nil {
			e, _ = d.secrets.get(key)
		}
	}
	return e.Hash
}

// verify checks secret against hash, through the cache. Only successes are remembered: a
// wrong guess always costs a bcrypt comparison. The key covers the stored hash, so a changed
// secret misses the cache without any invalidation.
func (d *Directory) verify(kind, id, hash, secret string) error {
	key := Digest(kind, id, secret, hash)
	if d.creds.hit(key) {
		CredentialCache.WithLabelValues("hit").Inc()
		return nil
	}
	CredentialCache.WithLabelValues("miss").Inc()
	if hash == "" {
		return ErrBadCredentials
	}
	if err := d.compareBounded([]byte(hash), []byte(secret)); err != nil {
		return refusal(err)
	}
	d.creds.add(key)
	return nil
}

// Digest is the sha256 of the length-prefixed parts, so that no two different tuples share a
// key and a map keyed by it holds no secret in clear: the key of the verification cache, and
// of the api's guessing limits.
func Digest(parts ...string) [sha256.Size]byte {
	h := sha256.New()
	var n [8]byte
	for _, p := range parts {
		binary.BigEndian.PutUint64(n[:], uint64(len(p)))
		h.Write(n[:])
		h.Write([]byte(p))
	}
	var k [sha256.Size]byte
	h.Sum(k[:0])
	return k
}

// credentialCache remembers successful verifications until they expire. It is bounded:
// when full, expired entries are dropped, and if none had expired, an arbitrary one.
type credentialCache struct {
	ttl  time.Duration
	size int
	now  func() time.Time

	mu      sync.Mutex // guards entries
	entries map[[sha256.Size]byte]time.Time
}

func newCredentialCache(ttl time.Duration, size int) *credentialCache {
	return &credentialCache{ttl: ttl, size: size, now: time.Now, entries: map[[sha256.Size]byte]time.Time{}}
}

// hit reports whether key was added and has not expired.
func (c *credentialCache) hit(key [sha256.Size]byte) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	exp, ok := c.entries[key]
	if !ok {
		return false
	}
	if !c.now().Before(exp) {
		delete(c.entries, key)
		return false
	}
	return true
}

// add remembers key for the cache's ttl.
func (c *credentialCache) add(key [sha256.Size]byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now()
	if _, ok := c.entries[key]; !ok && len(c.entries) >= c.size {
		for k, exp := range c.entries {
			if !now.Before(exp) {
				delete(c.entries, k)
			}
		}
		for k := range c.entries {
			if len(c.entries) < c.size {
				break
			}
			delete(c.entries, k)
		}
	}
	c.entries[key] = now.Add(c.ttl)
}

// len returns the number of entries, expired or not.
func (c *credentialCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.entries)
}
