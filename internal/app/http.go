package app

import (
	"context"
	"errors"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/casestream/casestream/internal/cases"
	"github.com/casestream/casestream/internal/directory"
	"github.com/casestream/casestream/internal/eventstore"
	"github.com/casestream/casestream/internal/httpapi"
	"github.com/casestream/casestream/internal/readiness"
	"github.com/casestream/casestream/projection"
)

// queries answers both surfaces' reads: the projector in this process directly, or over
// NATS the projector replicas.
type queries interface {
	httpapi.Queries
	httpapi.AgentQueries
}

// serveHTTP builds the handler (both API surfaces, or a projector's probes and metrics),
// listens and serves until Close.
func (a *App) serveHTTP(ctx context.Context) (err error) {
	reg := a.registry()
	if a.cfg.ProjectorOnly {
		a.Handler = probes(reg, a.readiness(nil))
	} else {
		var q queries = projection.NewClient(a.NC, projection.DefaultWait+time.Second)
		if a.Projector != nil {
			q = projection.NewLocal(a.Projector, projection.DefaultWait)
		}
		a.Handler = httpapi.NewServer(a.apiConfig(reg, q))
	}
	a.listener, err = net.Listen("tcp", a.cfg.Addr)
	if err != nil {
		return err
	}
	a.http = &http.Server{Handler: a.Handler, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second, WriteTimeout: writeTimeout, IdleTimeout: 2 * time.Minute}
	a.wg.Go(func() {
		if err := a.http.Serve(a.listener); err != nil && !errors.Is(err, http.ErrServerClosed) {
			a.log.Error("http", "err", err)
		}
	})
	return nil
}

// apiConfig is the configuration of both API surfaces: the one place that builds it.
func (a *App) apiConfig(reg *prometheus.Registry, q queries) httpapi.Config {
	return httpapi.Config{
		Cases:             a.Cases,
		Directory:         a.Directory,
		Agents:            directory.NewAgents(a.appender, a.Directory, directory.BootstrapOptions{}),
		Sessions:          a.buckets.sessions,
		AccessTokens:      a.buckets.accessTokens,
		Idempotency:       a.buckets.idempotency,
		Queries:           q,
		AgentQueries:      q,
		Positions:         a.Positions,
		DirectoryPosition: a.DirectoryPosition,
		Ready:             a.readiness(q),
		Logger:            a.log,
		Registry:          reg,
		BasePath:          a.cfg.BasePath,

		Files: a.buckets.files, MaxAttachmentBytes: a.cfg.MaxAttachmentBytes,
		Attempts: a.cfg.Attempts,
		// Well inside the server's WriteTimeout (writeTimeout), so that a client always
		// hears the answer; the store's acknowledgement and resolution waits are inside it.
		RequestTimeout: requestTimeout,
		Admin:          a.adminConfig(),
	}
}

// adminConfig is the admin API's: its tokens and its commands, none without tokens.
func (a *App) adminConfig() httpapi.AdminConfig {
	if len(a.cfg.AdminTokens) == 0 {
		return httpapi.AdminConfig{}
	}
	return httpapi.AdminConfig{
		Tokens:   a.cfg.AdminTokens,
		Commands: directory.NewAdmin(a.appender, a.Directory, directory.BootstrapOptions{BcryptCost: a.cfg.BcryptCost}),
	}
}

// registry holds the metrics /metrics exports: the runtime's, the store's, and those of the
// parts this process runs.
func (a *App) registry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	reg.MustRegister(eventstore.Collectors()...)
	if a.Cases != nil {
		reg.MustRegister(a.Cases.CacheCollector())
		reg.MustRegister(cases.Collectors()...)
		reg.MustRegister(a.Directory.Collectors()...)
	}
	if a.Projector != nil {
		reg.MustRegister(projection.NewCollector(a.Projector, a.JS))
		reg.MustRegister(projection.Collectors()...)
	}
	return reg
}

// probes serves a projector's /healthz, /readyz and /metrics.
func probes(reg *prometheus.Registry, checks []readiness.Check) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"status":"ok"}` + "\n"))
	})
	mux.Handle("GET /readyz", readiness.Handler(checks))
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	return mux
}
