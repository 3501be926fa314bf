package eventstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/casestream/casestream/events"
	"github.com/casestream/casestream/internal/leaderread"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/synadia-io/orbit.go/jetstreamext"
)

// MaxBatch is the largest number of events one atomic batch carries: the server's default
// limit. An Append of more events is refused.
const MaxBatch = 1000

// Defaults of JetStreamOptions.AckTimeout and ResolveWait. The acknowledgement timeout
// stays well inside the api's request deadline (10 s by default), so that an append whose
// acknowledgement was lost has most of the deadline left to be settled.
const (
	defaultAckTimeout  = 4 * time.Second
	defaultResolveWait = 4 * time.Second
)

// answerMargin is how long before the caller's deadline settling a lost acknowledgement
// gives up, so that the caller still has time to answer its own client.
const answerMargin = time.Second

// resolvePoll is the pause between two reads that look for an append whose
// acknowledgement was lost.
const resolvePoll = 100 * time.Millisecond

// maxOpenBatches bounds the atomic batches one store publishes at once, below the server's
// default limit of 50 open batches per stream.
const maxOpenBatches = 32

// HeaderRoom is more than the headers of an appended message take (event id, type,
// expected sequence, and an atomic batch's id, sequence and commit): an event's body may
// take the server's maximum payload less this.
const HeaderRoom = 1024

// loadPage is how many messages one batch direct get asks for.
const loadPage = 512

// numPendingHeader tells, on each message of a batch direct get, how many messages matching
// the request remain after it.
const numPendingHeader = "Nats-Num-Pending"

var (
	// ErrClosed is returned by Append after Close.
	ErrClosed = errors.New("eventstore: store closed")
	// ErrTooLarge is returned by Append for more than MaxBatch events.
	ErrTooLarge = errors.New("eventstore: append exceeds the batch limit")
)

// JetStreamOptions tunes a JetStream store.
type JetStreamOptions struct {
	// AckTimeout bounds the wait for an Append's acknowledgement; 4 s if zero.
	AckTimeout time.Duration
	// ResolveWait bounds how long an append whose acknowledgement was lost (a timeout, a
	// dropped connection, a leader lost) keeps asking the stream to learn whether it was
	// stored, when the Append's context has no deadline; 4 s if zero. With a deadline, it
	// keeps asking until shortly before the deadline, so that the answer is definite
	// wherever the cluster gives one in time.
	ResolveWait time.Duration
}

func (o JetStreamOptions) ackTimeout() time.Duration {
	if o.AckTimeout > 0 {
		return o.AckTimeout
	}
	return defaultAckTimeout
}

func (o JetStreamOptions) resolveWait() time.Duration {
	if o.ResolveWait > 0 {
		return o.ResolveWait
	}
	return defaultResolveWait
}

// DefaultJetStreamOptions returns the options production runs with: every field at its
// default.
func DefaultJetStreamOptions() JetStreamOptions {
	return JetStreamOptions{}
}

// JetStream is the Store on the CASES and DIRECTORY streams (see EnsureStreams). A subject
// beginning with "cases." is in CASES, one beginning with "directory." in DIRECTORY.
//
// Every Append is its own publish, awaited in the caller's goroutine: a plain publish for
// one event, an atomic batch of its own for several (all or none). Concurrent Appends are
// not coalesced: on a single server an atomic batch costs a few milliseconds, more than
// the publishes it would replace (docs/performance.md); syncs shared among appends are
// the business of the server's sync policy (see internal/groupcommit).
//
// A retried Append is recognised when the subject's last event is its last event, or, for
// an atomic batch, when the server still remembers one of its ids (DuplicateWindow): the
// answer is ErrDuplicate. A retry after another writer appended to the subject is
// ErrConflict.
type JetStream struct {
	js   jetstream.JetStream
	opts JetStreamOptions

	batchSlots chan struct{} // one token per atomic batch being published

	// appending counts the Appends being published or settled. Append adds to it under mu
	// while the store is open, so that Close's Wait sees every one it let through.
	appending sync.WaitGroup

	mu      sync.Mutex // guards closed and streams
	closed  bool
	streams map[string]jetstream.Stream

	// testLeaderReads makes every stream read as a replicated one: the last event of a
	// subject from the stream's leader.
	testLeaderReads bool
}

var _ Store = (*JetStream)(nil)

