package events

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/casestream/casestream/internal/golden"
)

// samples holds one event of every registered type, with every field set.
var samples = []Event{
	CaseOpened{
		CaseInstanceID: 42, CaseID: "0b7c6c8e-6f0e-4c55-9d7a-2f1e8e0c4a11", ServiceTypeID: "t1", ServiceCategoryID: "c1",
		ServiceID: "s1", UnitID: "u1", InboxID: "i1", Status: StatusWaiting, AssignedGroup: "Tier 2",
		Ticket: Ticket{Prefix: "A", Number: 7}, Channel: "FaceToFace", EntryMode: "WalkIn", Language: "en",
		Customer: &Customer{DataTableID: "crm", RecordID: "r-9", DisplayName: "Jane Roe"}, ContactPhoneNumber: "+15550100",
		ContactEmail: "jane@example.com", Resolution: "", Comments: []Note{{NoteID: 1, Description: "first visit"}, {NoteID: 2, Description: "a/b \u00e9"}}, CaseData: json.RawMessage(`{"branch":"north"}`),
	},
	CaseAssigned{To: Assignment{OperatorID: "op-2"}, Previous: Assignment{GroupName: "Tier 2"}, Status: StatusActive},
	CaseServiceStarted{AgentID: "op-3", WorkstationID: "desk-4"},
	CaseStatusChanged{From: StatusActive, To: StatusPending},
	CaseResolved{From: StatusPending, Resolution: "card replaced"},
	CaseClosed{From: StatusResolved},
	CaseNoteAdded{NoteID: 2, Description: "called back"},
	CaseUpdated{ServiceTypeID: "t2", ServiceCategoryID: "c2", CaseData: json.RawMessage(`{"branch":"south"}`)},
	CaseNoteEdited{NoteID: 2, Description: "called back twice"},
	CaseFileAttached{FileID: "3f2a9c4e-1b7d-4e8a-9c0f-5d6e7a8b9c01", Name: "passport.pdf", Size: 5242880, ContentType: "application/pdf", Digest: "SHA-256=47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU="},
	CaseFileRemoved{FileID: "3f2a9c4e-1b7d-4e8a-9c0f-5d6e7a8b9c01"},
	Unit{UnitID: "u1", Name: "Downtown Branch"},
	Inbox{InboxID: "i1", UnitID: "u1", Name: "Front Desk", ColorCode: "#1E88E5"},
	Workspace{WorkspaceID: "w1", UnitID: "u1", Name: "Counter", Description: "walk-ins", InboxIDs: []string{"i1"}, StartNextBehavior: StartNextAuto},
	Service{ServiceID: "s1", UnitID: "u1", InboxID: "i1", Name: "Accounts", TicketPrefix: "A"},
	ServiceCategory{ServiceCategoryID: "c1", Code: "ACCOUNTS", Name: "Accounts and Cards"},
	ServiceType{ServiceTypeID: "t1", Code: "LOST_CARD", Name: "Report a lost card", ServiceCategoryID: "c1", DefaultServiceID: "s1", OperatorGroup: "Tier 2"},
	Operator{UserID: "op-2", Email: "bob@example.com", DisplayName: "Bob Brown", Initials: "BB", Picture: "", ServiceTypes: []string{"LOST_CARD"}, Units: []string{"u1"}, Workspaces: []string{"w1"}, Roles: []string{"Agent"}},
	OperatorGroup{GroupID: "g2", Name: "Tier 2", Members: []string{"op-2"}},
	Touchpoint{Code: "kiosk"},
	Application{ApplicationID: "a1", ClientID: "app", Roles: []string{RoleAgentImpersonator}},
	SecretChanged{Kind: KindOperator, ID: "op-2"},
	AgentUnitSelected{UserID: "op-2", UnitID: "u1"},
	AgentWorkspaceSelected{UserID: "op-2", WorkspaceID: "w1"},
}

func TestSamplesCoverEveryType(t *testing.T) {
	seen := map[string]bool{}
	for _, ev := range samples {
		seen[ev.EventType()] = true
	}
	for _, typ := range Types() {
		if !seen[typ] {
			t.Errorf("no sample of %s: add one, with a golden file", typ)
		}
	}
}

