package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/casestream/casestream/internal/app"
	"github.com/casestream/casestream/internal/directory"
)

// Concurrency of the scenarios.
const (
	writers     = 32 // raw appenders and assign clients
	listClients = 16 // listing clients
)

// scale sizes a run. Every timed loop stops at duration or at maxOps, whichever comes first.
type scale struct {
	duration     time.Duration
	maxOps       int
	rounds       int // slices that a ratio's two sides alternate in (see alternate)
	casesPerUser int // distinct cases per writer or client in the append and assign runs
	activeCases  int
	agents       int
	loadEvents   int // events in the stream the cold loads read from
	loadPerCase  int // events of each case in that stream
	loadSamples  int
	memCases     int // active cases folded for bytes_per_active_case
}

var (
	fullScale = scale{
		duration: 10 * time.Second, maxOps: 2_000_000, rounds: 10, casesPerUser: 64,
		activeCases: 100_000, agents: 1000,
		loadEvents: 1_000_000, loadPerCase: 10, loadSamples: 2000,
		memCases: 1_000_000,
	}
	quickScale = scale{
		duration: 3 * time.Second, maxOps: 500_000, rounds: 6, casesPerUser: 32,
		activeCases: 10_000, agents: 100,
		loadEvents: 100_000, loadPerCase: 10, loadSamples: 500,
		memCases: 100_000,
	}
)

// Scenario names, for -profile and the progress lines.
var scenarios = []string{"memory", "write", "r3", "lag", "listdata", "list", "replay", "load"}

func scenarioNames() string { return strings.Join(scenarios, ", ") }

func validScenario(s string) bool {
	for _, n := range scenarios {
		if n == s {
			return true
		}
	}
	return false
}

// Case instance id ranges, one per use, so that the scenarios never share a case.
const (
	idsAssign = 1
	idsAppend = 100_000_000
	idsActive = 200_000_000
	idsLag    = 300_000_000
	idsLoad   = 400_000_000
	// The write runs offset idsAssign and idsAppend by run*10_000_000.
	runSyncAlways, runLazy, runGroup, runR3 = 0, 1, 2, 3
)

// bench is one run: its nodes and where it writes.
type bench struct {
	cfg      Config
	sc       scale
	progress io.Writer
	log      *slog.Logger
	prof     *profiler

	// base offsets every case instance id: 0 on embedded servers, distinct per run on an
	// outside server whose streams may hold earlier runs.
	base    int64
	durable *app.App // SyncAlways
	group   *app.App // group commit (app.Config.GroupCommit); nil with an outside server
	lazy    *app.App
	dirs    []string

	// steal is the share of the CPU the hypervisor took during each scenario, in percent,
	// where /proc/stat tells.
	steal map[string]float64
}

func (b *bench) step(format string, args ...any) {
	fmt.Fprintf(b.progress, "casebench: "+format+"\n", args...)
}

// scenario runs fn as the named scenario, profiled if asked.
func (b *bench) scenario(name string, fn func() error) error {
	b.step("%s", name)
	b.prof.start(name)
	defer b.prof.stop(name)
	start, before := time.Now(), readCPUTimes()
	if err := fn(); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	took, steal := time.Since(start).Seconds(), ""
	if pct, ok := stealPct(before, readCPUTimes()); ok {
		if b.steal == nil {
			b.steal = map[string]float64{}
		}
		b.steal[name] = pct
		steal = fmt.Sprintf(" (CPU steal %.0f%%)", pct)
	}
	b.step("%s done in %.1fs%s", name, took, steal)
	return nil
}

// durability is how a node's embedded server makes an acknowledged append durable.
type durability int

const (
	syncAlways  durability = iota // the server fsyncs before each acknowledgement
	groupCommit                   // one sync shared by the appends waiting (internal/groupcommit)
	lazySync                      // the server syncs on its own schedule
)

// startNode starts a node with the given directory file, on an embedded server in a fresh
// temporary directory, or on the outside server.
func (b *bench) startNode(ctx context.Context, d durability, f *directory.File) (*app.App, error) {
	cfg := app.Config{
		Addr: "127.0.0.1:0", NATSURL: b.cfg.NATSURL, NATSAuth: b.cfg.NATSAuth, NATSListen: "", Replicas: b.cfg.Replicas,
		SyncAlways: d == syncAlways, GroupCommit: d == groupCommit, Directory: f, DirectoryName: "casebench directory",
		Projector: true, BcryptCost: bcrypt.MinCost, Logger: b.log,
	}
	if b.cfg.NATSURL == "" {
		dir, err := os.MkdirTemp(b.cfg.Dir, "casebench-")
		if err != nil {
			return nil, err
		}
		b.dirs = append(b.dirs, dir)
		cfg.Data = dir
	}
	return app.Start(ctx, cfg)
}

