// Command api runs casestream: the operator API and the agent-impersonation API over HTTP,
// the command side appending to JetStream, and (by default) the projector answering the
// read side in the same process. With no -nats-url it embeds a nats-server.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/nats-io/nats-server/v2/server"
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
	"github.com/casestream/casestream/httpapi"
	"github.com/casestream/casestream/idempotency"
	"github.com/casestream/casestream/ids"
	"github.com/casestream/casestream/projection"
	"github.com/casestream/casestream/tokens"
)

func main() {
	m := NewMain()
	if err := m.ParseFlags(os.Args[1:], os.LookupEnv); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := m.Run(ctx); err != nil {
		m.Logger.Error("start", "err", err)
		m.Close()
		os.Exit(1)
	}
	<-ctx.Done()
	m.Logger.Info("shutting down")
	if err := m.Close(); err != nil {
		m.Logger.Error("shutdown", "err", err)
		os.Exit(1)
	}
}

// Config is the api's configuration; every flag has an environment twin.
type Config struct {
	Addr          string
	Data          string
	NATSURL       string
	NATSListen    string
	Replicas      int
	SyncAlways    bool
	DirectoryFile string
	Projector     bool
	Demo          bool
	// BcryptCost hashes bootstrap secrets; bcrypt's default unless set (tests lower it).
	BcryptCost int
}

// Main is the api program: ParseFlags, then Run, then Close.
type Main struct {
	Config Config
	Logger *slog.Logger
	// Stdout receives the demo's instructions.
	Stdout io.Writer

	ns       *server.Server
	nc       *nats.Conn
	store    *eventstore.JetStream
	http     *http.Server
	listener net.Listener
	micro    micro.Service
	cancel   context.CancelFunc
	wg       sync.WaitGroup
	ready    chan struct{} // closed when the initial replay of both streams is done
	view     *directory.Directory
}

// dir returns the api's directory view.
func (m *Main) dir() *directory.Directory { return m.view }

// NewMain returns a Main with the default configuration.
func NewMain() *Main {
	return &Main{
		Config: Config{Addr: ":8080", Data: "./data", NATSListen: "127.0.0.1:4222", Replicas: 1, SyncAlways: true, Projector: true},
		Logger: slog.New(slog.NewTextHandler(os.Stderr, nil)),
		Stdout: os.Stdout,
	}
}

// ParseFlags reads args, with defaults from the environment through lookup (os.LookupEnv).
func (m *Main) ParseFlags(args []string, lookup func(string) (string, bool)) error {
	getenv := func(k string) string { v, _ := lookup(k); return v }
	fs := flag.NewFlagSet("api", flag.ContinueOnError)
	c := &m.Config
	str := func(p *string, name, env, usage string) {
		if v := getenv(env); v != "" {
			*p = v
		}
		fs.StringVar(p, name, *p, usage+" ("+env+")")
	}
	boolean := func(p *bool, name, env, usage string) error {
		if v := getenv(env); v != "" {
			b, err := strconv.ParseBool(v)
			if err != nil {
				return fmt.Errorf("%s: %w", env, err)
			}
			*p = b
		}
		fs.BoolVar(p, name, *p, usage+" ("+env+")")
		return nil
	}
	str(&c.Addr, "addr", "CASESTREAM_ADDR", "HTTP listen address")
	str(&c.Data, "data", "CASESTREAM_DATA", "data directory of the embedded NATS server")
	str(&c.NATSURL, "nats-url", "CASESTREAM_NATS_URL", "NATS server URL; empty runs an embedded server")
	// An empty -nats-listen is meaningful (no client listener), so it is read even when empty.
	if v, ok := lookup("CASESTREAM_NATS_LISTEN"); ok {
		c.NATSListen = v
	}
	fs.StringVar(&c.NATSListen, "nats-listen", c.NATSListen, "where the embedded server accepts NATS clients; empty for none (CASESTREAM_NATS_LISTEN)")
	if v := getenv("CASESTREAM_REPLICAS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			return fmt.Errorf("CASESTREAM_REPLICAS: %w", err)
		}
		c.Replicas = n
	}
	fs.IntVar(&c.Replicas, "replicas", c.Replicas, "stream replicas (CASESTREAM_REPLICAS)")
	if err := boolean(&c.SyncAlways, "sync-always", "CASESTREAM_SYNC_ALWAYS", "fsync before every acknowledgement"); err != nil {
		return err
	}
	str(&c.DirectoryFile, "directory", "CASESTREAM_DIRECTORY", "directory bootstrap file")
	if err := boolean(&c.Projector, "projector", "CASESTREAM_PROJECTOR", "run the projector in this process"); err != nil {
		return err
	}
	fs.BoolVar(&c.Demo, "demo", false, "apply examples/demo-directory.json, open a few cases and print how to call the API")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if c.Replicas < 1 {
		return fmt.Errorf("-replicas must be at least 1")
	}
	return nil
}