// TestGoldenEnvelopes pins the JSON of every event type in its envelope.
func TestGoldenEnvelopes(t *testing.T) {
	at := time.Date(2026, 3, 1, 9, 15, 2, 118_765_000, time.FixedZone("CET", 3600))
	for _, ev := range samples {
		t.Run(ev.EventType(), func(t *testing.T) {
			env, err := Wrap(Meta{
				ID: "5b3c0a9e-8f6d-4c1b-9a2e-7d4f3b2a1c00", Subject: "cases.42", OccurredAt: at,
				Actor: Actor{Kind: ActorOperator, ID: "op-1"}, CorrelationID: "corr-1",
			}, ev)
			if err != nil {
				t.Fatal(err)
			}
			got, err := json.MarshalIndent(env, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, '\n')
			if !golden.Check(t, filepath.Join("testdata", ev.EventType()+".golden"), got) {
				t.Fatal("envelope JSON changed: a change to an event is a new schema version")
			}
			// And it reads back to the same event.
			back, err := Unmarshal(got)
			if err != nil {
				t.Fatal(err)
			}
			if back.OccurredAt.Location() != time.UTC || !back.OccurredAt.Equal(at.Truncate(time.Millisecond)) {
				t.Errorf("occurredAt: got %v, want %v in UTC", back.OccurredAt, at.Truncate(time.Millisecond))
			}
			dec, err := Decode(back)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(normal(dec), normal(ev)) {
				t.Errorf("decoded: got %+v, want %+v", dec, ev)
			}
		})
	}
}

// normal re-encodes an event, so that RawMessage formatting does not matter.
func normal(ev Event) string {
	b, _ := json.Marshal(ev)
	return string(b)
}

// TestCaseOpenedV1 reads case.opened as schema version 1 wrote it (the golden file holds
// what the version 1 encoder wrote for the sample): it decodes as version 2, its comments
// string as note 1, whichever decoder reads it and wherever the schema version stands.
func TestCaseOpenedV1(t *testing.T) {
	v1, err := os.ReadFile(filepath.Join("testdata", "case.opened.v1.golden"))
	if err != nil {
		t.Fatal(err)
	}
	want := samples[0].(CaseOpened)
	want.Comments = []Note{{NoteID: 1, Description: "first visit"}}
	// The schema version moved after the data: the one-pass decoder meets the data first.
	late := bytes.Replace(v1, []byte(`"schemaVersion": 1,`), nil, 1)
	late = bytes.Replace(late, []byte(`"correlationId": "corr-1",`), []byte(`"correlationId": "corr-1", "schemaVersion": 1,`), 1)
	if bytes.Equal(late, v1) {
		t.Fatal("the golden file does not hold a schema version 1 envelope")
	}
	noComments := bytes.Replace(v1, []byte(`"comments": "first visit",`), nil, 1)
	for name, body := range map[string][]byte{"as written": v1, "version after data": late, "no comments": noComments} {
		t.Run(name, func(t *testing.T) {
			want := want
			if name == "no comments" {
				want.Comments = nil
			}
			env, err := Unmarshal(body)
			if err != nil {
				t.Fatal(err)
			}
			if env.SchemaVersion != 1 {
				t.Fatalf("schemaVersion: got %d, want 1", env.SchemaVersion)
			}
			ev, err := Decode(env)
			if err != nil {
				t.Fatal(err)
			}
			if got, ok := ev.(CaseOpened); !ok || normal(got) != normal(want) || len(got.Comments) != len(want.Comments) {
				t.Errorf("Decode: got %s, want %s", normal(ev), normal(want))
			}
			_, ev, err = UnmarshalEvent(body)
			if got, ok := ev.(CaseOpened); err != nil || !ok || normal(got) != normal(want) {
				t.Errorf("UnmarshalEvent: got %s, %v; want %s", normal(ev), err, normal(want))
			}
		})
	}
}

