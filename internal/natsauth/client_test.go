package natsauth_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"flag"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nkeys"

	"github.com/casestream/casestream/internal/eventstore"
	"github.com/casestream/casestream/internal/natsauth"
)

// startServer starts a nats-server with JetStream, configured by configure, whose users get
// the service's permissions.
func startServer(t *testing.T, configure func(*server.Options)) *server.Server {
	t.Helper()
	opts := &server.Options{Host: "127.0.0.1", Port: -1, JetStream: true, StoreDir: t.TempDir(), NoLog: true, NoSigs: true}
	configure(opts)
	s, err := server.NewServer(opts)
	if err != nil {
		t.Fatal(err)
	}
	s.Start()
	t.Cleanup(func() { s.Shutdown(); s.WaitForShutdown() })
	if !s.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats-server not ready")
	}
	return s
}

func servicePerms(t *testing.T) *server.Permissions {
	t.Helper()
	p, err := natsauth.Permissions(natsauth.Service)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// works connects with cfg and does what the service does first: create the log's streams
// and append to one, which its permissions (and inbox prefix) must allow.
func works(t *testing.T, url string, cfg natsauth.ClientConfig) {
	t.Helper()
	opts, err := cfg.Options()
	if err != nil {
		t.Fatalf("Options: %v", err)
	}
	nc, err := nats.Connect(url, opts...)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := eventstore.EnsureStreams(ctx, js, 1); err != nil {
		t.Fatalf("create streams: %v", err)
	}
	if _, err := js.Publish(ctx, "cases.1", []byte(`{}`)); err != nil {
		t.Fatalf("append: %v", err)
	}
}

// refused requires that connecting with cfg fails.
func refused(t *testing.T, url string, cfg natsauth.ClientConfig) {
	t.Helper()
	opts, err := cfg.Options()
	if err != nil {
		return
	}
	nc, err := nats.Connect(url, opts...)
	if err == nil {
		nc.Close()
		t.Fatal("connect: got nil error, want a refusal")
	}
}

func write(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestUserPassword(t *testing.T) {
	s := startServer(t, func(o *server.Options) {
		o.Users = []*server.User{{Username: "casestream", Password: "s3cret pass", Permissions: servicePerms(t)}}
	})
	t.Run("password", func(t *testing.T) {
		works(t, s.ClientURL(), natsauth.ClientConfig{User: "casestream", Password: "s3cret pass"})
	})
	t.Run("password file", func(t *testing.T) {
		works(t, s.ClientURL(), natsauth.ClientConfig{User: "casestream", PasswordFile: write(t, "pw", "s3cret pass\n")})
	})
	t.Run("wrong password", func(t *testing.T) {
		refused(t, s.ClientURL(), natsauth.ClientConfig{User: "casestream", PasswordFile: write(t, "pw", "s3cret\n")})
	})
	t.Run("none", func(t *testing.T) { refused(t, s.ClientURL(), natsauth.ClientConfig{}) })
}

func TestNkey(t *testing.T) {
	kp, err := nkeys.CreateUser()
	if err != nil {
		t.Fatal(err)
	}
	pub, _ := kp.PublicKey()
	seed, _ := kp.Seed()
	s := startServer(t, func(o *server.Options) {
		o.Nkeys = []*server.NkeyUser{{Nkey: pub, Permissions: servicePerms(t)}}
	})
	// The seed followed by its public key, as deploy/secrets.sh writes it (nk -pubout).
	works(t, s.ClientURL(), natsauth.ClientConfig{Nkey: write(t, "service.nk", string(seed)+"\n"+pub+"\n")})

	other, _ := nkeys.CreateUser()
	otherSeed, _ := other.Seed()
	refused(t, s.ClientURL(), natsauth.ClientConfig{Nkey: write(t, "other.nk", string(otherSeed))})
	if _, err := (natsauth.ClientConfig{Nkey: write(t, "bad.nk", "not a seed")}).Options(); err == nil {
		t.Error("Options with a file holding no seed: got nil error, want one")
	}
}

// pki is a CA, a server certificate for 127.0.0.1 and a client certificate, in PEM files.
type pki struct {
	ca, serverCert, serverKey, clientCert, clientKey string
}

func newPKI(t *testing.T) pki {
	t.Helper()
	dir := t.TempDir()
	save := func(name, typ string, der []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	key := func() *ecdsa.PrivateKey {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	now := time.Now()
	caKey := key()
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "casestream test CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	leaf := func(name string, serial int64, usage x509.ExtKeyUsage, ips []net.IP) (string, string) {
		k := key()
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: name},
			NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour),
			KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{usage}, IPAddresses: ips,
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &k.PublicKey, caKey)
		if err != nil {
			t.Fatal(err)
		}
		kder, err := x509.MarshalECPrivateKey(k)
		if err != nil {
			t.Fatal(err)
		}
		return save(name+".pem", "CERTIFICATE", der), save(name+"-key.pem", "EC PRIVATE KEY", kder)
	}
	p := pki{ca: save("ca.pem", "CERTIFICATE", caDER)}
	p.serverCert, p.serverKey = leaf("server", 2, x509.ExtKeyUsageServerAuth, []net.IP{net.ParseIP("127.0.0.1")})
	p.clientCert, p.clientKey = leaf("casestream", 3, x509.ExtKeyUsageClientAuth, nil)
	return p
}

