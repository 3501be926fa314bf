package main

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"text/tabwriter"
	"time"
)

// Results are the figures of one run; their JSON keys are casebench's -json output.
type Results struct {
	AppendDurablePerS  float64 `json:"append_durable_per_s"`
	AppendLazyPerS     float64 `json:"append_lazy_per_s"`
	AssignDurablePerS  float64 `json:"assign_durable_per_s"`
	AssignLazyPerS     float64 `json:"assign_lazy_per_s"`
	AssignP50Ms        float64 `json:"assign_p50_ms"`
	AssignP99Ms        float64 `json:"assign_p99_ms"`
	AssignDurableRatio float64 `json:"assign_durable_ratio"`
	AppendGroupPerS    float64 `json:"append_group_per_s,omitempty"`
	AssignGroupPerS    float64 `json:"assign_group_per_s,omitempty"`
	AssignGroupP50Ms   float64 `json:"assign_group_p50_ms,omitempty"`
	AssignGroupP99Ms   float64 `json:"assign_group_p99_ms,omitempty"`
	AssignGroupRatio   float64 `json:"assign_group_ratio,omitempty"`
	AssignLazyRatio    float64 `json:"assign_lazy_ratio"`
	AppendR3PerS       float64 `json:"append_r3_per_s,omitempty"`
	AssignR3PerS       float64 `json:"assign_r3_per_s,omitempty"`
	AssignR3Ratio      float64 `json:"assign_r3_ratio,omitempty"`
	ListPerS           float64 `json:"list_per_s"`
	ListP50Ms          float64 `json:"list_p50_ms"`
	ListP99Ms          float64 `json:"list_p99_ms"`
	ListRatioStatic    float64 `json:"list_ratio_static"`
	StaticP99Ms        float64 `json:"static_p99_ms"`
	LagP50Ms           float64 `json:"lag_p50_ms"`
	LagP99Ms           float64 `json:"lag_p99_ms"`
	ReplayRatio        float64 `json:"replay_ratio"`
	LoadP50Ms          float64 `json:"load_p50_ms"`
	LoadP99Ms          float64 `json:"load_p99_ms"`
	BytesPerActiveCase float64 `json:"bytes_per_active_case"`
	// CPUStealPct is the share of the machine's CPU time the hypervisor took during the
	// run (/proc/stat), absent where it cannot be read.
	CPUStealPct *float64 `json:"cpu_steal_pct,omitempty"`
	// ScenarioStealPct is the same share during each scenario, by its name.
	ScenarioStealPct map[string]float64 `json:"scenario_steal_pct,omitempty"`

	// replayEvents and loadStream are the sizes of the CASES stream replayed and loaded
	// from, for the table's notes.
	replayEvents, loadStream uint64
}

func writeJSON(w io.Writer, r Results) error {
	b, err := json.Marshal(r)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "%s\n", b)
	return err
}

// target is a figure's goal: at least (min) or at most (!min) value.
type target struct {
	min   bool
	value float64
}

func (t target) String() string {
	if t.min {
		return fmt.Sprintf(">= %g", t.value)
	}
	return fmt.Sprintf("<= %g", t.value)
}

func (t target) met(v float64) bool {
	if t.min {
		return v >= t.value
	}
	return v <= t.value
}

// row is one line of the table.
type row struct {
	key    string
	value  float64
	target *target
	note   string
}

