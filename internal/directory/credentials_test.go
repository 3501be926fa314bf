package directory

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// countCompares makes d count its bcrypt comparisons.
func countCompares(d *Directory) *atomic.Int64 {
	var n atomic.Int64
	d.compare = func(hash, secret []byte) error {
		n.Add(1)
		return bcrypt.CompareHashAndPassword(hash, secret)
	}
	return &n
}

func TestVerifyOperator(t *testing.T) {
	_, d := bootstrapDemo(t)
	tests := []struct {
		name, email, password string
		want                  error
		wantUser              string
	}{
		{"right", "alice@example.com", "alice-password", nil, alice},
		{"email in another case", "ALICE@example.COM", "alice-password", nil, alice},
		{"wrong password", "alice@example.com", "bob-password", ErrBadCredentials, ""},
		{"password in another case", "alice@example.com", "ALICE-PASSWORD", ErrBadCredentials, ""},
		{"empty password", "alice@example.com", "", ErrBadCredentials, ""},
		{"unknown email", "mallory@example.com", "alice-password", ErrBadCredentials, ""},
		{"blocked, right password", "carol@example.com", "carol-password", ErrBlocked, ""},
		{"blocked, wrong password", "carol@example.com", "guess", ErrBadCredentials, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Twice: the second answer may come from the cache and must be the same.
			for range 2 {
				op, err := d.VerifyOperator(tt.email, tt.password)
				if !errors.Is(err, tt.want) || op.UserID != tt.wantUser {
					t.Fatalf("got %q, %v, want %q, %v", op.UserID, err, tt.wantUser, tt.want)
				}
			}
		})
	}
}

func TestVerifyTouchpointAndApplication(t *testing.T) {
	_, d := bootstrapDemo(t)
	tests := []struct {
		name string
		got  func() error
		want error
	}{
		{"touchpoint", func() error { return d.VerifyTouchpoint("demo-kiosk", "demo-kiosk-token") }, nil},
		{"touchpoint, wrong token", func() error { return d.VerifyTouchpoint("demo-kiosk", "demo-app-secret") }, ErrBadCredentials},
		{"unknown touchpoint", func() error { return d.VerifyTouchpoint("kiosk", "demo-kiosk-token") }, ErrBadCredentials},
		{"application", func() error { _, err := d.VerifyApplication("demo-app", "demo-app-secret"); return err }, nil},
		{"application, wrong secret", func() error { _, err := d.VerifyApplication("demo-app", "demo-kiosk-token"); return err }, ErrBadCredentials},
		{"unknown application", func() error { _, err := d.VerifyApplication("app", "demo-app-secret"); return err }, ErrBadCredentials},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for range 2 {
				if err := tt.got(); !errors.Is(err, tt.want) {
					t.Fatalf("got %v, want %v", err, tt.want)
				}
			}
		})
	}
}

func TestVerifyCache(t *testing.T) {
	store, d := bootstrapDemo(t)
	compares := countCompares(d)
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	d.creds.now = func() time.Time { return now }
	verify := func(password string, want error) {
		t.Helper()
		if _, err := d.VerifyOperator("bob@example.com", password); !errors.Is(err, want) {
			t.Fatalf("got %v, want %v", err, want)
		}
	}
	wantCompares := func(want int64) {
		t.Helper()
		if got := compares.Load(); got != want {
			t.Fatalf("bcrypt comparisons: got %d, want %d", got, want)
		}
	}

	verify("bob-password", nil)
	wantCompares(1)
	verify("bob-password", nil)
	verify("bob-password", nil)
	wantCompares(1) // cached

	verify("wrong", ErrBadCredentials)
	verify("wrong", ErrBadCredentials)
	wantCompares(3) // failures are never cached

	now = now.Add(defaultCacheTTL)
	verify("bob-password", nil)
	wantCompares(4) // expired

	// A new password changes the stored hash: the old one misses the cache at once.
	f := demoFile(t)
	f.Operators[1].Password = "bob-new-password"
	if _, err := Bootstrap(context.Background(), store, d, f, testOptions()); err != nil {
		t.Fatal(err)
	}
	before := compares.Load()
	verify("bob-password", ErrBadCredentials)
	verify("bob-new-password", nil)
	verify("bob-new-password", nil)
	wantCompares(before + 2)

	// Blocking shows at once, although the password is cached.
	f.Operators[1].Blocked = true
	if _, err := Bootstrap(context.Background(), store, d, f, testOptions()); err != nil {
		t.Fatal(err)
	}
	before = compares.Load()
	verify("bob-new-password", ErrBlocked)
	wantCompares(before)
}

