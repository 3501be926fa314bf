package projection

import (
	"bytes"
	"testing"
	"time"

	"github.com/casestream/casestream/events"
)

// TestListingCache checks that a listing is served from the cache while nothing it shows has
// changed, and encoded anew when one of the agent's cases or the directory changes.
func TestListingCache(t *testing.T) {
	p := demoProjector(t)
	first := p.ListActive("a").Cases
	again := p.ListActive("a").Cases
	if &first[0] != &again[0] {
		t.Errorf("an unchanged listing was encoded again")
	}
	seq := p.Model().LastSeq()
	step := func(what string, apply func(), wantChange bool) {
		t.Helper()
		before := p.ListActive("a").Cases
		apply()
		after := p.ListActive("a").Cases
		fresh := MarshalListing(Listing(p.Model().ActiveCases("a", "u1"), p.Directory()))
		if !bytes.Equal(after, fresh) {
			t.Fatalf("%s: cached listing differs from a fresh one\n got %s\nwant %s", what, after, fresh)
		}
		if changed := !bytes.Equal(before, after); changed != wantChange {
			t.Fatalf("%s: listing changed %v, want %v", what, changed, wantChange)
		}
	}
	at := t0.Add(time.Hour)
	step("a note on a listed case", func() {
		seq++
		p.ApplyCases(caseRecord(t, seq, 1, at, events.CaseNoteAdded{NoteID: 1, Description: "x"}))
	}, true)
	step("a waiting case changes", func() {
		seq++
		p.ApplyCases(caseRecord(t, seq, 3, at.Add(time.Minute), events.CaseNoteAdded{NoteID: 1, Description: "x"}))
	}, false)
	step("another agent takes the waiting case", func() {
		seq++
		p.ApplyCases(caseRecord(t, seq, 3, at.Add(2*time.Minute), events.CaseServiceStarted{AgentID: "b"}))
	}, false)
	step("a case moves to another agent", func() {
		seq++
		p.ApplyCases(caseRecord(t, seq, 2, at.Add(3*time.Minute), toOperator("b")))
	}, true)
	step("a unit is renamed", func() {
		p.ApplyDirectory(dirRecord(t, p.Directory().LastSeq()+1, events.Unit{UnitID: "u1", Name: "Renamed"}))
	}, true)
	step("the agent resolves the last case", func() {
		seq++
		p.ApplyCases(caseRecord(t, seq, 1, at.Add(4*time.Minute), events.CaseResolved{From: events.StatusActive}))
	}, true)
	if got := string(p.ListActive("a").Cases); got != "[]" {
		t.Fatalf("after the last case left: got %s, want []", got)
	}
}
