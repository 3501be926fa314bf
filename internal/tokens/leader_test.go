package tokens

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/casestream/casestream/internal/embedded/embeddedtest"
	"github.com/casestream/casestream/internal/eventually"
	"github.com/casestream/casestream/internal/natsauth"
)

// TestLookupConfirmsNotFoundWithTheLeader gives the bucket a stale replica: a mirror that
// answers the bucket's direct gets, about half of them, and holds only the first token.
// Every token issued afterwards is found at once all the same, a revoked one is not, and
// one never issued is not.
func TestLookupConfirmsNotFoundWithTheLeader(t *testing.T) {
	ns, nc := embeddedtest.Start(t)
	js := embeddedtest.JetStream(t, nc)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	const name = "CASESTREAM_TOKENS"
	b, err := Open(ctx, js, name, time.Hour, 1)
	if err != nil {
		t.Fatal(err)
	}
	seed, err := b.Issue(ctx, []byte("seed"))
	if err != nil {
		t.Fatal(err)
	}
	admin := embeddedtest.JetStream(t, embeddedtest.Connect(t, ns, natsauth.Admin))
	// A mirror answers direct gets once it has copied a message.
	if _, err := admin.CreateStream(ctx, jetstream.StreamConfig{
		Name:         "KV_" + name + "_STALE",
		Mirror:       &jetstream.StreamSource{Name: "KV_" + name, FilterSubject: "$KV." + name + "." + key(seed)},
		MirrorDirect: true,
	}); err != nil {
		t.Fatal(err)
	}
	eventually.Check(t, 10*time.Second, 10*time.Millisecond, func() error {
		st, err := admin.Stream(ctx, "KV_"+name+"_STALE")
		if err != nil {
			return err
		}
		if n := st.CachedInfo().State.Msgs; n != 1 {
			return fmt.Errorf("mirror: got %d messages, want 1", n)
		}
		return nil
	})

	for i := range 24 {
		v := fmt.Sprint("user-", i)
		tok, err := b.Issue(ctx, []byte(v))
		if err != nil {
			t.Fatal(err)
		}
		got, err := b.Lookup(ctx, tok)
		if err != nil || string(got) != v {
			t.Errorf("lookup of token %d just issued: got %q, %v; want %q", i, got, err, v)
		}
		if i%4 == 0 {
			if err := b.Revoke(ctx, tok); err != nil {
				t.Fatal(err)
			}
			if _, err := b.Lookup(ctx, tok); !errors.Is(err, ErrNotFound) {
				t.Errorf("lookup of token %d revoked: got %v, want %v", i, err, ErrNotFound)
			}
		}
	}
	if _, err := b.Lookup(ctx, "never-issued"); !errors.Is(err, ErrNotFound) {
		t.Errorf("lookup of a token never issued: got %v, want %v", err, ErrNotFound)
	}
}
