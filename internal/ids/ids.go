// Package ids hands out the numbers casestream allocates itself: caseInstanceIds, unique
// across every api replica and restart, and ticket numbers, counted per unit and UTC day.
// Both live in the JetStream key-value bucket CASESTREAM_IDS and are taken with
// compare-and-set, so that concurrent processes never hand out the same number.
package ids

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Bucket is the key-value bucket holding the counters.
const Bucket = "CASESTREAM_IDS"

// BlockSize is how many caseInstanceIds one reservation takes from the bucket. Ids of a
// block not handed out before the process stops are never used: ids are unique and
// increasing per process, not dense.
const BlockSize = 100

// caseIDKey holds the highest caseInstanceId reserved by any process.
const caseIDKey = "caseInstanceId"

// ErrBadUnit is returned for a unit id that cannot be part of a key.
var ErrBadUnit = errors.New("ids: invalid unit id")

// unitPattern is what a unit id may be: a uuid, or any word of key-safe characters.
var unitPattern = regexp.MustCompile(`^[A-Za-z0-9_-]{1,128}$`)

// IDs allocates caseInstanceIds and ticket numbers. It is safe for concurrent use.
type IDs struct {
	kv jetstream.KeyValue
	nc *nats.Conn

	mu    sync.Mutex // guards next and limit
	next  int64      // the next caseInstanceId to hand out, if below limit
	limit int64      // the end (exclusive) of the reserved block
}

// Open creates the bucket, or binds to it, with file storage, one value per key and the
// given replicas.
func Open(ctx context.Context, js jetstream.JetStream, replicas int) (*IDs, error) {
	if replicas < 1 {
		replicas = 1
	}
	kv, err := js.CreateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket:      Bucket,
		Description: "casestream counters: caseInstanceId blocks, ticket numbers per unit and day",
		History:     1,
		Storage:     jetstream.FileStorage,
		Replicas:    replicas,
	})
	if err != nil {
		return nil, fmt.Errorf("ids: open bucket %s: %w", Bucket, err)
	}
	return &IDs{kv: kv, nc: js.Conn()}, nil
}

// NextCaseInstanceID returns a caseInstanceId greater than 0 that no process has had or
// will have from the bucket.
func (i *IDs) NextCaseInstanceID(ctx context.Context) (int64, error) {
	i.mu.Lock()
	defer i.mu.Unlock()
	if i.next >= i.limit {
		hi, err := i.add(ctx, caseIDKey, BlockSize)
		if err != nil {
			return 0, fmt.Errorf("ids: reserve caseInstanceIds: %w", err)
		}
		i.next, i.limit = hi-BlockSize+1, hi+1
	}
	id := i.next
	i.next++
	return id, nil
}

// NextTicketNumber returns the next ticket number of the unit on day (taken in UTC),
// counting from 1.
func (i *IDs) NextTicketNumber(ctx context.Context, unitID string, day time.Time) (int, error) {
	if !unitPattern.MatchString(unitID) {
		return 0, fmt.Errorf("%w %q", ErrBadUnit, unitID)
	}
	key := "ticket." + unitID + "." + day.UTC().Format("20060102")
	n, err := i.add(ctx, key, 1)
	if err != nil {
		return 0, fmt.Errorf("ids: ticket number of %s: %w", unitID, err)
	}
	return int(n), nil
}

// addTimeout bounds one allocation.
const addTimeout = 2 * time.Second

// add adds delta to the counter at key (0 when missing) with compare-and-set, retrying
// when another writer got there first, and returns the new value.
//
// It fails at once while NATS is away, and gives up after addTimeout: an update whose
// answer is lost may have been applied, which skips numbers but never repeats one.
func (i *IDs) add(ctx context.Context, key string, delta int64) (int64, error) {
	if !i.nc.IsConnected() {
		return 0, fmt.Errorf("ids: %s: %w", key, nats.ErrDisconnected)
	}
	ctx, cancel := context.WithTimeout(ctx, addTimeout)
	defer cancel()
	for {
		if err := ctx.Err(); err != nil {
			return 0, err
		}
		entry, err := i.kv.Get(ctx, key)
		switch {
		case errors.Is(err, jetstream.ErrKeyNotFound):
			_, err = i.kv.Create(ctx, key, strconv.AppendInt(nil, delta, 10))
			if err == nil {
				return delta, nil
			}
			if errors.Is(err, jetstream.ErrKeyExists) {
				continue
			}
			return 0, err
		case err != nil:
			return 0, err
		}
		cur, err := strconv.ParseInt(string(entry.Value()), 10, 64)
		if err != nil || cur < 0 {
			return 0, fmt.Errorf("counter %s holds %q, not a count", key, entry.Value())
		}
		n := cur + delta
		_, err = i.kv.Update(ctx, key, strconv.AppendInt(nil, n, 10), entry.Revision())
		if err == nil {
			return n, nil
		}
		if !errors.Is(err, jetstream.ErrKeyRevisionMismatch) && !errors.Is(err, jetstream.ErrKeyExists) {
			return 0, err
		}
	}
}
