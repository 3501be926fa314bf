package directory

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/casestream/casestream/events"
)

func TestParse(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		wantErr string // "" for success
	}{
		{"empty object", `{}`, ""},
		{"empty arrays", `{"units": [], "operators": []}`, ""},
		{"unknown top-level key", `{"unit": []}`, `unknown field "unit"`},
		{"unknown entry key", `{"operators": [{"userId": "x", "pasword": "p"}]}`, `unknown field "pasword"`},
		{"stored hash is not a file key", `{"operators": [{"passwordHash": "$2a$"}]}`, `unknown field "passwordHash"`},
		{"trailing data", `{} {}`, "data after the JSON document"},
		{"not an object", `[]`, "cannot unmarshal"},
		{"malformed", `{"units": [`, "unexpected EOF"},
		{"wrong type", `{"operators": [{"blocked": "yes"}]}`, "cannot unmarshal"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.in))
			checkInvalidFile(t, err, tt.wantErr)
		})
	}
}

// checkInvalidFile fails the test unless err is nil where wantErr is empty, or else an
// ErrInvalidFile whose message contains wantErr.
func checkInvalidFile(t *testing.T, err error, wantErr string) {
	t.Helper()
	if wantErr == "" {
		if err != nil {
			t.Fatalf("got %v, want no error", err)
		}
		return
	}
	if err == nil || !strings.Contains(err.Error(), wantErr) || !errors.Is(err, ErrInvalidFile) {
		t.Fatalf("got %v, want ErrInvalidFile containing %q", err, wantErr)
	}
}

