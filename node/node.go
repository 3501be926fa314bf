// Package node assembles one casestream process: a NATS connection (to an embedded server by
// default), the streams and key-value buckets, the directory view, the command side, the HTTP
// surfaces and, unless the projector runs elsewhere, the projector answering queries over
// NATS. cmd/api runs a Node; the load tool starts one in-process.
package node

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nats.go/micro"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/casestream/casestream/cases"
	"github.com/casestream/casestream/directory"
	"github.com/casestream/casestream/embedded"
	"github.com/casestream/casestream/events"
	"github.com/casestream/casestream/eventstore"
	"github.com/casestream/casestream/files"
	"github.com/casestream/casestream/httpapi"
	"github.com/casestream/casestream/idempotency"
	"github.com/casestream/casestream/ids"
	"github.com/casestream/casestream/internal/natsauth"
	"github.com/casestream/casestream/internal/natsconn"
	"github.com/casestream/casestream/internal/readiness"
	"github.com/casestream/casestream/projection"
	"github.com/casestream/casestream/tokens"
)

// Config configures a Node.
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
	// Directory, if set, is applied as the bootstrap file (named DirectoryName in logs).
	Directory     *directory.File
	DirectoryName string
	// Projector runs the projector in this process.
	Projector bool
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
	Store  *eventstore.JetStreamOptions
	Logger *slog.Logger
}

// Node is a running casestream process.
type Node struct {
	// NC is the node's NATS connection; JS its JetStream context.
	NC *nats.Conn
	JS jetstream.JetStream
	// Store is the event store, Cases the command side, Directory the directory view.
	Store     *eventstore.JetStream
	Cases     *cases.Service
	Directory *directory.Directory
	// Projector is the in-process projector, nil with Config.Projector false.
	Projector *projection.Projector
	// Handler serves both HTTP surfaces.
	Handler http.Handler

	cfg      Config
	log      *slog.Logger
	lastSeqs *eventstore.LastSeqs
	secrets  *directory.Secrets
	ns       *embedded.Server
	http     *http.Server
	listener net.Listener
	micro    micro.Service
	cancel   context.CancelFunc
	wg       sync.WaitGroup
	ready    chan struct{} // closed when the initial replays are done
}

