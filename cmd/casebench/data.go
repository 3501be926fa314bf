package main

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/casestream/casestream/events"
	"github.com/casestream/casestream/examples"
	"github.com/casestream/casestream/internal/directory"
	"github.com/casestream/casestream/internal/eventstore"
)

// Identifiers of the demo directory (examples/demo-directory.json) the scenarios use.
const (
	demoUnit        = "5f0c6b1e-2d3a-4c8b-9e71-0a1b2c3d4e01" // Downtown Branch
	demoInbox       = "7a3e9d20-1b4c-4f6a-8d2e-3c4b5a6d7e01" // Front Desk
	demoWorkspace   = "9c1d2e3f-4a5b-4c6d-8e7f-1a2b3c4d5e01" // Counter
	demoService     = "b2c3d4e5-f6a7-4b8c-9d0e-1f2a3b4c5d01" // Accounts, prefix A
	demoCategory    = "c3d4e5f6-a7b8-4c9d-8e0f-2a3b4c5d6e01" // ACCOUNTS
	demoLostCard    = "d4e5f6a7-b8c9-4d0e-9f1a-3b4c5d6e7f02" // LOST_CARD
	demoApplication = "a7b8c9d0-e1f2-4a3b-8c4d-6e7f8a9b0c01"
	demoTouchpoint  = "demo-kiosk"
	demoTPToken     = "demo-kiosk-token"
	demoClientID    = "demo-app"
	demoSecret      = "demo-app-secret"
	// alice (Supervisor, every type) assigns cases to bob and dave (both may take LOST_CARD).
	aliceEmail    = "alice@example.com"
	alicePassword = "alice-password"
)

var assignTargets = [2]string{"bob@example.com", "dave@example.com"}

// agentID returns the userId of the listing's i-th agent.
func agentID(i int) string { return fmt.Sprintf("20000000-0000-4000-8000-%012d", i) }

// benchDirectory returns the demo directory plus the given number of agents: operators in
// the Downtown unit with its Counter workspace, allowed every service type.
func benchDirectory(agents int) (*directory.File, error) {
	f, err := directory.Parse(examples.DemoDirectory)
	if err != nil {
		return nil, err
	}
	for i := range agents {
		f.Operators = append(f.Operators, directory.FileOperator{
			UserID:       agentID(i),
			Email:        fmt.Sprintf("agent%d@bench.example.com", i),
			DisplayName:  fmt.Sprintf("Agent %d", i),
			Initials:     "AG",
			Password:     "agent-password",
			ServiceTypes: []string{"*"},
			Units:        []string{demoUnit},
			Workspaces:   []string{demoWorkspace},
			Roles:        []string{"Agent"},
		})
	}
	return f, f.Validate()
}

var benchActor = events.Actor{Kind: events.ActorSystem, ID: "casebench"}

// envelope wraps ev for the case with the given id.
func envelope(id int64, at time.Time, ev events.Event) (events.Envelope, error) {
	return events.Wrap(events.Meta{
		ID: uuid.NewString(), Subject: events.CaseSubject(id), OccurredAt: at,
		Actor: benchActor, CorrelationID: "casebench",
	}, ev)
}

// opened is the first event of a LOST_CARD case at the Front Desk of the Downtown unit.
func opened(id int64) events.CaseOpened {
	return events.CaseOpened{
		CaseInstanceID:    id,
		CaseID:            uuid.NewString(),
		ServiceTypeID:     demoLostCard,
		ServiceCategoryID: demoCategory,
		ServiceID:         demoService,
		UnitID:            demoUnit,
		InboxID:           demoInbox,
		Status:            events.StatusWaiting,
		Ticket:            events.Ticket{Prefix: "A", Number: int(id % 1000)},
		Channel:           "Kiosk",
	}
}

// toOperator assigns a waiting case to an operator, who then holds it Active.
func toOperator(userID string) events.CaseAssigned {
	return events.CaseAssigned{To: events.Assignment{OperatorID: userID}, Status: events.StatusActive}
}