func TestVersionOf(t *testing.T) {
	for _, ev := range samples {
		want := 1
		switch ev.EventType() {
		case TypeCaseOpened, TypeOperatorDefined, TypeTouchpointDefined, TypeApplicationDefined:
			want = 2
		}
		env, err := Wrap(Meta{ID: "id", Subject: "cases.1"}, ev)
		if err != nil {
			t.Fatal(err)
		}
		if env.SchemaVersion != want {
			t.Errorf("%s written at version %d, want %d", ev.EventType(), env.SchemaVersion, want)
		}
	}
}

// v1Samples are the samples of the directory types whose version 1 carried a secret's hash,
// as version 1 wrote them; the golden files <type>.v1.golden hold what the version 1 encoder
// wrote for them.
var v1Samples = []Event{
	OperatorV1{UserID: "op-2", Email: "bob@example.com", DisplayName: "Bob Brown", Initials: "BB", Picture: "", PasswordHash: "$2a$10$hash", ServiceTypes: []string{"LOST_CARD"}, Units: []string{"u1"}, Workspaces: []string{"w1"}, Roles: []string{"Agent"}},
	TouchpointV1{Code: "kiosk", TokenHash: "$2a$10$hash"},
	ApplicationV1{ApplicationID: "a1", ClientID: "app", ClientSecretHash: "$2a$10$hash", Roles: []string{RoleAgentImpersonator}},
}

// TestDirectoryV1 reads the operator, touchpoint and application events as version 1 wrote
// them, hash included: Wrap still writes the V1 types byte for byte as version 1 did (tools
// that must produce an older log use it), and both decoders return them as version 2 reads
// them, without the hash.
func TestDirectoryV1(t *testing.T) {
	at := time.Date(2026, 3, 1, 9, 15, 2, 118_765_000, time.FixedZone("CET", 3600))
	for _, v1 := range v1Samples {
		t.Run(v1.EventType(), func(t *testing.T) {
			want, err := os.ReadFile(filepath.Join("testdata", v1.EventType()+".v1.golden"))
			if err != nil {
				t.Fatal(err)
			}
			env, err := Wrap(Meta{
				ID: "5b3c0a9e-8f6d-4c1b-9a2e-7d4f3b2a1c00", Subject: "cases.42", OccurredAt: at,
				Actor: Actor{Kind: ActorOperator, ID: "op-1"}, CorrelationID: "corr-1",
			}, v1)
			if err != nil {
				t.Fatal(err)
			}
			got, _ := json.MarshalIndent(env, "", "  ")
			if got = append(got, '\n'); !bytes.Equal(got, want) {
				t.Fatalf("version 1 envelope:\n got %s\nwant %s", got, want)
			}
			if !bytes.Contains(want, []byte("$2a$10$hash")) {
				t.Fatal("the version 1 golden file holds no hash")
			}
			var upcast Event
			switch v := v1.(type) {
			case OperatorV1:
				upcast = v.Operator()
			case TouchpointV1:
				upcast = v.Touchpoint()
			case ApplicationV1:
				upcast = v.Application()
			}
			back, err := Unmarshal(want)
			if err != nil {
				t.Fatal(err)
			}
			dec, err := Decode(back)
			if err != nil || !reflect.DeepEqual(dec, upcast) {
				t.Errorf("Decode: got %#v, %v, want %#v", dec, err, upcast)
			}
			_, one, err := UnmarshalEvent(want)
			if err != nil || !reflect.DeepEqual(one, upcast) {
				t.Errorf("UnmarshalEvent: got %#v, %v, want %#v", one, err, upcast)
			}
		})
	}
}

// TestWrittenVersionsCarryNoHash checks that no event type this package writes has a member
// named like a hash: secrets' hashes live in the credentials bucket, never in the log.
func TestWrittenVersionsCarryNoHash(t *testing.T) {
	for _, ev := range samples {
		var members map[string]any
		if err := json.Unmarshal([]byte(normal(ev)), &members); err != nil {
			t.Fatal(err)
		}
		for k := range members {
			if strings.HasSuffix(strings.ToLower(k), "hash") {
				t.Errorf("%s version %d has member %q", ev.EventType(), VersionOf(ev), k)
			}
		}
	}
}

