package eventstore

import "context"

// Walk and LoadForward expose to the tests the two ways Load reads a subject.
func (s *JetStream) Walk(ctx context.Context, subject string, after uint64) ([]Record, bool, error) {
	return s.walk(ctx, subject, after)
}

func (s *JetStream) LoadForward(ctx context.Context, subject string, after uint64) ([]Record, error) {
	return s.loadForward(ctx, subject, after)
}

const MaxWalk = maxWalk
