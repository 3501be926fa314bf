package main

import (
	"context"
	"fmt"
	"net"
	"strings"

	"github.com/casestream/casestream/events"
	"github.com/casestream/casestream/examples"
	"github.com/casestream/casestream/internal/cases"
	"github.com/casestream/casestream/internal/directory"
	"github.com/casestream/casestream/internal/natsauth"
)

// Demo credentials, from examples/demo-directory.json.
const (
	demoTouchpoint = "demo-kiosk"
	demoToken      = "demo-kiosk-token"
	demoOperator   = "alice@example.com"
	demoPassword   = "alice-password"
	demoAppID      = "a7b8c9d0-e1f2-4a3b-8c4d-6e7f8a9b0c01"
	demoClientID   = "demo-app"
	demoSecret     = "demo-app-secret"
	demoAgentID    = "e5f6a7b8-c9d0-4e1f-8a2b-4c5d6e7f8a02"
	demoUnitID     = "5f0c6b1e-2d3a-4c8b-9e71-0a1b2c3d4e01"
)

// demoFile is the demo directory shipped with the binary.
func demoFile() (*directory.File, error) {
	f, err := directory.Parse(examples.DemoDirectory)
	if err != nil {
		return nil, err
	}
	return f, f.Validate()
}

// demo opens a few cases when the log has none, and prints how to call both APIs.
func (m *Main) demo(ctx context.Context) error {
	svc, dir := m.app.Cases, m.app.Directory
	last, err := m.app.Store.LastSeq(ctx, events.StreamCases)
	if err != nil {
		return err
	}
	if last == 0 {
		actor := cases.Meta{Actor: events.Actor{Kind: events.ActorSystem, ID: "demo"}}
		for _, code := range []string{"OPEN_ACCOUNT", "LOST_CARD", "COMPLAINT"} {
			st, ok := dir.ServiceTypeByCode(code)
			if !ok {
				return fmt.Errorf("demo directory has no service type %s", code)
			}
			svcDef, ok := dir.Service(st.DefaultServiceID)
			if !ok {
				return fmt.Errorf("demo directory has no service %s", st.DefaultServiceID)
			}
			c, err := svc.Open(ctx, actor, cases.OpenRequest{ServiceType: st, Service: svcDef, Channel: "FaceToFace", EntryMode: "WalkIn"})
			if err != nil {
				return err
			}
			m.Logger.Info("demo case opened", "caseInstanceId", c.CaseInstanceID, "type", code)
		}
	}
	host, port, _ := net.SplitHostPort(m.Addr())
	if host == "" || host == "::" || host == "0.0.0.0" {
		host = "localhost"
	}
	base := "http://" + net.JoinHostPort(host, port)
	r := strings.NewReplacer("{base}", base, "{tp}", demoTouchpoint, "{token}", demoToken, "{op}", demoOperator,
		"{pw}", demoPassword, "{app}", demoAppID, "{client}", demoClientID, "{secret}", demoSecret,
		"{agent}", demoAgentID, "{unit}", demoUnitID)
	fmt.Fprint(m.Stdout, r.Replace(demoText))
	fmt.Fprint(m.Stdout, m.demoNATS())
	return nil
}

const demoText = `
casestream demo is running at {base} (Ctrl-C to stop).

Operator API (Thalamus v4). Touchpoint credentials go in the query or in headers; the operator
signs in with HTTP Basic on each call, or once with /signin and a cookie:

  curl -s -c cookies.txt -H 'Content-Type: application/json' \
    -d '{"principal":"{op}","password":"{pw}"}' \
    '{base}/api/v4/signin?touchpoint={tp}&token={token}'

  curl -s -b cookies.txt -H 'Content-Type: application/json' \
    -d '{"categoryCode":"ACCOUNTS","typeCode":"LOST_CARD","comments":[{"description":"card swallowed by ATM"}]}' \
    '{base}/api/v4/cases?touchpoint={tp}&token={token}'

  curl -s -X PUT -u '{op}:{pw}' -H 'Thalamus-Touchpoint: {tp}' -H 'Thalamus-Token: {token}' \
    -H 'Content-Type: application/json' -d '{"email":"bob@example.com"}' \
    '{base}/api/v4/cases/1/assignment'

  curl -s -X PUT -u '{op}:{pw}' -H 'Thalamus-Touchpoint: {tp}' -H 'Thalamus-Token: {token}' \
    -H 'Content-Type: application/json' -d '{"email":"nobody@example.com"}' \
    '{base}/api/v4/cases/1/assignment'
  # -> 400 {"errors":{"email":"operatorNotValid"}}

Agent-impersonation API (Cubu S2S): get a token, select bob's unit, list his active cases
(case 1, assigned to him above):

  TOKEN=$(curl -s -d 'grant_type=client_credentials&client_id={client}&client_secret={secret}' \
    {base}/oauth2/token | sed 's/.*"access_token":"\([^"]*\)".*/\1/')
  curl -s -X POST -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \
    -d '{"unitId":"{unit}"}' {base}/{app}/agents/{agent}/units/_current
  curl -s -H "Authorization: Bearer $TOKEN" {base}/{app}/agents/{agent}/activeCases
`

// demoNATS says how to read the log with the nats CLI: as the reader, whose seed the
// embedded server keeps under the data directory.
func (m *Main) demoNATS() string {
	keys, url := m.app.Identities(), m.app.NATSURL()
	if keys == nil || url == "" {
		return "\nEvents: read CASES and DIRECTORY with a reader identity of your NATS server.\n"
	}
	return fmt.Sprintf(`
Events, read-only (the reader's nkey; the admin's, which may also delete, is %s):

  nats --server %s --nkey %s stream view CASES
`, keys.SeedFile(natsauth.Admin), url, keys.SeedFile(natsauth.Reader))
}
