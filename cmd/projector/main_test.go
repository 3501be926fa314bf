package main

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/casestream/casestream/internal/embedded/embeddedtest"
	"github.com/casestream/casestream/internal/eventually"
	"github.com/casestream/casestream/internal/natsauth"
	"github.com/nats-io/nats.go"
)

// Demo identities, from examples/demo-directory.json.
const (
	appID    = "a7b8c9d0-e1f2-4a3b-8c4d-6e7f8a9b0c01"
	aliceID  = "e5f6a7b8-c9d0-4e1f-8a2b-4c5d6e7f8a01"
	downtown = "5f0c6b1e-2d3a-4c8b-9e71-0a1b2c3d4e01"
	tp       = "touchpoint=demo-kiosk&token=demo-kiosk-token"
)

// programs are the binaries the process tests run: built once, by the first test that needs
// one, in a single go build, into a directory that TestMain removes.
var programs = struct {
	once sync.Once
	dir  string
	out  []byte
	err  error
}{}

func TestMain(m *testing.M) {
	code := m.Run()
	if programs.dir != "" {
		_ = os.RemoveAll(programs.dir)
	}
	os.Exit(code)
}

// build returns the path of pkg's binary, one of nats-server, cmd/api, cmd/projector and
// cmd/casectl.
func build(t *testing.T, pkg string) string {
	t.Helper()
	programs.once.Do(func() {
		if programs.dir, programs.err = os.MkdirTemp("", "casestream-programs-"); programs.err != nil {
			return
		}
		cmd := exec.Command("go", "build", "-o", programs.dir+string(filepath.Separator), natsServerPkg, "./cmd/api", "./cmd/projector", "./cmd/casectl")
		cmd.Dir = "../.."
		programs.out, programs.err = cmd.CombinedOutput()
	})
	if programs.err != nil {
		t.Fatalf("go build: %v\n%s", programs.err, programs.out)
	}
	name := filepath.Base(pkg)
	if pkg == natsServerPkg {
		name = "nats-server"
	}
	out := filepath.Join(programs.dir, name)
	if _, err := os.Stat(out); err != nil {
		t.Fatalf("%s is not among the programs built: %v", pkg, err)
	}
	return out
}

// natsServerPkg is the nats-server main package, built from the module casestream depends on.
const natsServerPkg = "github.com/nats-io/nats-server/v2"

// freeAddr returns a loopback address with a port free at the time of the call.
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// process starts a binary and stops it with SIGTERM when the test ends (or when stop is called).
func process(t *testing.T, bin string, args ...string) (stop func()) {
	t.Helper()
	return processEnv(t, nil, bin, args...)
}

