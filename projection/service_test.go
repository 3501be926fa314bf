package projection

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/micro"

	"github.com/casestream/casestream/embedded/embeddedtest"
	"github.com/casestream/casestream/events"
)

// startNATS starts an embedded nats-server on a random port and returns a connection to it,
// authenticated as the service (the identity that serves and asks the queries).
func startNATS(tb testing.TB) *nats.Conn {
	tb.Helper()
	_, nc := embeddedtest.Start(tb)
	return nc
}

// startService serves p on a fresh server and returns a client of it.
func startService(tb testing.TB, p *Projector, wait time.Duration) (*Client, *nats.Conn, micro.Service) {
	tb.Helper()
	nc := startNATS(tb)
	svc, err := NewService(nc, p, ServiceOptions{Wait: wait})
	if err != nil {
		tb.Fatalf("NewService: %v", err)
	}
	tb.Cleanup(func() { _ = svc.Stop() })
	return NewClient(nc, 5*time.Second), nc, svc
}

func TestServiceQueries(t *testing.T) {
	p := demoProjector(t)
	c, _, svc := startService(t, p, time.Second)
	ctx := context.Background()

	t.Run("activeCases", func(t *testing.T) {
		res, err := c.ActiveCases(ctx, "a", 5, 0)
		if err != nil {
			t.Fatal(err)
		}
		want := p.ListActive("a")
		if res.Outcome != Listed || res.UnitID != "u1" || res.WorkspaceID != "ws1" || string(res.Cases) != string(want.Cases) {
			t.Errorf("got %v %q %q %s, want %v u1 ws1 %s", res.Outcome, res.UnitID, res.WorkspaceID, res.Cases, Listed, want.Cases)
		}
	})
	t.Run("activeCases empty", func(t *testing.T) {
		res, err := c.ActiveCases(ctx, "b", 0, 0)
		if err != nil {
			t.Fatal(err)
		}
		if res.Outcome != Listed || string(res.Cases) != "[]" {
			t.Errorf("got %v %s, want listed []", res.Outcome, res.Cases)
		}
	})
	refusals := []struct {
		user string
		want Outcome
	}{{"ghost", UnknownUser}, {"nounit", NoCurrentUnit}, {"nows", NoWorkspace}}
	for _, tt := range refusals {
		t.Run("activeCases "+tt.user, func(t *testing.T) {
			res, err := c.ActiveCases(ctx, tt.user, 0, 0)
			if err != nil {
				t.Fatal(err)
			}
			if res.Outcome != tt.want || res.Cases != nil {
				t.Errorf("got %v %s, want %v and no cases", res.Outcome, res.Cases, tt.want)
			}
		})
	}
	t.Run("assignedOpen", func(t *testing.T) {
		got, err := c.AssignedOpen(ctx, "a", 0, 0)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got, []int64{1, 2}) {
			t.Errorf("got %v, want [1 2]", got)
		}
		got, err = c.AssignedOpen(ctx, "nobody", 0, 0)
		if err != nil || got == nil || len(got) != 0 {
			t.Errorf("got %v %v, want [] nil", got, err)
		}
	})
	t.Run("operatorCases", func(t *testing.T) {
		for _, tt := range []struct {
			page, size int
			want       []int64
		}{{0, 10, []int64{2, 1}}, {1, 1, []int64{1}}, {2, 1, []int64{}}} {
			got, err := c.OperatorCases(ctx, "a", tt.page, tt.size, 0, 0)
			if err != nil || !slices.Equal(got, tt.want) {
				t.Errorf("page %d size %d: got %v %v, want %v", tt.page, tt.size, got, err, tt.want)
			}
		}
	})
	for _, bad := range []struct{ page, size int }{{-1, 10}, {0, 0}, {0, MaxOperatorCases + 1}} {
		t.Run(fmt.Sprintf("operatorCases page %d size %d", bad.page, bad.size), func(t *testing.T) {
			_, err := c.OperatorCases(ctx, "a", bad.page, bad.size, 0, 0)
			var se *ServiceError
			if !errors.As(err, &se) || se.Code != CodeBadRequest {
				t.Errorf("got %v, want a %s service error", err, CodeBadRequest)
			}
		})
	}
	t.Run("nextWaiting", func(t *testing.T) {
		got, err := c.NextWaiting(ctx, []string{"in1"}, nil, 10, 0, 0)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got, []int64{3}) {
			t.Errorf("got %v, want [3]", got)
		}
	})
	t.Run("nextWaiting bad limit", func(t *testing.T) {
		_, err := c.NextWaiting(ctx, []string{"in1"}, nil, 0, 0, 0)
		var se *ServiceError
		if !errors.As(err, &se) || se.Code != CodeBadRequest {
			t.Errorf("got %v, want a %s service error", err, CodeBadRequest)
		}
	})
	t.Run("queuePosition", func(t *testing.T) {
		pos, ok, err := c.QueuePosition(ctx, 3, 0, 0)
		if err != nil || pos != 1 || !ok {
			t.Errorf("got %d %v %v, want 1 true nil", pos, ok, err)
		}
		pos, ok, err = c.QueuePosition(ctx, 1, 0, 0)
		if err != nil || pos != 0 || ok {
			t.Errorf("active case: got %d %v %v, want 0 false nil", pos, ok, err)
		}
	})
	t.Run("caseLookup", func(t *testing.T) {
		id, ok, err := c.CaseLookup(ctx, caseUUID(2), 0, 0)
		if err != nil || id != 2 || !ok {
			t.Errorf("got %d %v %v, want 2 true nil", id, ok, err)
		}
		id, ok, err = c.CaseLookup(ctx, "nope", 0, 0)
		if err != nil || id != 0 || ok {
			t.Errorf("got %d %v %v, want 0 false nil", id, ok, err)
		}
	})
	t.Run("info", func(t *testing.T) {
		info := svc.Info()
		if info.Name != ServiceName || len(info.Endpoints) != 6 {
			t.Fatalf("got %s with %d endpoints, want %s with 6", info.Name, len(info.Endpoints), ServiceName)
		}
		for _, ep := range info.Endpoints {
			if ep.QueueGroup != QueueGroup || ep.Subject != SubjectPrefix+"."+ep.Name {
				t.Errorf("endpoint %s: got subject %s queue %s", ep.Name, ep.Subject, ep.QueueGroup)
			}
		}
	})
}