func TestCredentialCacheBounded(t *testing.T) {
	c := newCredentialCache(time.Minute, 3)
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	c.now = func() time.Time { return now }
	keys := [][32]byte{Digest("a"), Digest("b"), Digest("c"), Digest("d"), Digest("e")}
	for _, k := range keys[:3] {
		c.add(k)
	}
	c.add(keys[3])
	c.add(keys[3]) // already present: evicts nothing
	if got := c.len(); got != 3 {
		t.Fatalf("full: got %d entries, want 3", got)
	}
	if !c.hit(keys[3]) {
		t.Error("the newest entry was evicted")
	}
	// Expired entries go first.
	now = now.Add(2 * time.Minute)
	c.add(keys[4])
	if got := c.len(); got != 1 || !c.hit(keys[4]) {
		t.Errorf("after expiry: got %d entries, want only the new one", got)
	}
}

func TestCacheKeyUnambiguous(t *testing.T) {
	if Digest("ab", "c") == Digest("a", "bc") {
		t.Error("different tuples share a key")
	}
	if Digest(secretOperator, "x", "s", "h") == Digest(secretTouchpoint, "x", "s", "h") {
		t.Error("different kinds share a key")
	}
}

// benchDirectory is the demo bootstrapped at bcrypt's default cost, as in production.
func benchDirectory(b *testing.B) *Directory {
	b.Helper()
	store := newSubjectLog(b)
	d := store.newDirectory()
	opts := testOptions()
	opts.BcryptCost = bcrypt.DefaultCost
	if _, err := Bootstrap(context.Background(), store, d, demoFile(b), opts); err != nil {
		b.Fatal(err)
	}
	return d
}

func BenchmarkVerifyOperatorCached(b *testing.B) {
	d := benchDirectory(b)
	if _, err := d.VerifyOperator("alice@example.com", "alice-password"); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for b.Loop() {
		if _, err := d.VerifyOperator("alice@example.com", "alice-password"); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerifyOperatorUncached(b *testing.B) {
	d := benchDirectory(b)
	d.creds.ttl = 0 // every entry is expired as soon as it is added
	for b.Loop() {
		if _, err := d.VerifyOperator("alice@example.com", "alice-password"); err != nil {
			b.Fatal(err)
		}
	}
}

// TestBootstrapWarmsCache checks that a restart's bootstrap, which verifies every secret of
// the file against its stored hash, leaves those verifications in the cache.
func TestBootstrapWarmsCache(t *testing.T) {
	store, _ := bootstrapDemo(t)
	d := store.rebuild(t) // a restart: the view from the stream, an empty cache
	compares := countCompares(d)
	if n, err := Bootstrap(context.Background(), store, d, demoFile(t), testOptions()); err != nil || n != 0 {
		t.Fatalf("restart: got %d, %v, want 0, nil", n, err)
	}
	if got := compares.Load(); got != 7 {
		t.Errorf("bcrypt comparisons of the restart: got %d, want 7 (one per secret)", got)
	}
	if _, err := d.VerifyOperator("dave@example.com", "dave-password"); err != nil {
		t.Fatal(err)
	}
	if err := d.VerifyTouchpoint("demo-kiosk", "demo-kiosk-token"); err != nil {
		t.Fatal(err)
	}
	if _, err := d.VerifyApplication("demo-app", "demo-app-secret"); err != nil {
		t.Fatal(err)
	}
	if got := compares.Load(); got != 7 {
		t.Errorf("bcrypt comparisons after the first sign-ins: got %d, want 7", got)
	}
}

// BenchmarkBootstrapUnchanged is a restart: the demo applied again at bcrypt's default
// cost, which costs one comparison per secret and writes nothing.
func BenchmarkBootstrapUnchanged(b *testing.B) {
	store := newSubjectLog(b)
	d := store.newDirectory()
	opts := testOptions()
	opts.BcryptCost = bcrypt.DefaultCost
	f := demoFile(b)
	if _, err := Bootstrap(context.Background(), store, d, f, opts); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		b.StopTimer()
		fresh := store.rebuild(b)
		b.StartTimer()
		if n, err := Bootstrap(context.Background(), store, fresh, f, opts); err != nil || n != 0 {
			b.Fatalf("got %d, %v", n, err)
		}
	}
}
