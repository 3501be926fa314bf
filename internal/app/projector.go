package app

import (
	"context"
	"sync"
	"time"

	"github.com/casestream/casestream/events"
	"github.com/casestream/casestream/internal/eventstore"
	"github.com/casestream/casestream/projection"
)

// replay is the projector's initial replay of CASES, run in the background after the HTTP
// listener starts; the App owns its goroutine and stops it on Close.
type replay struct {
	done          chan struct{} // closed when the projector has replayed, followed and serves queries
	directoryTook time.Duration // the directory's replay, part of the rebuild's duration
	cancel        context.CancelFunc
	exited        chan struct{} // closed when the goroutine returns

	mu      sync.Mutex // guards lastErr
	lastErr error      // the last failed attempt, for the readiness report
}

func newReplay() replay {
	return replay{done: make(chan struct{})}
}

// finished reports whether the initial replay is over and the projector serves.
func (r *replay) finished() bool {
	select {
	case <-r.done:
		return true
	default:
		return false
	}
}

func (r *replay) failed() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.lastErr
}

// stop cancels a replay still running and waits for its goroutine.
func (r *replay) stop() {
	if r.cancel == nil {
		return
	}
	r.cancel()
	<-r.exited
}

// startProjector starts the initial replay of CASES in the background. Once it is done the
// projector follows the stream and joins the queue group of the query service: a replica
// still replaying takes no queries it could not answer in time. Without a projector in this
// process there is nothing to replay.
func (a *App) startProjector(ctx context.Context) error {
	if a.Projector == nil {
		close(a.replay.done)
		return nil
	}
	rctx, cancel := context.WithCancel(ctx)
	a.replay.cancel, a.replay.exited = cancel, make(chan struct{})
	go func() {
		defer close(a.replay.exited)
		a.replayCases(rctx, ctx)
	}()
	return nil
}

// replayCases replays CASES into the projector under rctx, trying again until it succeeds
// or the App closes (a cluster electing the stream's leader, NATS away), then follows the
// stream under ctx and starts the query service.
func (a *App) replayCases(rctx, ctx context.Context) {
	if a.cfg.beforeReplay != nil {
		a.cfg.beforeReplay(rctx)
	}
	start := time.Now()
	var last uint64
	for {
		err := eventstore.RetrySetup(rctx, a.log, "replay cases", 0, func(rctx context.Context) (err error) {
			last, err = eventstore.Replay(rctx, a.JS, events.StreamCases, a.durable(rctx, events.StreamCases, a.Projector.ApplyCases))
			return err
		})
		if err == nil {
			break
		}
		if rctx.Err() != nil {
			return
		}
		a.replay.mu.Lock()
		a.replay.lastErr = err
		a.replay.mu.Unlock()
		a.log.Error("replay cases failed; trying again", "err", err)
	}
	took := a.replay.directoryTook + time.Since(start)
	projection.RebuildDuration.Set(took.Seconds())
	a.log.Info("model rebuilt", "cases_seq", last, "directory_seq", a.Projector.Directory().LastSeq(), "took", took)
	a.follow(ctx, events.StreamCases, last, a.Projector.ApplyCases)
	svc, err := projection.NewService(a.NC, a.Projector, projection.ServiceOptions{Wait: a.cfg.ProjectorWait})
	if err != nil {
		a.replay.mu.Lock()
		a.replay.lastErr = err
		a.replay.mu.Unlock()
		a.log.Error("projection query service", "err", err)
		return
	}
	a.micro = svc
	close(a.replay.done)
}