func rows(r Results, sc scale) []row {
	at := func(min bool, v float64) *target { return &target{min: min, value: v} }
	return []row{
		{"append_durable_per_s", r.AppendDurablePerS, nil, fmt.Sprintf("%d writers, fsync before ack", writers)},
		{"append_lazy_per_s", r.AppendLazyPerS, nil, fmt.Sprintf("%d writers, lazy sync", writers)},
		{"assign_durable_per_s", r.AssignDurablePerS, nil, fmt.Sprintf("%d HTTP clients", writers)},
		{"assign_lazy_per_s", r.AssignLazyPerS, nil, fmt.Sprintf("%d HTTP clients", writers)},
		{"assign_p50_ms", r.AssignP50Ms, nil, "durable"},
		{"assign_p99_ms", r.AssignP99Ms, nil, "durable"},
		{"assign_durable_ratio", r.AssignDurableRatio, at(true, 1.5), "assign / append"},
		{"append_group_per_s", r.AppendGroupPerS, nil, fmt.Sprintf("%d writers, group commit", writers)},
		{"assign_group_per_s", r.AssignGroupPerS, nil, fmt.Sprintf("%d HTTP clients, group commit", writers)},
		{"assign_group_p50_ms", r.AssignGroupP50Ms, nil, "group commit"},
		{"assign_group_p99_ms", r.AssignGroupP99Ms, nil, "group commit"},
		{"assign_group_ratio", r.AssignGroupRatio, at(true, 2), "group-commit assign / fsync-before-ack append"},
		{"assign_lazy_ratio", r.AssignLazyRatio, at(true, 0.5), "assign / append"},
		{"append_r3_per_s", r.AppendR3PerS, nil, fmt.Sprintf("%d writers, 3 nats-server processes, fsync before ack", writers)},
		{"assign_r3_per_s", r.AssignR3PerS, nil, fmt.Sprintf("%d HTTP clients, streams at 3 replicas", writers)},
		{"assign_r3_ratio", r.AssignR3Ratio, nil, "assign / append, 3 replicas"},
		{"list_per_s", r.ListPerS, nil, fmt.Sprintf("%d clients, %d active cases, %d agents", listClients, sc.activeCases, sc.agents)},
		{"list_p50_ms", r.ListP50Ms, nil, ""},
		{"list_p99_ms", r.ListP99Ms, at(false, 2), ""},
		{"list_ratio_static", r.ListRatioStatic, at(true, 0.5), "listing / static handler"},
		{"static_p99_ms", r.StaticP99Ms, nil, "the static handler, same clients and bytes"},
		{"lag_p50_ms", r.LagP50Ms, nil, "half the durable assign rate"},
		{"lag_p99_ms", r.LagP99Ms, at(false, 10), ""},
		{"replay_ratio", r.ReplayRatio, at(true, 0.6), fmt.Sprintf("rebuild / bare drain of %d events", r.replayEvents)},
		{"load_p50_ms", r.LoadP50Ms, nil, ""},
		{"load_p99_ms", r.LoadP99Ms, at(false, 1), fmt.Sprintf("%d events of %d per case written, %d in the stream", sc.loadEvents, sc.loadPerCase, r.loadStream)},
		{"bytes_per_active_case", r.BytesPerActiveCase, at(false, 1024), fmt.Sprintf("%d active cases", sc.memCases)},
	}
}

func writeTable(w io.Writer, r Results, sc scale) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "figure\tvalue\ttarget\tmet\tnote")
	for _, x := range rows(r, sc) {
		tgt, met, value := "", "", format(x.value)
		if x.target != nil {
			tgt, met = x.target.String(), "no"
			if x.target.met(x.value) {
				met = "yes"
			}
			// Rounded, a value just short of its target could read as meeting it.
			if shown, err := strconv.ParseFloat(value, 64); err == nil && x.target.met(shown) != x.target.met(x.value) {
				value = strconv.FormatFloat(x.value, 'g', -1, 64)
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", x.key, value, tgt, met, x.note)
	}
	return tw.Flush()
}

func format(v float64) string {
	switch {
	case v >= 100:
		return fmt.Sprintf("%.0f", v)
	case v >= 1:
		return fmt.Sprintf("%.2f", v)
	default:
		return fmt.Sprintf("%.3f", v)
	}
}

// percentile returns the p-th percentile (0 < p <= 100) of samples by the nearest-rank
// method, in milliseconds. It sorts samples.
func percentile(samples []time.Duration, p float64) float64 {
	if len(samples) == 0 {
		return 0
	}
	slices.Sort(samples)
	rank := int(math.Ceil(p / 100 * float64(len(samples))))
	rank = min(max(rank, 1), len(samples))
	return float64(samples[rank-1]) / float64(time.Millisecond)
}
