package httpapi

import (
	"fmt"
	"net/http/httptest"
	"net/netip"
	"testing"
	"time"
)

// TestAttemptsBoundedMemory floods the limits with distinct principals from distinct
// addresses: the buckets and the remembered successes stay within MaxTracked.
func TestAttemptsBoundedMemory(t *testing.T) {
	const maxTracked = 64
	a := newAttempts(AttemptLimits{
		PrincipalBurst: 2, PrincipalEvery: time.Hour, AddressBurst: 2, AddressEvery: time.Hour,
		MaxTracked: maxTracked, RememberGood: time.Hour,
	})
	for i := range 10 * maxTracked {
		addr := netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)})
		done, err := a.begin(principalOperator, fmt.Sprint("user", i), "secret", addr)
		if err != nil {
			t.Fatalf("attempt %d: got %v, want a first attempt allowed", i, err)
		}
		o := checkFailed
		if i%2 == 0 {
			o = checkPassed
		}
		done(o)
		if p, ad, g := a.len(); p > maxTracked || ad > maxTracked || g > maxTracked {
			t.Fatalf("after %d attempts: got %d principals, %d addresses, %d remembered, want at most %d each", i+1, p, ad, g, maxTracked)
		}
	}
}

// TestAttemptsPending counts checks still running against the bucket: with one token left,
// only one of many concurrent checks may start, and a success takes no token.
func TestAttemptsPending(t *testing.T) {
	a := newAttempts(AttemptLimits{
		PrincipalBurst: 2, PrincipalEvery: time.Hour, AddressBurst: 100, AddressEvery: time.Hour,
		MaxTracked: 100, RememberGood: time.Hour,
	})
	addr := netip.MustParseAddr("192.0.2.1")
	begin := func(secret string) (func(outcome), error) {
		return a.begin(principalOperator, "alice@example.com", secret, addr)
	}
	first, err := begin("a")
	if err != nil {
		t.Fatal(err)
	}
	first(checkFailed) // one token left
	running, err := begin("b")
	if err != nil {
		t.Fatalf("second check: got %v, want allowed", err)
	}
	if _, err := begin("c"); err == nil {
		t.Fatal("a third check while the second runs: got allowed, want refused")
	}
	running(checkPassed)
	if _, err := begin("c"); err != nil {
		t.Fatalf("after a success: got %v, want allowed (a success takes no token)", err)
	}
}

func TestClientAddr(t *testing.T) {
	proxies := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
	tests := []struct {
		name    string
		trusted []netip.Prefix
		remote  string
		xff     []string
		want    string
	}{
		{"no proxies", nil, "192.0.2.1:1234", []string{"198.51.100.1"}, "192.0.2.1"},
		{"untrusted remote", proxies, "192.0.2.1:1234", []string{"198.51.100.1"}, "192.0.2.1"},
		{"trusted remote", proxies, "10.1.2.3:1234", []string{"198.51.100.1"}, "198.51.100.1"},
		{"last untrusted hop", proxies, "10.1.2.3:1234", []string{"203.0.113.9, 198.51.100.1, 10.9.9.9"}, "198.51.100.1"},
		{"several headers", proxies, "10.1.2.3:1234", []string{"203.0.113.9", "198.51.100.1"}, "198.51.100.1"},
		{"malformed hop", proxies, "10.1.2.3:1234", []string{"nonsense, 10.9.9.9"}, "10.9.9.9"},
		{"only proxies", proxies, "10.1.2.3:1234", []string{"10.9.9.9"}, "10.9.9.9"},
		{"no header", proxies, "10.1.2.3:1234", nil, "10.1.2.3"},
		{"IPv6", nil, "[2001:db8::1]:1234", nil, "2001:db8::1"},
		{"IPv4-mapped", nil, "[::ffff:192.0.2.1]:1234", nil, "192.0.2.1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := newAttempts(AttemptLimits{TrustedProxies: tt.trusted})
			r := httptest.NewRequest("GET", "/", nil)
			r.RemoteAddr = tt.remote
			for _, v := range tt.xff {
				r.Header.Add("X-Forwarded-For", v)
			}
			if got := a.clientAddr(r).String(); got != tt.want {
				t.Errorf("got %s, want %s", got, tt.want)
			}
		})
	}
}

func TestRetryAfter(t *testing.T) {
	tests := []struct {
		in   time.Duration
		want string
	}{{0, "1"}, {time.Millisecond, "1"}, {time.Second, "1"}, {1500 * time.Millisecond, "2"}, {20 * time.Second, "20"}}
	for _, tt := range tests {
		if got := retryAfter(tt.in); got != tt.want {
			t.Errorf("retryAfter(%v): got %s, want %s", tt.in, got, tt.want)
		}
	}
}
