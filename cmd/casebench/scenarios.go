package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go/jetstream"
	"golang.org/x/crypto/bcrypt"

	"github.com/casestream/casestream/events"
	"github.com/casestream/casestream/internal/app"
	"github.com/casestream/casestream/internal/directory"
	"github.com/casestream/casestream/internal/eventstore"
	"github.com/casestream/casestream/projection"
)

// catchUpTimeout bounds every wait for the projector to apply what was written; lagTimeout
// bounds the lag run beyond its duration.
const (
	catchUpTimeout = 5 * time.Minute
	lagTimeout     = 30 * time.Second
)

// meter is one measured operation, run on n workers in timed slices (see alternate) that
// add up: worker w's i-th call is op(ctx, w, i), i counting on from one slice to the next.
type meter struct {
	n  int
	op func(ctx context.Context, w, i int) error

	next    []int // each worker's next i
	elapsed time.Duration
	lat     []time.Duration // one per completed operation
}

func newMeter(n int, op func(ctx context.Context, w, i int) error) *meter {
	return &meter{n: n, op: op, next: make([]int, n)}
}

// perS is the rate over every slice run so far.
func (m *meter) perS() float64 {
	if m.elapsed <= 0 {
		return 0
	}
	return float64(len(m.lat)) / m.elapsed.Seconds()
}

// slice runs m's workers until d has passed or maxOps operations have started. The first
// error stops every worker.
func (m *meter) slice(ctx context.Context, d time.Duration, maxOps int) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var (
		started atomic.Int64
		mu      sync.Mutex
		wg      sync.WaitGroup
	)
	deadline := time.Now().Add(d)
	start := time.Now()
	for w := range m.n {
		wg.Go(func() {
			var mine []time.Duration
			i := m.next[w]
			for ; time.Now().Before(deadline) && started.Add(1) <= int64(maxOps) && ctx.Err() == nil; i++ {
				t := time.Now()
				if err := m.op(ctx, w, i); err != nil {
					cancel(err)
					break
				}
				mine = append(mine, time.Since(t))
			}
			m.next[w] = i
			mu.Lock()
			m.lat = append(m.lat, mine...)
			mu.Unlock()
		})
	}
	wg.Wait()
	m.elapsed += time.Since(start)
	return context.Cause(ctx)
}

// alternate runs the meters in turn, in the scale's number of rounds that share its duration
// and operation bound, in the order of the meters in even rounds and reversed in odd ones:
// a ratio of two meters then compares them under the same conditions of the machine, which
// drift (the disk's fsync speed by a factor of four, the CPU stolen by the host) over
// seconds.
func (b *bench) alternate(ctx context.Context, ms ...*meter) error {
	rounds := max(b.sc.rounds, 1)
	d, maxOps := b.sc.duration/time.Duration(rounds), max(b.sc.maxOps/rounds, 1)
	for r := range rounds {
		for k := range ms {
			if r%2 == 1 {
				k = len(ms) - 1 - k
			}
			if err := ms[k].slice(ctx, d, maxOps); err != nil {
				return err
			}
		}
	}
	for _, m := range ms {
		if len(m.lat) == 0 {
			return errNoSamples
		}
	}
	return nil
}

// appendMeter measures raw JetStream appends: writers goroutines, each appending events to
// its own cases with the expected last sequence of the case's subject and a message id.
func (b *bench) appendMeter(n *app.App, run int64) *meter {
	return b.rawAppends(run, func(ctx context.Context, env events.Envelope, expected uint64) (uint64, error) {
		m, err := message(env, expected)
		if err != nil {
			return 0, err
		}
		ack, err := n.JS.PublishMsg(ctx, m)
		if err != nil {
			return 0, fmt.Errorf("publish to %s: %w", env.Subject, err)
		}
		return ack.Sequence, nil
	})
}

// storeAppendMeter measures the same appends through st's Append (the group-commit node's
// appender, which returns once the event is on disk).
func (b *bench) storeAppendMeter(st eventstore.Store, run int64) *meter {
	return b.rawAppends(run, func(ctx context.Context, env events.Envelope, expected uint64) (uint64, error) {
		return st.Append(ctx, env.Subject, expected, []events.Envelope{env})
	})
}

