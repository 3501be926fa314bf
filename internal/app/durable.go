package app

import (
	"context"
	"strconv"
	"time"

	"github.com/casestream/casestream/events"
	"github.com/casestream/casestream/internal/eventstore"
)

// guardedStreams are the streams whose durable sequence a group-committing App tracks.
var guardedStreams = []string{events.StreamCases, events.StreamDirectory}

// durablePublishInterval is how often the durable sequences are published when no round
// advances them: a new subscriber learns them without waiting for a write.
const durablePublishInterval = time.Second

// durable returns apply held back until the durable sequence of stream reaches each record
// (groupcommit.Syncer.Gate); without group commit, every stored record is durable already
// and apply is returned as it is.
func (a *App) durable(ctx context.Context, stream string, apply func(eventstore.Record)) func(eventstore.Record) {
	if a.syncer == nil {
		return apply
	}
	return a.syncer.Gate(ctx, stream, apply)
}

// publishDurable publishes the durable sequence of each guarded stream on its
// events.DurableSubject after every round that advanced one, and every
// durablePublishInterval, until ctx ends.
func (a *App) publishDurable(ctx context.Context) {
	tick := time.NewTicker(durablePublishInterval)
	defer tick.Stop()
	var buf []byte
	for {
		changed := a.syncer.Changed()
		for _, stream := range guardedStreams {
			buf = strconv.AppendUint(buf[:0], a.syncer.Durable(stream), 10)
			if err := a.NC.Publish(events.DurableSubject(stream), buf); err != nil && ctx.Err() == nil {
				a.log.Warn("publish the durable sequence", "stream", stream, "err", err)
			}
		}
		select {
		case <-changed:
		case <-tick.C:
		case <-ctx.Done():
			return
		}
	}
}
