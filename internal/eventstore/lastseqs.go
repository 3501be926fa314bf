package eventstore

import (
	"context"
	"sync"
	"time"
)

// LastSeqs reads the last sequences of the CASES and DIRECTORY streams for read-your-writes:
// a read must reflect every event acknowledged before it arrived. Concurrent callers share
// reads: a caller joins the next read to be sent, never one already on its way, so every
// answer comes from a read sent after the caller arrived. Under load this costs one read per
// round trip instead of one per caller. Get reads both streams; Directory reads DIRECTORY's
// alone, for a call that needs only the directory to be current (one request, not two).
type LastSeqs struct {
	both      *sharedRead[[2]uint64]
	directory *sharedRead[uint64]
}

// sharedRead shares the reads of a value among the callers who arrive before each is sent.
type sharedRead[T any] struct {
	fetch func(ctx context.Context) (T, error)

	mu      sync.Mutex  // guards next and running
	next    *pending[T] // the read the next callers join; nil until one arrives
	running bool        // a read is being sent or answered
}

// pending is one shared read; done is closed once its fields are set.
type pending[T any] struct {
	done chan struct{}
	val  T
	err  error
}

// lastSeqsTimeout bounds one shared read.
const lastSeqsTimeout = 2 * time.Second

// NewLastSeqs returns a LastSeqs reading the store's streams.
func NewLastSeqs(s *JetStream, casesStream, directoryStream string) *LastSeqs {
	return newLastSeqs(s.LastSeq, casesStream, directoryStream)
}

func newLastSeqs(lastSeq func(ctx context.Context, stream string) (uint64, error), casesStream, directoryStream string) *LastSeqs {
	return &LastSeqs{
		both: &sharedRead[[2]uint64]{fetch: func(ctx context.Context) ([2]uint64, error) {
			c, err := lastSeq(ctx, casesStream)
			if err != nil {
				return [2]uint64{}, err
			}
			d, err := lastSeq(ctx, directoryStream)
			return [2]uint64{c, d}, err
		}},
		directory: &sharedRead[uint64]{fetch: func(ctx context.Context) (uint64, error) { return lastSeq(ctx, directoryStream) }},
	}
}

// Get returns the last sequences of both streams, read after the call began.
func (l *LastSeqs) Get(ctx context.Context) (cases, directory uint64, err error) {
	v, err := l.both.get(ctx)
	return v[0], v[1], err
}

// Directory returns the last sequence of the DIRECTORY stream, read after the call began.
func (l *LastSeqs) Directory(ctx context.Context) (uint64, error) {
	return l.directory.get(ctx)
}

func (l *sharedRead[T]) get(ctx context.Context) (T, error) {
	l.mu.Lock()
	if l.next == nil {
		l.next = &pending[T]{done: make(chan struct{})}
	}
	r := l.next
	if !l.running {
		l.running, l.next = true, nil
		go l.run(r)
	}
	l.mu.Unlock()
	select {
	case <-r.done:
		return r.val, r.err
	case <-ctx.Done():
		var zero T
		return zero, ctx.Err()
	}
}

// run sends r, then the read the callers who arrived meanwhile joined, until none is left.
func (l *sharedRead[T]) run(r *pending[T]) {
	for r != nil {
		ctx, cancel := context.WithTimeout(context.Background(), lastSeqsTimeout)
		r.val, r.err = l.fetch(ctx)
		cancel()
		close(r.done)
		l.mu.Lock()
		r, l.next = l.next, nil
		if r == nil {
			l.running = false
		}
		l.mu.Unlock()
	}
}
