package cases

import "github.com/prometheus/client_golang/prometheus"

// The command side's metrics, package-level so that every Service of a process adds to the
// same series; Collectors lists them, and CacheCollector the per-Service cache size.
var (
	// DecideRounds counts decide-append rounds: one per append a command attempted.
	DecideRounds = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "casestream_command_decide_rounds_total",
		Help: "Decide-append rounds of case commands: one per append attempted.",
	})
	// Conflicts counts rounds lost to another writer (the case had moved on) and rounds
	// answered as a duplicate of an earlier attempt.
	Conflicts = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "casestream_command_conflicts_total",
		Help: "Decide-append rounds that had to reload the case, by kind (conflict: another writer appended first; duplicate: an earlier attempt was stored).",
	}, []string{"kind"})
	// CacheLookups counts the case-state cache's lookups by a command or a read: a hit
	// needs to load only the events after the cached state, a miss loads the whole case.
	CacheLookups = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "casestream_case_cache_lookups_total",
		Help: "Case-state cache lookups, by result (hit: only newer events loaded; miss: the whole case loaded).",
	}, []string{"result"})
)

// Every known label value starts at zero, so that a rate or an alert sees the first event.
func init() {
	Conflicts.WithLabelValues("conflict")
	Conflicts.WithLabelValues("duplicate")
	CacheLookups.WithLabelValues("hit")
	CacheLookups.WithLabelValues("miss")
}

// Collectors returns the command side's package-level metrics.
func Collectors() []prometheus.Collector {
	return []prometheus.Collector{DecideRounds, Conflicts, CacheLookups}
}

// CacheCollector returns a gauge of the number of cases whose state s caches.
func (s *Service) CacheCollector() prometheus.Collector {
	return prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "casestream_case_cache_entries",
		Help: "Cases whose state the command side caches.",
	}, func() float64 {
		s.mu.Lock()
		defer s.mu.Unlock()
		return float64(len(s.entries))
	})
}

// countLookup counts a cache lookup of an entry whose state was loaded up to seq (0: never).
func countLookup(seq uint64) {
	if seq == 0 {
		CacheLookups.WithLabelValues("miss").Inc()
		return
	}
	CacheLookups.WithLabelValues("hit").Inc()
}