// processEnv is process with env added to the test's environment.
func processEnv(t *testing.T, env []string, bin string, args ...string) (stop func()) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), env...)
	logf, err := os.Create(filepath.Join(t.TempDir(), filepath.Base(bin)+".log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := false
	stop = func() {
		if done {
			return
		}
		done = true
		_ = cmd.Process.Signal(os.Interrupt)
		waited := make(chan error, 1)
		go func() { waited <- cmd.Wait() }()
		select {
		case err := <-waited:
			// nats-server ends by re-raising the signal; casestream's programs exit 0.
			if err != nil && !(filepath.Base(bin) == "nats-server" && strings.Contains(err.Error(), "signal")) {
				b, _ := os.ReadFile(logf.Name())
				t.Errorf("%s exited with %v:\n%s", filepath.Base(bin), err, b)
			}
		case <-time.After(15 * time.Second):
			_ = cmd.Process.Kill()
			t.Errorf("%s did not stop on SIGINT", filepath.Base(bin))
		}
	}
	t.Cleanup(stop)
	return stop
}

// projectors returns nil once want projector replicas answer a micro service ping.
func projectors(nc *nats.Conn, want int) error {
	sub, err := nc.SubscribeSync(nc.NewRespInbox())
	if err != nil {
		return err
	}
	defer sub.Unsubscribe()
	if err := nc.PublishRequest("$SRV.PING.casestream-projection", sub.Subject, nil); err != nil {
		return err
	}
	n := 0
	for {
		if _, err := sub.NextMsg(500 * time.Millisecond); err != nil {
			break
		}
		n++
	}
	if n != want {
		return fmt.Errorf("got %d projector replicas answering a ping, want %d", n, want)
	}
	return nil
}

func call(method, u, body string, hdr map[string]string) (int, string, error) {
	st, b, _, err := callFull(method, u, body, hdr)
	return st, b, err
}

func callWithHeaders(method, u, body string) (int, string, http.Header) {
	st, b, h, _ := callFull(method, u, body, nil)
	return st, b, h
}

func callFull(method, u, body string, hdr map[string]string) (int, string, http.Header, error) {
	r, err := http.NewRequest(method, u, strings.NewReader(body))
	if err != nil {
		return 0, "", nil, err
	}
	if body != "" && r.Header.Get("Content-Type") == "" {
		r.Header.Set("Content-Type", "application/json")
	}
	for k, v := range hdr {
		r.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(r)
	if err != nil {
		return 0, "", nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), resp.Header, err
}

// TestSeparateProcesses runs cmd/api with -projector=false and two cmd/projector processes as
// separate programs against one NATS server, then replaces the projectors with one started
// after all the writes, which must rebuild the same answers.
func TestSeparateProcesses(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("builds and runs binaries")
	}
	ns, _ := embeddedtest.Start(t)
	// The test watches as the admin: pinging the projectors is no part of the service's work.
	nc := embeddedtest.Connect(t, ns, natsauth.Admin)
	apiBin, projBin := build(t, "./cmd/api"), build(t, "./cmd/projector")
	natsURL, seed := ns.ClientURL(), ns.Keys.SeedFile(natsauth.Service)

	stopP1 := process(t, projBin, "-nats-url", natsURL, "-nats-nkey", seed, "-addr", "127.0.0.1:0")
	stopP2 := process(t, projBin, "-nats-url", natsURL, "-nats-nkey", seed, "-addr", "127.0.0.1:0")
	apiAddr := freeAddr(t)
	process(t, apiBin, "-nats-url", natsURL, "-nats-nkey", seed, "-addr", apiAddr, "-projector=false", "-directory", "../../examples/demo-directory.json")
	base := "http://" + apiAddr
	eventually.Check(t, 60*time.Second, 50*time.Millisecond, func() error {
		st, b, err := call("GET", base+"/readyz", "", nil)
		if err != nil || st != 200 {
			return fmt.Errorf("readyz: %d %s %v", st, b, err)
		}
		return nil
	})
	// Both projectors answer in one queue group: a ping reaches each.
	eventually.Check(t, 30*time.Second, 50*time.Millisecond, func() error { return projectors(nc, 2) })

	basic := map[string]string{"Authorization": "Basic " + basicAuth("alice@example.com", "alice-password")}
	st, b, err := call("POST", base+"/api/v4/cases?"+tp, `{"categoryCode":"ACCOUNTS","typeCode":"OPEN_ACCOUNT"}`, basic)
	if err != nil || st != 201 {
		t.Fatalf("create: %d %s %v", st, b, err)
	}
	var created struct {
		Case struct {
			ID     int64  `json:"id"`
			CaseID string `json:"caseId"`
		} `json:"case"`
	}
	if err := json.Unmarshal([]byte(b), &created); err != nil {
		t.Fatal(err)
	}
	if st, b, err = call("PUT", fmt.Sprintf("%s/api/v4/cases/%d/assignment?%s", base, created.Case.ID, tp), `{"email":"alice@example.com"}`, basic); err != nil || st != 201 {
		t.Fatalf("assign: %d %s %v", st, b, err)
	}
	bearer := demoAppBearer(t, base)
	agent := base + "/" + appID + "/agents/" + aliceID
	if st, b, err = call("POST", agent+"/units/_current", `{"unitId":"`+downtown+`"}`, bearer); err != nil || st != 200 {
		t.Fatalf("select unit: %d %s %v", st, b, err)
	}
	// Read your writes across processes: the listing reflects the assignment at once.
	st, first, err := call("GET", agent+"/activeCases", "", bearer)
	if err != nil || st != 200 || !strings.Contains(first, created.Case.CaseID) {
		t.Fatalf("listing: %d %s %v, want case %s", st, first, err, created.Case.CaseID)
	}

	// A projector started after every write rebuilds the same model from the log.
	stopP1()
	stopP2()
	process(t, projBin, "-nats-url", natsURL, "-nats-nkey", seed, "-addr", "127.0.0.1:0")
	eventually.Check(t, 30*time.Second, 50*time.Millisecond, func() error {
		st, again, err := call("GET", agent+"/activeCases", "", bearer)
		if err != nil || st != 200 {
			return fmt.Errorf("listing from the new projector: %d %s %v", st, again, err)
		}
		if again != first {
			return fmt.Errorf("rebuilt listing differs:\n got %s\nwant %s", again, first)
		}
		return nil
	})
}

// demoAppBearer gets a token for the demo application from the api at base, by client
// credentials, and returns the header that presents it.
func demoAppBearer(t *testing.T, base string) map[string]string {
	t.Helper()
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {"demo-app"}, "client_secret": {"demo-app-secret"}}
	st, b, err := call("POST", base+"/oauth2/token", form.Encode(), map[string]string{"Content-Type": "application/x-www-form-urlencoded"})
	if err != nil || st != 200 {
		t.Fatalf("token: %d %s %v", st, b, err)
	}
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	_ = json.Unmarshal([]byte(b), &tok)
	return map[string]string{"Authorization": "Bearer " + tok.AccessToken}
}

func basicAuth(user, pw string) string {
	return base64.StdEncoding.EncodeToString([]byte(user + ":" + pw))
}
