package eventstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/synadia-io/orbit.go/natsext"
)

// maxMultiLast is how many subjects one multi-last direct get names: the server answers
// at most 1024 messages to one (more is refused with 413 Too Many Results).
const maxMultiLast = 1024

// errStaleAnswer means a multi-last direct get was answered by a replica that may not hold
// every message the leader acknowledged before the call.
var errStaleAnswer = errors.New("eventstore: multi-last answered by a replica behind the leader")

// LastSeqsOf returns the stream sequence of the last event of each of subjects that has
// one (a subject without events is absent): every event acknowledged before the call is at
// or below it. subjects name no wildcard.
//
// It asks each stream once for the last messages of up to 1024 subjects at a time (a batch
// direct get with "multi_last", answered from the server's index in the connection's read
// loop), where Load asks once per subject. A stream of one replica answers as Load's
// direct get does. On a replicated stream any replica answers, and a follower may not yet
// hold what the leader acknowledged; the multi-last read has no leader-only form
// (STREAM.MSG.GET refuses batches), and its up_to_seq only caps what is returned, it does
// not make a follower wait. So LastSeqsOf first reads the stream's last sequence from the
// leader (LastSeq), then accepts the answer only if the replica that gave it held at least
// that sequence: the answer's end-of-batch marker carries the sequence the replica read up
// to (Nats-UpTo-Sequence). An answer from a replica behind it, or one that does not say,
// is replaced by one leader read per subject, as Load reads a replicated stream.
//
// It sends the request itself rather than through jetstreamext.GetLastMsgsFor, whose
// iterator hides the end-of-batch marker, and ends without an error on a timeout: an
// answer cut short would then look like subjects without events.
func (s *JetStream) LastSeqsOf(ctx context.Context, subjects []string) (map[string]uint64, error) {
	if !s.js.Conn().IsConnected() {
		return nil, fmt.Errorf("eventstore: last sequences: %w", nats.ErrDisconnected)
	}
	byStream := map[string][]string{}
	var names []string
	for _, subj := range subjects {
		if strings.ContainsAny(subj, "*>") {
			return nil, fmt.Errorf("eventstore: last sequences: wildcard subject %q", subj)
		}
		name, err := streamOf(subj)
		if err != nil {
			return nil, err
		}
		if _, ok := byStream[name]; !ok {
			names = append(names, name)
		}
		byStream[name] = append(byStream[name], subj)
	}
	out := make(map[string]uint64, len(subjects))
	for _, name := range names {
		if err := s.lastSeqsIn(ctx, name, byStream[name], out); err != nil {
			return nil, fmt.Errorf("eventstore: last sequences in %s: %w", name, err)
		}
	}
	return out, nil
}