func (b *bench) run(ctx context.Context) (Results, error) {
	var r Results
	if b.cfg.NATSURL != "" {
		// Streams on an outside server keep earlier runs' cases: start above them.
		b.base = (time.Now().Unix() % 1_000_000) * 10_000_000_000
	}
	// Memory first, before any node runs: an in-process server's caches grow and shrink
	// on their own and would blur the heap difference.
	err := b.scenario("memory", func() error {
		var err error
		r.BytesPerActiveCase, err = memoryRun(b.sc.memCases, max(b.sc.memCases/100, 1))
		return err
	})
	if err != nil {
		return r, err
	}
	// The listing's agents go to the lazy node only: the durable one would fsync each.
	demo, err := benchDirectory(0)
	if err != nil {
		return r, err
	}
	f, err := benchDirectory(b.sc.agents)
	if err != nil {
		return r, err
	}
	if b.cfg.NATSURL != "" {
		demo = f
	}
	b.step("starting the durable node")
	if b.durable, err = b.startNode(ctx, syncAlways, demo); err != nil {
		return r, fmt.Errorf("start durable node: %w", err)
	}
	if b.cfg.NATSURL == "" {
		b.step("starting the group-commit node")
		if b.group, err = b.startNode(ctx, groupCommit, demo); err != nil {
			return r, fmt.Errorf("start group-commit node: %w", err)
		}
		b.step("starting the lazy node")
		if b.lazy, err = b.startNode(ctx, lazySync, f); err != nil {
			return r, fmt.Errorf("start lazy node: %w", err)
		}
	} else {
		b.log.Warn("with -nats-url the durable and lazy runs share the outside server and its sync setting")
		b.lazy = b.durable
	}

	err = b.scenario("write", func() error {
		if err := b.durableRun(ctx, &r); err != nil {
			return err
		}
		r.AppendLazyPerS, r.AssignLazyPerS, _, err = b.writeRun(ctx, b.lazy, runLazy)
		return err
	})
	if err != nil {
		return r, err
	}
	r.AssignLazyRatio = r.AssignLazyPerS / r.AppendLazyPerS
	if b.cfg.NATSURL == "" {
		if err := b.scenario("r3", func() error { return b.r3Run(ctx, demo, &r) }); err != nil {
			return r, err
		}
	}
	// The lag is measured on a quiet process: neither projector still folding what the
	// write scenario appended.
	caught := time.Now()
	for _, n := range []*app.App{b.durable, b.group, b.lazy} {
		if n == nil {
			continue
		}
		if err := b.catchUp(ctx, n); err != nil {
			return r, fmt.Errorf("catch up after write: %w", err)
		}
	}
	b.step("projections caught up in %.2fs", time.Since(caught).Seconds())
	err = b.scenario("lag", func() error {
		lat, err := b.lagRun(ctx, b.durable, r.AssignDurablePerS/2)
		r.LagP50Ms, r.LagP99Ms = percentile(lat, 50), percentile(lat, 99)
		return err
	})
	if err != nil {
		return r, err
	}
	err = b.scenario("listdata", func() error {
		b.step("listdata: %d active cases of %d agents", b.sc.activeCases, b.sc.agents)
		return b.loadActive(ctx, b.lazy)
	})
	if err != nil {
		return r, err
	}
	err = b.scenario("list", func() error {
		list, static, err := b.listRun(ctx, b.lazy)
		if err != nil {
			return err
		}
		r.ListPerS, r.ListP50Ms, r.ListP99Ms = list.perS(), percentile(list.lat, 50), percentile(list.lat, 99)
		r.ListRatioStatic, r.StaticP99Ms = list.perS()/static.perS(), percentile(static.lat, 99)
		return nil
	})
	if err != nil {
		return r, err
	}
	err = b.scenario("replay", func() error {
		r.ReplayRatio, r.replayEvents, err = b.replayRun(ctx, b.lazy)
		return err
	})
	if err != nil {
		return r, err
	}
	err = b.scenario("load", func() error {
		r.LoadP50Ms, r.LoadP99Ms, r.loadStream, err = b.loadRun(ctx, b.lazy)
		return err
	})
	if err != nil {
		return r, err
	}
	return r, nil
}

func (b *bench) close() error {
	var errs []error
	if b.lazy != nil && b.lazy != b.durable {
		errs = append(errs, b.lazy.Close())
	}
	if b.group != nil {
		errs = append(errs, b.group.Close())
	}
	if b.durable != nil {
		errs = append(errs, b.durable.Close())
	}
	for _, d := range b.dirs {
		errs = append(errs, os.RemoveAll(d))
	}
	b.lazy, b.group, b.durable, b.dirs = nil, nil, nil, nil
	return errors.Join(errs...)
}
