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
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// ErrNotFound means the token is unknown or expired.
var ErrNotFound = errors.New("tokens: unknown or expired token")

// Bucket is a set of live tokens with a common lifetime.
type Bucket struct {
	kv  jetstream.KeyValue
	ttl time.Duration
}

// Open creates or binds the key-value bucket with the given name and token lifetime.
func Open(ctx context.Context, js jetstream.JetStream, name string, ttl time.Duration, replicas int) (*Bucket, error) {
	kv, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket:   name,
		TTL:      ttl,
		History:  1,
		Storage:  jetstream.FileStorage,
		Replicas: replicas,
	})
	if err != nil {
		return nil, fmt.Errorf("open token bucket %s: %w", name, err)
	}
	return &Bucket{kv: kv, ttl: ttl}, nil
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
	e, err := b.kv.Get(ctx, key(token))
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("look up token: %w", err)
	}
	if time.Since(e.Created()) > b.ttl {
		return nil, ErrNotFound
	}
	return e.Value(), nil
}

// Revoke forgets token; revoking an unknown token is not an error.
func (b *Bucket) Revoke(ctx context.Context, token string) error {
	err := b.kv.Purge(ctx, key(token))
	if err != nil && !errors.Is(err, jetstream.ErrKeyNotFound) {
		return err
	}
	return nil
}

func key(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}
