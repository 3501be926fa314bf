// Command api runs casestream: the operator API and the agent-impersonation API over HTTP,
// the command side appending to JetStream, and (by default) the projector answering the
// read side in the same process. With no -nats-url it embeds a nats-server. The process is
// assembled by casestream's one composition root, internal/app.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"

	"github.com/casestream/casestream/internal/app"
	"github.com/casestream/casestream/internal/directory"
	"github.com/casestream/casestream/internal/files"
	"github.com/casestream/casestream/internal/httpapi"
	"github.com/casestream/casestream/internal/logs"
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
	m.Logger.Info("shutting down")
	if err := m.Close(); err != nil {
		m.Logger.Error("shutdown", "err", err)
		os.Exit(1)
	}
}

// Config is the api's configuration; every flag has an environment twin. The flags set the
// fields of the embedded app.Config that a process of the api has, and the fields below,
// from which Run derives the rest (GroupCommit, Directory, Attempts' trusted proxies,
// AdminTokens, Logger).
type Config struct {
	app.Config
	// Durability is "sync" (SyncAlways decides) or "group" (app.Config.GroupCommit).
	Durability    string
	DirectoryFile string
	Demo          bool
	// TrustedProxies are the proxies whose X-Forwarded-For names the client address that
	// failed credential checks are counted against. Attempts, if set, replaces
	// httpapi.DefaultAttemptLimits but for them.
	TrustedProxies []netip.Prefix
	// Log says how ParseFlags builds Main.Logger.
	Log logs.Config
	// AdminTokensFile names the admin API's tokens (httpapi.ParseAdminTokens); empty
	// leaves the admin API off.
	AdminTokensFile string
}

// Main is the api program: ParseFlags, then Run, then Close.
type Main struct {
	Config Config
	// Logger logs to stderr: JSON lines unless -log-format text (ParseFlags sets it).
	Logger *slog.Logger
	// Stdout receives the demo's instructions.
	Stdout io.Writer

	app *app.App
}

// NewMain returns a Main with the default configuration.
func NewMain() *Main {
	return &Main{
		Config: Config{
			Config:     app.Config{Addr: ":8080", Data: "./data", NATSListen: "127.0.0.1:4222", Replicas: 1, SyncAlways: true, Projector: true, MaxAttachmentBytes: files.DefaultMaxBytes},
			Durability: "sync",
		},
		Logger: slog.New(slog.NewJSONHandler(os.Stderr, nil)),
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
	c.NATSAuth.Flags(fs, "CASESTREAM", lookup)
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
	str(&c.Durability, "durability", "CASESTREAM_DURABILITY", `when the embedded server's appends are acknowledged: "sync" (as -sync-always says) or "group" (after one sync shared by concurrent appends)`)
	str(&c.DirectoryFile, "directory", "CASESTREAM_DIRECTORY", "directory bootstrap file")
	if err := boolean(&c.Projector, "projector", "CASESTREAM_PROJECTOR", "run the projector in this process"); err != nil {
		return err
	}
	str(&c.AdminTokensFile, "admin-tokens-file", "CASESTREAM_ADMIN_TOKENS_FILE", "file of name:token lines, one per administrator of the admin API (/admin/v1); empty leaves it off")
	str(&c.BasePath, "base-path", "CASESTREAM_BASE_PATH", "a second base path of the operator API besides /api/v4, as the vendor's SDK builds it: /{client}/api/v4")
	if v := getenv("CASESTREAM_MAX_ATTACHMENT_BYTES"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return fmt.Errorf("CASESTREAM_MAX_ATTACHMENT_BYTES: %w", err)
		}
		c.MaxAttachmentBytes = n
	}
	fs.Int64Var(&c.MaxAttachmentBytes, "max-attachment-bytes", c.MaxAttachmentBytes, "largest file accepted as a case attachment, in bytes (CASESTREAM_MAX_ATTACHMENT_BYTES)")
	proxies := getenv("CASESTREAM_TRUSTED_PROXIES")
	fs.StringVar(&proxies, "trusted-proxies", proxies, "comma-separated addresses or CIDR prefixes of proxies whose X-Forwarded-For is believed (CASESTREAM_TRUSTED_PROXIES)")
	fs.BoolVar(&c.Demo, "demo", false, "apply examples/demo-directory.json, open a few cases and print how to call the API")
	c.Log.Flags(fs, "CASESTREAM", lookup)
	if err := fs.Parse(args); err != nil {
		return err
	}
	logger, err := c.Log.New(os.Stderr)
	if err != nil {
		return err
	}
	m.Logger = logger
	if c.Replicas < 1 {
		return fmt.Errorf("-replicas must be at least 1")
	}
	if c.Durability != "sync" && c.Durability != "group" {
		return fmt.Errorf(`-durability must be "sync" or "group", not %q`, c.Durability)
	}
	if c.BasePath != "" {
		if err := httpapi.CheckBasePath(c.BasePath); err != nil {
			return fmt.Errorf("-base-path: %w", err)
		}
	}
	if c.MaxAttachmentBytes < 1 {
		return fmt.Errorf("-max-attachment-bytes must be at least 1")
	}
	if c.TrustedProxies, err = parsePrefixes(proxies); err != nil {
		return fmt.Errorf("-trusted-proxies: %w", err)
	}
	return c.NATSAuth.Validate()
}