// message makes the JetStream message storing env as the store writes an Append of one
// event (eventstore.Messages), expecting its subject's last event at expected (0: none).
func message(env events.Envelope, expected uint64) (*nats.Msg, error) {
	msgs, err := eventstore.Messages(env.Subject, expected, []events.Envelope{env})
	if err != nil {
		return nil, err
	}
	return msgs[0], nil
}

// bulk publishes many messages asynchronously, a bounded number in flight, and counts the
// failures.
type bulk struct {
	js     jetstream.JetStream
	failed atomic.Int64
	mu     sync.Mutex
	first  error
}

func newBulk(nc *nats.Conn) (*bulk, error) {
	b := &bulk{}
	js, err := jetstream.New(nc,
		jetstream.WithPublishAsyncMaxPending(4096),
		jetstream.WithPublishAsyncErrHandler(func(_ jetstream.JetStream, _ *nats.Msg, err error) { b.fail(err) }))
	if err != nil {
		return nil, err
	}
	b.js = js
	return b, nil
}

func (b *bulk) fail(err error) {
	b.failed.Add(1)
	b.mu.Lock()
	if b.first == nil {
		b.first = err
	}
	b.mu.Unlock()
}

// publish publishes env, expecting its subject's last event at expected (0: none).
func (b *bulk) publish(env events.Envelope, expected uint64) (jetstream.PubAckFuture, error) {
	m, err := message(env, expected)
	if err != nil {
		return nil, err
	}
	// A replicated stream acknowledges more slowly than this loop publishes: wait for room.
	return b.js.PublishMsgAsync(m, jetstream.WithStallWait(time.Minute))
}

// rounds writes rounds events to each case of ids, one round after the other, each round
// published all at once: event(id, r) is the case's r-th, published expecting the
// sequence its (r-1)-th was stored at, as the store's Appends do.
func (b *bulk) rounds(ctx context.Context, ids []int64, rounds int, event func(id int64, r int) events.Event) error {
	last := make([]uint64, len(ids))
	futures := make([]jetstream.PubAckFuture, len(ids))
	now := time.Now()
	for r := range rounds {
		for i, id := range ids {
			env, err := envelope(id, now, event(id, r))
			if err != nil {
				return err
			}
			if futures[i], err = b.publish(env, last[i]); err != nil {
				return err
			}
		}
		if err := b.wait(ctx); err != nil {
			return err
		}
		for i, f := range futures {
			select {
			case ack := <-f.Ok():
				last[i] = ack.Sequence
			case err := <-f.Err():
				return fmt.Errorf("publish to %s: %w", f.Msg().Subject, err)
			}
		}
	}
	return nil
}

// wait waits for every publish to be acknowledged and returns the first failure.
func (b *bulk) wait(ctx context.Context) error {
	select {
	case <-b.js.PublishAsyncComplete():
	case <-ctx.Done():
		return ctx.Err()
	}
	if n := b.failed.Load(); n > 0 {
		b.mu.Lock()
		defer b.mu.Unlock()
		return fmt.Errorf("%d publishes failed, the first with: %w", n, b.first)
	}
	return nil
}

// lastSeq returns the last sequence of the CASES stream.
func lastSeq(ctx context.Context, js jetstream.JetStream) (uint64, error) {
	st, err := js.Stream(ctx, events.StreamCases)
	if err != nil {
		return 0, err
	}
	info, err := st.Info(ctx)
	if err != nil {
		return 0, err
	}
	return info.State.LastSeq, nil
}

// errStatus reports an unexpected HTTP answer.
type errStatus struct {
	method, url string
	status      int
	body        string
}

func (e *errStatus) Error() string {
	return e.method + " " + e.url + ": status " + strconv.Itoa(e.status) + ": " + e.body
}

var errNoSamples = errors.New("no operation completed")
