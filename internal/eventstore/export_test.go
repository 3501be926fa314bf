package eventstore

import "context"

// Walk and LoadForward expose to the tests the two ways Load reads a subject.
func (s *JetStream) Walk(ctx context.Context, subject string, after uint64) ([]Record, bool, error) {
	return s.walk(ctx, subject, after)
}

func (s *JetStream) LoadForward(ctx context.Context, subject string, after uint64) ([]Record, error) {
	return s.loadForward(ctx, subject, after, 0)
}

const MaxWalk = maxWalk

// LastSeqDirect and LastSeqInfo expose to the tests the two ways LastSeq reads a stream's
// last sequence.
func (s *JetStream) LastSeqDirect(ctx context.Context, stream string) (uint64, bool, error) {
	st, err := s.streamNamed(ctx, stream)
	if err != nil {
		return 0, false, err
	}
	return lastSeqDirect(ctx, st)
}

func (s *JetStream) LastSeqInfo(ctx context.Context, stream string) (uint64, error) {
	return s.lastSeqInfo(ctx, stream)
}

// ReadAsReplicated makes the store read every stream as a replicated one: the last event
// of a subject from the stream's leader.
func (s *JetStream) ReadAsReplicated() { s.testLeaderReads = true }

const MaxMultiLast = maxMultiLast
