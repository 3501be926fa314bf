package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/casestream/casestream/internal/eventually"
	"github.com/casestream/casestream/internal/natsauth"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// TestClusterTopology runs the production shape with real processes: three nats-server
// processes in a JetStream cluster configured by deploy/nats-server.conf (nkey users, no
// anonymous access), streams with three replicas, two api replicas with -projector=false and
// a projector, authenticated as the service with a seed file as docker-compose mounts it. A
// write on one api is read on the other at once, sessions and tokens issued by one are
// accepted by the other, and the service keeps working when one NATS node stops.
func TestClusterTopology(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("builds and runs a NATS cluster")
	}
	natsBin := build(t, natsServerPkg)
	apiBin, projBin := build(t, "./cmd/api"), build(t, "./cmd/projector")

	nodes := startNATS(t, natsBin, 3)
	natsURL := nodes.url()
	// Anonymous clients are refused.
	eventually.Check(t, 30*time.Second, 100*time.Millisecond, func() error {
		nc, err := nats.Connect(nodes.urls[0])
		if err == nil {
			nc.Close()
			t.Fatal("anonymous connection to the cluster: got nil error, want an authorization violation")
		}
		if !errors.Is(err, nats.ErrAuthorization) {
			return fmt.Errorf("anonymous connection: got %v, want %v", err, nats.ErrAuthorization)
		}
		return nil
	})
	// The test watches as the admin.
	nc := nodes.connect(t, "admin")
	js, _ := jetstream.New(nc)
	eventually.Check(t, 60*time.Second, 100*time.Millisecond, func() error {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		if !nc.IsConnected() {
			return fmt.Errorf("not connected to the cluster")
		}
		_, err := js.AccountInfo(ctx)
		return err
	})

	api1, api2 := freeAddr(t), freeAddr(t)
	apiArgs := func(addr string) []string {
		return []string{"-nats-url", natsURL, "-nats-nkey", nodes.seed("service"), "-addr", addr, "-replicas", "3", "-projector=false", "-directory", "../../examples/demo-directory.json"}
	}
	process(t, apiBin, apiArgs(api1)...)
	process(t, apiBin, apiArgs(api2)...)
	processEnv(t, []string{"CASESTREAM_NATS_NKEY=" + nodes.seed("service")}, projBin, "-nats-url", natsURL, "-addr", "127.0.0.1:0")
	for _, a := range []string{api1, api2} {
		eventually.Check(t, 90*time.Second, 100*time.Millisecond, func() error {
			st, b, err := call("GET", "http://"+a+"/readyz", "", nil)
			if err != nil || st != 200 {
				return fmt.Errorf("readyz %s: %d %s %v", a, st, b, err)
			}
			return nil
		})
	}
	eventually.Check(t, 90*time.Second, 100*time.Millisecond, func() error { return projectors(nc, 1) })
	info, err := js.Stream(context.Background(), "CASES")
	if err != nil {
		t.Fatal(err)
	}
	if r := info.CachedInfo().Config.Replicas; r != 3 {
		t.Fatalf("CASES replicas: got %d, want 3", r)
	}
	// The service and the reader may not delete the log; it is there afterwards with every
	// event (the api appended the directory's).
	for _, id := range []string{"service", "reader"} {
		auth, err := nats.NkeyOptionFromSeed(nodes.seed(id))
		if err != nil {
			t.Fatal(err)
		}
		violations := make(chan error, 8)
		opts := []nats.Option{auth, nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
			select {
			case violations <- err:
			default:
			}
		})}
		if id == "service" {
			opts = append(opts, nats.CustomInboxPrefix(natsauth.ServiceInboxPrefix))
		}
		c, err := nats.Connect(natsURL, opts...)
		if err != nil {
			t.Fatalf("connect as %s: %v", id, err)
		}
		cjs, _ := jetstream.New(c)
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		go func() { _ = cjs.DeleteStream(ctx, "DIRECTORY") }()
		if err := <-violations; !errors.Is(err, nats.ErrPermissionViolation) {
			t.Errorf("%s deletes DIRECTORY: got %v, want a permission violation", id, err)
		}
		cancel()
		c.Close()
	}
	dir, err := js.Stream(context.Background(), "DIRECTORY")
	if err != nil {
		t.Fatalf("DIRECTORY after the attempts to delete it: %v", err)
	}
	if dir.CachedInfo().State.Msgs == 0 {
		t.Error("DIRECTORY after the attempts to delete it: empty, want the directory's events")
	}

	// A session from api-1 works on api-2.
	st, b, err := call("POST", "http://"+api1+"/api/v4/signin?"+tp, `{"principal":"alice@example.com","password":"alice-password"}`, nil)
	if err != nil || st != 200 {
		t.Fatalf("signin: %d %s %v", st, b, err)
	}
	_, _, hdr := callWithHeaders("POST", "http://"+api1+"/api/v4/signin?"+tp, `{"principal":"alice@example.com","password":"alice-password"}`)
	cookie := map[string]string{"Cookie": strings.Split(hdr.Get("Set-Cookie"), ";")[0]}
	// A token from api-2 works on api-1.
	bearer := demoAppBearer(t, "http://"+api2)
	if st, b, err = call("POST", "http://"+api1+"/"+appID+"/agents/"+aliceID+"/units/_current", `{"unitId":"`+downtown+`"}`, bearer); err != nil || st != 200 {
		t.Fatalf("select unit on api-1 with api-2's token: %d %s %v", st, b, err)
	}

	round := func(name string, failover bool) {
		t.Helper()
		// Open on api-2 with api-1's session, assign on api-1, list on api-2. While the
		// cluster elects new leaders for what the stopped node led, a write may answer 503
		// with Retry-After: the client retries it, with the same Idempotency-Key, as the
		// contract says. With three nodes up, there is nothing to retry.
		write := func(method, u, body string) (int, string, error) {
			hdr := map[string]string{"Cookie": cookie["Cookie"], "Idempotency-Key": uuid.NewString()}
			if !failover {
				return call(method, u, body, hdr)
			}
			return callAsClient(t, 30*time.Second, method, u, body, hdr)
		}
		st, b, err := write("POST", "http://"+api2+"/api/v4/cases?"+tp, `{"categoryCode":"ACCOUNTS","typeCode":"OPEN_ACCOUNT"}`)
		if err != nil || st != 201 {
			t.Fatalf("%s: create on api-2 with api-1's session: %d %s %v", name, st, b, err)
		}
		var created struct {
			Case struct {
				ID     int64  `json:"id"`
				CaseID string `json:"caseId"`
			} `json:"case"`
		}
		_ = json.Unmarshal([]byte(b), &created)
		if st, b, err = write("PUT", fmt.Sprintf("http://%s/api/v4/cases/%d/assignment?%s", api1, created.Case.ID, tp), `{"email":"alice@example.com"}`); err != nil || st != 201 {
			t.Fatalf("%s: assign on api-1: %d %s %v", name, st, b, err)
		}
		listed := func() error {
			st, b, err := call("GET", "http://"+api2+"/"+appID+"/agents/"+aliceID+"/activeCases", "", bearer)
			if err != nil || st != 200 || !strings.Contains(b, created.Case.CaseID) {
				return fmt.Errorf("%s: listing on api-2 after the assignment on api-1: %d %s %v", name, st, b, err)
			}
			return nil
		}
		if !failover {
			// Read your writes, on the other replica: the listing holds the case, or answers
			// 503 while the projector is more than its wait behind (a loaded machine), and
			// the client retries. A 200 without the case is never right.
			eventually.Check(t, 30*time.Second, 100*time.Millisecond, func() error {
				st, b, err := call("GET", "http://"+api2+"/"+appID+"/agents/"+aliceID+"/activeCases", "", bearer)
				if err == nil && st == 200 && !strings.Contains(b, created.Case.CaseID) {
					t.Fatalf("%s: listing on api-2 after the assignment on api-1: 200 without the case: %s", name, b)
				}
				if err == nil && st == 503 {
					return fmt.Errorf("%s: listing on api-2: 503 %s", name, b)
				}
				if err != nil || st != 200 {
					t.Fatalf("%s: listing on api-2 after the assignment on api-1: %d %s %v", name, st, b, err)
				}
				return nil
			})
			return
		}
		// While the cluster moves the consumers of the stopped node, a listing may answer 503
		// for a moment; it must come back without intervention.
		eventually.Check(t, 30*time.Second, 100*time.Millisecond, listed)
	}
	round("three nodes", false)
	if _, err := nodes.procs[nodes.names[2]].signal(os.Interrupt, 15*time.Second); err != nil {
		t.Fatal(err)
	}
	round("one node down", true)
	round("one node down, settled", false)
}
