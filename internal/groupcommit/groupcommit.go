// Package groupcommit acknowledges appends to an embedded server that does not sync each
// write (SyncAlways off) only once they are on disk: an append waits for one sync of the
// store's files that began after the server acknowledged it, and one sync serves every
// append waiting at its start. The server writes each record to its block file before it
// acknowledges it (a one-replica stream flushes in place), so the sync that follows finds it
// in the page cache and makes it durable.
//
// A round fdatasyncs every file under the store directory and fsyncs every directory (a new
// block file's name lives in its directory) that changed since a round last synced it. It does not use syncfs(2): a FUSE file system
// (the power-loss tests) never sees it. A failed round fails every append waiting on it and
// every later one: after a failed sync the kernel may have dropped the dirty pages, so
// nothing written before can be trusted to reach the disk; the caller stops the process.
package groupcommit

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/casestream/casestream/events"
	"github.com/casestream/casestream/internal/eventstore"
)

// ErrClosed is returned by Wait once the Syncer is closed.
var ErrClosed = errors.New("groupcommit: closed")

// Syncer runs sync rounds of one store directory for the appends that wait on them.
type Syncer struct {
	dir   string
	tree  *tree // only the loop's goroutine uses it
	onErr func(error)
	kick  chan struct{}
	quit  chan struct{}
	wg    sync.WaitGroup

	mu     sync.Mutex // guards next and failed
	next   *round     // the round that starts next
	failed error      // the error of the first failed round
}

// round is one sync of the whole directory; done is closed when it ended, err set before.
type round struct {
	done chan struct{}
	err  error
}

// New starts a Syncer of dir. onErr is called once, from the Syncer's goroutine, with the
// first failed round's error.
func New(dir string, onErr func(error)) *Syncer {
	s := &Syncer{dir: dir, tree: newTree(dir), onErr: onErr, kick: make(chan struct{}, 1), quit: make(chan struct{}), next: &round{done: make(chan struct{})}}
	s.wg.Go(s.loop)
	return s
}

// Wait returns once a sync round that began after the call has ended: what was written to
// the directory before the call is then on disk. It returns the round's error, the first
// failure's, ErrClosed or the context's.
func (s *Syncer) Wait(ctx context.Context) error {
	s.mu.Lock()
	r, failed := s.next, s.failed
	s.mu.Unlock()
	if failed != nil {
		return failed
	}
	select {
	case s.kick <- struct{}{}:
	default:
	}
	select {
	case <-r.done:
		return r.err
	case <-s.quit:
		return ErrClosed
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Close stops the Syncer after the round in progress.
func (s *Syncer) Close() {
	close(s.quit)
	s.wg.Wait()
}

func (s *Syncer) loop() {
	for {
		select {
		case <-s.kick:
		case <-s.quit:
			return
		}
		s.mu.Lock()
		r := s.next
		s.next = &round{done: make(chan struct{})}
		s.mu.Unlock()
		r.err = s.tree.sync()
		if r.err != nil {
			r.err = fmt.Errorf("groupcommit: sync %s: %w", s.dir, r.err)
			s.mu.Lock()
			first := s.failed == nil
			if first {
				s.failed = r.err
			}
			s.mu.Unlock()
			if first && s.onErr != nil {
				s.onErr(r.err)
			}
		}
		close(r.done)
	}
}

// Store is an event store whose Append returns once the appended events are on disk.
type Store struct {
	eventstore.Store
	s *Syncer
}

var _ eventstore.Store = (*Store)(nil)

// NewStore returns store with appends acknowledged through s.
func NewStore(store eventstore.Store, s *Syncer) *Store { return &Store{Store: store, s: s} }

// Append appends through the store, then waits for a sync round (also after ErrDuplicate,
// whose events an earlier attempt stored). An error of the wait
// leaves the events appended but not known to be durable: the caller answers as for any
// append whose outcome is unknown.
func (st *Store) Append(ctx context.Context, subject string, expected uint64, envs []events.Envelope) (uint64, error) {
	seq, err := st.Store.Append(ctx, subject, expected, envs)
	// A duplicate's events were stored by an earlier attempt, perhaps not synced yet.
	if err != nil && !errors.Is(err, eventstore.ErrDuplicate) {
		return seq, err
	}
	if werr := st.s.Wait(ctx); werr != nil {
		return 0, werr
	}
	return seq, err
}
