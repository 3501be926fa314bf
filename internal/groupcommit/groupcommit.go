// Package groupcommit acknowledges appends to an embedded server that does not sync each
// write (SyncAlways off) only once they are on disk: an append waits for one sync of the
// store's files that began after the server acknowledged it, and one sync serves every
// append waiting at its start. The server writes each record to its block file before it
// acknowledges it (a one-replica stream flushes in place), so the sync that follows finds it
// in the page cache and makes it durable.
//
// A round fdatasyncs every file under the store directory and fsyncs every directory (a new
// block file's name lives in its directory) that changed since a round last synced it. It
// does not use syncfs(2): a FUSE file system (the power-loss tests) never sees it. A failed
// round fails every append waiting on it and every later one: after a failed sync the
// kernel may have dropped the dirty pages, so nothing written before can be trusted to
// reach the disk; the caller stops the process.
//
// A Syncer also tracks, for the streams it guards, the durable sequence: at the start of a
// round it reads each stream's last sequence, and once the round's sync succeeded every
// record up to it is on disk. Every append acknowledged through a Store is at or below it
// (the append waited for a round that began after it was stored). Readers that must show
// only what survives a power cut wait for it (WaitDurable, Gate).
package groupcommit

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync"
	"time"

	"github.com/casestream/casestream/events"
	"github.com/casestream/casestream/internal/eventstore"
)

// ErrClosed is returned by Wait once the Syncer is closed.
var ErrClosed = errors.New("groupcommit: closed")

// positionTimeout bounds the reading of the guarded streams' last sequences at the start of
// a round.
const positionTimeout = 5 * time.Second

// Config configures a Syncer.
type Config struct {
	// Dir is the store directory each round syncs.
	Dir string
	// OnErr is called once, from the Syncer's goroutine, with the first failed sync's error.
	OnErr func(error)
	// Streams are the streams whose durable sequence the Syncer tracks (Durable,
	// WaitDurable); LastSeq reads one's last sequence, once per stream at the start of every
	// round. Nothing is tracked without LastSeq.
	Streams []string
	LastSeq func(ctx context.Context, stream string) (uint64, error)
	// BeforeSync, if set, runs in every round after the positions are read and before the
	// sync (tests hold a round there).
	BeforeSync func()
}

// Syncer runs sync rounds of one store directory for the appends that wait on them, and
// tracks the durable sequence of the streams it guards: the last sequence a stream had at
// the start of the last round that succeeded. Every record at or below it is on disk.
type Syncer struct {
	cfg  Config
	tree *tree // only the loop's goroutine uses it
	kick chan struct{}
	quit chan struct{}
	wg   sync.WaitGroup

	mu      sync.Mutex        // guards the fields below
	next    *round            // the round that starts next
	failed  error             // the error of the first failed sync
	durable map[string]uint64 // per guarded stream, its durable sequence
	reading map[string]uint64 // the positions the round in progress read; nil before it read them
	ended   chan struct{}     // closed when the round in progress ends
	changed chan struct{}     // closed when a round next advances a durable sequence
}

// round is one sync of the whole directory; done is closed when it ended, err set before.
type round struct {
	done chan struct{}
	err  error
}

// New starts a Syncer of dir that tracks no stream. onErr is called once, from the
// Syncer's goroutine, with the first failed round's error.
func New(dir string, onErr func(error)) *Syncer {
	return Start(Config{Dir: dir, OnErr: onErr})
}

// Start starts a Syncer configured by cfg.
func Start(cfg Config) *Syncer {
	if cfg.LastSeq == nil {
		cfg.Streams = nil
	}
	s := &Syncer{
		cfg: cfg, tree: newTree(cfg.Dir), kick: make(chan struct{}, 1), quit: make(chan struct{}), next: &round{done: make(chan struct{})},
		durable: map[string]uint64{}, ended: make(chan struct{}), changed: make(chan struct{}),
	}
	s.wg.Go(s.loop)
	return s
}

// Wait returns once a sync round that began after the call has ended: what was written to
// the directory before the call is then on disk, and every guarded stream's durable
// sequence is at or above its last sequence at the call. It returns the round's error, the
// first failure's, ErrClosed or the context's. A round that could not read a stream's last
// sequence synced but fails its waiters, and only them.
func (s *Syncer) Wait(ctx context.Context) error {
	s.mu.Lock()
	r, failed := s.next, s.failed
	s.mu.Unlock()
	if failed != nil {
		return failed
	}
	s.start()
	select {
	case <-r.done:
		return r.err
	case <-s.quit:
		return ErrClosed
	case <-ctx.Done():
		return ctx.Err()
	}
}

