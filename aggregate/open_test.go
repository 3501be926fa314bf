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
