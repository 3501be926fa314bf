package directory

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"os"
	"reflect"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"golang.org/x/crypto/bcrypt"

	"github.com/casestream/casestream/internal/embedded/embeddedtest"

	"github.com/casestream/casestream/events"
	"github.com/casestream/casestream/internal/eventstore"
)

const demoPath = "../../examples/demo-directory.json"

// Ids of the demo file used across the tests.
const (
	downtown    = "5f0c6b1e-2d3a-4c8b-9e71-0a1b2c3d4e01"
	airport     = "5f0c6b1e-2d3a-4c8b-9e71-0a1b2c3d4e02"
	wsCounter   = "9c1d2e3f-4a5b-4c6d-8e7f-1a2b3c4d5e01"
	wsBack      = "9c1d2e3f-4a5b-4c6d-8e7f-1a2b3c4d5e02"
	wsArrivals  = "9c1d2e3f-4a5b-4c6d-8e7f-1a2b3c4d5e03"
	alice       = "e5f6a7b8-c9d0-4e1f-8a2b-4c5d6e7f8a01"
	bob         = "e5f6a7b8-c9d0-4e1f-8a2b-4c5d6e7f8a02"
	carol       = "e5f6a7b8-c9d0-4e1f-8a2b-4c5d6e7f8a03"
	dave        = "e5f6a7b8-c9d0-4e1f-8a2b-4c5d6e7f8a04"
	erin        = "e5f6a7b8-c9d0-4e1f-8a2b-4c5d6e7f8a05"
	demoApp     = "a7b8c9d0-e1f2-4a3b-8c4d-6e7f8a9b0c01"
	demoEntries = 2 + 3 + 3 + 3 + 2 + 4 + 5 + 2 + 1 + 1
	// demoSecrets are the secrets of the demo: 5 passwords, a token, a client secret.
	demoSecrets = 5 + 1 + 1
	// demoEvents is what bootstrapping the demo writes: an event per entry and per secret.
	demoEvents = demoEntries + demoSecrets
)

// demoFile parses the demo bootstrap file, fresh for each call so that tests may change it.
func demoFile(t testing.TB) *File {
	t.Helper()
	b, err := os.ReadFile(demoPath)
	if err != nil {
		t.Fatal(err)
	}
	f, err := Parse(b)
	if err != nil {
		t.Fatalf("parse demo: %v", err)
	}
	return f
}

// eventCount numbers the event ids of the tests: ids must be unique across a store.
var eventCount atomic.Int64

// testOptions are bootstrap options with a fixed clock and the cheapest bcrypt cost.
func testOptions() BootstrapOptions {
	return BootstrapOptions{
		Now:        func() time.Time { return time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC) },
		NewID:      func() string { return fmt.Sprintf("evt-%d", eventCount.Add(1)) },
		BcryptCost: bcrypt.MinCost,
	}
}

// subjectLog is a Store that remembers every subject appended to, so that a test can load
// the whole directory back, with the credentials bucket of an embedded server beside it:
// what a node stores.
type subjectLog struct {
	*eventstore.Memory
	js      jetstream.JetStream
	secrets *Secrets

	mu       sync.Mutex // guards subjects
	subjects map[string]bool
}

func newSubjectLog(t testing.TB) *subjectLog {
	t.Helper()
	js := startJetStream(t)
	return &subjectLog{Memory: eventstore.NewMemory(), js: js, secrets: openSecrets(t, js), subjects: map[string]bool{}}
}

// startJetStream starts an embedded server for the test.
func startJetStream(t testing.TB) jetstream.JetStream {
	t.Helper()
	_, nc := embeddedtest.Start(t)
	js := embeddedtest.JetStream(t, nc)
	return js
}

// openSecrets opens the credentials bucket on js, as a process starting does; the watch is
// stopped when the test ends.
func openSecrets(t testing.TB, js jetstream.JetStream) *Secrets {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := OpenSecrets(ctx, js, 1)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// newDirectory returns an empty Directory on the log's credentials bucket.
func (s *subjectLog) newDirectory() *Directory {
	d := New()
	d.UseSecrets(s.secrets)
	return d
}

func (s *subjectLog) Append(ctx context.Context, subject string, expected uint64, envs []events.Envelope) (uint64, error) {
	seq, err := s.Memory.Append(ctx, subject, expected, envs)
	if err == nil {
		s.mu.Lock()
		s.subjects[subject] = true
		s.mu.Unlock()
	}
	return seq, err
}

// records returns every record of s, in stream order.
func (s *subjectLog) records(t testing.TB) []eventstore.Record {
	t.Helper()
	s.mu.Lock()
	subjects := slices.Collect(maps.Keys(s.subjects))
	s.mu.Unlock()
	var all []eventstore.Record
	for _, subj := range subjects {
		recs, err := s.Load(context.Background(), subj, 0)
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, recs...)
	}
	slices.SortFunc(all, func(a, b eventstore.Record) int { return cmp.Compare(a.Seq, b.Seq) })
	return all
}

// rebuild loads every record of s into a fresh Directory on the log's credentials bucket,
// in stream order.
func (s *subjectLog) rebuild(t testing.TB) *Directory {
	t.Helper()
	d := s.newDirectory()
	for _, r := range s.records(t) {
		d.Apply(r)
	}
	return d
}

// bootstrapDemo applies the demo file to a fresh store and directory.
func bootstrapDemo(t testing.TB) (*subjectLog, *Directory) {
	t.Helper()
	store := newSubjectLog(t)
	d := store.newDirectory()
	if _, err := Bootstrap(context.Background(), store, d, demoFile(t), testOptions()); err != nil {
		t.Fatalf("bootstrap demo: %v", err)
	}
	return store, d
}

// snapshot is everything a Directory's view holds, for comparing two of them.
func snapshot(d *Directory) map[string]any {
	d.mu.RLock()
	defer d.mu.RUnlock()
	return map[string]any{
		"lastSeq": d.lastSeq, "subjectSeq": d.subjectSeq,
		"units": d.units, "inboxes": d.inboxes, "workspaces": d.workspaces,
		"services": d.services, "categories": d.categories, "types": d.types,
		"operators": d.operators, "groups": d.groups, "touchpoints": d.touchpoints,
		"applications": d.applications, "agents": d.agents,
		"operatorByEmail": d.operatorByEmail, "groupByName": d.groupByName,
		"categoryByCode": d.categoryByCode, "typeByCode": d.typeByCode,
		"appByClientID": d.appByClientID,
		"legacyHashes":  d.legacyHashes, "announced": d.announced,
	}
}

func sameView(t testing.TB, got, want *Directory) {
	t.Helper()
	g, w := snapshot(got), snapshot(want)
	for k := range w {
		if !reflect.DeepEqual(g[k], w[k]) {
			t.Errorf("%s: got %v, want %v", k, g[k], w[k])
		}
	}
}

// record wraps ev as the record of seq on the entity's subject.
func record(t testing.TB, seq uint64, kind, id string, ev events.Event) eventstore.Record {
	t.Helper()
	env, err := events.Wrap(events.Meta{
		ID:      fmt.Sprintf("rec-%d", seq),
		Subject: events.DirectorySubject(kind, events.SubjectToken(id)),
	}, ev)
	if err != nil {
		t.Fatal(err)
	}
	return eventstore.Record{Seq: seq, Envelope: env}
}
