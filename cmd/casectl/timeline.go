package main

import (
	"context"
	"time"

	"github.com/casestream/casestream/events"
	"github.com/casestream/casestream/internal/directory"
	"github.com/casestream/casestream/internal/eventstore"
)

// timeline folds the DIRECTORY stream forward in time, so that each case event is read with
// the directory as it was when the event was stored: every directory event stored at or
// before that time applied, none after. The two streams share the server's clock, which
// stamps every stored message.
type timeline struct {
	entries []entry
	next    int // entries[:next] are applied to dir
	dir     *directory.Directory
}

// loadTimeline reads the whole DIRECTORY stream.
func (m *Main) loadTimeline(ctx context.Context) (*timeline, error) {
	es, err := m.readAll(ctx, events.StreamDirectory, "")
	if err != nil {
		return nil, err
	}
	return &timeline{entries: es, dir: directory.New()}, nil
}

// at returns the directory as it was at t. Calls must not go back in time.
func (tl *timeline) at(t time.Time) *directory.Directory {
	for tl.next < len(tl.entries) && !tl.entries[tl.next].Time.After(t) {
		tl.apply(tl.entries[tl.next])
		tl.next++
	}
	return tl.dir
}

func (tl *timeline) apply(e entry) {
	env, ev, err := e.decoded()
	if err != nil {
		return // verify reports it; the directory's fold ignores what it cannot read
	}
	tl.dir.Apply(eventstore.Record{Seq: e.Seq, Envelope: env, Event: ev})
}
