package eventstore

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/casestream/casestream/events"
)

// Commit paths of an Append, as AppendDuration labels them.
const (
	// PathAtomicBatch is an Append of several events, committed as one atomic batch (ADR-50).
	PathAtomicBatch = "atomic_batch"
	// PathSingle is an Append of one event, a plain publish.
	PathSingle = "single"
)

// The store's metrics. They are package-level, like UndecodableEvents, so that every store
// of a process adds to the same series; Collectors lists them for registration.
var (
	// AppendDuration times an Append from the call to its answer, by the path that committed it.
	AppendDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "casestream_store_append_duration_seconds",
		Help:    "Time from an Append call to the server's answer, by commit path (single, atomic_batch).",
		Buckets: []float64{.0002, .0005, .001, .002, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
	}, []string{"path"})
	// WrongLastSequence counts appends the server refused with 10071 (wrong last subject
	// sequence), by what reading the subject's last event showed: a conflict with another
	// writer, or a retry of an append that was stored (duplicate).
	WrongLastSequence = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "casestream_store_wrong_last_sequence_total",
		Help: "Appends refused for a wrong last subject sequence (10071), by outcome (conflict, duplicate).",
	}, []string{"outcome"})
	// DuplicateAppends counts Appends answered ErrDuplicate: the events were stored by an
	// earlier attempt, and nothing new was written (an idempotent replay).
	DuplicateAppends = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "casestream_store_duplicate_appends_total",
		Help: "Appends whose events an earlier attempt had stored: nothing new was written.",
	})
)

// Every known label value starts at zero, so that a rate or an alert sees the first event.
func init() {
	for _, p := range []string{PathSingle, PathAtomicBatch} {
		AppendDuration.WithLabelValues(p)
	}
	for _, o := range []string{"conflict", "duplicate"} {
		WrongLastSequence.WithLabelValues(o)
	}
	for _, s := range []string{events.StreamCases, events.StreamDirectory} {
		for _, r := range []string{ReaderFollow, ReaderLoad} {
			UndecodableEvents.WithLabelValues(s, r)
		}
	}
}

// Collectors returns the store's metrics, UndecodableEvents included.
func Collectors() []prometheus.Collector {
	return []prometheus.Collector{UndecodableEvents, AppendDuration, WrongLastSequence, DuplicateAppends}
}
