// Package app is casestream's composition root: it assembles one process from a NATS
// connection (to an embedded server by default), the streams and key-value buckets, the
// directory view, the command side, the HTTP surfaces and, unless the projector runs
// elsewhere, the projector answering queries over NATS. cmd/api runs an App with the API
// surfaces on; cmd/projector runs one that is only the projector (Config.ProjectorOnly);
// the load tool starts one in-process.
//
// Start runs named steps in order (connect, streams, buckets, directory, commands, http,
// projector) and Close undoes them in reverse. The HTTP listener starts before the
// projector's initial replay of CASES, which runs in the background: meanwhile /readyz
// answers 503 with "projector replaying" and /healthz 200, so that a long rebuild is not
// taken for a dead process.
package app

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nats.go/micro"

	"github.com/casestream/casestream/events"
	"github.com/casestream/casestream/internal/cases"
	"github.com/casestream/casestream/internal/directory"
	"github.com/casestream/casestream/internal/embedded"
	"github.com/casestream/casestream/internal/eventstore"
	"github.com/casestream/casestream/internal/files"
	"github.com/casestream/casestream/internal/groupcommit"
	"github.com/casestream/casestream/internal/httpapi"
	"github.com/casestream/casestream/internal/idempotency"
	"github.com/casestream/casestream/internal/ids"
	"github.com/casestream/casestream/internal/natsauth"
	"github.com/casestream/casestream/internal/tokens"
	"github.com/casestream/casestream/projection"
)

// Config configures an App.
type Config struct {
	// Addr is the HTTP listen address.
	Addr string
	// Data holds the embedded server's JetStream store (Data/nats).
	Data string
	// NATSURL connects to an outside NATS server; empty runs an embedded one.
	NATSURL string
	// NATSAuth authenticates the connection to NATSURL.
	NATSAuth natsauth.ClientConfig
	// NATSListen is where the embedded server accepts NATS clients; empty for none. Every
	// client authenticates with a seed kept in Data/identities.
	NATSListen string
	// Replicas is the replica count of streams and buckets.
	Replicas int
	// SyncAlways makes the embedded server fsync before every acknowledgement.
	SyncAlways bool
	// GroupCommit, with an embedded server, runs it without SyncAlways and acknowledges an
	// append once one shared sync of its store that began after the append has ended
	// (internal/groupcommit). A failed sync stops the process, unless OnSyncError is set.
	GroupCommit bool
	// OnSyncError is called with a failed group-commit sync; nil logs it and exits. Every
	// append after a failed sync fails either way.
	OnSyncError func(error)
	// Directory, if set, is applied as the bootstrap file (named DirectoryName in logs).
	Directory     *directory.File
	DirectoryName string
	// Projector runs the projector in this process.
	Projector bool
	// ProjectorOnly runs the projector and nothing else (cmd/projector): no command side,
	// buckets or API surfaces, the streams awaited rather than created (the api creates
	// them), and HTTP serving only /healthz, /readyz and /metrics. It needs NATSURL.
	ProjectorOnly bool
	// ProjectorWait bounds how long a query to the projector over NATS waits for it to
	// catch up; projection.DefaultWait if zero.
	ProjectorWait time.Duration
	// MaxAttachmentBytes limits one file attached to a case; files.DefaultMaxBytes if zero.
	MaxAttachmentBytes int64
	// BcryptCost hashes bootstrap secrets; bcrypt's default if zero.
	BcryptCost int
	// BasePath is a second base path of the operator API (httpapi.Config.BasePath).
	BasePath string
	// Attempts limits failed credential checks; httpapi.DefaultAttemptLimits() if nil.
	Attempts *httpapi.AttemptLimits
	// AdminTokens turn on the admin API (httpapi.AdminConfig); none leaves it off.
	AdminTokens []httpapi.AdminToken
	// Store configures the event store; eventstore.DefaultJetStreamOptions() if nil.
	Store *eventstore.JetStreamOptions
	// Logger logs the process's start, stop and failures; slog.Default() if nil.
	Logger *slog.Logger

	// beforeReplay, if set, runs before the projector's initial replay of CASES: tests
	// hold the replay there to watch the process while it replays.
	beforeReplay func(ctx context.Context)
	// beforeSync, if set, runs in every group-commit round before its sync
	// (groupcommit.Config.BeforeSync): tests hold a round there.
	beforeSync func()
}

