package aggregate

import (
	"encoding/json"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/casestream/casestream/events"
)

// TestOpen checks Open's rules in their order and the case its event opens, applied at a
// fixed time.
func TestOpen(t *testing.T) {
	at := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
	st := events.ServiceType{ServiceTypeID: "t1", ServiceCategoryID: "c1", OperatorGroup: "Tier 1"}
	svc := events.Service{ServiceID: "s1", UnitID: "u1", InboxID: "i1", TicketPrefix: "A"}
	base := func(f func(*OpenRequest)) OpenRequest {
		req := OpenRequest{ServiceType: st, Service: svc, Channel: "Chat"}
		if f != nil {
			f(&req)
		}
		return req
	}
	tests := []struct {
		name string
		req  OpenRequest
		want error
		// check inspects the case the event opens, applied at `at`.
		check func(t *testing.T, c *Case)
	}{
		{"waiting by default", base(nil), nil, func(t *testing.T, c *Case) {
			if c.Status != events.StatusWaiting {
				t.Errorf("status: got %q, want %q", c.Status, events.StatusWaiting)
			}
		}},
		{"pending", base(func(r *OpenRequest) { r.Status = events.StatusPending }), nil, func(t *testing.T, c *Case) {
			if c.Status != events.StatusPending {
				t.Errorf("status: got %q, want %q", c.Status, events.StatusPending)
			}
		}},
		{"active refused", base(func(r *OpenRequest) { r.Status = events.StatusActive }), ErrInitialStatus, nil},
		{"resolved refused", base(func(r *OpenRequest) { r.Status = events.StatusResolved }), ErrInitialStatus, nil},
		{"unknown status refused", base(func(r *OpenRequest) { r.Status = "Open" }), ErrInitialStatus, nil},
		{"resolution refused", base(func(r *OpenRequest) { r.Resolution = "Done" }), ErrInitialResolution, nil},
		{"status before resolution", base(func(r *OpenRequest) { r.Status, r.Resolution = "Closed", "Done" }), ErrInitialStatus, nil},
		{"routing and stamps", base(func(r *OpenRequest) {
			r.Language, r.ContactEmail = "en", "c@example.com"
			r.CaseData = json.RawMessage(`{"a":1}`)
		}), nil, func(t *testing.T, c *Case) {
			got := []any{c.ServiceTypeID, c.ServiceCategoryID, c.ServiceID, c.UnitID, c.InboxID, c.AssignedGroup, c.Ticket.Prefix, c.Channel, c.Language, c.ContactEmail, string(c.CaseData)}
			want := []any{"t1", "c1", "s1", "u1", "i1", "Tier 1", "A", "Chat", "en", "c@example.com", `{"a":1}`}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("got %v, want %v", got, want)
			}
			if !c.DateOpened.Equal(at) || !c.StatusDate.Equal(at) || !c.ReferenceDate.Equal(at) {
				t.Errorf("dates: got %v %v %v, want %v", c.DateOpened, c.StatusDate, c.ReferenceDate, at)
			}
		}},
		{"comments become notes, blanks skipped", base(func(r *OpenRequest) { r.Comments = []string{"first", "  ", "second"} }), nil, func(t *testing.T, c *Case) {
			want := []Note{{1, "first"}, {2, "second"}}
			if !reflect.DeepEqual(c.Notes, want) {
				t.Errorf("notes: got %v, want %v", c.Notes, want)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev, err := Open(tt.req)
			if !errors.Is(err, tt.want) {
				t.Fatalf("got %v, want %v", err, tt.want)
			}
			if err != nil {
				return
			}
			if ev.CaseInstanceID != 0 || ev.CaseID != "" || ev.Ticket.Number != 0 {
				t.Errorf("ids: got %d %q %d, want none allocated", ev.CaseInstanceID, ev.CaseID, ev.Ticket.Number)
			}
			ev.CaseInstanceID = 1
			var c Case
			c.Apply(at, ev)
			tt.check(t, &c)
		})
	}
}

// services is a Services of one service, "svc-1".
type services struct{}

func (services) Service(id string) (events.Service, bool) {
	return events.Service{ServiceID: "svc-1", Name: "Front desk"}, id == "svc-1"
}

// TestOperatorOpening checks where an operator's new case belongs, the rules in their order.
func TestOperatorOpening(t *testing.T) {
	orig := catalogTypes
	t.Cleanup(func() { catalogTypes = orig })
	catalogTypes = []events.ServiceType{
		{ServiceTypeID: "t-acc", Code: "ACCOUNTS", ServiceCategoryID: "c-acc", DefaultServiceID: "svc-1"},
		{ServiceTypeID: "t-card", Code: "CARDS", ServiceCategoryID: "c-acc", DefaultServiceID: "svc-gone"},
	}
	all := events.Operator{UserID: "u1", ServiceTypes: []string{"*"}}
	cardsOnly := events.Operator{UserID: "u2", ServiceTypes: []string{"CARDS"}}
	tests := []struct {
		name           string
		op             events.Operator
		category, code string
		want           error
	}{
		{"no category", all, "", "ACCOUNTS", ErrCategoryRequired},
		{"unknown category", all, "NOPE", "ACCOUNTS", ErrCategoryOrTypeInvalid},
		{"no type", all, "ACC", "", ErrCategoryOrTypeInvalid},
		{"type of another category", all, "LOA", "ACCOUNTS", ErrCategoryOrTypeInvalid},
		{"type the operator may not handle, before its service", cardsOnly, "ACC", "ACCOUNTS", ErrTypeNotAuthorized},
		{"type without its service", cardsOnly, "ACC", "CARDS", ErrCategoryOrTypeInvalid},
		{"opens", all, "ACC", "ACCOUNTS", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st, svc, err := OperatorOpening(fakeCatalog{}, services{}, tt.op, tt.category, tt.code)
			if !errors.Is(err, tt.want) {
				t.Fatalf("got %v, want %v", err, tt.want)
			}
			if tt.want == nil && (st.ServiceTypeID != "t-acc" || svc.ServiceID != "svc-1") {
				t.Errorf("got type %q and service %q, want t-acc and svc-1", st.ServiceTypeID, svc.ServiceID)
			}
		})
	}
}

// types is a ServiceTypes of one type, "t-acc".
type types struct{}

func (types) ServiceType(id string) (events.ServiceType, bool) {
	return events.ServiceType{ServiceTypeID: "t-acc", Code: "ACCOUNTS"}, id == "t-acc"
}

// TestQueueUpOpening checks how a queued-up case opens, the rules in their order.
func TestQueueUpOpening(t *testing.T) {
	tests := []struct {
		name, typeID, channel, entryMode string
		want                             error
		wantMode                         string
	}{
		{"unknown type, before the channel", "t-x", "Fax", "", ErrServiceTypeUnknown, ""},
		{"unknown channel, before the entry mode", "t-acc", "Fax", "Teleport", ErrChannel, ""},
		{"unknown entry mode", "t-acc", "Chat", "Teleport", ErrEntryMode, ""},
		{"walk-in by default", "t-acc", "FaceToFace", "", nil, "WalkIn"},
		{"appointment", "t-acc", "Phone", "Appointment", nil, "Appointment"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st, mode, err := QueueUpOpening(types{}, tt.typeID, tt.channel, tt.entryMode)
			if !errors.Is(err, tt.want) || mode != tt.wantMode {
				t.Fatalf("got %q, %v; want %q, %v", mode, err, tt.wantMode, tt.want)
			}
			if err == nil && st.ServiceTypeID != "t-acc" {
				t.Errorf("got type %q, want t-acc", st.ServiceTypeID)
			}
		})
	}
}