// Addr returns the HTTP listener's address once Run has returned.
func (m *Main) Addr() string {
	if m.listener == nil {
		return ""
	}
	return m.listener.Addr().String()
}

// NATSURL returns the URL NATS clients can reach the server at ("" for an embedded server
// without a client listener).
func (m *Main) NATSURL() string {
	if m.Config.NATSURL != "" {
		return m.Config.NATSURL
	}
	if m.ns != nil && m.Config.NATSListen != "" {
		return m.ns.ClientURL()
	}
	return ""
}

// Run starts everything and returns once the api is serving.
func (m *Main) Run(ctx context.Context) (err error) {
	ctx, m.cancel = context.WithCancel(ctx)
	c := m.Config
	if c.NATSURL == "" {
		m.ns, err = embedded.Start(embedded.Options{
			StoreDir: filepath.Join(c.Data, "nats"), Listen: c.NATSListen, SyncAlways: c.SyncAlways, ServerName: "casestream",
		})
		if err != nil {
			return err
		}
		m.nc, err = embedded.Connect(m.ns, nats.Name("casestream-api"))
	} else {
		m.nc, err = nats.Connect(c.NATSURL, nats.Name("casestream-api"), nats.MaxReconnects(-1))
	}
	if err != nil {
		return fmt.Errorf("connect to NATS: %w", err)
	}
	js, err := jetstream.New(m.nc)
	if err != nil {
		return err
	}
	if err := eventstore.EnsureStreams(ctx, js, c.Replicas); err != nil {
		return err
	}
	m.store = eventstore.NewJetStream(js, eventstore.DefaultJetStreamOptions())
	idAlloc, err := ids.Open(ctx, js, c.Replicas)
	if err != nil {
		return err
	}
	sessions, err := tokens.Open(ctx, js, "CASESTREAM_SESSIONS", 8*time.Hour, c.Replicas)
	if err != nil {
		return err
	}
	accessTokens, err := tokens.Open(ctx, js, "CASESTREAM_TOKENS", time.Hour, c.Replicas)
	if err != nil {
		return err
	}
	idem, err := idempotency.Open(ctx, js, c.Replicas)
	if err != nil {
		return err
	}

	// The directory view: replayed now, followed from then on. In-process, the projector
	// shares it, so that one fold serves both.
	dir := directory.New()
	m.view = dir
	var proj *projection.Projector
	applyDir := dir.Apply
	if c.Projector {
		proj = projection.NewProjector(dir)
		applyDir = proj.ApplyDirectory
	}
	dirLast, err := eventstore.Replay(ctx, js, events.StreamDirectory, applyDir)
	if err != nil {
		return fmt.Errorf("replay directory: %w", err)
	}
	m.follow(ctx, js, events.StreamDirectory, dirLast, applyDir)

	if err := m.bootstrap(ctx, dir); err != nil {
		return err
	}

	m.ready = make(chan struct{})
	if proj != nil {
		casesLast, err := eventstore.Replay(ctx, js, events.StreamCases, proj.ApplyCases)
		if err != nil {
			return fmt.Errorf("replay cases: %w", err)
		}
		m.follow(ctx, js, events.StreamCases, casesLast, proj.ApplyCases)
		m.micro, err = projection.NewService(m.nc, proj, projection.ServiceOptions{})
		if err != nil {
			return err
		}
	}
	close(m.ready)

	svc := cases.NewService(m.store, idAlloc, cases.Options{})
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	queries := projection.NewClient(m.nc, 5*time.Second)
	api := httpapi.NewServer(httpapi.Config{
		Cases:        svc,
		Directory:    dir,
		Store:        m.store,
		Sessions:     sessions,
		AccessTokens: accessTokens,
		Idempotency:  idem,
		Queries:      queries,
		AgentQueries: queries,
		Positions: func(ctx context.Context) (uint64, uint64, error) {
			cs, err := m.store.LastSeq(ctx, events.StreamCases)
			if err != nil {
				return 0, 0, err
			}
			ds, err := m.store.LastSeq(ctx, events.StreamDirectory)
			return cs, ds, err
		},
		Ready:    m.readiness(js),
		Logger:   m.Logger,
		Registry: reg,
	})

	m.listener, err = net.Listen("tcp", c.Addr)
	if err != nil {
		return err
	}
	m.http = &http.Server{Handler: api, ReadHeaderTimeout: 10 * time.Second}
	m.wg.Go(func() {
		if err := m.http.Serve(m.listener); err != nil && !errors.Is(err, http.ErrServerClosed) {
			m.Logger.Error("http", "err", err)
		}
	})
	m.Logger.Info("casestream api serving", "addr", m.Addr(), "nats", m.NATSURL(), "projector", c.Projector)
	if c.Demo {
		if err := m.demo(ctx, svc, dir); err != nil {
			return fmt.Errorf("demo: %w", err)
		}
	}
	return nil
}

