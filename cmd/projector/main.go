// Command projector runs casestream's read side as its own process: it rebuilds the read
// model from the CASES and DIRECTORY streams with ordered consumers, follows them, and answers
// queries over NATS request/reply as a micro service in a queue group, so that any number of
// replicas share the load. Its own HTTP address serves /healthz, /readyz and /metrics.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nats.go/micro"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/casestream/casestream/directory"
	"github.com/casestream/casestream/events"
	"github.com/casestream/casestream/eventstore"
	"github.com/casestream/casestream/internal/logs"
	"github.com/casestream/casestream/internal/natsauth"
	"github.com/casestream/casestream/internal/natsconn"
	"github.com/casestream/casestream/internal/readiness"
	"github.com/casestream/casestream/projection"
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
	slog.SetDefault(m.Logger)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := m.Run(ctx); err != nil {
		m.Logger.Error("start", "err", err)
		m.Close()
		os.Exit(1)
	}
	<-ctx.Done()
	if err := m.Close(); err != nil {
		m.Logger.Error("shutdown", "err", err)
		os.Exit(1)
	}
}

// Config is the projector's configuration; every flag has an environment twin.
type Config struct {
	Addr     string
	NATSURL  string
	NATSAuth natsauth.ClientConfig
	Wait     time.Duration
	// Log says how ParseFlags builds Main.Logger.
	Log logs.Config
}

// Main is the projector program: ParseFlags, then Run, then Close.
type Main struct {
	Config Config
	// Logger logs to stderr: JSON lines unless -log-format text (ParseFlags sets it).
	Logger *slog.Logger

	nc       *nats.Conn
	svc      micro.Service
	http     *http.Server
	listener net.Listener
	cancel   context.CancelFunc
	wg       sync.WaitGroup
	proj     *projection.Projector
}

// NewMain returns a Main with the default configuration.
func NewMain() *Main {
	return &Main{
		Config: Config{Addr: ":8081", NATSURL: nats.DefaultURL, Wait: projection.DefaultWait},
		Logger: slog.New(slog.NewJSONHandler(os.Stderr, nil)),
	}
}

// ParseFlags reads args, with defaults from the environment through lookup (os.LookupEnv).
func (m *Main) ParseFlags(args []string, lookup func(string) (string, bool)) error {
	fs := flag.NewFlagSet("projector", flag.ContinueOnError)
	if v, ok := lookup("CASESTREAM_PROJECTOR_ADDR"); ok && v != "" {
		m.Config.Addr = v
	}
	if v, ok := lookup("CASESTREAM_NATS_URL"); ok && v != "" {
		m.Config.NATSURL = v
	}
	fs.StringVar(&m.Config.Addr, "addr", m.Config.Addr, "HTTP address of /healthz, /readyz and /metrics (CASESTREAM_PROJECTOR_ADDR)")
	fs.StringVar(&m.Config.NATSURL, "nats-url", m.Config.NATSURL, "NATS server URL (CASESTREAM_NATS_URL)")
	m.Config.NATSAuth.Flags(fs, "CASESTREAM", lookup)
	fs.DurationVar(&m.Config.Wait, "wait", m.Config.Wait, "how long a query waits for the projection to catch up")
	m.Config.Log.Flags(fs, "CASESTREAM", lookup)
	if err := fs.Parse(args); err != nil {
		return err
	}
	logger, err := m.Config.Log.New(os.Stderr)
	if err != nil {
		return err
	}
	m.Logger = logger
	return m.Config.NATSAuth.Validate()
}

// Addr returns the HTTP listener's address once Run has returned.
func (m *Main) Addr() string {
	if m.listener == nil {
		return ""
	}
	return m.listener.Addr().String()
}

