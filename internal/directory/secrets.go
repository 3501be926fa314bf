package directory

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/casestream/casestream/events"
)

// CredentialsBucket is the JetStream key-value bucket that holds the bcrypt hash of every
// secret: operators' passwords, touchpoints' tokens, applications' client secrets. Only the
// service reads it; the DIRECTORY stream, which every subscriber may read, records that a
// secret changed (events.SecretChanged), never its hash.
const CredentialsBucket = "CASESTREAM_CREDENTIALS"

// credentialsHistory is the number of values kept per key: only the current one, so that a
// replaced secret's hash is gone from the bucket too.
const credentialsHistory = 1

// Secret is one value of the credentials bucket.
type Secret struct {
	// Hash is the bcrypt hash of the secret.
	Hash string `json:"hash"`
	// EventID is the id of the events.SecretChanged event that announces this value, empty
	// for a hash taken over from a schema version 1 event (which announced it itself).
	// Bootstrap writes the value first and the event second: a re-run after a crash in
	// between finds no event with this id in the log and appends it.
	EventID string `json:"eventId,omitempty"`
}

// secretEntry is a bucket value with its revision.
type secretEntry struct {
	Secret
	revision uint64
}

// Secrets is the credentials bucket of one process, with an in-memory copy of its values
// that a watch keeps current: verifying a secret reads memory, not the bucket, and a value
// another replica writes reaches this one within the watch's delivery time. It is safe for
// concurrent use; Close stops the watch.
type Secrets struct {
	kv      jetstream.KeyValue
	watcher jetstream.KeyWatcher
	done    chan struct{} // closed when the watch loop has returned

	mu      sync.RWMutex // guards entries and reloaded
	entries map[string]secretEntry
	// reloaded holds, by key, the event id a reload was last made for (reloadOnce).
	reloaded map[string]string
}

// OpenSecrets creates the credentials bucket (file storage, the given replica count), or binds
// to it when it exists with the same settings (the service never updates a bucket), and
// returns once the in-memory copy holds every value the bucket had.
func OpenSecrets(ctx context.Context, js jetstream.JetStream, replicas int) (*Secrets, error) {
	kv, err := js.CreateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket:      CredentialsBucket,
		Description: "bcrypt hashes of casestream's secrets, read only by the service",
		History:     credentialsHistory,
		Storage:     jetstream.FileStorage,
		Replicas:    replicas,
	})
	if err != nil {
		return nil, fmt.Errorf("open credentials bucket: %w", err)
	}
	// The watch outlives ctx, which only bounds the opening: Close stops it.
	w, err := kv.WatchAll(context.Background())
	if err != nil {
		return nil, fmt.Errorf("watch credentials bucket: %w", err)
	}
	s := &Secrets{kv: kv, watcher: w, done: make(chan struct{}), entries: map[string]secretEntry{}, reloaded: map[string]string{}}
	initial := make(chan struct{})
	go s.watch(initial)
	select {
	case <-initial:
		return s, nil
	case <-s.done:
		return nil, errors.New("watch credentials bucket: the watch ended before the initial values")
	case <-ctx.Done():
		s.Close()
		return nil, fmt.Errorf("watch credentials bucket: %w", ctx.Err())
	}
}

// watch applies the watcher's entries until it is stopped; initial is closed once the
// bucket's values at the start are in.
func (s *Secrets) watch(initial chan struct{}) {
	defer close(s.done)
	for e := range s.watcher.Updates() {
		if e == nil {
			close(initial)
			continue
		}
		if e.Operation() != jetstream.KeyValuePut {
			s.remove(e.Key(), e.Revision())
			continue
		}
		var v Secret
		if err := json.Unmarshal(e.Value(), &v); err != nil {
			// Not a value this package writes: the key has no usable hash.
			s.remove(e.Key(), e.Revision())
			continue
		}
		s.set(e.Key(), secretEntry{Secret: v, revision: e.Revision()})
	}
}

// set stores e under key unless a later revision is there already: the watch and this
// process's own writes both set values, in either order.
func (s *Secrets) set(key string, e secretEntry) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if cur, ok := s.entries[key]; ok && cur.revision >= e.revision {
		return
	}
	s.entries[key] = e
}

// remove deletes key's value if it is older than revision.
func (s *Secrets) remove(key string, revision uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if cur, ok := s.entries[key]; ok && cur.revision < revision {
		delete(s.entries, key)
	}
}

