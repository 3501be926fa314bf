package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/casestream/casestream/events"
	"github.com/casestream/casestream/internal/embedded/embeddedtest"
	"github.com/casestream/casestream/internal/eventually"
	"github.com/casestream/casestream/internal/natsauth"
)

// bobID is bob of the demo directory.
const bobID = "e5f6a7b8-c9d0-4e1f-8a2b-4c5d6e7f8a02"

// TestAdminBlockAcrossProcesses runs two api processes on one NATS server: an operator
// blocked through the admin API of one is refused as an assignment's target by the other at
// once, and casectl, as the reader, shows the block in the operator's directory history with
// the admin's name and reason.
func TestAdminBlockAcrossProcesses(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("builds and runs binaries")
	}
	ns, _ := embeddedtest.Start(t)
	apiBin, ctlBin := build(t, "./cmd/api"), build(t, "./cmd/casectl")
	natsURL, seed := ns.ClientURL(), ns.Keys.SeedFile(natsauth.Service)

	const adminToken = "0123456789abcdef0123456789abcdef"
	tokens := filepath.Join(t.TempDir(), "admins")
	if err := os.WriteFile(tokens, []byte("carol:"+adminToken+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	api1, api2 := freeAddr(t), freeAddr(t)
	process(t, apiBin, "-nats-url", natsURL, "-nats-nkey", seed, "-addr", api1, "-admin-tokens-file", tokens, "-directory", "../../examples/demo-directory.json")
	process(t, apiBin, "-nats-url", natsURL, "-nats-nkey", seed, "-addr", api2)
	for _, a := range []string{api1, api2} {
		eventually.Check(t, 60*time.Second, 50*time.Millisecond, func() error {
			if st, b, err := call("GET", "http://"+a+"/readyz", "", nil); err != nil || st != 200 {
				return fmt.Errorf("readyz of %s: %d %s %v", a, st, b, err)
			}
			return nil
		})
	}

	alice := map[string]string{"Authorization": "Basic " + basicAuth("alice@example.com", "alice-password")}
	st, b, err := call("POST", "http://"+api2+"/api/v4/cases?"+tp, `{"categoryCode":"ACCOUNTS","typeCode":"OPEN_ACCOUNT"}`, alice)
	if err != nil || st != 201 {
		t.Fatalf("create on api-2: %d %s %v", st, b, err)
	}
	var created struct {
		Case struct {
			ID int64 `json:"id"`
		} `json:"case"`
	}
	if err := json.Unmarshal([]byte(b), &created); err != nil {
		t.Fatal(err)
	}

	admin := map[string]string{"Authorization": "Bearer " + adminToken}
	if st, b, err := call("POST", "http://"+api1+"/admin/v1/operators/"+bobID+"/block", `{"reason":"left the company"}`, admin); err != nil || st != 200 {
		t.Fatalf("block bob on api-1: %d %s %v", st, b, err)
	}
	// At once, on the other process: no polling.
	assign := fmt.Sprintf("http://%s/api/v4/cases/%d/assignment?%s", api2, created.Case.ID, tp)
	st, b, err = call("PUT", assign, `{"email":"bob@example.com"}`, alice)
	if err != nil || st != 400 || strings.TrimSpace(b) != `{"errors":{"email":"blocked"}}` {
		t.Fatalf("assign blocked bob on api-2: got %d %s %v, want 400 email blocked", st, b, err)
	}

	cmd := exec.Command(ctlBin, "-nats-url", natsURL, "-nats-nkey", ns.Keys.SeedFile(natsauth.Reader), "-json", "directory", "history", "operator", bobID)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("casectl: %v", err)
	}
	var last struct {
		Type  string `json:"type"`
		Actor struct {
			Kind, ID string
		} `json:"actor"`
		Reason string `json:"reason"`
	}
	sc := bufio.NewScanner(strings.NewReader(string(out)))
	for sc.Scan() {
		if err := json.Unmarshal(sc.Bytes(), &last); err != nil {
			t.Fatalf("casectl line %q: %v", sc.Text(), err)
		}
	}
	if last.Type != events.TypeOperatorDefined || last.Actor.Kind != events.ActorAdmin || last.Actor.ID != "carol" || last.Reason != "left the company" {
		t.Errorf("casectl's last line: got %+v, want the block by admin carol, reason %q", last, "left the company")
	}
}