// Run connects, rebuilds the model, starts following and serving, and returns.
func (m *Main) Run(ctx context.Context) (err error) {
	ctx, m.cancel = context.WithCancel(ctx)
	auth, err := m.Config.NATSAuth.Options()
	if err != nil {
		return err
	}
	m.nc, err = nats.Connect(m.Config.NATSURL, append(append(auth, natsconn.Options(m.Logger, "casestream-projector")...), nats.RetryOnFailedConnect(true))...)
	if err != nil {
		return fmt.Errorf("connect to NATS: %w", err)
	}
	js, err := jetstream.New(m.nc)
	if err != nil {
		return err
	}
	if err := m.awaitStreams(ctx, js); err != nil {
		return err
	}
	m.proj = projection.NewProjector(directory.New())
	start := time.Now()
	// A replay interrupted (a cluster still electing a stream's leader) is simply started
	// again: records already applied are ignored by sequence.
	var dirLast, casesLast uint64
	err = eventstore.RetrySetup(ctx, m.Logger, "replay", func() (err error) {
		if dirLast, err = eventstore.Replay(ctx, js, events.StreamDirectory, m.proj.ApplyDirectory); err != nil {
			return fmt.Errorf("replay directory: %w", err)
		}
		if casesLast, err = eventstore.Replay(ctx, js, events.StreamCases, m.proj.ApplyCases); err != nil {
			return fmt.Errorf("replay cases: %w", err)
		}
		return nil
	})
	if err != nil {
		return err
	}
	projection.RebuildDuration.Set(time.Since(start).Seconds())
	m.Logger.Info("model rebuilt", "cases_seq", casesLast, "directory_seq", dirLast, "took", time.Since(start))
	for stream, after := range map[string]uint64{events.StreamDirectory: dirLast, events.StreamCases: casesLast} {
		apply := m.proj.ApplyCases
		if stream == events.StreamDirectory {
			apply = m.proj.ApplyDirectory
		}
		apply = projection.ObserveLag(stream, apply)
		m.wg.Go(func() {
			eventstore.FollowResuming(ctx, js, stream, after, apply, func(err error) {
				m.Logger.Warn("following a stream failed; resuming", "stream", stream, "err", err)
			})
		})
	}
	m.svc, err = projection.NewService(m.nc, m.proj, projection.ServiceOptions{Wait: m.Config.Wait})
	if err != nil {
		return err
	}

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		projection.NewCollector(m.proj, js))
	reg.MustRegister(eventstore.Collectors()...)
	reg.MustRegister(projection.Collectors()...)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintln(w, `{"status":"ok"}`)
	})
	mux.Handle("GET /readyz", readiness.Handler(m.readiness(js)))
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	m.listener, err = net.Listen("tcp", m.Config.Addr)
	if err != nil {
		return err
	}
	m.http = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second, WriteTimeout: 30 * time.Second, IdleTimeout: 2 * time.Minute}
	m.wg.Go(func() {
		if err := m.http.Serve(m.listener); err != nil && !errors.Is(err, http.ErrServerClosed) {
			m.Logger.Error("http", "err", err)
		}
	})
	m.Logger.Info("casestream projector serving", "addr", m.Addr(), "nats", m.Config.NATSURL)
	return nil
}

// readiness returns the checks of /readyz: NATS connected, both streams present, and the
// model caught up with the streams' last sequences as they were when asked.
func (m *Main) readiness(js jetstream.JetStream) []readiness.Check {
	return []readiness.Check{
		{Name: "nats", Run: func(ctx context.Context) error {
			if !m.nc.IsConnected() {
				return fmt.Errorf("NATS not connected (%s)", m.nc.Status())
			}
			return nil
		}},
		{Name: "streams", Run: func(ctx context.Context) error {
			for _, name := range []string{events.StreamCases, events.StreamDirectory} {
				if _, err := js.Stream(ctx, name); err != nil {
					return fmt.Errorf("stream %s: %w", name, err)
				}
			}
			return nil
		}},
		{Name: "projection", Run: func(ctx context.Context) error {
			var last [2]uint64
			for i, name := range []string{events.StreamCases, events.StreamDirectory} {
				st, err := js.Stream(ctx, name)
				if err != nil {
					return fmt.Errorf("stream %s: %w", name, err)
				}
				info, err := st.Info(ctx)
				if err != nil {
					return fmt.Errorf("stream %s: %w", name, err)
				}
				last[i] = info.State.LastSeq
			}
			if err := m.proj.Reach(ctx, last[0], last[1]); err != nil {
				return fmt.Errorf("applied CASES %d of %d, DIRECTORY %d of %d", m.proj.Model().LastSeq(), last[0], m.proj.Directory().LastSeq(), last[1])
			}
			return nil
		}},
	}
}

// awaitStreams returns once CASES and DIRECTORY exist: the api creates them, and a projector
// may start before the api, or before NATS answers.
func (m *Main) awaitStreams(ctx context.Context, js jetstream.JetStream) error {
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	var last string
	for {
		_, err := js.Stream(ctx, events.StreamCases)
		if err == nil {
			_, err = js.Stream(ctx, events.StreamDirectory)
		}
		if err == nil {
			return nil
		}
		if err.Error() != last {
			m.Logger.Info("waiting for the CASES and DIRECTORY streams", "err", err)
			last = err.Error()
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
}

// closeTimeout bounds Close whatever NATS is doing: inside the 15 s a supervisor gives a
// SIGTERM.
const closeTimeout = 12 * time.Second

// errCloseTimeout is returned by Close when stopping took longer than closeTimeout.
var errCloseTimeout = errors.New("projector: close did not finish in time")

// Close stops serving and following, within closeTimeout: past it, it returns an error
// and leaves the rest to the process's exit.
func (m *Main) Close() error {
	done := make(chan error, 1)
	go func() { done <- m.close() }()
	select {
	case err := <-done:
		return err
	case <-time.After(closeTimeout):
		m.Logger.Error("close: still stopping; giving up", "after", closeTimeout)
		return errCloseTimeout
	}
}

func (m *Main) close() error {
	var errs []error
	if m.svc != nil {
		errs = append(errs, m.svc.Stop())
	}
	if m.http != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		errs = append(errs, m.http.Shutdown(ctx))
		cancel()
	}
	if m.cancel != nil {
		m.cancel()
	}
	m.wg.Wait()
	if m.nc != nil {
		if m.nc.IsConnected() {
			errs = append(errs, m.nc.Drain())
		} else {
			// Nothing to drain, and draining would wait for a reconnect.
			m.nc.Close()
		}
	}
	return errors.Join(errs...)
}