// rawAppends is the meter of appendMeter and storeAppendMeter: writers goroutines, each
// appending a note to its own cases in turn through add, which returns the stored sequence.
func (b *bench) rawAppends(run int64, add func(ctx context.Context, env events.Envelope, expected uint64) (uint64, error)) *meter {
	per := b.sc.casesPerUser
	last := make([][]uint64, writers)
	for w := range last {
		last[w] = make([]uint64, per)
	}
	return newMeter(writers, func(ctx context.Context, w, i int) error {
		k := i % per
		id := b.base + idsAppend + run*10_000_000 + int64(w*per+k)
		env, err := envelope(id, time.Now(), events.CaseNoteAdded{NoteID: i/per + 1, Description: "casebench note"})
		if err != nil {
			return err
		}
		seq, err := add(ctx, env, last[w][k])
		if err != nil {
			return err
		}
		last[w][k] = seq
		return nil
	})
}

// httpClient returns a client keeping enough idle connections for conc concurrent callers.
func httpClient(conc int) *http.Client {
	return &http.Client{
		Timeout: 30 * time.Second,
		Transport: &http.Transport{
			Proxy:               nil,
			DialContext:         (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
			MaxIdleConns:        2 * conc,
			MaxIdleConnsPerHost: 2 * conc,
			IdleConnTimeout:     time.Minute,
		},
	}
}

// do sends req and checks the answer's status. It returns the body if keep is set, and
// otherwise reads it into io.Discard (a pooled buffer), so that the measuring client
// allocates little of its own.
func do(c *http.Client, req *http.Request, want int, keep bool) ([]byte, error) {
	resp, err := c.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != want || keep {
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			return nil, err
		}
		if resp.StatusCode != want {
			return nil, &errStatus{method: req.Method, url: req.URL.String(), status: resp.StatusCode, body: string(body)}
		}
		return body, nil
	}
	_, err = io.Copy(io.Discard, resp.Body)
	return nil, err
}

// assignMeter opens the cases and returns the measure of PUT /api/v4/cases/{id}/assignment
// on them: writers clients, each assigning its own cases in turn, alternately to bob and
// to dave, so that every call writes an event, through c.
func (b *bench) assignMeter(ctx context.Context, n *app.App, conns wireConns, run int64) (*meter, error) {
	per := b.sc.casesPerUser
	caseID := func(w, k int) int64 { return b.base + idsAssign + run*10_000_000 + int64(w*per+k) }
	bl, err := newBulk(n.NC)
	if err != nil {
		return nil, err
	}
	ids := make([]int64, 0, writers*per)
	for w := range writers {
		for k := range per {
			ids = append(ids, caseID(w, k))
		}
	}
	if err := bl.rounds(ctx, ids, 1, func(id int64, _ int) events.Event { return opened(id) }); err != nil {
		return nil, err
	}
	h := http.Header{}
	h.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(aliceEmail+":"+alicePassword)))
	h.Set("Thalamus-Touchpoint", demoTouchpoint)
	h.Set("Thalamus-Token", demoTPToken)
	h.Set("Content-Type", "application/json")
	var bodies [2][]byte
	for t, email := range assignTargets {
		bodies[t], _ = json.Marshal(map[string]string{"email": email})
	}
	// reqs[w][k][t]: client w's request assigning its k-th case to assignTargets[t].
	reqs := make([][][2][]byte, writers)
	for w := range reqs {
		reqs[w] = make([][2][]byte, per)
		for k := range per {
			for t, body := range bodies {
				path := "/api/v4/cases/" + strconv.FormatInt(caseID(w, k), 10) + "/assignment"
				reqs[w][k][t] = request(http.MethodPut, n.Addr(), path, h, body)
			}
		}
	}
	return newMeter(writers, func(ctx context.Context, w, i int) error {
		_, err := conns[w].do(ctx, reqs[w][i%per][(i/per)%2], http.StatusCreated, false)
		return err
	}), nil
}

// writeRun measures raw appends and assigns on node n in alternation (see alternate) and
// returns both rates and the assigns' latencies.
func (b *bench) writeRun(ctx context.Context, n *app.App, run int64) (appendPerS, assignPerS float64, lat []time.Duration, err error) {
	conns := newWireConns(n.Addr(), writers)
	defer conns.close()
	assign, err := b.assignMeter(ctx, n, conns, run)
	if err != nil {
		return 0, 0, nil, err
	}
	raw := b.appendMeter(n, run)
	if err := b.alternate(ctx, raw, assign); err != nil {
		return 0, 0, nil, err
	}
	return raw.perS(), assign.perS(), assign.lat, nil
}