// NewJetStream returns a store publishing through js. The streams must exist
// (EnsureStreams). Call Close when done.
func NewJetStream(js jetstream.JetStream, opts JetStreamOptions) *JetStream {
	return &JetStream{
		js:         js,
		opts:       opts,
		streams:    map[string]jetstream.Stream{},
		batchSlots: make(chan struct{}, maxOpenBatches),
	}
}

// Close makes every later Append fail with ErrClosed and waits until the Appends in
// flight are answered, so that none is cut off by the connection closing after it.
func (s *JetStream) Close() {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	s.appending.Wait()
}

// begin counts an Append in flight, unless the store is closed.
func (s *JetStream) begin() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	s.appending.Add(1)
	return true
}

// appendReq is one Append, checked and encoded.
type appendReq struct {
	ctx      context.Context
	subject  string
	expected uint64
	ids      []string
	types    []string
	bodies   [][]byte
}

type appendResult struct {
	seq  uint64
	err  error
	path string // the commit path: PathSingle or PathAtomicBatch
}

func (r *appendReq) lastID() string { return r.ids[len(r.ids)-1] }

// messages builds the request's messages afresh: a batch publish adds its own headers.
func (r *appendReq) messages() []*nats.Msg {
	msgs := make([]*nats.Msg, len(r.bodies))
	for i, body := range r.bodies {
		m := nats.NewMsg(r.subject)
		m.Data = body
		m.Header.Set(jetstream.MsgIDHeader, r.ids[i])
		m.Header.Set(events.HeaderEventType, r.types[i])
		if i == 0 {
			m.Header.Set(jetstream.ExpectedLastSubjSeqHeader, strconv.FormatUint(r.expected, 10))
		}
		msgs[i] = m
	}
	return msgs
}

// Messages returns the JetStream messages an Append of envs to subject publishes, the
// first expecting the subject's last event at expected (0: none). An Append of several
// events publishes them as one atomic batch, which adds the batch's own headers.
func Messages(subject string, expected uint64, envs []events.Envelope) ([]*nats.Msg, error) {
	req, err := newAppendReq(context.Background(), subject, expected, envs)
	if err != nil {
		return nil, err
	}
	return req.messages(), nil
}

// newAppendReq checks and encodes an Append of envs to subject.
func newAppendReq(ctx context.Context, subject string, expected uint64, envs []events.Envelope) (*appendReq, error) {
	if len(envs) == 0 {
		return nil, fmt.Errorf("eventstore: append of no events to %s", subject)
	}
	if len(envs) > MaxBatch {
		return nil, fmt.Errorf("%w: %d events to %s, at most %d", ErrTooLarge, len(envs), subject, MaxBatch)
	}
	if _, err := streamOf(subject); err != nil {
		return nil, err
	}
	req := &appendReq{
		ctx:      ctx,
		subject:  subject,
		expected: expected,
		ids:      make([]string, len(envs)),
		types:    make([]string, len(envs)),
		bodies:   make([][]byte, len(envs)),
	}
	seen := make(map[string]bool, len(envs))
	for i, env := range envs {
		if env.ID == "" || seen[env.ID] {
			return nil, fmt.Errorf("eventstore: append to %s: event %d has an empty or repeated id %q", subject, i, env.ID)
		}
		seen[env.ID] = true
		body, err := json.Marshal(env)
		if err != nil {
			return nil, fmt.Errorf("eventstore: encode event %s: %w", env.ID, err)
		}
		req.ids[i], req.types[i], req.bodies[i] = env.ID, env.Type, body
	}
	return req, nil
}

// Append implements Store. It waits for the acknowledgement at most AckTimeout, and at
// most until ctx ends; an Append whose acknowledgement is lost is settled (see refused).
func (s *JetStream) Append(ctx context.Context, subject string, expected uint64, envs []events.Envelope) (uint64, error) {
	req, err := newAppendReq(ctx, subject, expected, envs)
	if err != nil {
		return 0, err
	}
	if !s.begin() {
		return 0, ErrClosed
	}
	defer s.appending.Done()
	// Without a connection nothing can be sent (the connection buffers nothing while it
	// reconnects): fail at once rather than after the acknowledgement timeout.
	if !s.js.Conn().IsConnected() {
		return 0, fmt.Errorf("%w: %s: %w", ErrNotStored, subject, nats.ErrDisconnected)
	}
	// A caller that has given up already is answered before anything is sent.
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	start := time.Now()
	actx, cancel := context.WithTimeout(ctx, s.opts.ackTimeout())
	res := s.commitOne(actx, req)
	cancel()
	return observe(start, res)
}