func TestServiceBadRequest(t *testing.T) {
	_, nc, _ := startService(t, demoProjector(t), time.Second)
	msg, err := nc.Request(SubjectPrefix+"."+EndpointActiveCases, []byte("{not json"), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if got := msg.Header.Get(micro.ErrorCodeHeader); got != CodeBadRequest {
		t.Errorf("got code %q, want %s", got, CodeBadRequest)
	}
}

func TestServiceReadYourWrites(t *testing.T) {
	p := demoProjector(t) // CASES at 5, DIRECTORY at 0
	c, _, _ := startService(t, p, 10*time.Second)
	ctx := context.Background()

	type result struct {
		res ListResult
		err error
	}
	done := make(chan result, 1)
	go func() {
		res, err := c.ActiveCases(ctx, "a", 6, 0)
		done <- result{res, err}
	}()
	// An earlier request that needs no wait is answered while the other one waits.
	if id, ok, err := c.CaseLookup(ctx, caseUUID(1), 0, 0); err != nil || !ok || id != 1 {
		t.Fatalf("lookup while another request waits: got %d %v %v", id, ok, err)
	}
	select {
	case r := <-done:
		t.Fatalf("answered before the record was applied: %+v", r)
	default:
	}
	go p.ApplyCases(caseRecord(t, 6, 3, t0.Add(time.Hour), events.CaseServiceStarted{AgentID: "a"}))
	r := <-done
	if r.err != nil {
		t.Fatal(r.err)
	}
	var got []ActiveCase
	if err := json.Unmarshal(r.res.Cases, &got); err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 || got[2].CaseID != caseUUID(3) {
		t.Errorf("got %s, want cases 2, 1, 3", r.res.Cases)
	}
}

func TestServiceNotCaughtUp(t *testing.T) {
	p := demoProjector(t)
	c, _, _ := startService(t, p, 50*time.Millisecond)
	ctx := context.Background()
	calls := []struct {
		name string
		call func() error
	}{
		{EndpointActiveCases, func() error { _, err := c.ActiveCases(ctx, "a", 100, 0); return err }},
		{EndpointAssignedOpen, func() error { _, err := c.AssignedOpen(ctx, "a", 0, 1); return err }},
		{EndpointOperatorCases, func() error { _, err := c.OperatorCases(ctx, "a", 0, 1, 100, 0); return err }},
		{EndpointNextWaiting, func() error { _, err := c.NextWaiting(ctx, nil, nil, 1, 100, 0); return err }},
		{EndpointQueuePosition, func() error { _, _, err := c.QueuePosition(ctx, 1, 100, 0); return err }},
		{EndpointCaseLookup, func() error { _, _, err := c.CaseLookup(ctx, "x", 100, 0); return err }},
	}
	for _, tt := range calls {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.call(); !errors.Is(err, ErrNotCaughtUp) {
				t.Errorf("got %v, want %v", err, ErrNotCaughtUp)
			}
		})
	}
}

func TestClientNoService(t *testing.T) {
	c := NewClient(startNATS(t), time.Second)
	_, err := c.ActiveCases(context.Background(), "a", 0, 0)
	if !errors.Is(err, nats.ErrNoResponders) || !errors.Is(err, ErrUnavailable) {
		t.Errorf("got %v, want %v and %v", err, nats.ErrNoResponders, ErrUnavailable)
	}
}

func FuzzDecodeRequest(f *testing.F) {
	for _, s := range []string{
		`{"minCasesSeq":5,"minDirectorySeq":2,"userId":"a"}`,
		`{"inboxIds":["in1"],"groupNames":["g"],"limit":10}`,
		`{"caseInstanceId":-1}`, `{"caseId":null}`, `[]`, `{`, ``,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, v := range []any{&ActiveCasesRequest{}, &AssignedOpenRequest{}, &OperatorCasesRequest{}, &NextWaitingRequest{}, &QueuePositionRequest{}, &CaseLookupRequest{}} {
			if err := decodeRequest(data, v); err == nil {
				if _, err := json.Marshal(v); err != nil {
					t.Fatalf("decoded %q into %+v that does not encode: %v", data, v, err)
				}
			}
		}
	})
}
