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
)

func open(t *testing.T, ttl time.Duration) (*Bucket, jetstream.KeyValue) {
	t.Helper()
	_, nc := embeddedtest.Start(t)
	js := embeddedtest.JetStream(t, nc)
	// A bucket the service's NATS identity may write: the one the agent API uses.
	b, err := Open(context.Background(), js, "CASESTREAM_TOKENS", ttl, 1)
	if err != nil {
		t.Fatal(err)
	}
	kv, err := js.KeyValue(context.Background(), "CASESTREAM_TOKENS")
	if err != nil {
		t.Fatal(err)
	}
	return b, kv
}

func TestIssueLookupRevoke(t *testing.T) {
	b, kv := open(t, time.Hour)
	ctx := context.Background()
	tok, err := b.Issue(ctx, []byte(`{"userId":"u1"}`))
	if err != nil {
		t.Fatal(err)
	}
	if len(tok) != 43 {
		t.Errorf("token length: got %d, want 43 (256 bits, base64url)", len(tok))
	}
	got, err := b.Lookup(ctx, tok)
	if err != nil || string(got) != `{"userId":"u1"}` {
		t.Fatalf("lookup: got %s, %v", got, err)
	}
	// Only a hash of the token is stored.
	keys, err := kv.Keys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		if k == tok {
			t.Fatalf("the token itself is a key")
		}
	}
	other, _ := b.Issue(ctx, []byte("x"))
	if other == tok {
		t.Fatalf("two tokens are equal")
	}
	for _, bad := range []string{"", "nope", tok + "x", string(make([]byte, 300))} {
		if _, err := b.Lookup(ctx, bad); !errors.Is(err, ErrNotFound) {
			t.Errorf("lookup %q: got %v, want %v", bad, err, ErrNotFound)
		}
	}
	if err := b.Revoke(ctx, tok); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Lookup(ctx, tok); !errors.Is(err, ErrNotFound) {
		t.Fatalf("after revoke: got %v, want %v", err, ErrNotFound)
	}
	if err := b.Revoke(ctx, "never-issued"); err != nil {
		t.Fatalf("revoking an unknown token: %v", err)
	}
}

func TestMemoize(t *testing.T) {
	b, kv := open(t, time.Hour)
	b.Memoize(time.Minute)
	ctx := context.Background()
	tok, err := b.Issue(ctx, []byte("v"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Lookup(ctx, tok); err != nil {
		t.Fatal(err)
	}
	// Gone from the bucket behind its back: the memo still answers...
	if err := kv.Purge(ctx, key(tok)); err != nil {
		t.Fatal(err)
	}
	if v, err := b.Lookup(ctx, tok); err != nil || string(v) != "v" {
		t.Fatalf("memoized lookup: got %s, %v", v, err)
	}
	// ...but a revocation through the bucket is seen at once.
	if err := b.Revoke(ctx, tok); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Lookup(ctx, tok); !errors.Is(err, ErrNotFound) {
		t.Fatalf("after revoke: got %v, want %v", err, ErrNotFound)
	}
	// A memoized token still expires with its TTL.
	short, _ := open(t, 200*time.Millisecond)
	short.Memoize(time.Hour)
	tok, _ = short.Issue(ctx, []byte("v"))
	if _, err := short.Lookup(ctx, tok); err != nil {
		t.Fatal(err)
	}
	waitExpired(t, short, tok)
}

func TestExpiry(t *testing.T) {
	b, _ := open(t, 200*time.Millisecond)
	ctx := context.Background()
	tok, err := b.Issue(ctx, []byte("v"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Lookup(ctx, tok); err != nil {
		t.Fatalf("fresh token: %v", err)
	}
	waitExpired(t, b, tok)
}

// waitExpired waits until b no longer knows tok, issued with a TTL of 200 ms.
func waitExpired(t *testing.T, b *Bucket, tok string) {
	t.Helper()
	eventually.Check(t, 10*time.Second, 20*time.Millisecond, func() error {
		if _, err := b.Lookup(context.Background(), tok); !errors.Is(err, ErrNotFound) {
			return fmt.Errorf("token lookup with a 200ms TTL: got %v, want %v", err, ErrNotFound)
		}
		return nil
	})
}

// TestSyncRevocations: with SyncRevocations, Revoke waits for a sync after it forgot a
// token, and fails with it; issuing waits for none.
func TestSyncRevocations(t *testing.T) {
	b, _ := open(t, time.Hour)
	errSync := errors.New("sync failed")
	syncs := 0
	b.SyncRevocations(func(context.Context) error {
		syncs++
		return errSync
	})
	ctx := context.Background()
	tok, err := b.Issue(ctx, []byte(`{"userId":"u1"}`))
	if err != nil || syncs != 0 {
		t.Fatalf("issue: got %v after %d syncs, want nil after none", err, syncs)
	}
	if err := b.Revoke(ctx, tok); !errors.Is(err, errSync) || syncs != 1 {
		t.Errorf("revoke: got %v after %d syncs, want the sync's error after 1", err, syncs)
	}
}