// observe counts an Append's answer in the store's metrics and returns it.
func observe(start time.Time, res appendResult) (uint64, error) {
	AppendDuration.WithLabelValues(res.path).Observe(time.Since(start).Seconds())
	if errors.Is(res.err, ErrDuplicate) {
		DuplicateAppends.Inc()
	}
	return res.seq, res.err
}

// publishBatch publishes msgs as one atomic batch, waiting only for the commit's answer.
// The server holds a few open batches per stream (50 by default) and abandons the ones
// beyond: at most maxOpenBatches are published at once, and a batch refused for want of
// room is retried after a short pause.
func (s *JetStream) publishBatch(ctx context.Context, msgs []*nats.Msg) (*jetstreamext.BatchAck, error) {
	select {
	case s.batchSlots <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	defer func() { <-s.batchSlots }()
	pause := time.Millisecond
	for attempt := 1; ; attempt++ {
		ack, err := jetstreamext.PublishMsgBatch(ctx, s.js, msgs, jetstreamext.BatchFlowControl{AckFirst: false})
		if err == nil || !noRoom(err) || attempt == 6 {
			return ack, err
		}
		select {
		case <-time.After(pause):
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		pause *= 2
	}
}

// noRoom reports whether the server refused a batch because too many batches were open.
func noRoom(err error) bool {
	var apiErr *jetstream.APIError
	if !errors.As(err, &apiErr) {
		return false
	}
	switch apiErr.ErrorCode {
	case jetstreamext.JSErrCodeAtomicPublishTooManyInflight, jetstreamext.JSErrCodeBatchPublishTooManyInflight,
		jetstreamext.JSErrCodeBatchPublishIncomplete:
		return true
	}
	return false
}

// commitOne publishes one Append: a plain publish for one event, an atomic batch for more.
func (s *JetStream) commitOne(ctx context.Context, r *appendReq) appendResult {
	res, err := s.publishOne(ctx, r)
	if err != nil {
		res = s.refused(r, err)
	}
	res.path = PathSingle
	if len(r.bodies) > 1 {
		res.path = PathAtomicBatch
	}
	return res
}

// publishOne publishes one Append and returns the answer of its acknowledgement, or the
// publish's error.
func (s *JetStream) publishOne(ctx context.Context, r *appendReq) (appendResult, error) {
	msgs := r.messages()
	if len(msgs) == 1 {
		ack, err := s.js.PublishMsg(ctx, msgs[0])
		if err != nil {
			return appendResult{}, err
		}
		if ack.Duplicate {
			return appendResult{seq: ack.Sequence, err: ErrDuplicate}, nil
		}
		return appendResult{seq: ack.Sequence}, nil
	}
	ack, err := s.publishBatch(ctx, msgs)
	if err != nil {
		return appendResult{}, err
	}
	return appendResult{seq: ack.Sequence}, nil
}

// Server error codes that refuse one Append for its expectation or its ids.
const (
	codeWrongLastSeq         = jetstream.JSErrCodeStreamWrongLastSequence
	codeWrongLastSeqConstant = jetstream.JSErrCodeStreamWrongLastSequenceConstant
	codeDuplicateInBatch     = jetstreamext.JSErrCodeBatchPublishDuplicateMsgID
	codeDuplicateInProcess   = 10158 // the same id is being stored by another publish
)

// refused turns the server's refusal of one Append, or the failure of its publish, into
// the Store's answer. An Append whose publish may have reached the stream (its
// acknowledgement lost, or refused while the stream had no leader) is settled (resolve):
// the answer is definite, or ErrOutcomeUnknown, never a failure that may be stored later.
// One whose caller cancelled it while it was on its way is not settled: nobody waits for
// the answer, and it may be stored.
func (s *JetStream) refused(r *appendReq, err error) appendResult {
	if notSent(err) {
		return appendResult{err: fmt.Errorf("%w: %s: %w", ErrNotStored, r.subject, err)}
	}
	if errors.Is(err, context.Canceled) {
		return appendResult{err: fmt.Errorf("%w: %s: %w", ErrOutcomeUnknown, r.subject, err)}
	}
	ctx, cancel := s.settleCtx(r)
	defer cancel()
	if ackLost(err) || electing(err) {
		return s.resolve(ctx, r, err)
	}
	return s.refusedByServer(ctx, r, err)
}

// settleCtx returns the context within which an Append's outcome is settled: until
// answerMargin before the Append's deadline, or ResolveWait when it has none.
func (s *JetStream) settleCtx(r *appendReq) (context.Context, context.CancelFunc) {
	if d, ok := r.ctx.Deadline(); ok {
		return context.WithDeadline(context.WithoutCancel(r.ctx), d.Add(-answerMargin))
	}
	return context.WithTimeout(context.WithoutCancel(r.ctx), s.opts.resolveWait())
}

// refusedByServer is refused for an error that is neither NATS away nor a lost
// acknowledgement: the server answered. A refusal of the expectation or the ids is settled
// by reading the subject from the stream's leader; any other refusal stored nothing.
func (s *JetStream) refusedByServer(ctx context.Context, r *appendReq, err error) appendResult {
	var apiErr *jetstream.APIError
	if !errors.As(err, &apiErr) {
		return appendResult{err: fmt.Errorf("eventstore: append to %s: %w", r.subject, err)}
	}
	switch apiErr.ErrorCode {
	case codeWrongLastSeq, codeWrongLastSeqConstant, codeDuplicateInBatch, codeDuplicateInProcess:
	default:
		return appendResult{err: fmt.Errorf("eventstore: append to %s: %w", r.subject, err)}
	}
	// The subject's last event is not the expected one, or one of these ids is stored: this
	// Append (an earlier attempt of it) is stored right after the expected sequence, or it
	// never will be (the expectation refuses it). The leader knows which; while there is
	// none, ask again until ctx ends.
	var last error
	for {
		res, err := s.settleRefusal(ctx, r, apiErr)
		if err == nil {
			return res
		}
		last = err
		select {
		case <-ctx.Done():
			return appendResult{err: fmt.Errorf("%w: %s refused (%v), then reading it: %w", ErrOutcomeUnknown, r.subject, apiErr, last)}
		case <-time.After(resolvePoll):
		}
	}
}

// settleRefusal answers refusedByServer from one read of the subject's last event and,
// if that is not this Append's, one read of the event after the expected sequence, both
// from the stream's leader where the stream is replicated.
func (s *JetStream) settleRefusal(ctx context.Context, r *appendReq, apiErr *jetstream.APIError) (appendResult, error) {
	last, err := s.lastMsg(ctx, r.subject)
	if err != nil {
		return appendResult{}, err
	}
	var lastSeq uint64
	if last != nil {
		lastSeq = last.Sequence
		if last.Header.Get(jetstream.MsgIDHeader) == r.lastID() {
			countWrongLastSeq(apiErr, "duplicate")
			return appendResult{seq: lastSeq, err: ErrDuplicate}, nil
		}
		// Stored by an attempt whose acknowledgement was lost, then followed by another
		// writer's event?
		seq, ok, err := s.storedAfter(ctx, r.subject, r.expected, r.ids[0])
		if err != nil {
			return appendResult{}, err
		}
		if ok {
			countWrongLastSeq(apiErr, "duplicate")
			return appendResult{seq: seq + uint64(len(r.ids)-1), err: ErrDuplicate}, nil
		}
	}
	countWrongLastSeq(apiErr, "conflict")
	if apiErr.ErrorCode == codeDuplicateInBatch {
		// The server holds the id of one of these events: an earlier attempt was stored,
		// and the subject has moved on since.
		return appendResult{seq: lastSeq, err: ErrDuplicate}, nil
	}
	return appendResult{err: fmt.Errorf("%w: %s expected %d, last is %d", ErrConflict, r.subject, r.expected, lastSeq)}, nil
}

// countWrongLastSeq counts a refusal for a wrong last subject sequence (10071) by outcome.
func countWrongLastSeq(apiErr *jetstream.APIError, outcome string) {
	if apiErr.ErrorCode == codeWrongLastSeq || apiErr.ErrorCode == codeWrongLastSeqConstant {
		WrongLastSequence.WithLabelValues(outcome).Inc()
	}
}

// notSent reports whether a publish failed before it reached the stream: nothing was
// stored. The connection buffers nothing while it reconnects (nats.ReconnectBufSize(-1)),
// so a publish then fails at once instead of being sent after the caller heard it failed.
func notSent(err error) bool {
	return errors.Is(err, nats.ErrReconnectBufExceeded) || errors.Is(err, nats.ErrNoResponders) ||
		errors.Is(err, jetstream.ErrNoStreamResponse) || errors.Is(err, nats.ErrConnectionReconnecting) ||
		errors.Is(err, nats.ErrConnectionClosed) && !errors.Is(err, nats.ErrDisconnected)
}

// ackLost reports whether a publish may have been stored without its acknowledgement
// reaching us: a timeout, or the connection dropped while it was in flight (a NATS node
// stopped, a stream leader changed).
func ackLost(err error) bool {
	return errors.Is(err, nats.ErrDisconnected) || errors.Is(err, nats.ErrTimeout) ||
		errors.Is(err, context.DeadlineExceeded) || errors.Is(err, jetstream.ErrAsyncPublishTimeout) ||
		errors.Is(err, jetstream.ErrJetStreamPublisherClosed)
}

// resolve learns whether an append whose acknowledgement was lost was stored, by
// publishing it again, the same messages with the same ids and expectation: if the first
// attempt was stored, the server answers a duplicate (or refuses the expectation, which
// refusedByServer settles by the ids); if it was not, this attempt stores it, and the
// first can no longer be (its expectation and ids are this one's); if it is still on its
// way, it reaches the stream ahead of this one on the same connection. After a leader
// election, the new leader holds every acknowledged message, and the expectation makes
// its answer definite as well. It tries every resolvePoll, each attempt bounded by
// resolveAttempt, until one is answered or ctx ends (NATS still away, no leader elected
// yet): the outcome is then ErrOutcomeUnknown.
func (s *JetStream) resolve(ctx context.Context, r *appendReq, cause error) appendResult {
	last := cause
	for {
		if s.js.Conn().IsConnected() {
			actx, acancel := context.WithTimeout(ctx, resolveAttempt)
			res, err := s.publishOne(actx, r)
			acancel()
			switch {
			case err == nil:
				return res
			case !notSent(err) && !ackLost(err) && !electing(err):
				return s.refusedByServer(ctx, r, err)
			}
			last = err
		}
		select {
		case <-ctx.Done():
			return appendResult{err: fmt.Errorf("%w: %s: %w; then: %w", ErrOutcomeUnknown, r.subject, cause, last)}
		case <-time.After(resolvePoll):
		}
	}
}

// electing reports whether the server refused for want of a stream leader (JetStream
// temporarily unavailable, the stream offline: API errors of status 503). Refusing the
// attempt says nothing of the earlier one, which the next leader may hold.
func electing(err error) bool {
	var apiErr *jetstream.APIError
	return errors.As(err, &apiErr) && apiErr.Code == 503
}

// resolveAttempt bounds one attempt of resolve.
const resolveAttempt = time.Second

// storedAfter asks the leader of subject's stream (not a replica, which may lag: a direct
// get) for subject's first message after sequence after, and reports whether its
// Nats-Msg-Id is id, with its sequence.
func (s *JetStream) storedAfter(ctx context.Context, subject string, after uint64, id string) (uint64, bool, error) {
	name, err := streamOf(subject)
	if err != nil {
		return 0, false, err
	}
	rctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	m, err := leaderread.Get(rctx, s.js, name, leaderread.Request{Seq: after + 1, NextBySubj: subject})
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, err
	}
	return m.Sequence, m.Header.Get(jetstream.MsgIDHeader) == id, nil
}

// stream returns the handle of the stream storing subject, looked up once.
func (s *JetStream) stream(ctx context.Context, subject string) (jetstream.Stream, error) {
	name, err := streamOf(subject)
	if err != nil {
		return nil, err
	}
	return s.streamNamed(ctx, name)
}

// streamNamed returns the handle of the stream called name, looked up once.
func (s *JetStream) streamNamed(ctx context.Context, name string) (jetstream.Stream, error) {
	s.mu.Lock()
	st, ok := s.streams[name]
	s.mu.Unlock()
	if ok {
		return st, nil
	}
	st, err := s.js.Stream(ctx, name)
	if err != nil {
		return nil, fmt.Errorf("eventstore: stream %s: %w", name, err)
	}
	s.mu.Lock()
	s.streams[name] = st
	s.mu.Unlock()
	return st, nil
}

// lastMsg returns the last message of subject, or nil if it has none: every message
// acknowledged before the call is at or below it. On a stream of one replica it reads it
// by direct get, which the server answers from its index in the connection's read loop; on
// a replicated stream, where any replica answers a direct get and a follower may not yet
// hold what the leader acknowledged, it asks the leader (see internal/leaderread).
func (s *JetStream) lastMsg(ctx context.Context, subject string) (*jetstream.RawStreamMsg, error) {
	st, err := s.stream(ctx, subject)
	if err != nil {
		return nil, err
	}
	var m *jetstream.RawStreamMsg
	if s.replicated(st) {
		m, err = leaderread.Get(ctx, s.js, st.CachedInfo().Config.Name, leaderread.Request{LastBySubj: subject})
	} else {
		m, err = st.GetLastMsgForSubject(ctx, subject)
	}
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return nil, nil
	}
	return m, err
}

