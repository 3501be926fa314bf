package natsauth_test

import (
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nkeys"

	"github.com/casestream/casestream/internal/golden"
	"github.com/casestream/casestream/internal/natsauth"
)

const (
	deployConfig = "../../deploy/nats-server.conf"
	beginMarker  = "# BEGIN permissions"
	endMarker    = "# END permissions"
)

// deployEnv names the environment variable of each identity's public key in the file.
var deployEnv = map[natsauth.Identity]string{
	natsauth.Service: "CASESTREAM_SERVICE_NKEY",
	natsauth.Reader:  "CASESTREAM_READER_NKEY",
	natsauth.Admin:   "CASESTREAM_ADMIN_NKEY",
}

// TestDeployConfig: the cluster's configuration file gives each identity exactly the
// permissions the embedded server gives it, and admits no one else.
func TestDeployConfig(t *testing.T) {
	if golden.Updating() {
		rewriteDeployConfig(t)
	}
	opts, pubs := parseDeployConfig(t)
	if opts.NoAuthUser != "" || len(opts.Users) != 0 {
		t.Errorf("no_auth_user %q and %d password users: want none", opts.NoAuthUser, len(opts.Users))
	}
	if got := len(opts.Nkeys); got != len(natsauth.Identities) {
		t.Errorf("users: got %d, want %d", got, len(natsauth.Identities))
	}
	seen := map[natsauth.Identity]bool{}
	for _, u := range opts.Nkeys {
		id, ok := pubs[u.Nkey]
		if !ok {
			t.Errorf("user %s: not one of the identities", u.Nkey)
			continue
		}
		seen[id] = true
		want, err := natsauth.Permissions(id)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(u.Permissions, want) {
			t.Errorf("%s's permissions in %s:\ngot  %s\nwant %s\n(go test ./internal/natsauth -run TestDeployConfig -update rewrites them)",
				id, deployConfig, renderPermissions("got", orEmpty(u.Permissions)), renderPermissions("want", orEmpty(want)))
		}
		if u.Account == nil || u.Account.Name != "CASESTREAM" {
			t.Errorf("%s's account: got %v, want CASESTREAM", id, u.Account)
		}
	}
	for _, id := range natsauth.Identities {
		if !seen[id] {
			t.Errorf("%s: no user in %s", id, deployConfig)
		}
	}
}

// TestDeployConfigSyncAlways: the cluster's nodes fsync a stream's Raft log before an entry
// counts towards the majority that acknowledges it (sync_interval: always), as the embedded
// server fsyncs before it acknowledges. nats-server's default, a sync every two minutes,
// loses acknowledged events when a majority of the nodes lose power together.
func TestDeployConfigSyncAlways(t *testing.T) {
	opts, _ := parseDeployConfig(t)
	if !opts.SyncAlways {
		t.Errorf("%s: sync always false (sync interval %v), want jetstream { sync_interval: always }", deployConfig, opts.SyncInterval)
	}
}

// parseDeployConfig parses the cluster's configuration file as a node does, with a fresh
// public key in each identity's environment variable; it returns the options and the
// identity of each key.
func parseDeployConfig(t *testing.T) (*server.Options, map[string]natsauth.Identity) {
	t.Helper()
	pubs := map[string]natsauth.Identity{}
	for id, env := range deployEnv {
		kp, err := nkeys.CreateUser()
		if err != nil {
			t.Fatal(err)
		}
		pub, _ := kp.PublicKey()
		t.Setenv(env, pub)
		pubs[pub] = id
	}
	opts, err := server.ProcessConfigFile(deployConfig)
	if err != nil {
		t.Fatalf("parse %s: %v", deployConfig, err)
	}
	return opts, pubs
}

func orEmpty(p *server.Permissions) *server.Permissions {
	if p == nil {
		return &server.Permissions{}
	}
	return p
}

// rewriteDeployConfig writes the identities' permissions between the file's markers.
func rewriteDeployConfig(t *testing.T) {
	t.Helper()
	b, err := os.ReadFile(deployConfig)
	if err != nil {
		t.Fatal(err)
	}
	text := string(b)
	i, j := strings.Index(text, beginMarker), strings.Index(text, endMarker)
	if i < 0 || j < i {
		t.Fatalf("%s: no %q ... %q section", deployConfig, beginMarker, endMarker)
	}
	i += strings.IndexByte(text[i:], '\n') + 1
	var blocks []string
	for _, id := range []natsauth.Identity{natsauth.Service, natsauth.Reader} {
		p, err := natsauth.Permissions(id)
		if err != nil {
			t.Fatal(err)
		}
		blocks = append(blocks, renderPermissions(strings.ToUpper(string(id))+"_PERMISSIONS", p))
	}
	text = text[:i] + strings.Join(blocks, "\n") + text[j:]
	if err := os.WriteFile(deployConfig, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}
