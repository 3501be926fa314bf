package idempotency

import (
	"context"
	"errors"
	"testing"

	"github.com/casestream/casestream/internal/embedded/embeddedtest"
)

// openStore starts a server and opens a store of one replica on it.
func openStore(t *testing.T) *Store {
	t.Helper()
	_, nc := embeddedtest.Start(t)
	js := embeddedtest.JetStream(t, nc)
	s, err := Open(context.Background(), js, 1)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestFirstAnswerWins(t *testing.T) {
	s := openStore(t)
	ctx := context.Background()
	k := Key("operator", "kiosk", "u1", "PUT", "/api/v4/cases/1/assignment", "key-1")
	if k == Key("operator", "kiosk", "u2", "PUT", "/api/v4/cases/1/assignment", "key-1") {
		t.Fatalf("keys of two operators are equal")
	}
	if Key("a", "bc") == Key("ab", "c") {
		t.Fatalf("keys are ambiguous")
	}
	if _, ok, err := s.Get(ctx, k); ok || err != nil {
		t.Fatalf("empty store: got %v, %v", ok, err)
	}
	first := Reply{Status: 201, ContentType: "application/json", Body: []byte(`{"a":1}`)}
	if err := s.Put(ctx, k, first); err != nil {
		t.Fatal(err)
	}
	if err := s.Put(ctx, k, Reply{Status: 400, Body: []byte(`{}`)}); err != nil {
		t.Fatal(err)
	}
	got, ok, err := s.Get(ctx, k)
	if err != nil || !ok || got.Status != 201 || string(got.Body) != `{"a":1}` || got.ContentType != first.ContentType {
		t.Fatalf("got %+v %v %v, want the first reply", got, ok, err)
	}
}

// TestSyncWrites: with SyncWrites, Put waits for a sync after it wrote a reply, and fails
// with it; a reply remembered already writes nothing and waits for nothing.
func TestSyncWrites(t *testing.T) {
	s := openStore(t)
	errSync := errors.New("sync failed")
	var syncs int
	s.SyncWrites(func(context.Context) error {
		syncs++
		if syncs > 1 {
			return errSync
		}
		return nil
	})
	ctx := context.Background()
	k := Key("operator", "kiosk", "u1", "POST", "/api/v4/cases", "key-1")
	if err := s.Put(ctx, k, Reply{Status: 201}); err != nil || syncs != 1 {
		t.Fatalf("put: got %v after %d syncs, want nil after 1", err, syncs)
	}
	if err := s.Put(ctx, k, Reply{Status: 400}); err != nil || syncs != 1 {
		t.Errorf("put of a remembered key: got %v after %d syncs, want nil after 1", err, syncs)
	}
	if err := s.Put(ctx, Key("other"), Reply{Status: 201}); !errors.Is(err, errSync) {
		t.Errorf("put with a failed sync: got %v, want its error", err)
	}
}
