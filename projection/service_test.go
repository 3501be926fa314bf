package projection

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/micro"

	"github.com/casestream/casestream/events"
	"github.com/casestream/casestream/internal/embedded/embeddedtest"
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

// TestServiceQueries checks what the service adds to the query contract (see
// TestQueriesContract): arguments out of range are refused with a bad-request service error,
// and the endpoints are named and grouped as documented.
func TestServiceQueries(t *testing.T) {
	c, _, svc := startService(t, demoProjector(t), time.Second)
	ctx := context.Background()
	for _, bad := range []struct{ page, size int }{{-1, 10}, {0, 0}, {0, MaxOperatorCases + 1}} {
		t.Run(fmt.Sprintf("operatorCases page %d size %d", bad.page, bad.size), func(t *testing.T) {
			_, err := c.OperatorCases(ctx, "a", bad.page, bad.size, 0, 0)
			var se *ServiceError
			if !errors.As(err, &se) || se.Code != CodeBadRequest {
				t.Errorf("got %v, want a %s service error", err, CodeBadRequest)
			}
		})
	}
	for _, limit := range []int{0, maxNextWaiting + 1} {
		t.Run(fmt.Sprintf("nextWaiting limit %d", limit), func(t *testing.T) {
			_, err := c.NextWaiting(ctx, []string{"in1"}, nil, limit, 0, 0)
			var se *ServiceError
			if !errors.As(err, &se) || se.Code != CodeBadRequest {
				t.Errorf("got %v, want a %s service error", err, CodeBadRequest)
			}
		})
	}
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