// bootstrap applies the -directory file, and with -demo the demo directory when no file is
// given.
func (m *Main) bootstrap(ctx context.Context, dir *directory.Directory) error {
	name := m.Config.DirectoryFile
	var f *directory.File
	var err error
	switch {
	case name != "":
		f, err = directory.ReadFile(name)
	case m.Config.Demo:
		name = "examples/demo-directory.json"
		f, err = demoFile()
	default:
		return nil
	}
	if err != nil {
		return err
	}
	n, err := directory.Bootstrap(ctx, m.store, dir, f, directory.BootstrapOptions{BcryptCost: m.Config.BcryptCost})
	if err != nil {
		return fmt.Errorf("apply %s: %w", name, err)
	}
	m.Logger.Info("directory applied", "file", name, "events", n)
	return nil
}

// follow keeps applying a stream's records after the given sequence until the api closes.
func (m *Main) follow(ctx context.Context, js jetstream.JetStream, stream string, after uint64, apply func(eventstore.Record)) {
	m.wg.Go(func() {
		if err := eventstore.Follow(ctx, js, stream, after, apply); err != nil && ctx.Err() == nil {
			m.Logger.Error("follow", "stream", stream, "err", err)
		}
	})
}

// readiness reports NATS connected, both streams present and the initial replay done.
func (m *Main) readiness(js jetstream.JetStream) httpapi.Readiness {
	return func(ctx context.Context) error {
		if !m.nc.IsConnected() {
			return errors.New("NATS not connected")
		}
		for _, name := range []string{events.StreamCases, events.StreamDirectory} {
			if _, err := js.Stream(ctx, name); err != nil {
				return fmt.Errorf("stream %s: %w", name, err)
			}
		}
		select {
		case <-m.ready:
			return nil
		default:
			return errors.New("projector replaying")
		}
	}
}

// Close stops serving and releases everything Run started.
func (m *Main) Close() error {
	var errs []error
	if m.http != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		errs = append(errs, m.http.Shutdown(ctx))
		cancel()
	}
	if m.micro != nil {
		errs = append(errs, m.micro.Stop())
	}
	if m.cancel != nil {
		m.cancel()
	}
	m.wg.Wait()
	if m.store != nil {
		m.store.Close()
	}
	if m.nc != nil {
		errs = append(errs, m.nc.Drain())
	}
	if m.ns != nil {
		m.ns.Shutdown()
		m.ns.WaitForShutdown()
	}
	return errors.Join(errs...)
}