// start asks for a round; if one is in progress, another follows it.
func (s *Syncer) start() {
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

// Durable returns the durable sequence of stream: 0 until a round has succeeded, or for a
// stream the Syncer does not guard.
func (s *Syncer) Durable(stream string) uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.durable[stream]
}

// Changed returns a channel closed when a round next advances a durable sequence.
func (s *Syncer) Changed() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.changed
}

// Err returns the first failed sync's error: once set, no durable sequence advances again.
func (s *Syncer) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.failed
}

// WaitDurable returns once the durable sequence of stream is at or above seq, a record of
// stream the caller has seen stored. It asks for a round unless the round in progress
// already covers seq, and wakes at the end of each round. It returns the first failure's
// error, a failed reading of the stream's position, ErrClosed or the context's.
func (s *Syncer) WaitDurable(ctx context.Context, stream string, seq uint64) error {
	for {
		s.mu.Lock()
		durable, failed, ended := s.durable[stream], s.failed, s.ended
		covered := s.reading != nil && s.reading[stream] >= seq
		s.mu.Unlock()
		switch {
		case durable >= seq:
			return nil
		case failed != nil:
			return failed
		case !covered:
			s.start()
		}
		select {
		case <-ended:
		case <-s.quit:
			return ErrClosed
		case <-ctx.Done():
			return ctx.Err()
		}
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
		s.round(r)
	}
}

// round runs r: it reads the guarded streams' positions, then syncs. Each record a position
// counts is in its block file by then (the server writes a record before it counts it), so
// the sync makes every record up to the positions durable.
func (s *Syncer) round(r *round) {
	positions, perr := s.positions()
	if perr == nil {
		s.mu.Lock()
		s.reading = positions
		s.mu.Unlock()
	}
	if s.cfg.BeforeSync != nil {
		s.cfg.BeforeSync()
	}
	r.err = s.tree.sync()
	first := false
	s.mu.Lock()
	if r.err != nil {
		r.err = fmt.Errorf("groupcommit: sync %s: %w", s.cfg.Dir, r.err)
		first = s.failed == nil
		if first {
			s.failed = r.err
		}
	} else if perr != nil {
		r.err = perr
	} else {
		advanced := false
		for stream, seq := range positions {
			if seq > s.durable[stream] {
				s.durable[stream], advanced = seq, true
			}
		}
		if advanced {
			close(s.changed)
			s.changed = make(chan struct{})
		}
	}
	s.reading = nil
	close(s.ended)
	s.ended = make(chan struct{})
	s.mu.Unlock()
	if first && s.cfg.OnErr != nil {
		s.cfg.OnErr(r.err)
	}
	close(r.done)
}

// positions reads the last sequence of each guarded stream.
func (s *Syncer) positions() (map[string]uint64, error) {
	if len(s.cfg.Streams) == 0 {
		return nil, nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), positionTimeout)
	defer cancel()
	positions := make(map[string]uint64, len(s.cfg.Streams))
	for _, stream := range s.cfg.Streams {
		seq, err := s.cfg.LastSeq(ctx, stream)
		if err != nil {
			return nil, fmt.Errorf("groupcommit: last sequence of %s: %w", stream, err)
		}
		positions[stream] = seq
	}
	return positions, nil
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

// gateRetry is the pause before a gate waits again after a round could not read its
// stream's position.
const gateRetry = 100 * time.Millisecond

// Gate returns fn held back by the durable sequence of stream: fn receives each record only
// once the durable sequence has reached it, so that a fold of the stream (the projection,
// the directory view) never shows what a power cut could erase. Records arrive in stream
// order, so a record that waits holds back the ones after it. When ctx ends or the Syncer
// closes, the record waiting is dropped: the follower is stopping. After a failed sync no
// record waiting is ever passed on: nothing written since the last good round can be
// trusted, and the process stops.
func (s *Syncer) Gate(ctx context.Context, stream string, fn func(eventstore.Record)) func(eventstore.Record) {
	return func(r eventstore.Record) {
		for {
			err := s.WaitDurable(ctx, stream, r.Seq)
			switch {
			case err == nil:
				fn(r)
				return
			case ctx.Err() != nil || errors.Is(err, ErrClosed):
				return
			}
			pause := gateRetry
			if s.Err() != nil {
				pause = time.Duration(math.MaxInt64) // never: wait for the stop
			}
			t := time.NewTimer(pause)
			select {
			case <-t.C:
			case <-ctx.Done():
			case <-s.quit:
			}
			t.Stop()
			if ctx.Err() != nil {
				return
			}
		}
	}
}