// replicated reports whether st has followers that may answer a direct get with less
// than the leader acknowledged. The replica count is read once per stream.
func (s *JetStream) replicated(st jetstream.Stream) bool {
	return s.testLeaderReads || st.CachedInfo().Config.Replicas > 1
}

// maxWalk bounds how many events Load reads one by one, walking back from the subject's
// last event, before it reads the subject forward instead.
const maxWalk = 64

// Load implements Store: it returns every event of subject acknowledged before the call,
// whichever replica answers. It reads the subject's last event (lastMsg: from the leader
// on a replicated stream) and walks back from it, one direct get by sequence per event,
// while each event names its predecessor (see walk); where the chain breaks, or after
// maxWalk events, it reads the subject forward from after+1 instead (loadForward), up to
// that last event. Every read is an index lookup in the server, where reading forward
// makes the server scan the stream for the subject's next message (docs/performance.md,
// "Loading a case").
func (s *JetStream) Load(ctx context.Context, subject string, after uint64) ([]Record, error) {
	if !s.js.Conn().IsConnected() {
		return nil, fmt.Errorf("eventstore: load %s: %w", subject, nats.ErrDisconnected)
	}
	m, err := s.lastMsg(ctx, subject)
	if err != nil {
		return nil, fmt.Errorf("eventstore: load %s: %w", subject, err)
	}
	if m == nil || m.Sequence <= after {
		return nil, nil
	}
	recs, ok, err := s.walkFrom(ctx, m, after)
	if err != nil || ok {
		return recs, err
	}
	return s.loadForward(ctx, subject, after, m.Sequence)
}

