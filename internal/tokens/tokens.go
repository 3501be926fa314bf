// Package tokens issues opaque bearer secrets (session cookies, OAuth access tokens) and
// keeps what they stand for in a JetStream key-value bucket, so that every api replica
// accepts a token any replica issued.
//
// Only a SHA-256 of a token is stored: a token is 256 random bits, so a fast hash is as safe
// as a slow one and costs nothing per request. The bucket's TTL expires tokens.
package tokens

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/casestream/casestream/internal/leaderread"
)

// ErrNotFound means the token is unknown or expired.
var ErrNotFound = errors.New("tokens: unknown or expired token")

// Bucket is a set of live tokens with a common lifetime.
type Bucket struct {
	kv   jetstream.KeyValue
	js   jetstream.JetStream
	nc   *nats.Conn
	name string
	ttl  time.Duration

	memo     time.Duration
	memoMu   sync.Mutex // guards memoized
	memoized map[string]memoEntry

	// durable, if set, returns once what was written before the call is on disk
	// (SyncRevocations); set before use.
	durable func(ctx context.Context) error
}

// SyncRevocations makes Revoke return only once wait has returned after the token was
// forgotten: on a server that does not sync each write, wait is what makes the revocation
// durable (a group-commit round), so that a power cut cannot bring a signed-out session
// back. An issued token needs no such wait: one lost to a power cut is refused, and its
// holder signs in or asks for a token again. Call it before the Bucket is used.
func (b *Bucket) SyncRevocations(wait func(ctx context.Context) error) { b.durable = wait }

// memoEntry is a looked-up token's value, trusted until the given time.
type memoEntry struct {
	value []byte
	until time.Time
}

// maxMemoized bounds the memo; it is cleared when full.
const maxMemoized = 100_000

// Memoize makes Lookup remember a found token for up to d (never past its expiry), so that a
// client sending the same token on every request costs one key-value read per d. A token
// revoked on another replica stays valid here for up to d: memoize only buckets whose tokens
// are not revoked before they expire, such as the agent API's access tokens.
func (b *Bucket) Memoize(d time.Duration) {
	b.memoMu.Lock()
	defer b.memoMu.Unlock()
	b.memo = d
	b.memoized = map[string]memoEntry{}
}

// Open creates or binds the key-value bucket with the given name and token lifetime.
func Open(ctx context.Context, js jetstream.JetStream, name string, ttl time.Duration, replicas int) (*Bucket, error) {
	kv, err := js.CreateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket:   name,
		TTL:      ttl,
		History:  1,
		Storage:  jetstream.FileStorage,
		Replicas: replicas,
	})
	if err != nil {
		return nil, fmt.Errorf("open token bucket %s: %w", name, err)
	}
	return &Bucket{kv: kv, js: js, nc: js.Conn(), name: name, ttl: ttl}, nil
}

// callTimeout bounds one read or write of the bucket, and a lookup's confirmation with
// the leader: a sign-in or a request carrying a token answers 503 rather than wait for
// the request's deadline (10 s), and a write during a leader election (a few seconds) is
// not given up before a leader had a chance to answer.
const callTimeout = 4 * time.Second

// begin returns the context of one bucket call, or an error at once while NATS is away.
func (b *Bucket) begin(ctx context.Context) (context.Context, context.CancelFunc, error) {
	if !b.nc.IsConnected() {
		return nil, nil, fmt.Errorf("tokens: %w", nats.ErrDisconnected)
	}
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
	return ctx, cancel, nil
}

// TTL is how long a token lives.
func (b *Bucket) TTL() time.Duration { return b.ttl }

// Issue returns a new token standing for value.
func (b *Bucket) Issue(ctx context.Context, value []byte) (string, error) {
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return "", err
	}
	token := base64.RawURLEncoding.EncodeToString(raw)
	ctx, cancel, err := b.begin(ctx)
	if err != nil {
		return "", err
	}
	defer cancel()
	if _, err := b.kv.Create(ctx, key(token), value); err != nil {
		return "", fmt.Errorf("store token: %w", err)
	}
	return token, nil
}

// Lookup returns what token stands for, or ErrNotFound.
func (b *Bucket) Lookup(ctx context.Context, token string) ([]byte, error) {
	if token == "" || len(token) > 256 {
		return nil, ErrNotFound
	}
	k := key(token)
	now := time.Now()
	b.memoMu.Lock()
	m, ok := b.memoized[k]
	b.memoMu.Unlock()
	if ok && now.Before(m.until) {
		return m.value, nil
	}
	ctx, cancel, err := b.begin(ctx)
	if err != nil {
		return nil, err
	}
	defer cancel()
	var value []byte
	var created time.Time
	e, err := b.kv.Get(ctx, k)
	switch {
	case errors.Is(err, jetstream.ErrKeyNotFound):
		// Any replica of the bucket answers a get, and a follower may not yet hold a token
		// another api replica issued a moment ago: only the leader's "not found" is final.
		if value, created, err = b.leaderGet(ctx, k); err != nil {
			return nil, err
		}
	case err != nil:
		return nil, fmt.Errorf("look up token: %w", err)
	default:
		value, created = e.Value(), e.Created()
	}
	expires := created.Add(b.ttl)
	if !now.Before(expires) {
		return nil, ErrNotFound
	}
	if b.memo > 0 {
		b.memoMu.Lock()
		if len(b.memoized) >= maxMemoized {
			clear(b.memoized)
		}
		until := now.Add(b.memo)
		if expires.Before(until) {
			until = expires
		}
		b.memoized[k] = memoEntry{value: value, until: until}
		b.memoMu.Unlock()
	}
	return value, nil
}

// leaderGet reads key's value from the leader of the bucket's stream, with the time it was
// stored; ErrNotFound if it has none or it was revoked.
func (b *Bucket) leaderGet(ctx context.Context, k string) ([]byte, time.Time, error) {
	m, err := leaderread.Get(ctx, b.js, "KV_"+b.name, leaderread.Request{LastBySubj: "$KV." + b.name + "." + k})
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return nil, time.Time{}, ErrNotFound
	}
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("look up token: %w", err)
	}
	if op := m.Header.Get(kvOperationHeader); op != "" {
		return nil, time.Time{}, ErrNotFound // a delete or purge marker
	}
	return m.Data, m.Time, nil
}

// kvOperationHeader marks a key-value bucket's delete and purge markers.
const kvOperationHeader = "KV-Operation"

// Revoke forgets token; revoking an unknown token is not an error.
func (b *Bucket) Revoke(ctx context.Context, token string) error {
	b.memoMu.Lock()
	delete(b.memoized, key(token))
	b.memoMu.Unlock()
	ctx, cancel, err := b.begin(ctx)
	if err != nil {
		return err
	}
	defer cancel()
	err = b.kv.Purge(ctx, key(token))
	if err != nil && !errors.Is(err, jetstream.ErrKeyNotFound) {
		return err
	}
	if err == nil && b.durable != nil {
		return b.durable(ctx)
	}
	return nil
}

func key(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}
