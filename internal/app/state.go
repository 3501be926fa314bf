package app

import (
	"context"
	"fmt"
	"time"

	"github.com/casestream/casestream/events"
	"github.com/casestream/casestream/internal/cases"
	"github.com/casestream/casestream/internal/directory"
	"github.com/casestream/casestream/internal/eventstore"
	"github.com/casestream/casestream/internal/files"
	"github.com/casestream/casestream/internal/idempotency"
	"github.com/casestream/casestream/internal/ids"
	"github.com/casestream/casestream/internal/tokens"
	"github.com/casestream/casestream/projection"
)

// openBuckets opens (creating if needed) the buckets of the command side and the API
// surfaces: ids, sessions, access tokens, idempotency, files and credentials. A projector
// only has none.
func (a *App) openBuckets(ctx context.Context) error {
	if a.cfg.ProjectorOnly {
		return nil
	}
	js, replicas, b := a.JS, a.cfg.Replicas, &a.buckets
	err := eventstore.RetrySetup(ctx, a.log, "create key-value buckets", eventstore.SetupAttempt, func(ctx context.Context) (err error) {
		if b.ids, err = ids.Open(ctx, js, replicas); err != nil {
			return err
		}
		if b.sessions, err = tokens.Open(ctx, js, "CASESTREAM_SESSIONS", 8*time.Hour, replicas); err != nil {
			return err
		}
		if b.accessTokens, err = tokens.Open(ctx, js, "CASESTREAM_TOKENS", time.Hour, replicas); err != nil {
			return err
		}
		// Access tokens are never revoked before they expire: a replica may trust one it has
		// seen for a while without reading the bucket on every request.
		b.accessTokens.Memoize(30 * time.Second)
		b.idempotency, err = idempotency.Open(ctx, js, replicas)
		return err
	})
	if err != nil {
		return err
	}
	if a.syncer != nil {
		// Written after the request's events were made durable, and answered at once: each
		// waits for a round of its own (docs/reliability.md, "Group commit").
		b.idempotency.SyncWrites(a.syncer.Wait)
		b.sessions.SyncRevocations(a.syncer.Wait)
		b.accessTokens.SyncRevocations(a.syncer.Wait)
	}
	// The bytes of case attachments: an object store bucket beside the key-value buckets.
	err = eventstore.RetrySetup(ctx, a.log, "create the files bucket", eventstore.SetupAttempt, func(ctx context.Context) (err error) {
		b.files, err = files.Open(ctx, js, replicas)
		return err
	})
	if err != nil {
		return err
	}
	// Secrets' hashes are in a bucket of their own, which only the service reads.
	return eventstore.RetrySetup(ctx, a.log, "open credentials bucket", eventstore.SetupAttempt, func(ctx context.Context) (err error) {
		b.secrets, err = directory.OpenSecrets(ctx, js, replicas)
		return err
	})
}

// directory builds the directory view: replayed now, followed from then on. In-process,
// the projector shares it, so that one fold serves both. The api then moves version 1
// hashes into the credentials bucket and applies the bootstrap file.
func (a *App) directory(ctx context.Context) error {
	a.Directory = directory.New()
	if a.buckets.secrets != nil {
		a.Directory.UseSecrets(a.buckets.secrets)
	}
	apply := a.Directory.Apply
	if a.cfg.Projector {
		a.Projector = projection.NewProjector(a.Directory)
		apply = a.Projector.ApplyDirectory
	}
	// An interrupted replay is started again; records already applied are ignored.
	var last uint64
	start := time.Now()
	err := eventstore.RetrySetup(ctx, a.log, "replay directory", 0, func(ctx context.Context) (err error) {
		last, err = eventstore.Replay(ctx, a.JS, events.StreamDirectory, a.durable(ctx, events.StreamDirectory, apply))
		return err
	})
	if err != nil {
		return fmt.Errorf("replay directory: %w", err)
	}
	a.replay.directoryTook = time.Since(start)
	a.follow(ctx, events.StreamDirectory, last, apply)
	if a.cfg.ProjectorOnly {
		return nil
	}
	if migrated, err := a.Directory.MigrateSecrets(ctx); err != nil {
		return err
	} else if migrated > 0 {
		a.log.Info("hashes of schema version 1 events put into the credentials bucket", "bucket", directory.CredentialsBucket, "count", migrated)
	}
	if a.cfg.Directory != nil {
		written, err := directory.Bootstrap(ctx, a.appender, a.Directory, a.cfg.Directory, directory.BootstrapOptions{BcryptCost: a.cfg.BcryptCost})
		if err != nil {
			return fmt.Errorf("apply %s: %w", a.cfg.DirectoryName, err)
		}
		a.log.Info("directory applied", "file", a.cfg.DirectoryName, "events", written)
	}
	return nil
}

// commands builds the command side (not on a projector only).
func (a *App) commands(ctx context.Context) error {
	if a.cfg.ProjectorOnly {
		return nil
	}
	// An event the server would refuse for its size is refused before anything is written.
	// A listing reads its cases' last sequences from the store itself, in one request.
	a.Cases = cases.NewService(a.appender, a.buckets.ids, cases.Options{MaxEventBytes: int(a.NC.MaxPayload()) - eventstore.HeaderRoom, LastSeqs: a.Store})
	return nil
}

// follow keeps applying a stream's records after the given sequence until the App closes,
// observing their lag (projection.ObserveLag), each once it is durable (App.durable).
func (a *App) follow(ctx context.Context, stream string, after uint64, apply func(eventstore.Record)) {
	apply = a.durable(ctx, stream, projection.ObserveLag(stream, apply))
	a.wg.Go(func() {
		eventstore.FollowResuming(ctx, a.JS, stream, after, apply, func(err error) {
			a.log.Warn("following a stream failed; resuming", "stream", stream, "err", err)
		})
	})
}