// App is a running casestream process.
type App struct {
	// NC is the process's NATS connection; JS its JetStream context.
	NC *nats.Conn
	JS jetstream.JetStream
	// Store is the event store, Cases the command side (nil with ProjectorOnly), Directory
	// the directory view.
	Store     *eventstore.JetStream
	Cases     *cases.Service
	Directory *directory.Directory
	// Projector is the in-process projector, nil with Config.Projector false.
	Projector *projection.Projector
	// Handler serves HTTP: both API surfaces, or with ProjectorOnly the probes and metrics.
	Handler http.Handler

	cfg      Config
	log      *slog.Logger
	lastSeqs *eventstore.LastSeqs
	buckets  buckets
	ns       *embedded.Server
	appender eventstore.Store    // what the command side appends through: Store, or syncer's
	syncer   *groupcommit.Syncer // with GroupCommit
	http     *http.Server
	listener net.Listener
	cancel   context.CancelFunc // stops the followers
	wg       sync.WaitGroup     // the followers and the HTTP server
	replay   replay
	micro    micro.Service // set by the replay's goroutine before replay.done closes
}

// buckets are the key-value and object buckets the command side and the API surfaces use.
type buckets struct {
	ids                    *ids.IDs
	sessions, accessTokens *tokens.Bucket
	idempotency            *idempotency.Store
	files                  *files.Store
	secrets                *directory.Secrets
}

// Start starts an App and returns once it serves HTTP; the projector's initial replay may
// still be running (see the package comment). On error, what was started is closed.
func Start(ctx context.Context, cfg Config) (a *App, err error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Replicas < 1 {
		cfg.Replicas = 1
	}
	if cfg.ProjectorOnly {
		if cfg.NATSURL == "" {
			return nil, errors.New("app: a projector-only process needs a NATS URL")
		}
		cfg.Projector = true
	}
	a = &App{cfg: cfg, log: cfg.Logger, replay: newReplay()}
	defer func() {
		if err != nil {
			a.Close()
			a = nil
		}
	}()
	// Followers live until Close; ctx bounds the start only through the steps below.
	ctx, a.cancel = context.WithCancel(ctx)
	steps := []struct {
		name string
		run  func(context.Context) error
	}{
		{"connect", a.connect},
		{"streams", a.streams},
		{"buckets", a.openBuckets},
		{"directory", a.directory},
		{"commands", a.commands},
		{"http", a.serveHTTP},
		{"projector", a.startProjector},
	}
	for _, s := range steps {
		if err := s.run(ctx); err != nil {
			return a, err
		}
	}
	a.log.Info("casestream "+a.role()+" serving", "addr", a.Addr(), "nats", a.NATSURL(), "projector", cfg.Projector)
	return a, nil
}

// role names the process in logs and in its NATS connection's name.
func (a *App) role() string {
	if a.cfg.ProjectorOnly {
		return "projector"
	}
	return "api"
}

// Appender is what the command side appends through: Store, or with GroupCommit a store
// whose Append returns once the events are on disk.
func (a *App) Appender() eventstore.Store { return a.appender }

// Positions returns what a read must reflect: the last sequences of CASES and DIRECTORY,
// read after the call began. With group commit it returns their durable sequences instead:
// every append acknowledged to anyone is at or below them (its acknowledgement waited for
// the round that made it durable), and the folds apply nothing above them, so a read never
// waits for an event that is not durable, nor shows one.
func (a *App) Positions(ctx context.Context) (casesSeq, dirSeq uint64, err error) {
	if a.syncer != nil {
		return a.syncer.Durable(events.StreamCases), a.syncer.Durable(events.StreamDirectory), nil
	}
	return a.lastSeqs.Get(ctx)
}