// durableRun measures, in alternation, raw appends to the SyncAlways node, assigns on it,
// and (with embedded servers) assigns and raw appends on the group-commit node: both
// durable assigns are compared with the same raw appends.
func (b *bench) durableRun(ctx context.Context, r *Results) error {
	conns := newWireConns(b.durable.Addr(), writers)
	defer conns.close()
	assign, err := b.assignMeter(ctx, b.durable, conns, runSyncAlways)
	if err != nil {
		return err
	}
	raw := b.appendMeter(b.durable, runSyncAlways)
	ms := []*meter{raw, assign}
	var group, groupRaw *meter
	if b.group != nil {
		gconns := newWireConns(b.group.Addr(), writers)
		defer gconns.close()
		if group, err = b.assignMeter(ctx, b.group, gconns, runGroup); err != nil {
			return err
		}
		groupRaw = b.storeAppendMeter(b.group.Appender(), runGroup)
		ms = append(ms, group, groupRaw)
	}
	if err := b.alternate(ctx, ms...); err != nil {
		return err
	}
	r.AppendDurablePerS, r.AssignDurablePerS = raw.perS(), assign.perS()
	r.AssignP50Ms, r.AssignP99Ms = percentile(assign.lat, 50), percentile(assign.lat, 99)
	r.AssignDurableRatio = r.AssignDurablePerS / r.AppendDurablePerS
	if group != nil {
		r.AssignGroupPerS = group.perS()
		r.AssignGroupP50Ms, r.AssignGroupP99Ms = percentile(group.lat, 50), percentile(group.lat, 99)
		r.AssignGroupRatio = r.AssignGroupPerS / r.AppendDurablePerS
		r.AppendGroupPerS = groupRaw.perS()
	}
	return nil
}

// r3Run starts three nats-server processes on loopback, configured as production's
// (a sync before each acknowledgement), and a node on them whose streams have three
// replicas, and measures raw appends and assigns on it in alternation. It stops them
// before it returns, so that the next scenarios have the machine to themselves.
func (b *bench) r3Run(ctx context.Context, f *directory.File, r *Results) (err error) {
	dir, err := os.MkdirTemp(b.cfg.Dir, "casebench-r3-")
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, os.RemoveAll(dir)) }()
	b.step("r3: starting three nats-server processes")
	c, err := startCluster(dir, 3)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, c.close()) }()
	n, err := app.Start(ctx, app.Config{
		Addr: "127.0.0.1:0", NATSURL: c.url(), NATSAuth: c.service(), Replicas: 3,
		Directory: f, DirectoryName: "casebench directory", Projector: true, BcryptCost: bcrypt.MinCost, Logger: b.log,
	})
	if err != nil {
		return fmt.Errorf("start a node on the cluster: %w", err)
	}
	defer func() { err = errors.Join(err, n.Close()) }()
	r.AppendR3PerS, r.AssignR3PerS, _, err = b.writeRun(ctx, n, runR3)
	if err != nil {
		return err
	}
	r.AssignR3Ratio = r.AssignR3PerS / r.AppendR3PerS
	return nil
}

// lagRun appends new cases through the node's store at the given rate and measures, for
// each, the time from the append's acknowledgement to the projector having applied it.
func (b *bench) lagRun(ctx context.Context, n *app.App, rate float64) ([]time.Duration, error) {
	if rate <= 0 {
		return nil, fmt.Errorf("no rate to pace appends at")
	}
	total := min(int(rate*b.sc.duration.Seconds()), b.sc.maxOps)
	total = max(total, 1)
	todo := make(chan int, writers)
	var (
		mu    sync.Mutex
		lat   []time.Duration
		first error
		wg    sync.WaitGroup
	)
	// One bound for the whole run: a projector that stops applying fails the run instead of
	// holding every pending append for its own timeout.
	parent := ctx
	ctx, cancel := context.WithTimeout(ctx, b.sc.duration+lagTimeout)
	defer cancel()
	for range writers {
		wg.Go(func() {
			for i := range todo {
				d, err := b.lagOne(ctx, n, b.base+idsLag+int64(i))
				mu.Lock()
				if err != nil && first == nil {
					first = err
					cancel()
				}
				lat = append(lat, d)
				mu.Unlock()
			}
		})
	}
	start := time.Now()
	interval := time.Duration(float64(time.Second) / rate)
pace:
	for i := range total {
		if d := time.Until(start.Add(time.Duration(i) * interval)); d > 0 {
			time.Sleep(d)
		}
		select {
		case todo <- i:
		case <-ctx.Done():
			break pace
		}
	}
	close(todo)
	wg.Wait()
	if first != nil {
		return nil, first
	}
	return lat, parent.Err()
}