// validateCases are changes to the demo file and the error each must give ("" for none).
var validateCases = []struct {
	name    string
	change  func(f *File)
	wantErr string
}{
	{"demo", func(f *File) {}, ""},
	{"empty", func(f *File) { *f = File{} }, ""},
	{"uuids in upper case", func(f *File) {
		f.Units[0].UnitID = strings.ToUpper(f.Units[0].UnitID)
		f.Operators[0].UserID = strings.ToUpper(f.Operators[0].UserID)
	}, ""},
	{"startNextBehavior empty means Auto", func(f *File) { f.Workspaces[0].StartNextBehavior = "" }, ""},
	{"missing unitId", func(f *File) { f.Units[1].UnitID = "" }, `units[1]: unitId is required`},
	{"unitId not a uuid", func(f *File) { f.Units[0].UnitID = "downtown" }, `units[0] "downtown": unitId "downtown" is not a uuid`},
	{"duplicate unitId", func(f *File) { f.Units[1].UnitID = strings.ToUpper(f.Units[0].UnitID) }, `units[1] "` + downtown + `": unitId "` + downtown + `" is not unique`},
	{"missing inboxId", func(f *File) { f.Inboxes[2].InboxID = "" }, `inboxes[2]: inboxId is required`},
	{"inbox of unknown unit", func(f *File) { f.Inboxes[0].UnitID = airport[:35] + "9" }, `inboxes[0] "7a3e9d20-1b4c-4f6a-8d2e-3c4b5a6d7e01": unitId: no such entry`},
	{"workspace of unknown inbox", func(f *File) { f.Workspaces[0].InboxIDs = append(f.Workspaces[0].InboxIDs, "nope") }, `workspaces[0] "` + wsCounter + `": inboxIds: no such inbox "nope"`},
	{"workspace with inbox of other unit", func(f *File) { f.Workspaces[2].InboxIDs = f.Workspaces[0].InboxIDs }, `workspaces[2] "` + wsArrivals + `": inboxIds: inbox "7a3e9d20-1b4c-4f6a-8d2e-3c4b5a6d7e01" belongs to unit`},
	{"bad startNextBehavior", func(f *File) { f.Workspaces[1].StartNextBehavior = "auto" }, `workspaces[1] "` + wsBack + `": startNextBehavior "auto" is not Auto, CloseActiveTabs or AddTab`},
	{"service of unknown unit", func(f *File) { f.Services[0].UnitID = "" }, `services[0] "b2c3d4e5-f6a7-4b8c-9d0e-1f2a3b4c5d01": unitId is required`},
	{"service of unknown inbox", func(f *File) { f.Services[1].InboxID = "nope" }, `services[1] "b2c3d4e5-f6a7-4b8c-9d0e-1f2a3b4c5d02": inboxId: no such inbox "nope"`},
	{"service with inbox of other unit", func(f *File) { f.Services[2].InboxID = f.Services[0].InboxID }, `services[2] "b2c3d4e5-f6a7-4b8c-9d0e-1f2a3b4c5d03": inboxId: inbox`},
	{"category without code", func(f *File) { f.ServiceCategories[0].Code = "" }, `serviceCategories[0] "c3d4e5f6-a7b8-4c9d-8e0f-2a3b4c5d6e01": code is required`},
	{"duplicate category code", func(f *File) { f.ServiceCategories[1].Code = "ACCOUNTS" }, `serviceCategories[1] "c3d4e5f6-a7b8-4c9d-8e0f-2a3b4c5d6e02": code "ACCOUNTS" is not unique`},
	{"duplicate type code", func(f *File) { f.ServiceTypes[3].Code = "COMPLAINT" }, `serviceTypes[3] "d4e5f6a7-b8c9-4d0e-9f1a-3b4c5d6e7f04": code "COMPLAINT" is not unique`},
	{"type code star", func(f *File) { f.ServiceTypes[0].Code = "*" }, `code "*" is reserved`},
	{"type of unknown category", func(f *File) { f.ServiceTypes[0].ServiceCategoryID = "nope" }, `serviceTypes[0] "d4e5f6a7-b8c9-4d0e-9f1a-3b4c5d6e7f01": serviceCategoryId: no such entry "nope"`},
	{"type of unknown default service", func(f *File) { f.ServiceTypes[1].DefaultServiceID = "nope" }, `serviceTypes[1] "d4e5f6a7-b8c9-4d0e-9f1a-3b4c5d6e7f02": defaultServiceId: no such entry "nope"`},
	{"type routed to unknown group", func(f *File) { f.ServiceTypes[2].OperatorGroup = "Tier 3" }, `operatorGroup "Tier 3" is not the name of a group`},
	{"userId not a uuid", func(f *File) { f.Operators[1].UserID = "bob" }, `operators[1] "bob": userId "bob" is not a uuid`},
	{"missing userId", func(f *File) { f.Operators[1].UserID = "" }, `operators[1]: userId is required`},
	{"missing email", func(f *File) { f.Operators[1].Email = " " }, `operators[1] "` + bob + `": email is required`},
	{"emails differing only in case", func(f *File) { f.Operators[1].Email = "ALICE@example.com" }, `operators[1] "` + bob + `": email "alice@example.com" is not unique`},
	{"missing password", func(f *File) { f.Operators[2].Password = "" }, `operators[2] "` + carol + `": password is required`},
	{"password over 72 bytes", func(f *File) { f.Operators[2].Password = strings.Repeat("p", 73) }, `operators[2] "` + carol + `": password is longer than 72 bytes`},
	{"operator of unknown type code", func(f *File) { f.Operators[1].ServiceTypes = []string{"OPEN_ACCOUNT", "open_account"} }, `operators[1] "` + bob + `": serviceTypes: "open_account" is not the code of a service type`},
	{"operator of unknown unit", func(f *File) { f.Operators[1].Units = []string{"nope"} }, `operators[1] "` + bob + `": units: no such entry "nope"`},
	{"operator of unknown workspace", func(f *File) { f.Operators[1].Workspaces = []string{"nope"} }, `operators[1] "` + bob + `": workspaces: no such entry "nope"`},
	{"missing groupId", func(f *File) { f.Groups[0].GroupID = "" }, `groups[0]: groupId is required`},
	{"duplicate group name", func(f *File) {
		f.Groups = append(f.Groups, events.OperatorGroup{GroupID: "g3", Name: "Tier 1"})
	}, `groups[2] "g3": name "Tier 1" is not unique`},
	{"group of unknown member", func(f *File) { f.Groups[0].Members = append(f.Groups[0].Members, "nope") }, `groups[0] "f6a7b8c9-d0e1-4f2a-9b3c-5d6e7f8a9b01": members: no such entry "nope"`},
	{"touchpoint without code", func(f *File) { f.Touchpoints[0].Code = "" }, `touchpoints[0]: code is required`},
	{"touchpoint without token", func(f *File) { f.Touchpoints[0].Token = "" }, `touchpoints[0] "demo-kiosk": token is required`},
	{"duplicate touchpoint", func(f *File) { f.Touchpoints = append(f.Touchpoints, f.Touchpoints[0]) }, `touchpoints[1] "demo-kiosk": code "demo-kiosk" is not unique`},
	{"applicationId not a uuid", func(f *File) { f.Applications[0].ApplicationID = "app" }, `applications[0] "app": applicationId "app" is not a uuid`},
	{"application without secret", func(f *File) { f.Applications[0].ClientSecret = "" }, `applications[0] "` + demoApp + `": clientSecret is required`},
	{"application without clientId", func(f *File) { f.Applications[0].ClientID = "" }, `clientId is required`},
	{"application of unknown role", func(f *File) { f.Applications[0].Roles = []string{"Admin"} }, `applications[0] "` + demoApp + `": role "Admin" is not AgentImpersonator or CaseManager`},
	{"duplicate clientId", func(f *File) {
		a := f.Applications[0]
		a.ApplicationID = "a7b8c9d0-e1f2-4a3b-8c4d-6e7f8a9b0c02"
		f.Applications = append(f.Applications, a)
	}, `applications[1] "a7b8c9d0-e1f2-4a3b-8c4d-6e7f8a9b0c02": clientId "demo-app" is not unique`},
}