// parsePrefixes parses a comma-separated list of addresses (each its own prefix) and CIDR
// prefixes.
func parsePrefixes(list string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, f := range strings.Split(list, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		if p, err := netip.ParsePrefix(f); err == nil {
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(f)
		if err != nil {
			return nil, fmt.Errorf("%q is neither an address nor a CIDR prefix", f)
		}
		a = a.Unmap()
		out = append(out, netip.PrefixFrom(a, a.BitLen()))
	}
	return out, nil
}

// Addr returns the HTTP listener's address once Run has returned.
func (m *Main) Addr() string { return m.app.Addr() }

// Run starts the App (and, with -demo, the demo) and returns once the api is serving.
func (m *Main) Run(ctx context.Context) error {
	f, name, err := m.directoryFile()
	if err != nil {
		return err
	}
	var adminTokens []httpapi.AdminToken
	if m.Config.AdminTokensFile != "" {
		if adminTokens, err = httpapi.ReadAdminTokens(m.Config.AdminTokensFile); err != nil {
			return err
		}
	}
	cfg := m.Config.Config
	cfg.GroupCommit = m.Config.Durability == "group"
	cfg.Directory, cfg.DirectoryName = f, name
	cfg.Attempts, cfg.AdminTokens, cfg.Logger = m.attemptLimits(), adminTokens, m.Logger
	if m.app, err = app.Start(ctx, cfg); err != nil {
		return err
	}
	if m.Config.Demo {
		if err := m.demo(ctx); err != nil {
			return fmt.Errorf("demo: %w", err)
		}
	}
	return nil
}

// attemptLimits are the default limits with the configured trusted proxies.
func (m *Main) attemptLimits() *httpapi.AttemptLimits {
	l := httpapi.DefaultAttemptLimits()
	if m.Config.Attempts != nil {
		l = *m.Config.Attempts
	}
	l.TrustedProxies = m.Config.TrustedProxies
	return &l
}

// directoryFile reads the -directory file, or with -demo the demo directory when no file is
// given.
func (m *Main) directoryFile() (*directory.File, string, error) {
	switch {
	case m.Config.DirectoryFile != "":
		f, err := directory.ReadFile(m.Config.DirectoryFile)
		return f, m.Config.DirectoryFile, err
	case m.Config.Demo:
		f, err := demoFile()
		return f, "examples/demo-directory.json", err
	}
	return nil, "", nil
}

// Close stops the api.
func (m *Main) Close() error {
	if m.app == nil {
		return nil
	}
	return m.app.Close()
}