// walk returns the events of subject above after, read backwards from the subject's last
// event, and ok; or, with ok false, nothing, where an event on the way does not name its
// predecessor. The store writes every Append's first event with the expectation
// Nats-Expected-Last-Subject-Sequence, which the server checked: the value is the stream
// sequence of the subject's previous event (0: there is none). An Append of several
// events is one atomic batch, stored at consecutive sequences, where only the first
// carries the expectation: an event at batch position k > 1 follows the one at the
// sequence before it, which must be the same subject's, from the same batch, at k-1.
func (s *JetStream) walk(ctx context.Context, subject string, after uint64) ([]Record, bool, error) {
	m, err := s.lastMsg(ctx, subject)
	if err != nil {
		return nil, false, fmt.Errorf("eventstore: load %s: %w", subject, err)
	}
	if m == nil {
		return nil, true, nil
	}
	return s.walkFrom(ctx, m, after)
}

// walkFrom is walk from the subject's last event m.
func (s *JetStream) walkFrom(ctx context.Context, m *jetstream.RawStreamMsg, after uint64) ([]Record, bool, error) {
	subject := m.Subject
	st, err := s.stream(ctx, subject)
	if err != nil {
		return nil, false, err
	}
	var back []Record
	for m.Sequence > after {
		if len(back) == maxWalk {
			return nil, false, nil
		}
		back = append(back, record(m.Sequence, m.Subject, m.Header, m.Data))
		prev, batchPos, ok := predecessor(m)
		if !ok {
			return nil, false, nil
		}
		if prev <= after {
			break
		}
		next, err := st.GetMsg(ctx, prev)
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			// A replica behind the one that answered before: read forward instead.
			return nil, false, nil
		}
		if err != nil {
			return nil, false, fmt.Errorf("eventstore: load %s: %w", subject, err)
		}
		if next.Subject != subject || batchPos > 0 && !inBatchBefore(m, next, batchPos) {
			return nil, false, nil
		}
		m = next
	}
	slices.Reverse(back)
	return back, true, nil
}

