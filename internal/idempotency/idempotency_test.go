package idempotency

import (
	"context"
	"testing"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/casestream/casestream/internal/embedded/embeddedtest"
)

func TestFirstAnswerWins(t *testing.T) {
	_, nc := embeddedtest.Start(t)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	s, err := Open(context.Background(), js, 1)
	if err != nil {
		t.Fatal(err)
	}
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