func (b *bench) lagOne(ctx context.Context, n *app.App, id int64) (time.Duration, error) {
	env, err := envelope(id, time.Now(), opened(id))
	if err != nil {
		return 0, err
	}
	seq, err := n.Store.Append(ctx, env.Subject, 0, []events.Envelope{env})
	if err != nil {
		return 0, err
	}
	acked := time.Now()
	if err := n.Projector.WaitFor(ctx, seq, 0); err != nil {
		return 0, fmt.Errorf("wait for %d in the projection: %w", seq, err)
	}
	return time.Since(acked), nil
}

// loadActive writes the listing's data: activeCases cases, each opened and assigned to one
// of the agents, whose current unit is then selected. It returns once the projector has
// applied them.
func (b *bench) loadActive(ctx context.Context, n *app.App) error {
	bl, err := newBulk(n.NC)
	if err != nil {
		return err
	}
	ids := make([]int64, b.sc.activeCases)
	for i := range ids {
		ids[i] = b.base + idsActive + int64(i)
	}
	err = bl.rounds(ctx, ids, 2, func(id int64, r int) events.Event {
		if r == 0 {
			return opened(id)
		}
		return toOperator(agentID(int(id-b.base-idsActive) % b.sc.agents))
	})
	if err != nil {
		return err
	}
	if err := b.selectUnits(ctx, n); err != nil {
		return err
	}
	return b.catchUp(ctx, n)
}

// selectUnits makes the Downtown unit every agent's current unit.
func (b *bench) selectUnits(ctx context.Context, n *app.App) error {
	todo := make(chan int)
	errs := make(chan error, listClients)
	var wg sync.WaitGroup
	for range listClients {
		wg.Go(func() {
			for i := range todo {
				meta := events.Meta{ID: uuid.NewString(), OccurredAt: time.Now(), Actor: benchActor, CorrelationID: "casebench"}
				if err := directory.SelectUnit(ctx, n.Store, n.Directory, meta, agentID(i), demoUnit); err != nil {
					errs <- fmt.Errorf("select unit of agent %d: %w", i, err)
					return
				}
			}
		})
	}
	var err error
feed:
	for i := range b.sc.agents {
		select {
		case todo <- i:
		case err = <-errs:
			break feed
		}
	}
	close(todo)
	wg.Wait()
	if err != nil {
		return err
	}
	select {
	case err = <-errs:
	default:
	}
	return err
}

// catchUp waits for the node's projector to apply the whole CASES stream.
func (b *bench) catchUp(ctx context.Context, n *app.App) error {
	last, err := lastSeq(ctx, n.JS)
	if err != nil {
		return err
	}
	wctx, cancel := context.WithTimeout(ctx, catchUpTimeout)
	defer cancel()
	return n.Projector.WaitFor(wctx, last, n.Directory.LastSeq())
}

// listRun measures activeCases over HTTP (the data loaded first by loadActive) at
// listClients clients, agents in turn, and a plain net/http handler answering, for each
// agent, the bytes of that agent's listing (each fetched and checked first), to the same
// client code, the two in alternation (see alternate). It returns the listing's and the
// static handler's meters.
func (b *bench) listRun(ctx context.Context, n *app.App) (list, static *meter, err error) {
	c := httpClient(1)
	defer c.CloseIdleConnections()
	token, err := accessToken(ctx, c, "http://"+n.Addr())
	if err != nil {
		return nil, nil, err
	}
	conns := newWireConns(n.Addr(), listClients)
	defer conns.close()
	listing := b.lister(n.Addr(), token)
	bodies := make(map[string][]byte, b.sc.agents)
	size := 0
	for k := range b.sc.agents {
		body, err := listing(ctx, conns[0], k, true)
		if err != nil {
			return nil, nil, err
		}
		if err := b.checkListing(k, body); err != nil {
			return nil, nil, err
		}
		bodies[agentID(k)] = bytes.Clone(body)
		size += len(body)
	}
	b.step("list: %d bytes per listing", size/max(b.sc.agents, 1))
	srv, err := serveStatic(bodies)
	if err != nil {
		return nil, nil, err
	}
	defer srv.Close()
	sconns := newWireConns(srv.Addr, listClients)
	defer sconns.close()
	plain := b.lister(srv.Addr, "static")
	list = newMeter(listClients, func(ctx context.Context, w, i int) error {
		_, err := listing(ctx, conns[w], b.agentOf(w, i), false)
		return err
	})
	static = newMeter(listClients, func(ctx context.Context, w, i int) error {
		_, err := plain(ctx, sconns[w], b.agentOf(w, i), false)
		return err
	})
	if err := b.alternate(ctx, list, static); err != nil {
		return nil, nil, err
	}
	return list, static, nil
}

