package cases

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/casestream/casestream/aggregate"
	"github.com/casestream/casestream/events"
	"github.com/casestream/casestream/internal/eventstore"
)

// ErrNotFound means no case has the given caseInstanceId.
var ErrNotFound = errors.New("cases: no such case")

// ErrUnreadable means a case holds an event this service cannot decode (something other
// than the service wrote it): no command is decided on a state that may be wrong, and the
// case is not shown.
var ErrUnreadable = errors.New("cases: the case has an event that cannot be decoded")

// ErrEventTooLarge means a command's event, encoded, would exceed Options.MaxEventBytes: the
// NATS server would refuse it.
var ErrEventTooLarge = errors.New("cases: event larger than the server accepts")

// ErrTooManyConflicts means a command lost the race for a case's next sequence more often
// than the retry bound allows. It is eventstore.ErrTooManyConflicts, which the directory's
// commands return too.
var ErrTooManyConflicts = eventstore.ErrTooManyConflicts

// IDs allocates case and ticket numbers.
type IDs interface {
	NextCaseInstanceID(ctx context.Context) (int64, error)
	NextTicketNumber(ctx context.Context, unitID string, day time.Time) (int, error)
}

// Meta says who issues a command and how to recognise its retries.
type Meta struct {
	Actor         events.Actor
	CorrelationID string
	// IdempotencyKey, when set, makes the ids of the command's events deterministic, so that a
	// retried append is recognised by the store as a duplicate.
	IdempotencyKey string
}

// Options configure a Service.
type Options struct {
	// Now is the clock; time.Now by default.
	Now func() time.Time
	// NewID returns a fresh event id; uuid.NewString by default.
	NewID func() string
	// MaxRetries bounds decide-append rounds lost to other writers; 8 by default.
	MaxRetries int
	// CacheSize bounds the number of cases whose state is cached; 100,000 by default.
	CacheSize int
	// MaxEventBytes bounds an event's encoded envelope: the server's maximum payload less
	// the room its headers take (eventstore.HeaderRoom). 0 sets no bound.
	MaxEventBytes int
	// LastSeqs reads the last sequences of the cases GetMany returns, all at once; nil:
	// GetMany reads each case's log as Get does.
	LastSeqs LastSeqReader
}

// Service executes case commands.
type Service struct {
	store eventstore.Store
	ids   IDs
	opts  Options

	mu      sync.Mutex // guards entries
	entries map[int64]*entry
}

// entry is the cached state of one case.
type entry struct {
	mu    sync.Mutex // serialises commands on the case; guards state, seq and users
	state aggregate.Case
	seq   uint64 // stream sequence of the case's last applied event
	users int    // commands holding or waiting for mu; an entry in use is never evicted
}

// NewService returns a Service appending to store.
func NewService(store eventstore.Store, ids IDs, opts Options) *Service {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.NewID == nil {
		opts.NewID = uuid.NewString
	}
	if opts.MaxRetries == 0 {
		opts.MaxRetries = 8
	}
	if opts.CacheSize == 0 {
		opts.CacheSize = 100_000
	}
	return &Service{store: store, ids: ids, opts: opts, entries: map[int64]*entry{}}
}

// acquire returns the locked entry of a case.
func (s *Service) acquire(id int64) *entry {
	s.mu.Lock()
	e, ok := s.entries[id]
	if !ok {
		if len(s.entries) >= s.opts.CacheSize {
			s.evictLocked()
		}
		e = &entry{}
		s.entries[id] = e
	}
	e.users++
	s.mu.Unlock()
	e.mu.Lock()
	return e
}

func (s *Service) release(e *entry) {
	e.mu.Unlock()
	s.mu.Lock()
	e.users--
	s.mu.Unlock()
}

// evictLocked drops about a tenth of the cached cases not in use. Map iteration order is
// random, which makes this a random eviction.
func (s *Service) evictLocked() {
	n := s.opts.CacheSize/10 + 1
	for id, e := range s.entries {
		if n == 0 {
			return
		}
		if e.users == 0 {
			delete(s.entries, id)
			n--
		}
	}
}

// refresh applies the case's events stored after the cached sequence.
func (s *Service) refresh(ctx context.Context, id int64, e *entry) error {
	recs, err := s.store.Load(ctx, events.CaseSubject(id), e.seq)
	if err != nil {
		return fmt.Errorf("load case %d: %w", id, err)
	}
	for _, r := range recs {
		ev, err := r.Decoded()
		if err != nil {
			// Even an unknown type: deciding without its effect could decide wrong.
			eventstore.ReportUndecodable(eventstore.ReaderLoad, events.CaseSubject(id), r.Seq, r.Envelope.Type, err)
			return fmt.Errorf("%w: case %d, event at sequence %d: %v", ErrUnreadable, id, r.Seq, err)
		}
		e.state.Apply(r.Envelope.OccurredAt, ev)
		e.seq = r.Seq
	}
	return nil
}

// Get returns the current state of a case, including events other replicas appended.
func (s *Service) Get(ctx context.Context, id int64) (aggregate.Case, error) {
	return s.getAt(ctx, id, lastSeqUnknown)
}

// Decider is a command: it inspects the case (a copy) and returns the events to append.
type Decider func(c *aggregate.Case) ([]events.Event, error)