// lastSeqsIn adds to out the last sequences of subjects, all in the stream called name.
func (s *JetStream) lastSeqsIn(ctx context.Context, name string, subjects []string, out map[string]uint64) error {
	st, err := s.streamNamed(ctx, name)
	if err != nil {
		return err
	}
	ctx, cancel := s.bounded(ctx)
	defer cancel()
	var floor uint64
	if s.replicated(st) {
		// The leader's state (LastSeq's way for a replicated stream), not a direct get
		// that a follower may answer.
		if floor, err = s.lastSeqInfo(ctx, name); err != nil {
			return err
		}
	}
	for len(subjects) > 0 {
		chunk := subjects[:min(len(subjects), maxMultiLast)]
		subjects = subjects[len(chunk):]
		err := s.multiLast(ctx, name, chunk, floor, out)
		if errors.Is(err, errStaleAnswer) {
			err = s.lastSeqsFromLeader(ctx, chunk, out)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// lastSeqsFromLeader adds to out the last sequences of subjects read one by one, from the
// leader on a replicated stream (lastMsg).
func (s *JetStream) lastSeqsFromLeader(ctx context.Context, subjects []string, out map[string]uint64) error {
	for _, subj := range subjects {
		m, err := s.lastMsg(ctx, subj)
		if err != nil {
			return err
		}
		if m != nil {
			out[subj] = m.Sequence
		}
	}
	return nil
}

// multiLast adds to out the last sequences of subjects (at most maxMultiLast) from
// multi-last direct gets of the stream called name. floor > 0 requires the answering
// replica to have read the stream up to floor at least, or the answer is errStaleAnswer.
// An answer cut short by the server's byte limit (its end-of-batch marker counts messages
// still pending) is followed by a request for the subjects not answered yet.
func (s *JetStream) multiLast(ctx context.Context, name string, subjects []string, floor uint64, out map[string]uint64) error {
	for len(subjects) > 0 {
		ans, err := s.multiLastOnce(ctx, name, subjects)
		if err != nil {
			return err
		}
		if ans.notFound {
			// No subject has a message, says a replica whose position is unknown.
			if floor > 0 {
				return errStaleAnswer
			}
			return nil
		}
		if ans.upTo < floor {
			return errStaleAnswer
		}
		for subj, seq := range ans.seqs {
			out[subj] = seq
		}
		if ans.pending == 0 {
			return nil
		}
		if len(ans.seqs) == 0 {
			return errors.New("multi-last direct get: messages pending, none sent")
		}
		rest := subjects[:0:0]
		for _, subj := range subjects {
			if _, ok := ans.seqs[subj]; !ok {
				rest = append(rest, subj)
			}
		}
		subjects = rest
	}
	return nil
}

// multiLastAnswer is one answer to a multi-last direct get.
type multiLastAnswer struct {
	seqs     map[string]uint64 // the last sequence of each subject answered
	notFound bool              // no subject asked has a message (404 No Results)
	pending  uint64            // subjects with a message left out (byte limit reached)
	upTo     uint64            // the stream sequence the replica read up to
}

// Statuses and headers of a direct get's answer.
const (
	statusHeader      = "Status"
	descriptionHeader = "Description"
	statusEndOfBatch  = "204"
	statusNotFound    = "404"
	descNoResults     = "No Results" // with 404: no subject asked has a message
	upToSeqHeader     = "Nats-UpTo-Sequence"
)

// multiLastOnce sends one multi-last direct get for subjects to the stream called name
// and reads its answer: one message per subject that has one, in stream order, then an
// end-of-batch marker; or a lone status.
func (s *JetStream) multiLastOnce(ctx context.Context, name string, subjects []string) (multiLastAnswer, error) {
	req, err := json.Marshal(struct {
		MultiLast []string `json:"multi_last"`
	}{subjects})
	if err != nil {
		return multiLastAnswer{}, err
	}
	var eob *nats.Msg
	msgs, err := natsext.RequestMany(ctx, s.js.Conn(), s.apiPrefix()+"DIRECT.GET."+name, req,
		natsext.RequestManySentinel(func(m *nats.Msg) bool {
			if len(m.Data) == 0 && m.Header.Get(statusHeader) == statusEndOfBatch {
				eob = m
				return true
			}
			return false
		}))
	if err != nil {
		return multiLastAnswer{}, err
	}
	ans := multiLastAnswer{seqs: make(map[string]uint64, len(subjects))}
	for m, err := range msgs {
		if err != nil {
			return multiLastAnswer{}, err
		}
		if status := m.Header.Get(statusHeader); status != "" && len(m.Data) == 0 {
			if status == statusNotFound && m.Header.Get(descriptionHeader) == descNoResults {
				ans.notFound = true
				return ans, nil
			}
			return multiLastAnswer{}, fmt.Errorf("multi-last direct get: status %s %s", status, m.Header.Get(descriptionHeader))
		}
		subj := m.Header.Get(jetstream.SubjectHeader)
		seq, err := strconv.ParseUint(m.Header.Get(jetstream.SequenceHeader), 10, 64)
		if subj == "" || err != nil {
			return multiLastAnswer{}, fmt.Errorf("multi-last direct get: a message without subject or sequence (%q, %q)",
				subj, m.Header.Get(jetstream.SequenceHeader))
		}
		ans.seqs[subj] = seq
	}
	if eob == nil {
		// The iterator ends without an error when the context does.
		if err := ctx.Err(); err != nil {
			return multiLastAnswer{}, err
		}
		return multiLastAnswer{}, errors.New("multi-last direct get: answer ended before its end-of-batch marker")
	}
	if ans.pending, err = strconv.ParseUint(eob.Header.Get(numPendingHeader), 10, 64); err != nil {
		return multiLastAnswer{}, fmt.Errorf("multi-last direct get: end of batch: %s: %w", numPendingHeader, err)
	}
	if ans.upTo, err = strconv.ParseUint(eob.Header.Get(upToSeqHeader), 10, 64); err != nil {
		return multiLastAnswer{}, fmt.Errorf("multi-last direct get: end of batch: %s: %w", upToSeqHeader, err)
	}
	return ans, nil
}
