// Command projector runs casestream's read side as its own process: it rebuilds the read
// model from the CASES and DIRECTORY streams with ordered consumers, follows them, and answers
// queries over NATS request/reply as a micro service in a queue group, so that any number of
// replicas share the load. Its own HTTP address serves /healthz, /readyz and /metrics. It is
// casestream's one composition root (internal/app) with only the projector on.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/casestream/casestream/internal/app"
	"github.com/casestream/casestream/internal/logs"
	"github.com/casestream/casestream/internal/natsauth"
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

	app *app.App
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
	if m.app == nil {
		return ""
	}
	return m.app.Addr()
}

// Run starts the projector: it waits for the streams, serves /healthz, /readyz and
// /metrics, and returns; the model's rebuild goes on in the background, and the query
// service starts once it is done (app.Start).
func (m *Main) Run(ctx context.Context) (err error) {
	c := m.Config
	m.app, err = app.Start(ctx, app.Config{
		Addr: c.Addr, NATSURL: c.NATSURL, NATSAuth: c.NATSAuth, ProjectorOnly: true, ProjectorWait: c.Wait, Logger: m.Logger,
	})
	return err
}

// Close stops serving and following, within the App's close bound (12 s).
func (m *Main) Close() error {
	if m.app == nil {
		return nil
	}
	return m.app.Close()
}