// predecessor returns the stream sequence of the event before m on m's subject, 0 if m
// is the first, as m's headers tell it; ok is false if they do not. batchPos is m's
// position in its atomic batch when the answer comes from it (the event at batchPos-1 of
// the same batch), 0 when it comes from the expectation the server checked.
func predecessor(m *jetstream.RawStreamMsg) (seq uint64, batchPos int, ok bool) {
	if v := m.Header.Get(jetstream.ExpectedLastSubjSeqHeader); v != "" {
		if m.Header.Get(jetstream.ExpectedLastSubjSeqSubjHeader) != "" {
			return 0, 0, false // the expectation was about another subject
		}
		seq, err := strconv.ParseUint(v, 10, 64)
		return seq, 0, err == nil && seq < m.Sequence
	}
	if k, err := strconv.Atoi(m.Header.Get(jetstreamext.BatchSeqHeader)); err == nil && k > 1 && m.Sequence > 1 && m.Header.Get(jetstreamext.BatchIDHeader) != "" {
		return m.Sequence - 1, k, true
	}
	return 0, 0, false
}

// inBatchBefore reports whether prev is at position batchPos-1 of m's atomic batch.
func inBatchBefore(m, prev *jetstream.RawStreamMsg, batchPos int) bool {
	return prev.Header.Get(jetstreamext.BatchIDHeader) == m.Header.Get(jetstreamext.BatchIDHeader) &&
		prev.Header.Get(jetstreamext.BatchSeqHeader) == strconv.Itoa(batchPos-1)
}