// Execute runs a command on an existing or new case and returns the case's state after it.
// A command that returns no event writes nothing. A decider's error is returned as it is.
//
// An id that cannot be a case's (0 or less, as a caller passes for a path that names no
// case) is decided against the zero Case, as a case that does not exist is: a command's
// rules on its request then come first, in the command's own order, and it is refused by
// its own rule on the case (ErrNotFound if it has none). Nothing is read or written.
func (s *Service) Execute(ctx context.Context, id int64, meta Meta, decide Decider) (aggregate.Case, error) {
	if id <= 0 {
		var none aggregate.Case
		if _, err := decide(&none); err != nil {
			return aggregate.Case{}, err
		}
		return aggregate.Case{}, ErrNotFound
	}
	return s.execute(ctx, id, meta, decide, false)
}

// execute is Execute; fresh says the id was just allocated, so there is nothing to load
// (were there something, the append would conflict and the case be loaded then).
func (s *Service) execute(ctx context.Context, id int64, meta Meta, decide Decider, fresh bool) (aggregate.Case, error) {
	if id <= 0 {
		return aggregate.Case{}, ErrNotFound
	}
	e := s.acquire(id)
	defer s.release(e)
	subject := events.CaseSubject(id)
	if !fresh {
		countLookup(e.seq)
	}
	if e.seq == 0 && !fresh {
		if err := s.refresh(ctx, id, e); err != nil {
			return aggregate.Case{}, err
		}
	}
	retry := eventstore.Retry{MaxAttempts: s.opts.MaxRetries}
	for {
		c := e.state.Clone()
		evs, err := decide(&c)
		if err != nil {
			return aggregate.Case{}, err
		}
		if len(evs) == 0 {
			return e.state.Clone(), nil
		}
		now := s.opts.Now()
		envs := make([]events.Envelope, len(evs))
		for i, ev := range evs {
			envs[i], err = events.Wrap(events.Meta{
				ID:            s.eventID(subject, meta.IdempotencyKey, i),
				Subject:       subject,
				OccurredAt:    now,
				Actor:         meta.Actor,
				CorrelationID: meta.CorrelationID,
			}, ev)
			if err != nil {
				return aggregate.Case{}, err
			}
		}
		if err := s.checkSize(envs); err != nil {
			return aggregate.Case{}, err
		}
		DecideRounds.Inc()
		last, err := s.store.Append(ctx, subject, e.seq, envs)
		switch {
		case err == nil:
			for i, env := range envs {
				e.state.Apply(env.OccurredAt, evs[i])
			}
			e.seq = last
			return e.state.Clone(), nil
		case errors.Is(err, eventstore.ErrConflict), errors.Is(err, eventstore.ErrDuplicate):
			// Another writer appended first, or an earlier attempt of this very command did:
			// catch up and decide again (a duplicate then decides nothing new, or is refused
			// by the same rule that refuses any repetition).
			if errors.Is(err, eventstore.ErrDuplicate) {
				Conflicts.WithLabelValues("duplicate").Inc()
			} else {
				Conflicts.WithLabelValues("conflict").Inc()
			}
			before := e.seq
			if err := s.refresh(ctx, id, e); err != nil {
				return aggregate.Case{}, err
			}
			if errors.Is(err, eventstore.ErrDuplicate) {
				return e.state.Clone(), nil
			}
			if err := retry.Refused(ctx, e.seq != before); err != nil {
				return aggregate.Case{}, err
			}
		default:
			return aggregate.Case{}, fmt.Errorf("append to %s: %w", subject, err)
		}
	}
}

// idNamespace scopes the deterministic event ids derived from idempotency keys.
var idNamespace = uuid.MustParse("6f1d3c2e-9a51-4f0b-8d7e-2b9c4a7e5d10")

func (s *Service) eventID(subject, key string, i int) string {
	if key == "" {
		return s.opts.NewID()
	}
	return uuid.NewSHA1(idNamespace, []byte(subject+"\x00"+key+"\x00"+strconv.Itoa(i))).String()
}

// checkSize refuses envelopes whose encoding would exceed MaxEventBytes. An envelope is its
// data, already encoded, and a few strings that the encoder may escape to six bytes per
// byte: only an envelope that could exceed the bound under that estimate is encoded to
// measure it, so that commands do not pay for a second encoding.
func (s *Service) checkSize(envs []events.Envelope) error {
	if s.opts.MaxEventBytes <= 0 {
		return nil
	}
	for _, env := range envs {
		strs := len(env.ID) + len(env.Type) + len(env.Subject) + len(env.Actor.Kind) + len(env.Actor.ID) + len(env.CorrelationID)
		if len(env.Data)+6*strs+envelopeOverhead <= s.opts.MaxEventBytes {
			continue
		}
		body, err := json.Marshal(env)
		if err != nil {
			return fmt.Errorf("encode event %s: %w", env.ID, err)
		}
		if len(body) > s.opts.MaxEventBytes {
			return fmt.Errorf("%w: %s of %d bytes, at most %d", ErrEventTooLarge, env.Type, len(body), s.opts.MaxEventBytes)
		}
	}
	return nil
}

// envelopeOverhead is more than an envelope takes besides its data and strings: member
// names, punctuation, schema version, time.
const envelopeOverhead = 256
