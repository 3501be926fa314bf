package eventstore

import (
	"context"
	"sync"
	"time"
)

// LastSeqs reads the last sequences of the CASES and DIRECTORY streams for read-your-writes:
// a read must reflect every event acknowledged before it arrived. Concurrent callers share
// reads: a caller joins the next read to be sent, never one already on its way, so every
// answer comes from a read sent after the caller arrived. Under load this costs one pair of
// stream-info requests per round trip instead of one pair per caller.
type LastSeqs struct {
	fetch func(ctx context.Context) (cases, directory uint64, err error)

	mu      sync.Mutex // guards next and running
	next    *seqRead   // the read the next callers join; nil until one arrives
	running bool       // a read is being sent or answered
}

// seqRead is one shared read; done is closed once its fields are set.
type seqRead struct {
	done             chan struct{}
	cases, directory uint64
	err              error
}

// lastSeqsTimeout bounds one shared read.
const lastSeqsTimeout = 2 * time.Second

// NewLastSeqs returns a LastSeqs reading the store's streams.
func NewLastSeqs(s *JetStream, casesStream, directoryStream string) *LastSeqs {
	return &LastSeqs{fetch: func(ctx context.Context) (uint64, uint64, error) {
		c, err := s.LastSeq(ctx, casesStream)
		if err != nil {
			return 0, 0, err
		}
		d, err := s.LastSeq(ctx, directoryStream)
		return c, d, err
	}}
}

// Get returns the last sequences of both streams, read after the call began.
func (l *LastSeqs) Get(ctx context.Context) (cases, directory uint64, err error) {
	l.mu.Lock()
	if l.next == nil {
		l.next = &seqRead{done: make(chan struct{})}
	}
	r := l.next
	if !l.running {
		l.running, l.next = true, nil
		go l.run(r)
	}
	l.mu.Unlock()
	select {
	case <-r.done:
		return r.cases, r.directory, r.err
	case <-ctx.Done():
		return 0, 0, ctx.Err()
	}
}

// run sends r, then the read the callers who arrived meanwhile joined, until none is left.
func (l *LastSeqs) run(r *seqRead) {
	for r != nil {
		ctx, cancel := context.WithTimeout(context.Background(), lastSeqsTimeout)
		r.cases, r.directory, r.err = l.fetch(ctx)
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
