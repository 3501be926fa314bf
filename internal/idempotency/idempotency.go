// Package idempotency remembers the first answer to a request that carried an
// Idempotency-Key, in a JetStream key-value bucket shared by every api replica, so that a
// retry gets that answer again and writes nothing.
package idempotency

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Bucket is the name of the key-value bucket that holds the answers.
const Bucket = "CASESTREAM_IDEMPOTENCY"

// Retention is how long an answer is kept.
const Retention = 24 * time.Hour

// Reply is a remembered answer.
type Reply struct {
	Status      int    `json:"status"`
	ContentType string `json:"contentType"`
	Body        []byte `json:"body"`
}

// Store keeps replies by key.
type Store struct {
	kv jetstream.KeyValue
	nc *nats.Conn
	// durable, if set, returns once what was written before the call is on disk
	// (SyncWrites); set before use.
	durable func(ctx context.Context) error
}

// SyncWrites makes Put return only once wait has returned after the reply was written: on a
// server that does not sync each write, wait is what makes it durable (a group-commit
// round). The reply is written after the request's events were made durable, so no sync of
// theirs covers it, and a reply lost to a power cut would let a retry run the request
// again. Call it before the Store is used.
func (s *Store) SyncWrites(wait func(ctx context.Context) error) { s.durable = wait }

// callTimeout bounds one read or write of the bucket.
const callTimeout = 2 * time.Second

// begin returns the context of one bucket call, or an error at once while NATS is away.
func (s *Store) begin(ctx context.Context) (context.Context, context.CancelFunc, error) {
	if !s.nc.IsConnected() {
		return nil, nil, fmt.Errorf("idempotency: %w", nats.ErrDisconnected)
	}
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
	return ctx, cancel, nil
}

// Open creates or binds the bucket.
func Open(ctx context.Context, js jetstream.JetStream, replicas int) (*Store, error) {
	kv, err := js.CreateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket:   Bucket,
		TTL:      Retention,
		History:  1,
		Storage:  jetstream.FileStorage,
		Replicas: replicas,
	})
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", Bucket, err)
	}
	return &Store{kv: kv, nc: js.Conn()}, nil
}

// Key derives a bucket key from the parts that scope an idempotency key (the caller, the
// method and path, the key itself).
func Key(parts ...string) string {
	sum := sha256.Sum256([]byte(strings.Join(parts, "\x00")))
	return hex.EncodeToString(sum[:])
}

// Get returns the reply remembered under key.
func (s *Store) Get(ctx context.Context, key string) (Reply, bool, error) {
	ctx, cancel, err := s.begin(ctx)
	if err != nil {
		return Reply{}, false, err
	}
	defer cancel()
	e, err := s.kv.Get(ctx, key)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return Reply{}, false, nil
	}
	if err != nil {
		return Reply{}, false, err
	}
	var r Reply
	if err := json.Unmarshal(e.Value(), &r); err != nil {
		return Reply{}, false, err
	}
	return r, true, nil
}

// Put remembers r under key unless a reply is remembered already: the first answer wins.
func (s *Store) Put(ctx context.Context, key string, r Reply) error {
	b, err := json.Marshal(r)
	if err != nil {
		return err
	}
	ctx, cancel, err := s.begin(ctx)
	if err != nil {
		return err
	}
	defer cancel()
	_, err = s.kv.Create(ctx, key, b)
	if errors.Is(err, jetstream.ErrKeyExists) {
		return nil
	}
	if err == nil && s.durable != nil {
		err = s.durable(ctx)
	}
	return err
}
