package projection

import (
	"fmt"
	"testing"
	"time"

	"github.com/casestream/casestream/events"
	"github.com/casestream/casestream/internal/directory"
	"github.com/casestream/casestream/internal/eventstore"
)

// testDir is the directory view the programs use, with define for the tests' fixtures.
type testDir struct {
	*directory.Directory
	tb testing.TB
}

func newDir(tb testing.TB) testDir { return testDir{directory.New(), tb} }

// define applies evs as the DIRECTORY records after the view's last sequence.
func (d testDir) define(evs ...events.Event) {
	d.tb.Helper()
	for _, ev := range evs {
		d.Apply(dirRecord(d.tb, d.LastSeq()+1, ev))
	}
}

// t0 is the time of the first event of the tests.
var t0 = time.Date(2026, 3, 1, 9, 30, 0, 0, time.UTC)

// caseRecord wraps ev as the record at seq on the subject of case id.
func caseRecord(tb testing.TB, seq uint64, id int64, at time.Time, ev events.Event) eventstore.Record {
	tb.Helper()
	return record(tb, seq, fmt.Sprintf("ev-%d", seq), events.CaseSubject(id), at, ev)
}

// dirRecord wraps a directory event as the record at seq, on a subject of its own.
func dirRecord(tb testing.TB, seq uint64, ev events.Event) eventstore.Record {
	tb.Helper()
	return record(tb, seq, fmt.Sprintf("dir-%d", seq), events.DirectorySubject("test", fmt.Sprint(seq)), t0, ev)
}

func record(tb testing.TB, seq uint64, id, subject string, at time.Time, ev events.Event) eventstore.Record {
	tb.Helper()
	env, err := events.Wrap(events.Meta{
		ID: id, Subject: subject, OccurredAt: at,
		Actor: events.Actor{Kind: events.ActorSystem, ID: "test"},
	}, ev)
	if err != nil {
		tb.Fatalf("wrap: %v", err)
	}
	return eventstore.Record{Seq: seq, Envelope: env}
}

// feed applies case events to a model in order, one second apart from t0, numbering
// records from 1.
type feed struct {
	tb  testing.TB
	m   *Model
	seq uint64
	at  time.Time
}

func newFeed(tb testing.TB, m *Model) *feed { return &feed{tb: tb, m: m, at: t0} }

func (f *feed) apply(id int64, ev events.Event) uint64 {
	f.tb.Helper()
	f.seq++
	f.at = f.at.Add(time.Second)
	f.m.Apply(caseRecord(f.tb, f.seq, id, f.at, ev))
	return f.seq
}

// caseUUID returns a canonical uuid for case id.
func caseUUID(id int64) string {
	return fmt.Sprintf("00000000-0000-4000-8000-%012d", id)
}

func opened(id int64, unit, inbox, group string) events.CaseOpened {
	return events.CaseOpened{
		CaseInstanceID:    id,
		CaseID:            caseUUID(id),
		ServiceTypeID:     "type-1",
		ServiceCategoryID: "cat-1",
		ServiceID:         "svc-1",
		UnitID:            unit,
		InboxID:           inbox,
		Status:            events.StatusWaiting,
		AssignedGroup:     group,
		Ticket:            events.Ticket{Prefix: "A", Number: int(id)},
		Channel:           "FaceToFace",
		EntryMode:         "WalkIn",
	}
}

func toOperator(op string) events.CaseAssigned {
	return events.CaseAssigned{To: events.Assignment{OperatorID: op}, Status: events.StatusActive}
}

func toGroup(g string) events.CaseAssigned {
	return events.CaseAssigned{To: events.Assignment{GroupName: g}, Status: events.StatusWaiting}
}