// checkListing checks that the listing of the k-th agent holds its share of the active cases.
func (b *bench) checkListing(k int, body []byte) error {
	var rows []json.RawMessage
	if err := json.Unmarshal(body, &rows); err != nil {
		return fmt.Errorf("listing of agent %d: %w", k, err)
	}
	want := b.sc.activeCases / b.sc.agents
	if k < b.sc.activeCases%b.sc.agents {
		want++
	}
	if len(rows) != want {
		err := fmt.Errorf("listing of agent %d has %d cases, want %d", k, len(rows), want)
		if b.cfg.NATSURL != "" {
			err = fmt.Errorf("%w (an earlier run's cases are still assigned to the same agents: run against a fresh server)", err)
		}
		return err
	}
	return nil
}

// agentOf is the agent a listing client lists: worker w's i-th call lists the agents in turn.
func (b *bench) agentOf(w, i int) int { return (i*listClients + w) % b.sc.agents }

// lister returns the listing call, on the server at addr, of the k-th agent through a
// measuring client's connection (the body, if kept, is valid until its next call).
func (b *bench) lister(addr, token string) func(ctx context.Context, c *wireConn, k int, keep bool) ([]byte, error) {
	h := http.Header{}
	h.Set("Authorization", "Bearer "+token)
	reqs := make([][]byte, b.sc.agents)
	for k := range reqs {
		reqs[k] = request(http.MethodGet, addr, "/"+demoApplication+"/agents/"+agentID(k)+"/activeCases", h, nil)
	}
	return func(ctx context.Context, c *wireConn, k int, keep bool) ([]byte, error) {
		if k < 0 || k >= len(reqs) {
			return nil, fmt.Errorf("no agent %d", k)
		}
		return c.do(ctx, reqs[k], http.StatusOK, keep)
	}
}

// staticServer answers a listing request with the body it holds for the agent in the path.
type staticServer struct {
	Addr string
	srv  *http.Server
	done chan struct{}
}

func serveStatic(bodies map[string][]byte) (*staticServer, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s := &staticServer{Addr: l.Addr().String(), done: make(chan struct{})}
	s.srv = &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, rest, _ := strings.Cut(r.URL.Path, "/agents/")
		agent, _, _ := strings.Cut(rest, "/")
		body, ok := bodies[agent]
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		_, _ = w.Write(body)
	}), ReadHeaderTimeout: 10 * time.Second}
	go func() {
		defer close(s.done)
		_ = s.srv.Serve(l)
	}()
	return s, nil
}

func (s *staticServer) Close() {
	_ = s.srv.Close()
	<-s.done
}

// accessToken signs the demo application in with its client credentials.
func accessToken(ctx context.Context, c *http.Client, base string) (string, error) {
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {demoClientID}, "client_secret": {demoSecret}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/oauth2/token", strings.NewReader(form.Encode()))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	body, err := do(c, req, http.StatusOK, true)
	if err != nil {
		return "", err
	}
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.Unmarshal(body, &tok); err != nil || tok.AccessToken == "" {
		return "", fmt.Errorf("token answer %q: %v", body, err)
	}
	return tok.AccessToken, nil
}

// replayRun compares a projector rebuild over the CASES stream with a bare ordered-consumer
// drain of it, best of two each, and returns rebuild rate / drain rate.
func (b *bench) replayRun(ctx context.Context, n *app.App) (ratio float64, replayed uint64, err error) {
	last, err := lastSeq(ctx, n.JS)
	if err != nil {
		return 0, 0, err
	}
	var bestDrain, bestReplay time.Duration
	for range 2 {
		t := time.Now()
		if err := drain(ctx, n.JS, last); err != nil {
			return 0, 0, err
		}
		if d := time.Since(t); bestDrain == 0 || d < bestDrain {
			bestDrain = d
		}
		p := projection.NewProjector(n.Directory)
		t = time.Now()
		got, err := eventstore.Replay(ctx, n.JS, events.StreamCases, p.ApplyCases)
		if err != nil {
			return 0, 0, err
		}
		if d := time.Since(t); bestReplay == 0 || d < bestReplay {
			bestReplay = d
		}
		if got != last || p.Model().LastSeq() != last {
			return 0, 0, fmt.Errorf("rebuild reached %d (model %d), want %d", got, p.Model().LastSeq(), last)
		}
	}
	b.step("replay: %d events, drain %v, rebuild %v", last, bestDrain, bestReplay)
	return bestDrain.Seconds() / bestReplay.Seconds(), last, nil
}

