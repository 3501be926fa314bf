package aggregate

import (
	"bufio"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/casestream/casestream/events"
)

// fakeCatalog names dir's types and categories by code.
type fakeCatalog struct{}

func (fakeCatalog) ServiceCategoryByCode(code string) (events.ServiceCategory, bool) {
	c, ok := map[string]events.ServiceCategory{
		"ACC": {ServiceCategoryID: "c-acc", Code: "ACC"},
		"LOA": {ServiceCategoryID: "c-loa", Code: "LOA"},
	}[code]
	return c, ok
}

func (fakeCatalog) ServiceTypeByCode(code string) (events.ServiceType, bool) {
	for _, t := range catalogTypes {
		if t.Code == code {
			return t, true
		}
	}
	return events.ServiceType{}, false
}

var catalogTypes = []events.ServiceType{
	{ServiceTypeID: "t-acc", Code: "ACCOUNTS", ServiceCategoryID: "c-acc"},
	{ServiceTypeID: "t-card", Code: "CARDS", ServiceCategoryID: "c-acc"},
	{ServiceTypeID: "t-loans", Code: "LOANS", ServiceCategoryID: "c-loa"},
}

func init() {
	for _, t := range catalogTypes {
		dir.types[t.ServiceTypeID] = t
	}
}

func TestUpdateRulesInOrder(t *testing.T) {
	closed := opened(events.CaseClosed{From: events.StatusWaiting})
	resolved := opened(events.CaseResolved{From: events.StatusWaiting, Resolution: "done"})
	acc := UpdateRequest{CategoryCode: "ACC", TypeCode: "ACCOUNTS"}
	with := func(f func(*UpdateRequest)) UpdateRequest { r := acc; f(&r); return r }
	tests := []struct {
		name   string
		c      Case
		caller events.Operator
		req    UpdateRequest
		want   error
	}{
		{"no category", opened(), alice, with(func(r *UpdateRequest) { r.CategoryCode = "" }), ErrCategoryRequired},
		{"no category beats unknown case", Case{}, alice, UpdateRequest{TypeCode: "ACCOUNTS"}, ErrCategoryRequired},
		{"no type", opened(), alice, with(func(r *UpdateRequest) { r.TypeCode = "" }), ErrCategoryOrTypeInvalid},
		{"unknown category", opened(), alice, with(func(r *UpdateRequest) { r.CategoryCode = "NOPE" }), ErrCategoryOrTypeInvalid},
		{"unknown type", opened(), alice, with(func(r *UpdateRequest) { r.TypeCode = "NOPE" }), ErrCategoryOrTypeInvalid},
		{"type of another category", opened(), alice, with(func(r *UpdateRequest) { r.TypeCode = "LOANS" }), ErrCategoryOrTypeInvalid},
		{"unknown status", opened(), alice, with(func(r *UpdateRequest) { r.Status = "Done" }), ErrInitialStatus},
		{"unknown status beats unknown case", Case{}, alice, with(func(r *UpdateRequest) { r.Status = "Done" }), ErrInitialStatus},
		{"no such case", Case{}, alice, acc, ErrCaseInvalidID},
		{"caller may not act", opened(), bob, UpdateRequest{CategoryCode: "LOA", TypeCode: "LOANS"}, ErrCaseInvalidID},
		{"caller may not handle the new type", opened(events.CaseUpdated{ServiceTypeID: "t-loans", ServiceCategoryID: "c-loa"}), bob, acc, ErrTypeNotAuthorized},
		{"resolution without resolving", opened(), alice, with(func(r *UpdateRequest) { r.Resolution = "fixed" }), ErrInitialResolution},
		{"resolution while pending", opened(), alice, with(func(r *UpdateRequest) { r.Status, r.Resolution = events.StatusPending, "fixed" }), ErrInitialResolution},
		{"resolution beats closed", closed, alice, with(func(r *UpdateRequest) { r.Resolution = "fixed" }), ErrInitialResolution},
		{"another resolution of a resolved case", resolved, alice, with(func(r *UpdateRequest) { r.Resolution = "other" }), ErrAlreadyClosed},
		{"retype a closed case", closed, alice, with(func(r *UpdateRequest) { r.TypeCode = "CARDS" }), ErrAlreadyClosed},
		{"custom fields of a resolved case", resolved, alice, with(func(r *UpdateRequest) { r.CaseData = json.RawMessage(`{"a":1}`) }), ErrAlreadyClosed},
		{"reopen a resolved case", resolved, alice, with(func(r *UpdateRequest) { r.Status = events.StatusActive }), ErrAlreadyClosed},
		{"reopen a closed case", closed, alice, with(func(r *UpdateRequest) { r.Status = events.StatusWaiting }), ErrAlreadyClosed},
		{"close a resolved case", resolved, alice, with(func(r *UpdateRequest) { r.Status = events.StatusClosed }), nil},
		{"comment on a closed case", closed, alice, with(func(r *UpdateRequest) { r.Comments = []string{"late"} }), nil},
		{"the resolution it has", resolved, alice, with(func(r *UpdateRequest) { r.Resolution = "done" }), nil},
		{"retype", opened(), alice, with(func(r *UpdateRequest) { r.TypeCode = "CARDS" }), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			evs, err := tt.c.Update(dir, fakeCatalog{}, tt.caller, tt.req)
			if !errors.Is(err, tt.want) || (tt.want == nil && err != nil) {
				t.Fatalf("got %v, want %v", err, tt.want)
			}
			if tt.want != nil && evs != nil {
				t.Fatalf("got events %v with an error", evs)
			}
		})
	}
}