// TestTLS: a server that verifies client certificates and maps the certificate's subject to
// the service's user; the client verifies the server with -nats-ca.
func TestTLS(t *testing.T) {
	p := newPKI(t)
	tc, err := server.GenTLSConfig(&server.TLSConfigOpts{CertFile: p.serverCert, KeyFile: p.serverKey, CaFile: p.ca, Verify: true})
	if err != nil {
		t.Fatal(err)
	}
	s := startServer(t, func(o *server.Options) {
		o.TLSConfig, o.TLS, o.TLSVerify, o.TLSMap = tc, true, true, true
		o.Users = []*server.User{{Username: "CN=casestream", Permissions: servicePerms(t)}}
	})
	url := "tls://" + s.Addr().String()
	t.Run("client certificate", func(t *testing.T) {
		works(t, url, natsauth.ClientConfig{CA: p.ca, Cert: p.clientCert, Key: p.clientKey})
	})
	t.Run("no client certificate", func(t *testing.T) {
		refused(t, url, natsauth.ClientConfig{CA: p.ca})
	})
	t.Run("server not verified", func(t *testing.T) {
		// Without -nats-ca the system roots do not know the test CA.
		refused(t, url, natsauth.ClientConfig{Cert: p.clientCert, Key: p.clientKey})
	})
}

func TestFlags(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		env     map[string]string
		want    natsauth.ClientConfig
		wantErr bool
	}{
		{name: "none", want: natsauth.ClientConfig{}},
		{name: "flags", args: []string{"-nats-nkey", "s.nk", "-nats-ca", "ca.pem", "-nats-cert", "c.pem", "-nats-key", "k.pem"},
			want: natsauth.ClientConfig{Nkey: "s.nk", CA: "ca.pem", Cert: "c.pem", Key: "k.pem"}},
		{name: "environment", env: map[string]string{"CASESTREAM_NATS_USER": "u", "CASESTREAM_NATS_PASSWORD_FILE": "/run/secrets/pw", "CASESTREAM_NATS_CREDS": ""},
			want: natsauth.ClientConfig{User: "u", PasswordFile: "/run/secrets/pw"}},
		{name: "flag wins", args: []string{"-nats-creds", "b.creds"}, env: map[string]string{"CASESTREAM_NATS_CREDS": "a.creds"},
			want: natsauth.ClientConfig{Creds: "b.creds"}},
		{name: "two ways", args: []string{"-nats-creds", "a.creds", "-nats-nkey", "s.nk"}, wantErr: true},
		{name: "password without user", args: []string{"-nats-password", "p"}, wantErr: true},
		{name: "password twice", args: []string{"-nats-user", "u", "-nats-password", "p", "-nats-password-file", "f"}, wantErr: true},
		{name: "certificate without key", args: []string{"-nats-cert", "c.pem"}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var c natsauth.ClientConfig
			fs := flag.NewFlagSet("test", flag.ContinueOnError)
			c.Flags(fs, "CASESTREAM", func(k string) (string, bool) { v, ok := tt.env[k]; return v, ok })
			if err := fs.Parse(tt.args); err != nil {
				t.Fatal(err)
			}
			err := c.Validate()
			if (err != nil) != tt.wantErr {
				t.Fatalf("Validate: got %v, want error %v", err, tt.wantErr)
			}
			if !tt.wantErr && !reflect.DeepEqual(c, tt.want) {
				t.Errorf("got %+v, want %+v", c, tt.want)
			}
		})
	}
}