// Start starts a node and returns once it serves HTTP. On error, what was started is closed.
func Start(ctx context.Context, cfg Config) (n *Node, err error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Replicas < 1 {
		cfg.Replicas = 1
	}
	n = &Node{cfg: cfg, log: cfg.Logger, ready: make(chan struct{})}
	defer func() {
		if err != nil {
			n.Close()
			n = nil
		}
	}()
	ctx, n.cancel = context.WithCancel(ctx)
	if cfg.NATSURL == "" {
		n.ns, err = embedded.Start(embedded.Options{
			StoreDir: filepath.Join(cfg.Data, "nats"), Listen: cfg.NATSListen, SyncAlways: cfg.SyncAlways, ServerName: "casestream",
			IdentityDir: filepath.Join(cfg.Data, "identities"),
		})
		if err != nil {
			return n, err
		}
		if cfg.NATSListen != "" {
			n.log.Info("NATS clients authenticate with an nkey seed", "url", n.ns.ClientURL(),
				"reader", n.ns.Keys.SeedFile(natsauth.Reader), "admin", n.ns.Keys.SeedFile(natsauth.Admin))
		}
		n.NC, err = embedded.Connect(n.ns, natsconn.Options(n.log, "casestream-api")...)
	} else {
		var auth []nats.Option
		if auth, err = cfg.NATSAuth.Options(); err != nil {
			return n, err
		}
		n.NC, err = nats.Connect(cfg.NATSURL, append(append(auth, natsconn.Options(n.log, "casestream-api")...), nats.RetryOnFailedConnect(true))...)
	}
	if err != nil {
		return n, fmt.Errorf("connect to NATS: %w", err)
	}
	if n.JS, err = jetstream.New(n.NC); err != nil {
		return n, err
	}
	// A cluster that is still electing its JetStream leaders refuses or times out; the setup
	// is retried until it answers (bounded), so that api and NATS can start together.
	if err := eventstore.RetrySetup(ctx, n.log, "create streams", func() error { return eventstore.EnsureStreams(ctx, n.JS, cfg.Replicas) }); err != nil {
		return n, err
	}
	storeOpts := eventstore.DefaultJetStreamOptions()
	if cfg.Store != nil {
		storeOpts = *cfg.Store
	}
	n.Store = eventstore.NewJetStream(n.JS, storeOpts)
	n.lastSeqs = eventstore.NewLastSeqs(n.Store, events.StreamCases, events.StreamDirectory)
	var (
		idAlloc                *ids.IDs
		sessions, accessTokens *tokens.Bucket
		idem                   *idempotency.Store
	)
	err = eventstore.RetrySetup(ctx, n.log, "create key-value buckets", func() (err error) {
		if idAlloc, err = ids.Open(ctx, n.JS, cfg.Replicas); err != nil {
			return err
		}
		if sessions, err = tokens.Open(ctx, n.JS, "CASESTREAM_SESSIONS", 8*time.Hour, cfg.Replicas); err != nil {
			return err
		}
		if accessTokens, err = tokens.Open(ctx, n.JS, "CASESTREAM_TOKENS", time.Hour, cfg.Replicas); err != nil {
			return err
		}
		// Access tokens are never revoked before they expire: a replica may trust one it has
		// seen for a while without reading the bucket on every request.
		accessTokens.Memoize(30 * time.Second)
		idem, err = idempotency.Open(ctx, n.JS, cfg.Replicas)
		return err
	})
	if err != nil {
		return n, err
	}
	// The bytes of case attachments: an object store bucket beside the key-value buckets.
	var fileStore *files.Store
	err = eventstore.RetrySetup(ctx, n.log, "create the files bucket", func() (err error) {
		fileStore, err = files.Open(ctx, n.JS, cfg.Replicas)
		return err
	})
	if err != nil {
		return n, err
	}

	// Secrets' hashes are in a bucket of their own, which only the service reads.
	err = eventstore.RetrySetup(ctx, n.log, "open credentials bucket", func() (err error) {
		n.secrets, err = directory.OpenSecrets(ctx, n.JS, cfg.Replicas)
		return err
	})
	if err != nil {
		return n, err
	}

	// The directory view: replayed now, followed from then on. In-process, the projector
	// shares it, so that one fold serves both.
	n.Directory = directory.New()
	n.Directory.UseSecrets(n.secrets)
	applyDir := n.Directory.Apply
	if cfg.Projector {
		n.Projector = projection.NewProjector(n.Directory)
		applyDir = n.Projector.ApplyDirectory
	}
	// An interrupted replay is started again; records already applied are ignored.
	var dirLast uint64
	replayStart := time.Now()
	err = eventstore.RetrySetup(ctx, n.log, "replay directory", func() (err error) {
		dirLast, err = eventstore.Replay(ctx, n.JS, events.StreamDirectory, applyDir)
		return err
	})
	if err != nil {
		return n, fmt.Errorf("replay directory: %w", err)
	}
	rebuild := time.Since(replayStart)
	n.follow(ctx, events.StreamDirectory, dirLast, applyDir)
	if migrated, err := n.Directory.MigrateSecrets(ctx); err != nil {
		return n, err
	} else if migrated > 0 {
		n.log.Info("hashes of schema version 1 events put into the credentials bucket", "bucket", directory.CredentialsBucket, "count", migrated)
	}
	if cfg.Directory != nil {
		written, err := directory.Bootstrap(ctx, n.Store, n.Directory, cfg.Directory, directory.BootstrapOptions{BcryptCost: cfg.BcryptCost})
		if err != nil {
			return n, fmt.Errorf("apply %s: %w", cfg.DirectoryName, err)
		}
		n.log.Info("directory applied", "file", cfg.DirectoryName, "events", written)
	}
	if n.Projector != nil {
		var casesLast uint64
		replayStart := time.Now()
		err := eventstore.RetrySetup(ctx, n.log, "replay cases", func() (err error) {
			casesLast, err = eventstore.Replay(ctx, n.JS, events.StreamCases, n.Projector.ApplyCases)
			return err
		})
		if err != nil {
			return n, fmt.Errorf("replay cases: %w", err)
		}
		projection.RebuildDuration.Set((rebuild + time.Since(replayStart)).Seconds())
		n.follow(ctx, events.StreamCases, casesLast, n.Projector.ApplyCases)
		if n.micro, err = projection.NewService(n.NC, n.Projector, projection.ServiceOptions{}); err != nil {
			return n, err
		}
	}
	close(n.ready)

	// An event the server would refuse for its size is refused before anything is written.
	n.Cases = cases.NewService(n.Store, idAlloc, cases.Options{MaxEventBytes: int(n.NC.MaxPayload()) - eventstore.HeaderRoom})
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}), n.Cases.CacheCollector())
	reg.MustRegister(eventstore.Collectors()...)
	reg.MustRegister(cases.Collectors()...)
	reg.MustRegister(n.Directory.Collectors()...)
	if n.Projector != nil {
		reg.MustRegister(projection.NewCollector(n.Projector, n.JS))
		reg.MustRegister(projection.Collectors()...)
	}
	// Queries go to the projector in this process directly, or over NATS to the projector
	// replicas.
	var queries interface {
		httpapi.Queries
		httpapi.AgentQueries
	} = projection.NewClient(n.NC, projection.DefaultWait+time.Second)
	if n.Projector != nil {
		queries = projection.NewLocal(n.Projector, projection.DefaultWait)
	}
	n.Handler = httpapi.NewServer(httpapi.Config{
		Cases:        n.Cases,
		Directory:    n.Directory,
		Store:        n.Store,
		Sessions:     sessions,
		AccessTokens: accessTokens,
		Idempotency:  idem,
		Queries:      queries,
		AgentQueries: queries,
		Positions:    n.Positions,
		Ready:        n.readiness(queries),
		Logger:       n.log,
		Registry:     reg,
		BasePath:     cfg.BasePath,

		Files: fileStore, MaxAttachmentBytes: cfg.MaxAttachmentBytes,
		Attempts: cfg.Attempts,
		// Well inside the server's WriteTimeout (writeTimeout), so that a client always
		// hears the answer; the store's acknowledgement and resolution waits are inside it.
		RequestTimeout: requestTimeout,
		Admin:          httpapi.AdminConfig{Tokens: cfg.AdminTokens, BcryptCost: cfg.BcryptCost},
	})
	n.listener, err = net.Listen("tcp", cfg.Addr)
	if err != nil {
		return n, err
	}
	n.http = &http.Server{Handler: n.Handler, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second, WriteTimeout: writeTimeout, IdleTimeout: 2 * time.Minute}
	n.wg.Go(func() {
		if err := n.http.Serve(n.listener); err != nil && !errors.Is(err, http.ErrServerClosed) {
			n.log.Error("http", "err", err)
		}
	})
	n.log.Info("casestream api serving", "addr", n.Addr(), "nats", n.NATSURL(), "projector", cfg.Projector)
	return n, nil
}