func TestV1Converts(t *testing.T) {
	op := OperatorV1{UserID: "u", Email: "e", DisplayName: "d", Initials: "i", Picture: "p", PasswordHash: "h", Blocked: true,
		ServiceTypes: []string{"*"}, Units: []string{"u1"}, Workspaces: []string{"w1"}, Roles: []string{"Agent"}}
	want := `{"userId":"u","email":"e","displayName":"d","initials":"i","picture":"p","blocked":true,"serviceTypes":["*"],"units":["u1"],"workspaces":["w1"],"roles":["Agent"]}`
	if got := normal(op.Operator()); got != want {
		t.Errorf("operator: got %s, want %s", got, want)
	}
	app := ApplicationV1{ApplicationID: "a", ClientID: "c", ClientSecretHash: "h", Roles: []string{RoleCaseManager}}
	if got, want := normal(app.Application()), `{"applicationId":"a","clientId":"c","roles":["CaseManager"]}`; got != want {
		t.Errorf("application: got %s, want %s", got, want)
	}
	if got, want := (TouchpointV1{Code: "k", TokenHash: "h"}).Touchpoint(), (Touchpoint{Code: "k"}); got != want {
		t.Errorf("touchpoint: got %+v, want %+v", got, want)
	}
}

func TestDecodeUnknownType(t *testing.T) {
	_, err := Decode(Envelope{Type: "case.teleported", Data: json.RawMessage(`{}`)})
	if !errors.Is(err, ErrUnknownType) {
		t.Fatalf("got %v, want %v", err, ErrUnknownType)
	}
}

func TestSubjects(t *testing.T) {
	if got := CaseSubject(42); got != "cases.42" {
		t.Errorf("CaseSubject: got %s", got)
	}
	for _, tt := range []struct {
		subject string
		id      int64
		ok      bool
	}{{"cases.42", 42, true}, {"cases.0", 0, false}, {"cases.-1", -1, false}, {"cases.x", 0, false}, {"directory.unit.1", 0, false}} {
		id, ok := CaseInstanceID(tt.subject)
		if ok != tt.ok || (ok && id != tt.id) {
			t.Errorf("CaseInstanceID(%q): got %d %v, want %d %v", tt.subject, id, ok, tt.id, tt.ok)
		}
	}
	tokens := map[string]bool{}
	for _, s := range []string{"kiosk-1", "Tier 2", "x6b", "k", "a.b", "*", ">", ""} {
		tok := SubjectToken(s)
		if tokens[tok] {
			t.Errorf("SubjectToken(%q) = %q collides", s, tok)
		}
		tokens[tok] = true
		for _, c := range tok {
			if c == '.' || c == '*' || c == '>' || c == ' ' {
				t.Errorf("SubjectToken(%q) = %q is not one token", s, tok)
			}
		}
		if tok == "" {
			t.Errorf("SubjectToken(%q) is empty", s)
		}
	}
}

// FuzzDecode feeds arbitrary message bodies to the decoder that every consumer runs: it
// must never panic, and what it accepts must encode again.
func FuzzDecode(f *testing.F) {
	for _, ev := range samples {
		env, _ := Wrap(Meta{ID: "id", Subject: "cases.1", OccurredAt: time.Unix(0, 0)}, ev)
		b, _ := json.Marshal(env)
		f.Add(b)
	}
	f.Add([]byte(`{"type":"case.opened","data":null}`))
	f.Add([]byte(`{"type":"case.assigned","data":{"to":5}}`))
	f.Add([]byte(`not json`))
	f.Fuzz(func(t *testing.T, body []byte) {
		env, err := Unmarshal(body)
		if err != nil {
			return
		}
		ev, err := Decode(env)
		if err != nil {
			return
		}
		if _, err := json.Marshal(ev); err != nil {
			t.Fatalf("decoded %T does not encode: %v", ev, err)
		}
	})
}

