package app

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/casestream/casestream/events"
	"github.com/casestream/casestream/internal/embedded"
	"github.com/casestream/casestream/internal/eventstore"
	"github.com/casestream/casestream/internal/groupcommit"
	"github.com/casestream/casestream/internal/natsauth"
	"github.com/casestream/casestream/internal/natsconn"
)

// connect starts the embedded server (without Config.NATSURL) and connects to it, or to the
// outside server.
func (a *App) connect(ctx context.Context) (err error) {
	name := "casestream-" + a.role()
	cfg := a.cfg
	if cfg.NATSURL == "" {
		a.ns, err = embedded.Start(embedded.Options{
			StoreDir: filepath.Join(cfg.Data, "nats"), Listen: cfg.NATSListen, SyncAlways: cfg.SyncAlways && !cfg.GroupCommit, ServerName: "casestream",
			IdentityDir: filepath.Join(cfg.Data, "identities"),
		})
		if err != nil {
			return err
		}
		if cfg.NATSListen != "" {
			a.log.Info("NATS clients authenticate with an nkey seed", "url", a.ns.ClientURL(),
				"reader", a.ns.Keys.SeedFile(natsauth.Reader), "admin", a.ns.Keys.SeedFile(natsauth.Admin))
		}
		a.NC, err = embedded.Connect(a.ns, natsconn.Options(a.log, name)...)
	} else {
		var auth []nats.Option
		if auth, err = cfg.NATSAuth.Options(); err != nil {
			return err
		}
		a.NC, err = nats.Connect(cfg.NATSURL, append(append(auth, natsconn.Options(a.log, name)...), nats.RetryOnFailedConnect(true))...)
	}
	if err != nil {
		return fmt.Errorf("connect to NATS: %w", err)
	}
	a.JS, err = jetstream.New(a.NC)
	return err
}

// streams creates CASES and DIRECTORY (or, projector only, waits for the api to), and opens
// the event store on them.
func (a *App) streams(ctx context.Context) error {
	storeOpts := eventstore.DefaultJetStreamOptions()
	if a.cfg.Store != nil {
		storeOpts = *a.cfg.Store
	}
	if a.cfg.ProjectorOnly {
		if err := a.awaitStreams(ctx); err != nil {
			return err
		}
	} else {
		// A cluster that is still electing its JetStream leaders refuses or times out; the
		// setup is retried until it answers (bounded), so that api and NATS can start
		// together.
		err := eventstore.RetrySetup(ctx, a.log, "create streams", eventstore.SetupAttempt, func(ctx context.Context) error {
			return eventstore.EnsureStreams(ctx, a.JS, a.cfg.Replicas)
		})
		if err != nil {
			return err
		}
	}
	a.Store = eventstore.NewJetStream(a.JS, storeOpts)
	a.appender = a.Store
	if a.cfg.GroupCommit && a.ns != nil {
		onErr := a.cfg.OnSyncError
		if onErr == nil {
			onErr = func(err error) {
				// The kernel may have dropped what it failed to write: what was written
				// since the last good sync cannot be trusted to be on disk.
				a.log.Error("sync of the store failed; stopping", "err", err)
				os.Exit(1)
			}
		}
		a.syncer = groupcommit.Start(groupcommit.Config{
			Dir: filepath.Join(a.cfg.Data, "nats"), OnErr: onErr,
			Streams: guardedStreams, LastSeq: a.Store.LastSeq, BeforeSync: a.cfg.beforeSync,
		})
		a.appender = groupcommit.NewStore(a.Store, a.syncer)
		// What an earlier run stored and perhaps never synced becomes durable before
		// anything reads it: the folds below start from a known durable sequence.
		if err := a.syncer.Wait(ctx); err != nil {
			return fmt.Errorf("first sync of the store: %w", err)
		}
		a.wg.Go(func() { a.publishDurable(ctx) })
	}
	a.lastSeqs = eventstore.NewLastSeqs(a.Store, events.StreamCases, events.StreamDirectory)
	return nil
}

// awaitStreams returns once CASES and DIRECTORY exist: the api creates them, and a
// projector may start before the api, or before NATS answers.
func (a *App) awaitStreams(ctx context.Context) error {
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	var last string
	for {
		_, err := a.JS.Stream(ctx, events.StreamCases)
		if err == nil {
			_, err = a.JS.Stream(ctx, events.StreamDirectory)
		}
		if err == nil {
			return nil
		}
		if err.Error() != last {
			a.log.Info("waiting for the CASES and DIRECTORY streams", "err", err)
			last = err.Error()
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
}