// Positions returns the last sequences of CASES and DIRECTORY, read after the call began:
// what a read must reflect.
func (n *Node) Positions(ctx context.Context) (casesSeq, dirSeq uint64, err error) {
	return n.lastSeqs.Get(ctx)
}

// Addr returns the HTTP listener's address.
func (n *Node) Addr() string {
	if n.listener == nil {
		return ""
	}
	return n.listener.Addr().String()
}

// NATSURL returns where NATS clients reach the node's server ("" for an embedded server
// without a client listener).
func (n *Node) NATSURL() string {
	if n.cfg.NATSURL != "" {
		return n.cfg.NATSURL
	}
	if n.ns != nil && n.cfg.NATSListen != "" {
		return n.ns.ClientURL()
	}
	return ""
}

// Identities returns the keys of the embedded server's identities; nil with an outside
// server.
func (n *Node) Identities() *natsauth.Keys {
	if n.ns == nil {
		return nil
	}
	return n.ns.Keys
}

// follow keeps applying a stream's records after the given sequence until the node closes,
// observing their lag (projection.ObserveLag).
func (n *Node) follow(ctx context.Context, stream string, after uint64, apply func(eventstore.Record)) {
	apply = projection.ObserveLag(stream, apply)
	n.wg.Go(func() {
		eventstore.FollowResuming(ctx, n.JS, stream, after, apply, func(err error) {
			n.log.Warn("following a stream failed; resuming", "stream", stream, "err", err)
		})
	})
}

