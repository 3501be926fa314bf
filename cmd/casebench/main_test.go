package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/casestream/casestream/internal/embedded/embeddedtest"
	"github.com/casestream/casestream/internal/natsauth"
)

// TestMain runs the test binary as a node of the three-replica scenario when startCluster
// starts it as one, as casebench's main does.
func TestMain(m *testing.M) {
	if spec, ok := os.LookupEnv(nodeEnv); ok {
		if err := runNode(spec); err != nil {
			fmt.Fprintln(os.Stderr, "casebench node:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// tinyScale is a run of a few seconds: enough of every scenario to produce each figure.
var tinyScale = scale{
	duration: 200 * time.Millisecond, maxOps: 10_000, rounds: 2, casesPerUser: 2,
	activeCases: 40, agents: 4,
	loadEvents: 400, loadPerCase: 4, loadSamples: 20,
	memCases: 1000,
}

func runMain(t *testing.T, args ...string) (stdout string) {
	t.Helper()
	var out, errOut bytes.Buffer
	m := NewMain()
	m.Stdout, m.Stderr = &out, &errOut
	if err := m.ParseFlags(args, func(string) (string, bool) { return "", false }); err != nil {
		t.Fatalf("parse flags: %v", err)
	}
	sc := tinyScale
	m.scale = &sc
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	err := m.Run(ctx)
	if cerr := m.Close(); cerr != nil {
		t.Errorf("close: %v", cerr)
	}
	if err != nil {
		t.Fatalf("run: %v\nstderr: %s", err, errOut.String())
	}
	return out.String()
}

func TestRunJSON(t *testing.T) {
	t.Parallel()
	tmp := t.TempDir()
	out := runMain(t, "-quick", "-json", "-dir", tmp)
	var got map[string]any
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("output %q is not one JSON object: %v", out, err)
	}
	want := []string{
		"append_durable_per_s", "append_lazy_per_s",
		"assign_durable_per_s", "assign_lazy_per_s", "assign_p50_ms", "assign_p99_ms",
		"assign_durable_ratio", "assign_lazy_ratio",
		"append_group_per_s", "assign_group_per_s", "assign_group_p50_ms", "assign_group_p99_ms", "assign_group_ratio",
		"append_r3_per_s", "assign_r3_per_s", "assign_r3_ratio",
		"list_per_s", "list_p50_ms", "list_p99_ms", "list_ratio_static", "static_p99_ms",
		"lag_p50_ms", "lag_p99_ms", "replay_ratio", "load_p50_ms", "load_p99_ms", "bytes_per_active_case",
	}
	if steal, ok := got["cpu_steal_pct"]; ok {
		if v, isNum := steal.(float64); !isNum || v < 0 || v > 100 {
			t.Errorf("got cpu_steal_pct = %v, want a percentage", steal)
		}
		delete(got, "cpu_steal_pct")
		// A scenario too short for /proc/stat's clock to tick has no entry.
		byScenario, isMap := got["scenario_steal_pct"].(map[string]any)
		if !isMap || len(byScenario) == 0 {
			t.Errorf("got scenario_steal_pct = %v, want an object", got["scenario_steal_pct"])
		}
		scenarios := []string{"memory", "write", "r3", "lag", "listdata", "list", "replay", "load"}
		for name, v := range byScenario {
			if pct, isNum := v.(float64); !slices.Contains(scenarios, name) || !isNum || pct < 0 || pct > 100 {
				t.Errorf("got scenario_steal_pct[%s] = %v, want a scenario's percentage", name, v)
			}
		}
		delete(got, "scenario_steal_pct")
	} else if readCPUTimes().ok {
		t.Errorf("got no cpu_steal_pct where /proc/stat is readable")
	}
	var keys []string
	for k := range got {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	slices.Sort(want)
	if !slices.Equal(keys, want) {
		t.Errorf("got keys %v, want %v", keys, want)
	}
	for _, k := range want {
		v, ok := got[k].(float64)
		if !ok || !(v > 0) {
			t.Errorf("got %s = %v, want a positive number", k, got[k])
		}
	}
	if left, err := os.ReadDir(tmp); err != nil || len(left) != 0 {
		t.Errorf("got %v (%v) left in -dir after Close, want nothing", left, err)
	}
}

func TestRunTable(t *testing.T) {
	t.Parallel()
	out := runMain(t)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if n := len(lines); n > 0 && strings.HasPrefix(lines[n-1], "CPU steal") {
		lines = lines[:n-1] // the machine's line, where /proc/stat exists
	}
	if got, want := len(lines), 1+len(rows(Results{}, tinyScale)); got != want {
		t.Fatalf("got %d lines, want %d:\n%s", got, want, out)
	}
	for _, r := range rows(Results{}, tinyScale) {
		if !strings.Contains(out, r.key) {
			t.Errorf("got no line for %s in:\n%s", r.key, out)
		}
	}
}

// TestRunOutsideServer runs against a NATS server of the test's own (both runs then share
// it), profiling one scenario.
func TestRunOutsideServer(t *testing.T) {
	t.Parallel()
	s, _ := embeddedtest.Start(t)
	prof := filepath.Join(t.TempDir(), "cpu.pprof")
	out := runMain(t, "-json", "-nats-url", s.ClientURL(), "-nats-nkey", s.Keys.SeedFile(natsauth.Service), "-cpuprofile", prof, "-profile", "list")
	var got Results
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("output %q: %v", out, err)
	}
	if got.ListPerS <= 0 || got.AssignDurablePerS <= 0 || got.LoadP99Ms <= 0 {
		t.Errorf("got %+v, want positive listing, assign and load figures", got)
	}
	checkProfile(t, prof)
}

// checkProfile fails unless path holds exactly one gzip stream, as pprof writes.
func checkProfile(t testing.TB, path string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read profile: %v", err)
	}
	br := bytes.NewReader(b)
	zr, err := gzip.NewReader(br)
	if err != nil {
		t.Fatalf("profile: %v", err)
	}
	zr.Multistream(false)
	n, err := io.Copy(io.Discard, zr)
	if err != nil || n == 0 {
		t.Fatalf("profile: got %d bytes, %v; want a profile", n, err)
	}
	if br.Len() != 0 {
		t.Errorf("profile: got %d bytes after the gzip stream, want none", br.Len())
	}
}

func TestParseFlags(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		env     map[string]string
		want    Config
		wantErr bool
	}{
		{name: "defaults", want: Config{Replicas: 1}},
		{name: "all", args: []string{"-quick", "-json", "-cpuprofile", "cpu.out", "-profile", "list", "-nats-url", "nats://127.0.0.1:4222", "-replicas", "3"},
			want: Config{Quick: true, JSON: true, CPUProfile: "cpu.out", Profile: "list", NATSURL: "nats://127.0.0.1:4222", Replicas: 3}},
		{name: "environment", env: map[string]string{"CASEBENCH_NATS_URL": "nats://127.0.0.1:4333"}, want: Config{NATSURL: "nats://127.0.0.1:4333", Replicas: 1}},
		{name: "replicas without a cluster", args: []string{"-replicas", "3"}, wantErr: true},
		{name: "two replicas", args: []string{"-nats-url", "nats://127.0.0.1:4222", "-replicas", "2"}, wantErr: true},
		{name: "unknown scenario", args: []string{"-cpuprofile", "cpu.out", "-profile", "nope"}, wantErr: true},
		{name: "profile without file", args: []string{"-profile", "list"}, wantErr: true},
		{name: "extra argument", args: []string{"list"}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := NewMain()
			m.Stderr = &bytes.Buffer{}
			err := m.ParseFlags(tt.args, func(k string) (string, bool) { v, ok := tt.env[k]; return v, ok })
			if (err != nil) != tt.wantErr {
				t.Fatalf("got error %v, want error: %v", err, tt.wantErr)
			}
			if err == nil && m.Config != tt.want {
				t.Errorf("got %+v, want %+v", m.Config, tt.want)
			}
		})
	}
}