// drain reads the CASES stream up to last with an ordered consumer, doing nothing with the
// messages.
func drain(ctx context.Context, js jetstream.JetStream, last uint64) error {
	cons, err := js.OrderedConsumer(ctx, events.StreamCases, jetstream.OrderedConsumerConfig{DeliverPolicy: jetstream.DeliverAllPolicy})
	if err != nil {
		return err
	}
	it, err := cons.Messages(jetstream.PullMaxMessages(8192))
	if err != nil {
		return err
	}
	defer it.Stop()
	ctx, cancel := context.WithTimeout(ctx, catchUpTimeout)
	defer cancel()
	for {
		msg, err := it.Next(jetstream.NextContext(ctx))
		if err != nil {
			return fmt.Errorf("drain: %w", err)
		}
		md, err := msg.Metadata()
		if err != nil {
			return err
		}
		if md.Sequence.Stream >= last {
			return nil
		}
	}
}

// loadRun writes loadEvents events over loadEvents/loadPerCase cases, in rounds of one
// event per case, so that each case's events lie far apart in the stream, each written as
// the store writes an Append of one event (with the expectation of the case's previous
// sequence), and measures cold loads of distinct cases with the store's Load.
func (b *bench) loadRun(ctx context.Context, n *app.App) (p50, p99 float64, stream uint64, err error) {
	b.step("load: writing %d events", b.sc.loadEvents)
	nCases := max(b.sc.loadEvents/b.sc.loadPerCase, 1)
	bl, err := newBulk(n.NC)
	if err != nil {
		return 0, 0, 0, err
	}
	ids := make([]int64, nCases)
	for i := range ids {
		ids[i] = b.base + idsLoad + int64(i)
	}
	err = bl.rounds(ctx, ids, b.sc.loadEvents/nCases, func(_ int64, r int) events.Event {
		return events.CaseNoteAdded{NoteID: r + 1, Description: "casebench note"}
	})
	if err != nil {
		return 0, 0, 0, err
	}
	// The projector folds (and ignores) these events; let it finish before measuring.
	if err := b.catchUp(ctx, n); err != nil {
		return 0, 0, 0, err
	}
	if stream, err = lastSeq(ctx, n.JS); err != nil {
		return 0, 0, 0, err
	}
	b.step("load: %d cold loads", min(b.sc.loadSamples, nCases))
	order := rand.Perm(nCases)[:min(b.sc.loadSamples, nCases)]
	lat := make([]time.Duration, 0, len(order))
	deadline := time.Now().Add(b.sc.duration)
	for _, k := range order {
		if time.Now().After(deadline) && len(lat) > 0 {
			break
		}
		subject := events.CaseSubject(b.base + idsLoad + int64(k))
		want := b.sc.loadEvents / nCases
		t := time.Now()
		recs, err := n.Store.Load(ctx, subject, 0)
		if err != nil {
			return 0, 0, 0, err
		}
		lat = append(lat, time.Since(t))
		if len(recs) != want {
			return 0, 0, 0, fmt.Errorf("load %s: got %d events, want %d", subject, len(recs), want)
		}
	}
	return percentile(lat, 50), percentile(lat, 99), stream, nil
}

// memoryRun folds nCases cases, each opened and assigned to one of agents agents, into a
// fresh model and returns the growth of the heap per case. The records are made one at a
// time and dropped, so that the heap holds only what the model keeps.
func memoryRun(nCases, agents int) (float64, error) {
	before := heapAlloc()
	m := projection.NewModel()
	now := time.Now()
	seq := uint64(0)
	for i := range nCases {
		id := int64(idsActive + i)
		for _, ev := range []events.Event{opened(id), toOperator(agentID(i % agents))} {
			env, err := envelope(id, now, ev)
			if err != nil {
				return 0, err
			}
			seq++
			m.Apply(eventstore.Record{Seq: seq, Envelope: env})
		}
	}
	after := heapAlloc()
	if got := len(m.ActiveCases(agentID(0), demoUnit)); got == 0 {
		return 0, fmt.Errorf("the model lists no active case of agent 0")
	}
	runtime.KeepAlive(m)
	return float64(int64(after)-int64(before)) / float64(nCases), nil
}

func heapAlloc() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}