// readiness returns the checks of /readyz: NATS connected, both streams present, and the
// projection caught up with the streams as they were when asked: the in-process projector,
// or a projector answering q at that position.
func (n *Node) readiness(q interface {
	CaseLookup(ctx context.Context, caseID string, minCases, minDir uint64) (int64, bool, error)
}) []readiness.Check {
	return []readiness.Check{
		{Name: "nats", Run: func(ctx context.Context) error {
			if !n.NC.IsConnected() {
				return fmt.Errorf("NATS not connected (%s)", n.NC.Status())
			}
			return nil
		}},
		{Name: "streams", Run: func(ctx context.Context) error {
			for _, name := range []string{events.StreamCases, events.StreamDirectory} {
				if _, err := n.JS.Stream(ctx, name); err != nil {
					return fmt.Errorf("stream %s: %w", name, err)
				}
			}
			return nil
		}},
		{Name: "projection", Run: func(ctx context.Context) error {
			select {
			case <-n.ready:
			default:
				return errors.New("replaying the streams")
			}
			c, d, err := n.Positions(ctx)
			if err != nil {
				return fmt.Errorf("read the streams' last sequences: %w", err)
			}
			if n.Projector == nil {
				if _, _, err := q.CaseLookup(ctx, "", c, d); err != nil {
					return fmt.Errorf("no projector answered at CASES %d, DIRECTORY %d: %w", c, d, err)
				}
				return nil
			}
			if err := n.Projector.Reach(ctx, c, d); err != nil {
				return fmt.Errorf("applied CASES %d of %d, DIRECTORY %d of %d", n.Projector.Model().LastSeq(), c, n.Projector.Directory().LastSeq(), d)
			}
			return nil
		}},
	}
}

// Timeouts of a node: every request's deadline, the HTTP server's write timeout beyond
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
var ErrCloseTimeout = errors.New("node: close did not finish in time")

// Close stops serving and releases everything Start started, within closeTimeout: past it,
// it returns ErrCloseTimeout and leaves the rest to the process's exit.
func (n *Node) Close() error {
	done := make(chan error, 1)
	go func() { done <- n.close() }()
	select {
	case err := <-done:
		return err
	case <-time.After(closeTimeout):
		n.log.Error("close: still stopping; giving up", "after", closeTimeout)
		return ErrCloseTimeout
	}
}

func (n *Node) close() error {
	var errs []error
	if n.http != nil {
		ctx, cancel := context.WithTimeout(context.Background(), drainRequests)
		if err := n.http.Shutdown(ctx); err != nil {
			errs = append(errs, err, n.http.Close())
		}
		cancel()
	}
	if n.micro != nil {
		errs = append(errs, n.micro.Stop())
	}
	if n.cancel != nil {
		n.cancel()
	}
	n.wg.Wait()
	if n.secrets != nil {
		errs = append(errs, n.secrets.Close())
	}
	if n.Store != nil {
		n.Store.Close()
	}
	if n.NC != nil {
		n.NC.Close()
	}
	if n.ns != nil {
		n.ns.Shutdown()
		n.ns.WaitForShutdown()
	}
	return errors.Join(errs...)
}
