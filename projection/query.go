package projection

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/casestream/casestream/events"
	"github.com/casestream/casestream/internal/eventstore"
)

// AgentStates answers where an agent currently works: its current unit ("" if none) and its
// workspace in that unit ("" if none).
type AgentStates interface {
	AgentState(userID string) (unitID, workspaceID string)
}

// Groups answers which operator groups a user is a member of.
type Groups interface {
	GroupsOf(userID string) []events.OperatorGroup
}

// Follower is a view folded from a stream: it applies records and says how far it got.
type Follower interface {
	Apply(r eventstore.Record)
	LastSeq() uint64
}

// Directory is the directory view the projector reads names and agent state from and feeds
// with the DIRECTORY stream. *directory.Directory implements it.
type Directory interface {
	Names
	AgentStates
	Groups
	Follower
}

// Outcome is the decision of a listing request.
type Outcome int

// The outcomes of ListActive, each an answer of the agent-impersonation API.
const (
	// Listed: the user's active cases in the current unit (200).
	Listed Outcome = iota
	// UnknownUser: no operator has that userId (404).
	UnknownUser
	// NoCurrentUnit: the user has not selected a current unit (403).
	NoCurrentUnit
	// NoWorkspace: the user has no workspace in the current unit (409, errorCode 1011).
	NoWorkspace
)

var outcomeNames = [...]string{"listed", "unknownUser", "noCurrentUnit", "noWorkspace"}

// String returns the outcome's wire name.
func (o Outcome) String() string {
	if o < 0 || int(o) >= len(outcomeNames) {
		return fmt.Sprintf("Outcome(%d)", int(o))
	}
	return outcomeNames[o]
}

func parseOutcome(s string) (Outcome, bool) {
	for i, n := range outcomeNames {
		if n == s {
			return Outcome(i), true
		}
	}
	return 0, false
}

// The refusals of a listing, as errors for the API's error table (see ListResult.Err).
var (
	ErrUnknownUser   = errors.New("projection: unknown user")
	ErrNoCurrentUnit = errors.New("projection: no current unit selected")
	ErrNoWorkspace   = errors.New("projection: no workspace in the current unit")
)

// ListResult is the answer to a listing of an agent's active cases.
type ListResult struct {
	Outcome     Outcome
	UnitID      string
	WorkspaceID string
	// Cases is the JSON array of ActiveCase objects, ready to be written as the response body;
	// "[]" when there are none. Nil unless Outcome is Listed.
	Cases json.RawMessage
}

// Err returns nil for a listing and the refusal's sentinel error otherwise.
func (r ListResult) Err() error {
	switch r.Outcome {
	case Listed:
		return nil
	case UnknownUser:
		return ErrUnknownUser
	case NoCurrentUnit:
		return ErrNoCurrentUnit
	case NoWorkspace:
		return ErrNoWorkspace
	}
	return fmt.Errorf("projection: unknown outcome %d", int(r.Outcome))
}

// Projector is the read side: the case model and the directory view, fed by the CASES and
// DIRECTORY streams, answering queries once they have caught up with a given point of both.
// Records must be applied through ApplyCases and ApplyDirectory, which wake the waiters.
type Projector struct {
	model *Model
	dir   Directory

	mu      sync.Mutex // guards waiters
	waiters []*waiter

	listMu   sync.Mutex // guards listings
	listings map[listingKey]cachedListing
}

// waiter is a WaitFor call: ch is closed once both sequences have been applied.
type waiter struct {
	cases, directory uint64
	ch               chan struct{}
}

// NewProjector returns a projector over an empty model and the given directory view.
func NewProjector(dir Directory) *Projector {
	return &Projector{model: NewModel(), dir: dir}
}

// Model returns the projector's case model.
func (p *Projector) Model() *Model { return p.model }

// Directory returns the projector's directory view.
func (p *Projector) Directory() Directory { return p.dir }

// ApplyCases folds one record of the CASES stream.
func (p *Projector) ApplyCases(r eventstore.Record) {
	p.model.Apply(r)
	p.wake()
}

// ApplyDirectory folds one record of the DIRECTORY stream.
func (p *Projector) ApplyDirectory(r eventstore.Record) {
	p.dir.Apply(r)
	p.wake()
}

// wake releases the waiters whose sequences have been applied. Only those wake up: a
// catch-up of many records does not wake every waiting request on every record.
func (p *Projector) wake() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.waiters) == 0 {
		return
	}
	cases, dir := p.model.LastSeq(), p.dir.LastSeq()
	kept := p.waiters[:0]
	for _, w := range p.waiters {
		if cases >= w.cases && dir >= w.directory {
			close(w.ch)
		} else {
			kept = append(kept, w)
		}
	}
	clear(p.waiters[len(kept):])
	p.waiters = kept
}

