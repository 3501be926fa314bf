package projection

import (
	"context"
	"encoding/json"
	"fmt"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/casestream/casestream/events"
	"github.com/casestream/casestream/internal/eventstore"
)

// activeLog returns the records of n cases opened in unit u1 and each assigned to one of
// the given number of agents (agent-<i%agents>): 2n records.
func activeLog(tb testing.TB, n, agents int) []eventstore.Record {
	tb.Helper()
	recs := make([]eventstore.Record, 0, 2*n)
	at := t0
	for i := 1; i <= n; i++ {
		id := int64(i)
		at = at.Add(time.Millisecond)
		o := opened(id, "u1", fmt.Sprintf("in%d", i%20), "")
		o.ServiceTypeID = fmt.Sprintf("00000000-0000-4000-8000-0000000000%02d", i%50)
		o.ServiceCategoryID = fmt.Sprintf("00000000-0000-4000-9000-0000000000%02d", i%10)
		recs = append(recs, caseRecord(tb, uint64(2*i-1), id, at, o))
		recs = append(recs, caseRecord(tb, uint64(2*i), id, at, toOperator(agentID(i%agents))))
	}
	return recs
}

func agentID(i int) string { return fmt.Sprintf("10000000-0000-4000-8000-%012d", i) }

func heapAlloc() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// TestMemoryPerActiveCase holds the model to at most 1 KiB of heap per active case, measured
// at 100k opened and assigned cases over 1k agents.
func TestMemoryPerActiveCase(t *testing.T) {
	const n = 100_000
	recs := activeLog(t, n, 1000)
	before := heapAlloc()
	m := NewModel()
	for _, r := range recs {
		m.Apply(r)
	}
	after := heapAlloc()
	runtime.KeepAlive(m)
	runtime.KeepAlive(recs)
	if got := len(m.ActiveCases(agentID(7), "u1")); got != n/1000 {
		t.Fatalf("got %d active cases for one agent, want %d", got, n/1000)
	}
	perCase := float64(int64(after)-int64(before)) / n
	t.Logf("heap per active case at %d cases: %.0f bytes", n, perCase)
	if perCase > 1024 {
		t.Errorf("got %.0f bytes of heap per active case, want at most 1024", perCase)
	}
}

var (
	benchLogOnce sync.Once
	benchLog     []eventstore.Record
)

// benchActiveLog is activeLog(100k cases, 1k agents), built once for all benchmarks.
func benchActiveLog(b *testing.B) []eventstore.Record {
	benchLogOnce.Do(func() { benchLog = activeLog(b, 100_000, 1000) })
	return benchLog
}

// BenchmarkActiveCases lists one agent's 100 active cases among 100k active cases of 1k
// agents: the model query, the listing with directory names, and its JSON encoding.
func BenchmarkActiveCases(b *testing.B) {
	d := demoDir(b)
	for i := range 1000 {
		d.define(
			events.Operator{UserID: agentID(i), DisplayName: fmt.Sprint("Agent ", i), Initials: "AG", Units: []string{"u1"}, Workspaces: []string{"ws1"}},
			events.AgentUnitSelected{UserID: agentID(i), UnitID: "u1"},
			events.AgentWorkspaceSelected{UserID: agentID(i), WorkspaceID: "ws1"},
		)
	}
	for i := range 20 {
		d.define(events.Inbox{InboxID: fmt.Sprintf("in%d", i), UnitID: "u1", Name: fmt.Sprint("Inbox ", i), ColorCode: "#112233"})
	}
	p := NewProjector(d)
	// A log of its own, dropped before measuring: the heap then holds what a projector
	// holds, and the collector's cost is a projector's.
	for _, r := range activeLog(b, 100_000, 1000) {
		p.ApplyCases(r)
	}
	runtime.GC()
	b.ReportAllocs()
	b.ResetTimer()
	var size int
	for i := 0; b.Loop(); i++ {
		res := p.ListActive(agentID(i % 1000))
		if res.Outcome != Listed {
			b.Fatalf("got %v, want listed", res.Outcome)
		}
		size = len(res.Cases)
	}
	b.ReportMetric(float64(size), "bytes/listing")
}

// BenchmarkApply rebuilds a model from 200k records (100k cases opened and assigned).
func BenchmarkApply(b *testing.B) {
	recs := benchActiveLog(b)
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	for b.Loop() {
		m := NewModel()
		for _, r := range recs {
			m.Apply(r)
		}
	}
	b.ReportMetric(float64(len(recs)*b.N)/time.Since(start).Seconds(), "events/s")
}

// BenchmarkServiceActiveCases is BenchmarkActiveCases over NATS: client, embedded server,
// micro service, and the raw listing passed back.
func BenchmarkServiceActiveCases(b *testing.B) {
	d := demoDir(b)
	for i := range 1000 {
		d.define(
			events.Operator{UserID: agentID(i), DisplayName: fmt.Sprint("Agent ", i), Units: []string{"u1"}, Workspaces: []string{"ws1"}},
			events.AgentUnitSelected{UserID: agentID(i), UnitID: "u1"},
			events.AgentWorkspaceSelected{UserID: agentID(i), WorkspaceID: "ws1"},
		)
	}
	p := NewProjector(d)
	for _, r := range activeLog(b, 100_000, 1000) {
		p.ApplyCases(r)
	}
	runtime.GC()
	c, _, _ := startService(b, p, time.Second)
	ctx := context.Background()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		res, err := c.ActiveCases(ctx, agentID(i%1000), p.Model().LastSeq(), 0)
		if err != nil || res.Outcome != Listed {
			b.Fatalf("got %v %v", res.Outcome, err)
		}
	}
}

// BenchmarkMarshalListing encodes a listing of 100 cases by hand and with encoding/json's
// reflection, for comparison.
func BenchmarkMarshalListing(b *testing.B) {
	cases := make([]ActiveCase, 100)
	for i := range cases {
		cases[i] = sampleCase(fmt.Sprintf("00000000-0000-4000-8000-%012d", i), 1772357400123+int64(i))
	}
	b.Run("hand", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			MarshalListing(cases)
		}
	})
	b.Run("encoding/json", func(b *testing.B) {
		plain := make([]plainActiveCase, len(cases))
		for i, c := range cases {
			plain[i] = plainActiveCase(c)
		}
		b.ReportAllocs()
		for b.Loop() {
			if _, err := json.Marshal(plain); err != nil {
				b.Fatal(err)
			}
		}
	})
}