// FuzzUnmarshalEvent checks the one-pass decoder against Unmarshal followed by Decode: the
// same envelope, the same event, and an error for the same bodies.
func FuzzUnmarshalEvent(f *testing.F) {
	for _, ev := range samples {
		env, _ := Wrap(Meta{ID: "id", Subject: "cases.1", OccurredAt: time.Unix(0, 0)}, ev)
		b, _ := json.Marshal(env)
		f.Add(b)
	}
	for _, s := range []string{
		`{"data":{"to":{"operatorId":"op-2"},"status":"Active"},"type":"case.assigned","id":"x"}`,
		`{"type":"case.assigned","extra":[1,{"a":null}],"data" : {"to":{"groupName":"T"}} }`,
		`{"type":"case.assigned","data":{"to":5}}`,
		`{"type":"case.opened","data":null}`,
		`{"type":"case.opened","schemaVersion":1,"data":{"caseInstanceId":3,"comments":"first"}}`,
		`{"type":"case.opened","data":{"caseInstanceId":3,"comments":"first"},"schemaVersion":1}`,
		`{"type":"case.opened","schemaVersion":1,"data":{"caseInstanceId":3,"comments":[{"noteId":1,"description":"x"}]}}`,
		`{"type":"case.opened","schemaVersion":2,"data":{"caseInstanceId":3,"comments":[{"noteId":1,"description":"x"}]},"schemaVersion":1}`,
		`{"type":"case.opened","schemaVersion":7,"data":{"caseInstanceId":3,"comments":[{"noteId":1,"description":"x"}]}}`,
		`{"type":"directory.operatorDefined","data":{"userId":"u","passwordHash":"h"},"schemaVersion":1}`,
		`{"type":"directory.operatorDefined","schemaVersion":1,"data":{"userId":"u","passwordHash":"h"}}`,
		`{"type":"directory.operatorDefined","schemaVersion":2,"data":{"userId":"u"}}`,
		`{"schemaVersion":"2","type":"directory.touchpointDefined","data":{"code":"k"}}`,
		`{"type":"no.such","data":{"a":1}}`,
		`{"type":"case.closed","data":{"from":"Resolved"},"data":{}}`,
		`{"Type":"case.closed","data":{"from":"Resolved"}}`,
		`{"type":"case.closed","occurredAt":"yesterday","data":{}}`,
		`{"type":"case.closed","data":{"from":"Resolved"}} x`,
		`[]`, `null`, `"s"`, `{`, `not json`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		want, wantErr := Unmarshal(body)
		var wantEv Event
		if wantErr == nil {
			wantEv, _ = Decode(want)
		}
		got, gotEv, gotErr := UnmarshalEvent(body)
		if (gotErr == nil) != (wantErr == nil) {
			t.Fatalf("UnmarshalEvent(%q) error = %v, Unmarshal's = %v", body, gotErr, wantErr)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("UnmarshalEvent(%q) envelope = %+v, Unmarshal's = %+v", body, got, want)
		}
		if !reflect.DeepEqual(gotEv, wantEv) {
			t.Fatalf("UnmarshalEvent(%q) event = %#v, Decode's = %#v", body, gotEv, wantEv)
		}
	})
}

// TestEnvelopeReason: a reason is written as the envelope's reason and read back by both
// decoders; without one the member is absent, so envelopes without a reason are as before.
func TestEnvelopeReason(t *testing.T) {
	for _, reason := range []string{"", "left the company"} {
		env, err := Wrap(Meta{ID: "e-1", Subject: "directory.operator.op-1", Actor: Actor{Kind: ActorAdmin, ID: "root"}, Reason: reason}, Unit{UnitID: "u", Name: "n"})
		if err != nil {
			t.Fatal(err)
		}
		b, err := json.Marshal(env)
		if err != nil {
			t.Fatal(err)
		}
		if got := bytes.Contains(b, []byte(`"reason"`)); got != (reason != "") {
			t.Errorf("reason %q: member present %v in %s", reason, got, b)
		}
		back, err := Unmarshal(b)
		if err != nil || back.Reason != reason || back.Actor.Kind != ActorAdmin {
			t.Errorf("Unmarshal: got %+v %v, want reason %q by an admin", back, err, reason)
		}
		back, ev, err := UnmarshalEvent(b)
		if err != nil || back.Reason != reason || ev == nil {
			t.Errorf("UnmarshalEvent: got %+v %v %v, want reason %q", back, ev, err, reason)
		}
	}
}