// loadForward returns the events of subject above after with batch direct gets, page by
// page. A replica that does not hold them all yet ends its answer early: the events up to
// until (the subject's last, as the leader holds it; 0 if unknown) that it lacked are read
// from the leader, one by one.
func (s *JetStream) loadForward(ctx context.Context, subject string, after, until uint64) ([]Record, error) {
	name, err := streamOf(subject)
	if err != nil {
		return nil, err
	}
	var out []Record
	next := after + 1
	for {
		page, err := jetstreamext.GetBatch(ctx, s.js, name, loadPage,
			jetstreamext.GetBatchSubject(subject), jetstreamext.GetBatchSeq(next))
		if err != nil {
			return nil, fmt.Errorf("eventstore: load %s: %w", subject, err)
		}
		got, more := 0, false
		for m, err := range page {
			if errors.Is(err, jetstreamext.ErrNoMessages) {
				break
			}
			if err != nil {
				return nil, fmt.Errorf("eventstore: load %s: %w", subject, err)
			}
			out = append(out, record(m.Sequence, m.Subject, m.Header, m.Data))
			got++
			next = m.Sequence + 1
			more = m.Header.Get(numPendingHeader) != "0"
		}
		if got == 0 || !more {
			break
		}
	}
	for next <= until {
		m, err := leaderread.Get(ctx, s.js, name, leaderread.Request{Seq: next, NextBySubj: subject})
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("eventstore: load %s: %w", subject, err)
		}
		if m.Sequence > until {
			break
		}
		out = append(out, record(m.Sequence, m.Subject, m.Header, m.Data))
		next = m.Sequence + 1
	}
	return out, nil
}

// LoadOrdered returns what Load returns, read with an ordered consumer filtered on subject
// instead of batch direct gets. It is slower (see docs/performance.md) and kept to measure
// against.
func (s *JetStream) LoadOrdered(ctx context.Context, subject string, after uint64) ([]Record, error) {
	name, err := streamOf(subject)
	if err != nil {
		return nil, err
	}
	last, err := s.lastMsg(ctx, subject)
	if err != nil {
		return nil, fmt.Errorf("eventstore: load %s: %w", subject, err)
	}
	if last == nil || last.Sequence <= after {
		return nil, nil
	}
	cons, err := s.js.OrderedConsumer(ctx, name, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{subject},
		DeliverPolicy:  jetstream.DeliverByStartSequencePolicy,
		OptStartSeq:    after + 1,
	})
	if err != nil {
		return nil, fmt.Errorf("eventstore: load %s: %w", subject, err)
	}
	defer func() {
		if info := cons.CachedInfo(); info != nil {
			_ = s.js.DeleteConsumer(context.WithoutCancel(ctx), name, info.Name)
		}
	}()
	var out []Record
	for {
		want := min(last.Sequence-after, loadPage)
		batch, err := cons.FetchNoWait(int(want))
		if err != nil {
			return nil, fmt.Errorf("eventstore: load %s: %w", subject, err)
		}
		for m := range batch.Messages() {
			md, err := m.Metadata()
			if err != nil {
				return nil, fmt.Errorf("eventstore: load %s: %w", subject, err)
			}
			out = append(out, record(md.Sequence.Stream, m.Subject(), m.Headers(), m.Data()))
			after = md.Sequence.Stream
		}
		if err := batch.Error(); err != nil {
			return nil, fmt.Errorf("eventstore: load %s: %w", subject, err)
		}
		if after >= last.Sequence {
			return out, nil
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
	}
}