// Close stops the watch. Values read before stay readable.
func (s *Secrets) Close() error {
	err := s.watcher.Stop()
	<-s.done
	return err
}

// secretKey is the bucket key of a secret: its kind and the entity's id, as a subject token.
func secretKey(kind, id string) string {
	return kind + "." + events.SubjectToken(id)
}

// reloadOnce reports whether key has not been reloaded for eventID yet, and records that it
// is: a value whose event a crash left unwritten never matches the log's last event, and
// is read from the bucket once per such event, not on every verification.
func (s *Secrets) reloadOnce(key, eventID string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.reloaded[key] == eventID {
		return false
	}
	s.reloaded[key] = eventID
	return true
}

// get returns the value under a bucket key.
func (s *Secrets) get(key string) (secretEntry, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	e, ok := s.entries[key]
	return e, ok
}

// hash returns the bcrypt hash of a secret, "" if the bucket has none or there is no bucket.
func (s *Secrets) hash(kind, id string) string {
	if s == nil {
		return ""
	}
	e, _ := s.get(secretKey(kind, id))
	return e.Hash
}

// errSecretChanged means the bucket's value was not the expected one: another writer
// replaced it first.
var errSecretChanged = errors.New("directory: credentials changed concurrently")

// put writes v under key if the bucket's value is still at revision (0: if it has none),
// and applies it to the copy at once. On errSecretChanged the copy is brought up to date
// from the bucket first.
func (s *Secrets) put(ctx context.Context, key string, revision uint64, v Secret) (secretEntry, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return secretEntry{}, err
	}
	var rev uint64
	if revision == 0 {
		rev, err = s.kv.Create(ctx, key, b)
	} else {
		rev, err = s.kv.Update(ctx, key, b, revision)
	}
	switch {
	case errors.Is(err, jetstream.ErrKeyExists), errors.Is(err, jetstream.ErrKeyRevisionMismatch):
		if rerr := s.reload(ctx, key); rerr != nil {
			return secretEntry{}, rerr
		}
		return secretEntry{}, errSecretChanged
	case err != nil:
		return secretEntry{}, fmt.Errorf("write credentials %s: %w", key, err)
	}
	e := secretEntry{Secret: v, revision: rev}
	s.set(key, e)
	return e, nil
}

// reload reads key's value from the bucket into the copy.
func (s *Secrets) reload(ctx context.Context, key string) error {
	e, err := s.kv.Get(ctx, key)
	switch {
	case errors.Is(err, jetstream.ErrKeyNotFound):
		return nil // deleted: the watch removes it
	case err != nil:
		return fmt.Errorf("read credentials %s: %w", key, err)
	}
	var v Secret
	if err := json.Unmarshal(e.Value(), &v); err != nil {
		return fmt.Errorf("read credentials %s: %w", key, err)
	}
	s.set(key, secretEntry{Secret: v, revision: e.Revision()})
	return nil
}

// ErrNoSecrets is returned by Bootstrap and MigrateSecrets for a Directory without a
// credentials bucket (see UseSecrets).
var ErrNoSecrets = errors.New("directory: no credentials bucket")

// MigrateSecrets puts into the credentials bucket each hash that a schema version 1 event
// holds and the bucket does not, so that a log written before secrets left it keeps signing
// in. No event is written or rewritten: the version 1 events stay in the log as they are. A
// key the bucket already has is left alone, whatever its hash: the bucket is the truth once
// it has a value. It returns the number of hashes put; running it again puts none. d's view
// must be replayed first.
func (d *Directory) MigrateSecrets(ctx context.Context) (int, error) {
	if d.secrets == nil {
		return 0, ErrNoSecrets
	}
	d.mu.RLock()
	keys := slices.Sorted(maps.Keys(d.legacyHashes))
	legacy := maps.Clone(d.legacyHashes)
	d.mu.RUnlock()
	n := 0
	for _, key := range keys {
		if _, ok := d.secrets.get(key); ok || legacy[key] == "" {
			continue
		}
		switch _, err := d.secrets.put(ctx, key, 0, Secret{Hash: legacy[key]}); {
		case errors.Is(err, errSecretChanged):
			// Another replica migrated it, or a bootstrap set it, first.
		case err != nil:
			return n, fmt.Errorf("directory: migrate %s: %w", key, err)
		default:
			n++
		}
	}
	return n, nil
}