func TestValidate(t *testing.T) {
	for _, tt := range validateCases {
		t.Run(tt.name, func(t *testing.T) {
			f := demoFile(t)
			tt.change(f)
			checkInvalidFile(t, f.Validate(), tt.wantErr)
		})
	}
}

func TestValidateNil(t *testing.T) {
	var f *File
	if err := f.Validate(); !errors.Is(err, ErrInvalidFile) {
		t.Errorf("got %v, want ErrInvalidFile", err)
	}
}

func TestReadFile(t *testing.T) {
	if _, err := ReadFile(demoPath); err != nil {
		t.Fatalf("demo: got %v, want no error", err)
	}
	bad := filepath.Join(t.TempDir(), "bad.json")
	if err := os.WriteFile(bad, []byte(`{"units": [{"unitId": "x"}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadFile(bad); !errors.Is(err, ErrInvalidFile) || !strings.Contains(err.Error(), bad) {
		t.Errorf("invalid file: got %v, want ErrInvalidFile naming the path", err)
	}
	if _, err := ReadFile(filepath.Join(t.TempDir(), "missing.json")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: got %v, want os.ErrNotExist", err)
	}
}

// FuzzParseValidate checks that no input makes Parse or Validate panic, and that a file
// that validates is also accepted after a round trip through JSON.
func FuzzParseValidate(f *testing.F) {
	demo, err := os.ReadFile(demoPath)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(demo)
	for _, tt := range validateCases {
		file, err := Parse(demo)
		if err != nil {
			f.Fatal(err)
		}
		tt.change(file)
		b, err := json.Marshal(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		file, err := Parse(b)
		if err != nil {
			return
		}
		if file.Validate() != nil {
			return
		}
		again, err := json.Marshal(file)
		if err != nil {
			t.Fatalf("marshal a valid file: %v", err)
		}
		file2, err := Parse(again)
		if err != nil {
			t.Fatalf("parse a re-encoded valid file: %v", err)
		}
		if err := file2.Validate(); err != nil {
			t.Fatalf("re-encoded valid file: got %v, want no error", err)
		}
	})
}