// record is the stored message at seq on subject; a body that is not an envelope makes a
// record with Err set rather than an error, so that one bad message does not stop a load.
func record(seq uint64, subject string, h nats.Header, body []byte) Record {
	env, err := events.Unmarshal(body)
	if err != nil {
		return Record{Seq: seq, Envelope: events.Envelope{Subject: subject, Type: h.Get(events.HeaderEventType)}, Err: err}
	}
	return Record{Seq: seq, Envelope: env}
}

// LastSeq returns the last sequence of the stream named stream: every event acknowledged
// before the call is at or below it.
//
// On a stream of one replica it asks for the stream's last message by direct get, which
// the server answers from its index in the connection's own read loop; on a replicated
// stream, where any replica answers a direct get and a follower may not hold what the
// leader acknowledged, it asks the leader for the stream's state (STREAM.INFO), through
// the server's queue of API requests. The replica count is read once per stream; a
// mirror that answers direct gets for the stream (mirror_direct) would make the first
// way stale, and the streams have none (docs/operations.md).
func (s *JetStream) LastSeq(ctx context.Context, stream string) (uint64, error) {
	if !s.js.Conn().IsConnected() {
		return 0, fmt.Errorf("eventstore: stream %s: %w", stream, nats.ErrDisconnected)
	}
	ctx, cancel := s.bounded(ctx)
	defer cancel()
	st, err := s.streamNamed(ctx, stream)
	if err != nil {
		return 0, err
	}
	if st.CachedInfo().Config.Replicas <= 1 {
		seq, ok, err := lastSeqDirect(ctx, st)
		if err != nil || ok {
			return seq, err
		}
	}
	return s.lastSeqInfo(ctx, stream)
}

// bounded returns ctx, bounded by the JetStream context's default timeout if it has no
// deadline of its own, as nats.go bounds its own requests.
func (s *JetStream) bounded(ctx context.Context) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); !ok {
		if d := s.js.Options().DefaultTimeout; d > 0 {
			return context.WithTimeout(ctx, d)
		}
	}
	return ctx, func() {}
}

// apiPrefix is the JetStream API's subject prefix.
func (s *JetStream) apiPrefix() string {
	if p := s.js.Options().APIPrefix; p != "" {
		return p
	}
	return jetstream.DefaultAPIPrefix
}

// lastSeqDirect reads the sequence of the stream's last message by direct get of the last
// message on any subject (the server reads the stream's last sequence and loads that
// message). ok is false when the server has no such message (an empty stream), which
// STREAM.INFO then answers.
func lastSeqDirect(ctx context.Context, st jetstream.Stream) (seq uint64, ok bool, err error) {
	m, err := st.GetLastMsgForSubject(ctx, ">")
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("eventstore: stream %s: last message: %w", st.CachedInfo().Config.Name, err)
	}
	return m.Sequence, true, nil
}

// lastSeqInfo reads the stream's last sequence from a bare STREAM.INFO request, decoding
// only the state's last sequence: the full StreamInfo costs far more to decode than to
// fetch.
func (s *JetStream) lastSeqInfo(ctx context.Context, stream string) (uint64, error) {
	msg, err := s.js.Conn().RequestWithContext(ctx, s.apiPrefix()+"STREAM.INFO."+stream, nil)
	if err != nil {
		return 0, fmt.Errorf("eventstore: stream %s: %w", stream, err)
	}
	var info struct {
		State struct {
			LastSeq uint64 `json:"last_seq"`
		} `json:"state"`
		Error *jetstream.APIError `json:"error"`
	}
	if err := json.Unmarshal(msg.Data, &info); err != nil {
		return 0, fmt.Errorf("eventstore: stream %s info: %w", stream, err)
	}
	if info.Error != nil {
		return 0, fmt.Errorf("eventstore: stream %s: %w", stream, info.Error)
	}
	return info.State.LastSeq, nil
}