func TestUpdateEvents(t *testing.T) {
	base := opened(events.CaseNoteAdded{NoteID: 1, Description: "first"})
	base.CaseData = json.RawMessage(`{"a":1}`)
	tests := []struct {
		name string
		req  UpdateRequest
		want []events.Event
	}{
		{"nothing changes", UpdateRequest{CategoryCode: "ACC", TypeCode: "ACCOUNTS", Status: events.StatusWaiting, CaseData: json.RawMessage(`{"a":1}`)}, nil},
		{"blank comments are no notes", UpdateRequest{CategoryCode: "ACC", TypeCode: "ACCOUNTS", Comments: []string{"", "  "}}, nil},
		{"everything", UpdateRequest{
			CategoryCode: "ACC", TypeCode: "CARDS", Status: events.StatusResolved, Resolution: "replaced",
			Comments: []string{"one", " ", "two"}, CaseData: json.RawMessage(`{"a":2}`),
		}, []events.Event{
			events.CaseUpdated{ServiceTypeID: "t-card", ServiceCategoryID: "c-acc", CaseData: json.RawMessage(`{"a":2}`)},
			events.CaseResolved{From: events.StatusWaiting, Resolution: "replaced"},
			events.CaseNoteAdded{NoteID: 2, Description: "one"},
			events.CaseNoteAdded{NoteID: 3, Description: "two"},
		}},
		{"status only", UpdateRequest{CategoryCode: "ACC", TypeCode: "ACCOUNTS", Status: events.StatusPending}, []events.Event{
			events.CaseStatusChanged{From: events.StatusWaiting, To: events.StatusPending},
		}},
		{"custom fields only", UpdateRequest{CategoryCode: "ACC", TypeCode: "ACCOUNTS", CaseData: json.RawMessage(`{}`)}, []events.Event{
			events.CaseUpdated{CaseData: json.RawMessage(`{}`)},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := base.Clone()
			evs, err := c.Update(dir, fakeCatalog{}, alice, tt.req)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(evs, tt.want) {
				t.Fatalf("got %+v, want %+v", evs, tt.want)
			}
			for _, ev := range evs {
				c.Apply(t0.Add(time.Hour), ev)
			}
			// Applied, the same update changes nothing more (but its comments, notes anew).
			again := tt.req
			again.Comments = nil
			if evs, err := c.Update(dir, fakeCatalog{}, alice, again); err != nil || len(evs) != 0 {
				t.Fatalf("the same update again: got %+v, %v; want no event", evs, err)
			}
		})
	}
	t.Run("state after", func(t *testing.T) {
		c := base.Clone()
		evs, _ := c.Update(dir, fakeCatalog{}, alice, tests[2].req)
		for _, ev := range evs {
			c.Apply(t0.Add(time.Hour), ev)
		}
		if c.ServiceTypeID != "t-card" || c.ServiceCategoryID != "c-acc" || string(c.CaseData) != `{"a":2}` ||
			c.Status != events.StatusResolved || c.Resolution != "replaced" || len(c.Notes) != 3 || c.Notes[2] != (Note{3, "two"}) {
			t.Fatalf("got %+v", c)
		}
	})
}

// TestFoldV1Log folds a log as the schema version 1 encoder wrote it (testdata/v1.log, a
// case opened with a comments string through the operator API, then a note): the comments
// string is note 1, and the next note is numbered after the log's.
func TestFoldV1Log(t *testing.T) {
	f, err := os.Open(filepath.Join("testdata", "v1.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var c Case
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		env, ev, err := events.UnmarshalEvent(sc.Bytes())
		if err != nil || ev == nil {
			t.Fatalf("decode %s: %v", sc.Bytes(), err)
		}
		if env.SchemaVersion != 1 {
			t.Fatalf("%s: schemaVersion %d, want a version 1 log", env.Type, env.SchemaVersion)
		}
		c.Apply(env.OccurredAt, ev)
	}
	want := []Note{{1, "card swallowed by ATM"}, {2, "called back"}}
	if !reflect.DeepEqual(c.Notes, want) || c.CaseInstanceID != 1 || c.Status != events.StatusWaiting || string(c.CaseData) != `{"branch":"north"}` {
		t.Fatalf("got %+v, want notes %+v", c, want)
	}
	evs, err := c.AddNote("third")
	if err != nil || evs[0].(events.CaseNoteAdded).NoteID != 3 {
		t.Fatalf("next note: got %+v, %v; want id 3", evs, err)
	}
}