// DirectoryPosition returns what a call must reflect of the directory: Positions' DIRECTORY
// sequence, read alone.
func (a *App) DirectoryPosition(ctx context.Context) (uint64, error) {
	if a.syncer != nil {
		return a.syncer.Durable(events.StreamDirectory), nil
	}
	return a.lastSeqs.Directory(ctx)
}

// Addr returns the HTTP listener's address.
func (a *App) Addr() string {
	if a.listener == nil {
		return ""
	}
	return a.listener.Addr().String()
}

// NATSURL returns where NATS clients reach the process's server ("" for an embedded server
// without a client listener).
func (a *App) NATSURL() string {
	if a.cfg.NATSURL != "" {
		return a.cfg.NATSURL
	}
	if a.ns != nil && a.cfg.NATSListen != "" {
		return a.ns.ClientURL()
	}
	return ""
}

// Identities returns the keys of the embedded server's identities; nil with an outside
// server.
func (a *App) Identities() *natsauth.Keys {
	if a.ns == nil {
		return nil
	}
	return a.ns.Keys
}

// Timeouts of an App: every request's deadline, the HTTP server's write timeout beyond
// it, and how long Close may take whatever NATS is doing (inside the 15 s a supervisor
// gives a SIGTERM).
const (
	requestTimeout = httpapi.DefaultRequestTimeout
	writeTimeout   = 30 * time.Second
	closeTimeout   = 12 * time.Second
	drainRequests  = 5 * time.Second
)

// ErrCloseTimeout is returned by Close when releasing took longer than its deadline; what
// was still stopping is abandoned.
var ErrCloseTimeout = errors.New("app: close did not finish in time")

// Close stops serving and releases everything Start started, within closeTimeout: past it,
// it returns ErrCloseTimeout and leaves the rest to the process's exit.
func (a *App) Close() error {
	done := make(chan error, 1)
	go func() { done <- a.close() }()
	select {
	case err := <-done:
		return err
	case <-time.After(closeTimeout):
		a.log.Error("close: still stopping; giving up", "after", closeTimeout)
		return ErrCloseTimeout
	}
}

// close undoes Start's steps in reverse: the projector (its replay, then its query
// service), HTTP (draining requests, which the followers still serve), the followers, the
// buckets, the store, the connection, the embedded server.
func (a *App) close() error {
	var errs []error
	a.replay.stop()
	if a.micro != nil {
		errs = append(errs, a.micro.Stop())
	}
	if a.http != nil {
		ctx, cancel := context.WithTimeout(context.Background(), drainRequests)
		if err := a.http.Shutdown(ctx); err != nil {
			errs = append(errs, err, a.http.Close())
		}
		cancel()
	}
	if a.cancel != nil {
		a.cancel()
	}
	a.wg.Wait()
	if a.buckets.secrets != nil {
		errs = append(errs, a.buckets.secrets.Close())
	}
	if a.Store != nil {
		a.Store.Close()
	}
	if a.syncer != nil {
		a.syncer.Close()
	}
	a.closeNATS()
	return errors.Join(errs...)
}

// closeNATS closes the connection, draining it when it is to an outside server and up (what
// was published is flushed, replies in flight are answered); a disconnected one is closed at
// once, as draining would wait for a reconnect. The embedded server goes last.
func (a *App) closeNATS() {
	if a.NC != nil {
		if a.ns == nil && a.NC.IsConnected() {
			if err := a.NC.Drain(); err != nil {
				a.NC.Close()
			}
		} else {
			a.NC.Close()
		}
	}
	if a.ns != nil {
		a.ns.Shutdown()
		a.ns.WaitForShutdown()
	}
}