func TestPercentile(t *testing.T) {
	ms := func(v ...int) []time.Duration {
		out := make([]time.Duration, len(v))
		for i, x := range v {
			out[i] = time.Duration(x) * time.Millisecond
		}
		return out
	}
	tests := []struct {
		name    string
		samples []time.Duration
		p       float64
		want    float64
	}{
		{"empty", nil, 50, 0},
		{"one", ms(7), 99, 7},
		{"median of unsorted", ms(5, 1, 4, 2, 3), 50, 3},
		{"p99 of 100", ms(seq(100)...), 99, 99},
		{"p99 of 1000", ms(seq(1000)...), 99, 990},
		{"p100", ms(3, 9, 1), 100, 9},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := percentile(tt.samples, tt.p); got != tt.want {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func seq(n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = i + 1
	}
	return out
}

func TestStealLine(t *testing.T) {
	tests := []struct {
		before, after cpuTimes
		want          string
	}{
		{cpuTimes{total: 1000, steal: 100, ok: true}, cpuTimes{total: 2000, steal: 400, ok: true}, "CPU steal during the run: 30% of the machine's CPU time (/proc/stat)"},
		{cpuTimes{total: 1000, ok: true}, cpuTimes{total: 1000, ok: true}, ""},
		{cpuTimes{}, cpuTimes{total: 5, ok: true}, ""},
	}
	for _, tt := range tests {
		if got := stealLine(tt.before, tt.after); got != tt.want {
			t.Errorf("got %q, want %q", got, tt.want)
		}
	}
	if runtime.GOOS == "linux" && !readCPUTimes().ok {
		t.Errorf("no cpu line read from /proc/stat")
	}
}