// CaughtUp reports whether the CASES records up to casesSeq and the DIRECTORY records up to
// directorySeq have been applied.
func (p *Projector) CaughtUp(casesSeq, directorySeq uint64) bool {
	return p.model.LastSeq() >= casesSeq && p.dir.LastSeq() >= directorySeq
}

// WaitFor returns once the CASES records up to casesSeq and the DIRECTORY records up to
// directorySeq have been applied (read-your-writes), or with ctx's error. A call that has to
// wait is counted in ReadWaits.
func (p *Projector) WaitFor(ctx context.Context, casesSeq, directorySeq uint64) error {
	waited, err := p.waitFor(ctx, casesSeq, directorySeq)
	switch {
	case !waited:
	case err != nil:
		ReadWaits.WithLabelValues("expired").Inc()
	default:
		ReadWaits.WithLabelValues("released").Inc()
	}
	return err
}

// Reach is WaitFor for a readiness probe: it is not counted as a read.
func (p *Projector) Reach(ctx context.Context, casesSeq, directorySeq uint64) error {
	_, err := p.waitFor(ctx, casesSeq, directorySeq)
	return err
}

// waitFor is WaitFor; waited says whether the call had to wait.
func (p *Projector) waitFor(ctx context.Context, casesSeq, directorySeq uint64) (waited bool, err error) {
	p.mu.Lock()
	// Checked under mu: an apply that lands after this check finds the waiter in wake.
	if p.CaughtUp(casesSeq, directorySeq) {
		p.mu.Unlock()
		return false, nil
	}
	w := &waiter{cases: casesSeq, directory: directorySeq, ch: make(chan struct{})}
	p.waiters = append(p.waiters, w)
	p.mu.Unlock()
	select {
	case <-w.ch:
		return true, nil
	case <-ctx.Done():
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if i := slices.Index(p.waiters, w); i >= 0 {
		p.waiters = slices.Delete(p.waiters, i, i+1)
		return true, ctx.Err()
	}
	return true, nil // released by wake in the meantime
}

// ListActive decides the agent-impersonation API's "List Active Cases" for the user: unknown
// user, no current unit, no workspace in it, or the user's active cases in the current unit
// (see Model.ActiveCases for their order) with today's directory names.
func (p *Projector) ListActive(userID string) ListResult {
	if _, ok := p.dir.Operator(userID); !ok {
		return ListResult{Outcome: UnknownUser}
	}
	unitID, workspaceID := p.dir.AgentState(userID)
	if unitID == "" {
		return ListResult{Outcome: NoCurrentUnit}
	}
	if workspaceID == "" {
		return ListResult{Outcome: NoWorkspace, UnitID: unitID}
	}
	return ListResult{Outcome: Listed, UnitID: unitID, WorkspaceID: workspaceID, Cases: p.listing(userID, unitID)}
}

// OperatorCases returns one page of the operator's case list (see Model.OperatorCases), with
// the operator's groups as the directory view knows them.
func (p *Projector) OperatorCases(operatorID string, page, size int) []int64 {
	var groups []string
	for _, g := range p.dir.GroupsOf(operatorID) {
		groups = append(groups, g.Name)
	}
	return p.model.OperatorCases(operatorID, groups, page, size)
}

// listingKey names one cached listing.
type listingKey struct{ agent, unit string }

// cachedListing is an encoded listing and the model generation and directory sequence it
// was encoded at.
type cachedListing struct {
	gen, dirSeq uint64
	body        []byte
}

// listing returns the encoded active cases of the agent in the unit, from the cache while
// neither the agent's cases in the unit nor the directory (whose names a listing shows) have
// changed since it was encoded. The cached bytes are shared: callers must not modify them.
func (p *Projector) listing(agentID, unitID string) []byte {
	k := listingKey{agentID, unitID}
	// The directory sequence is read before the names and the generation with the rows, so
	// that an entry is never labelled newer than what it holds.
	dirSeq := p.dir.LastSeq()
	p.listMu.Lock()
	c, ok := p.listings[k]
	p.listMu.Unlock()
	if ok && c.dirSeq == dirSeq && c.gen == p.model.ActiveVersion(agentID, unitID) {
		return c.body
	}
	rows, gen := p.model.ActiveCasesVersion(agentID, unitID)
	body := MarshalListing(Listing(rows, p.dir))
	p.listMu.Lock()
	if p.listings == nil {
		p.listings = map[listingKey]cachedListing{}
	}
	if old, ok := p.listings[k]; !ok || (old.gen <= gen && old.dirSeq <= dirSeq) {
		p.listings[k] = cachedListing{gen: gen, dirSeq: dirSeq, body: body}
	}
	p.listMu.Unlock()
	return body
}
