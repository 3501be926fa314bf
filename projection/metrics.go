package projection

import (
	"context"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/casestream/casestream/events"
	"github.com/casestream/casestream/internal/eventstore"
)

// The read side's package-level metrics; Collectors lists them, and NewCollector reports the
// state of one Projector.
var (
	// ApplyLag is the time from an event's occurredAt (stamped by the api just before its
	// append) to its apply by a following projector: what a reader waits for a write to
	// show. Replays at start are not observed.
	ApplyLag = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "casestream_projection_apply_lag_seconds",
		Help:    "Time from an event's occurredAt to its apply by a following projector, by stream.",
		Buckets: []float64{.0005, .001, .002, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
	}, []string{"stream"})
	// ReadWaits counts reads that had to wait for the projector to reach the position they
	// must reflect (read-your-writes), by how the wait ended: released when the projector got
	// there, expired when the wait's bound or the caller ended it first.
	ReadWaits = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "casestream_projection_read_waits_total",
		Help: "Reads that waited for the projector to catch up (read-your-writes), by result (released, expired).",
	}, []string{"result"})
	// RebuildDuration is how long the last rebuild of the model from the streams took.
	RebuildDuration = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "casestream_projection_rebuild_duration_seconds",
		Help: "Duration of the last rebuild of the read model from the CASES and DIRECTORY streams.",
	})
)

// Every known label value starts at zero, so that a rate or an alert sees the first event.
func init() {
	ReadWaits.WithLabelValues("released")
	ReadWaits.WithLabelValues("expired")
	ApplyLag.WithLabelValues(events.StreamCases)
	ApplyLag.WithLabelValues(events.StreamDirectory)
}

// Collectors returns the read side's package-level metrics.
func Collectors() []prometheus.Collector {
	return []prometheus.Collector{ApplyLag, ReadWaits, RebuildDuration}
}

// ObserveLag wraps a stream's apply func for live following: each record's lag from its
// occurredAt is observed in ApplyLag.
func ObserveLag(stream string, apply func(eventstore.Record)) func(eventstore.Record) {
	obs := ApplyLag.WithLabelValues(stream)
	return func(r eventstore.Record) {
		apply(r)
		if at := r.Envelope.OccurredAt; !at.IsZero() {
			obs.Observe(max(0, time.Since(at).Seconds()))
		}
	}
}

// streamInfoTimeout bounds the stream-info requests of one scrape.
const streamInfoTimeout = 2 * time.Second

// collector reports a Projector's position against its streams and the model's counts.
type collector struct {
	p  *Projector
	js jetstream.JetStream

	applied, last, msgs, bytes, lag, open, agents *prometheus.Desc
}

// NewCollector returns a collector of p's state: the sequence applied of each stream, each
// stream's last sequence, size and the lag between them (read from js at each scrape; left
// out when the server does not answer), the open cases by unit and status, and the agents
// with a current unit by unit. Unit label values are unitIds, bounded by the directory.
func NewCollector(p *Projector, js jetstream.JetStream) prometheus.Collector {
	d := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc(name, help, labels, nil)
	}
	return &collector{
		p: p, js: js,
		applied: d("casestream_projection_applied_sequence", "Last stream sequence the projector applied, by stream.", "stream"),
		last:    d("casestream_stream_last_sequence", "Last sequence of the stream, as the server reports it at the scrape.", "stream"),
		msgs:    d("casestream_stream_messages", "Messages in the stream.", "stream"),
		bytes:   d("casestream_stream_bytes", "Bytes the stream's messages take in the server's store.", "stream"),
		lag:     d("casestream_projection_lag_events", "Events stored in the stream and not yet applied by the projector.", "stream"),
		open:    d("casestream_projection_open_cases", "Open cases in the read model, by unit (unitId) and status (Waiting, Active, Pending).", "unit", "status"),
		agents:  d("casestream_projection_agents_with_unit", "Operators whose current unit is the unit (unitId).", "unit"),
	}
}

// Describe implements prometheus.Collector.
func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.applied, c.last, c.msgs, c.bytes, c.lag, c.open, c.agents} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *collector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), streamInfoTimeout)
	defer cancel()
	applied := map[string]uint64{events.StreamCases: c.p.model.LastSeq(), events.StreamDirectory: c.p.dir.LastSeq()}
	for _, name := range []string{events.StreamCases, events.StreamDirectory} {
		ch <- prometheus.MustNewConstMetric(c.applied, prometheus.GaugeValue, float64(applied[name]), name)
		if c.js == nil {
			continue
		}
		st, err := c.js.Stream(ctx, name)
		if err != nil {
			continue
		}
		info, err := st.Info(ctx)
		if err != nil {
			continue
		}
		s := info.State
		ch <- prometheus.MustNewConstMetric(c.last, prometheus.GaugeValue, float64(s.LastSeq), name)
		ch <- prometheus.MustNewConstMetric(c.msgs, prometheus.GaugeValue, float64(s.Msgs), name)
		ch <- prometheus.MustNewConstMetric(c.bytes, prometheus.GaugeValue, float64(s.Bytes), name)
		var lag uint64
		if s.LastSeq > applied[name] {
			lag = s.LastSeq - applied[name]
		}
		ch <- prometheus.MustNewConstMetric(c.lag, prometheus.GaugeValue, float64(lag), name)
	}
	for k, n := range c.p.model.OpenCases() {
		ch <- prometheus.MustNewConstMetric(c.open, prometheus.GaugeValue, float64(n), k.Unit, k.Status)
	}
	if d, ok := c.p.dir.(interface{ AgentsByUnit() map[string]int }); ok {
		for unit, n := range d.AgentsByUnit() {
			ch <- prometheus.MustNewConstMetric(c.agents, prometheus.GaugeValue, float64(n), unit)
		}
	}
}

// UnitStatus keys a count of open cases.
type UnitStatus struct {
	Unit, Status string
}

// OpenCases returns the number of open cases by unit and status.
func (m *Model) OpenCases() map[UnitStatus]int {
	m.mu.RLock()
	defer m.mu.RUnlock()
	out := map[UnitStatus]int{}
	for _, c := range m.cases {
		out[UnitStatus{c.unit.Value(), c.status.Value()}]++
	}
	return out
}
