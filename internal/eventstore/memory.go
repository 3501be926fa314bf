package eventstore

import (
	"context"
	"fmt"
	"sync"

	"github.com/casestream/casestream/events"
)

// Memory is a Store held in process memory, for tests. It keeps one sequence across all
// subjects, as a stream does, and remembers every event id for deduplication.
type Memory struct {
	mu       sync.Mutex // guards seq, subjects and ids
	seq      uint64
	subjects map[string][]Record
	ids      map[string]bool
}

var _ Store = (*Memory)(nil)

// NewMemory returns an empty Memory store.
func NewMemory() *Memory {
	return &Memory{subjects: map[string][]Record{}, ids: map[string]bool{}}
}

// Load implements Store.
func (m *Memory) Load(ctx context.Context, subject string, after uint64) ([]Record, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []Record
	for _, r := range m.subjects[subject] {
		if r.Seq > after {
			out = append(out, r)
		}
	}
	return out, nil
}

// Append implements Store.
func (m *Memory) Append(ctx context.Context, subject string, expected uint64, envs []events.Envelope) (uint64, error) {
	if len(envs) == 0 {
		return 0, fmt.Errorf("eventstore: append of no events to %s", subject)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	recs := m.subjects[subject]
	var last uint64
	if n := len(recs); n > 0 {
		last = recs[n-1].Seq
	}
	if m.ids[envs[0].ID] {
		return last, ErrDuplicate
	}
	if last != expected {
		return 0, ErrConflict
	}
	for _, env := range envs {
		m.seq++
		m.ids[env.ID] = true
		recs = append(recs, Record{Seq: m.seq, Envelope: env})
	}
	m.subjects[subject] = recs
	return m.seq, nil
}

// LastSeqsOf returns the sequence of the last event of each of subjects that has one, as
// JetStream.LastSeqsOf does.
func (m *Memory) LastSeqsOf(ctx context.Context, subjects []string) (map[string]uint64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make(map[string]uint64, len(subjects))
	for _, subj := range subjects {
		if recs := m.subjects[subj]; len(recs) > 0 {
			out[subj] = recs[len(recs)-1].Seq
		}
	}
	return out, nil
}

// LastSeq returns the sequence of the last event stored on any subject.
func (m *Memory) LastSeq() uint64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.seq
}
