package eventstore

import (
	"context"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// FollowResuming follows stream like Follow, and when the consumer fails (a NATS node
// stopped, the connection dropped for longer than the ordered consumer tolerates) it resumes
// after the last record delivered, pausing between attempts, until ctx ends. onError, if not
// nil, hears each failure.
func FollowResuming(ctx context.Context, js jetstream.JetStream, stream string, after uint64, fn func(Record), onError func(error)) {
	last := after
	track := func(r Record) {
		last = r.Seq
		fn(r)
	}
	pause := 100 * time.Millisecond
	for {
		start := last
		err := Follow(ctx, js, stream, last, track)
		if ctx.Err() != nil {
			return
		}
		if onError != nil {
			onError(err)
		}
		if last > start {
			pause = 100 * time.Millisecond // it made progress: retry soon
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(pause):
		}
		pause = min(2*pause, 2*time.Second)
	}
}
