package projection

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"

	"github.com/casestream/casestream/events"
	"github.com/casestream/casestream/internal/eventstore"
	"github.com/casestream/casestream/internal/eventually"
)

// gathered returns the value of the sample of name with the given label values (in the
// order of the label names, sorted), and whether there is one.
func gathered(t *testing.T, reg *prometheus.Registry, name string, labels ...string) (float64, bool) {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	next:
		for _, m := range mf.GetMetric() {
			for i, l := range m.GetLabel() {
				if i >= len(labels) || l.GetValue() != labels[i] {
					continue next
				}
			}
			return m.GetGauge().GetValue(), true
		}
	}
	return 0, false
}

// TestCollector checks the projector's position against the stream before and after it
// applies the stream (lag in events), and the counts of open cases and agents by unit.
func TestCollector(t *testing.T) {
	nc := startNATS(t)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := eventstore.EnsureStreams(ctx, js, 1); err != nil {
		t.Fatal(err)
	}
	store := eventstore.NewJetStream(js, eventstore.JetStreamOptions{})
	defer store.Close()
	for i, unit := range []string{"u1", "u1", "u2"} {
		id := int64(i + 1)
		env, err := events.Wrap(events.Meta{ID: caseUUID(id), Subject: events.CaseSubject(id), OccurredAt: time.Now()}, opened(id, unit, "in-1", ""))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := store.Append(ctx, events.CaseSubject(id), 0, []events.Envelope{env}); err != nil {
			t.Fatal(err)
		}
	}
	dir := newDir(t)
	dir.define(events.AgentUnitSelected{UserID: "a", UnitID: "u1"}, events.AgentUnitSelected{UserID: "b", UnitID: "u1"})
	p := NewProjector(dir)
	reg := prometheus.NewRegistry()
	reg.MustRegister(NewCollector(p, js))

	check := func(name string, want float64, labels ...string) {
		t.Helper()
		got, ok := gathered(t, reg, name, labels...)
		if !ok || got != want {
			t.Errorf("%s%v: got %v (present %v), want %v", name, labels, got, ok, want)
		}
	}
	check("casestream_stream_last_sequence", 3, events.StreamCases)
	check("casestream_stream_messages", 3, events.StreamCases)
	check("casestream_projection_applied_sequence", 0, events.StreamCases)
	check("casestream_projection_lag_events", 3, events.StreamCases)
	if _, ok := gathered(t, reg, "casestream_projection_open_cases", events.StatusWaiting, "u1"); ok {
		t.Error("open cases before any apply: got a sample, want none")
	}
	check("casestream_projection_agents_with_unit", 2, "u1")

	if _, err := eventstore.Replay(ctx, js, events.StreamCases, p.ApplyCases); err != nil {
		t.Fatal(err)
	}
	check("casestream_projection_applied_sequence", 3, events.StreamCases)
	check("casestream_projection_lag_events", 0, events.StreamCases)
	check("casestream_projection_open_cases", 2, events.StatusWaiting, "u1")
	check("casestream_projection_open_cases", 1, events.StatusWaiting, "u2")
	if got, _ := gathered(t, reg, "casestream_stream_bytes", events.StreamCases); got <= 0 {
		t.Errorf("stream bytes: got %v, want > 0", got)
	}
}

// TestReadWaitsAndLag checks that a read that has to wait is counted by how it ended, one
// that need not is not counted, and that a followed record's lag from its occurredAt is observed.
func TestReadWaitsAndLag(t *testing.T) {
	p := NewProjector(newDir(t))
	released, expired := ReadWaits.WithLabelValues("released"), ReadWaits.WithLabelValues("expired")
	r0, e0 := testutil.ToFloat64(released), testutil.ToFloat64(expired)

	if err := p.WaitFor(context.Background(), 0, 0); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	if err := p.WaitFor(ctx, 5, 0); err == nil {
		t.Fatal("wait for an unreached sequence: got nil, want the context's error")
	}
	if err := p.Reach(ctx, 5, 0); err == nil {
		t.Fatal("Reach of an unreached sequence: got nil, want the context's error")
	}
	done := make(chan error)
	go func() { done <- p.WaitFor(context.Background(), 1, 0) }()
	apply := ObserveLag(events.StreamCases, p.ApplyCases)
	hist := func() uint64 {
		var m dto.Metric
		if err := ApplyLag.WithLabelValues(events.StreamCases).(prometheus.Metric).Write(&m); err != nil {
			t.Fatal(err)
		}
		return m.GetHistogram().GetSampleCount()
	}
	h0 := hist()
	eventually.Check(t, 5*time.Second, time.Millisecond, func() error {
		p.mu.Lock()
		defer p.mu.Unlock()
		if len(p.waiters) != 1 {
			return fmt.Errorf("got %d waiters, want 1", len(p.waiters))
		}
		return nil
	})
	apply(eventstore.Record{Seq: 1, Envelope: events.Envelope{Subject: "cases.1", OccurredAt: time.Now().Add(-time.Second)}})
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if got := testutil.ToFloat64(expired) - e0; got != 1 {
		t.Errorf("expired waits: got %v more, want 1 (Reach is not counted)", got)
	}
	if got := testutil.ToFloat64(released) - r0; got != 1 {
		t.Errorf("released waits: got %v more, want 1 (a read that need not wait is not counted)", got)
	}
	if got := hist() - h0; got != 1 {
		t.Errorf("apply lag observations: got %d more, want 1", got)
	}
}
