// Command casebench is casestream's load tool. It starts two casestream nodes in-process (one
// whose embedded NATS server fsyncs before every acknowledgement, one that syncs lazily),
// loads data into them, runs the scenarios of docs/performance.md and prints a table of the
// figures, or with -json one JSON object. Every scenario is bounded by a count and a time
// and stops by itself; only loopback addresses are used.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime/pprof"
	"syscall"

	"github.com/casestream/casestream/internal/natsauth"
)

func main() {
	if spec, ok := os.LookupEnv(nodeEnv); ok {
		if err := runNode(spec); err != nil {
			fmt.Fprintln(os.Stderr, "casebench node:", err)
			os.Exit(1)
		}
		return
	}
	m := NewMain()
	if err := m.ParseFlags(os.Args[1:], os.LookupEnv); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := m.Run(ctx)
	stop()
	if cerr := m.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "casebench:", err)
		os.Exit(1)
	}
}

// Config is casebench's configuration.
type Config struct {
	// NATSURL runs both nodes against an outside NATS server instead of embedded ones; the
	// durable and lazy runs then share that server and its sync setting.
	NATSURL string
	// NATSAuth authenticates to NATSURL.
	NATSAuth natsauth.ClientConfig
	// Quick runs the scaled-down configuration (about a minute on two cores).
	Quick bool
	// JSON prints one JSON object instead of the table.
	JSON bool
	// CPUProfile, if set, receives a pprof CPU profile of the scenario named by Profile
	// (of the whole run if Profile is empty).
	CPUProfile string
	Profile    string
	// Replicas is the streams' replica count; more than 1 needs NATSURL (a cluster).
	Replicas int
	// Dir holds the embedded servers' stores, each in a directory of its own that the run
	// removes: the file system whose syncs the durable figures measure. Empty is the system's
	// temporary directory.
	Dir string
}

// Main is the casebench program: ParseFlags, then Run, then Close.
type Main struct {
	Config Config
	// Stdout receives the table or the JSON object; Stderr the progress and the logs.
	Stdout io.Writer
	Stderr io.Writer

	// scale, when set (by tests), replaces the configuration chosen by Quick.
	scale *scale

	bench *bench
}

// NewMain returns a Main with the default configuration.
func NewMain() *Main {
	return &Main{Config: Config{Replicas: 1}, Stdout: os.Stdout, Stderr: os.Stderr}
}

// ParseFlags reads args; lookup (os.LookupEnv) provides CASEBENCH_NATS_URL.
func (m *Main) ParseFlags(args []string, lookup func(string) (string, bool)) error {
	fs := flag.NewFlagSet("casebench", flag.ContinueOnError)
	fs.SetOutput(m.Stderr)
	c := &m.Config
	if v, ok := lookup("CASEBENCH_NATS_URL"); ok {
		c.NATSURL = v
	}
	fs.StringVar(&c.NATSURL, "nats-url", c.NATSURL, "run against this NATS server instead of embedded ones (CASEBENCH_NATS_URL)")
	c.NATSAuth.Flags(fs, "CASEBENCH", lookup)
	fs.BoolVar(&c.Quick, "quick", c.Quick, "scaled-down run: 10k active cases, 100k-event stream, short runs")
	fs.BoolVar(&c.JSON, "json", c.JSON, "print one JSON object instead of the table")
	fs.StringVar(&c.CPUProfile, "cpuprofile", c.CPUProfile, "write a pprof CPU profile to this file")
	fs.StringVar(&c.Profile, "profile", c.Profile, "profile only this scenario: "+scenarioNames()+" (default: the whole run)")
	fs.IntVar(&c.Replicas, "replicas", c.Replicas, "the streams' replicas (1 or 3; 3 needs -nats-url of a cluster)")
	fs.StringVar(&c.Dir, "dir", c.Dir, "put the embedded servers' stores under this directory, on the disk to measure (default: the system's temporary directory)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments: %v", fs.Args())
	}
	switch {
	case c.Replicas != 1 && c.Replicas != 3:
		return fmt.Errorf("-replicas %d: want 1 or 3", c.Replicas)
	case c.Replicas > 1 && c.NATSURL == "":
		return errors.New("-replicas 3 needs -nats-url (an embedded server is a single node)")
	}
	if err := c.NATSAuth.Validate(); err != nil {
		return err
	}
	if c.Profile != "" {
		if c.CPUProfile == "" {
			return errors.New("-profile needs -cpuprofile")
		}
		if !validScenario(c.Profile) {
			return fmt.Errorf("-profile %q: want one of %s", c.Profile, scenarioNames())
		}
	}
	return nil
}

// Run runs every scenario and prints the results.
func (m *Main) Run(ctx context.Context) error {
	sc := fullScale
	if m.Config.Quick {
		sc = quickScale
	}
	if m.scale != nil {
		sc = *m.scale
	}
	var prof *profiler
	if m.Config.CPUProfile != "" {
		f, err := os.Create(m.Config.CPUProfile)
		if err != nil {
			return err
		}
		prof = &profiler{f: f, only: m.Config.Profile}
		defer prof.close()
	}
	m.bench = &bench{
		cfg:      m.Config,
		sc:       sc,
		progress: progressWriter(m.Stderr),
		log:      slog.New(slog.NewTextHandler(m.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
		prof:     prof,
	}
	before := readCPUTimes()
	res, err := m.bench.run(ctx)
	if err != nil {
		return err
	}
	after := readCPUTimes()
	if m.Config.JSON {
		if pct, ok := stealPct(before, after); ok {
			res.CPUStealPct, res.ScenarioStealPct = &pct, m.bench.steal
		}
		return writeJSON(m.Stdout, res)
	}
	if err := writeTable(m.Stdout, res, sc); err != nil {
		return err
	}
	if line := stealLine(before, after); line != "" {
		fmt.Fprintln(m.Stdout, line)
	}
	return nil
}

// Close stops the nodes and removes their data directories.
func (m *Main) Close() error {
	if m.bench == nil {
		return nil
	}
	return m.bench.close()
}

// progressWriter returns w when it is a terminal, io.Discard otherwise.
func progressWriter(w io.Writer) io.Writer {
	f, ok := w.(*os.File)
	if !ok {
		return io.Discard
	}
	st, err := f.Stat()
	if err != nil || st.Mode()&os.ModeCharDevice == 0 {
		return io.Discard
	}
	return w
}

// profiler writes a CPU profile of one scenario, or of the whole run when only is empty.
type profiler struct {
	f       *os.File
	only    string
	running bool
}

func (p *profiler) start(scenario string) {
	if p == nil || p.running || (p.only != "" && p.only != scenario) {
		return
	}
	if err := pprof.StartCPUProfile(p.f); err == nil {
		p.running = true
	}
}

func (p *profiler) stop(scenario string) {
	if p == nil || !p.running || p.only != scenario {
		return
	}
	pprof.StopCPUProfile()
	p.running = false
}

func (p *profiler) close() {
	if p.running {
		pprof.StopCPUProfile()
		p.running = false
	}
	p.f.Close()
}
