package projection

import (
	"cmp"
	"errors"
	"slices"
	"sync"
	"time"
	"unique"

	"github.com/google/uuid"

	"github.com/casestream/casestream/events"
	"github.com/casestream/casestream/internal/eventstore"
)

// str is an interned string: the unit, inbox, type, category, operator and group ids and
// names, statuses, channels and ticket prefixes repeat across many cases, so each case
// holds an 8-byte handle to one shared copy instead of a string of its own.
type str = unique.Handle[string]

var empty = unique.Make("")

func intern(s string) str { return unique.Make(s) }

// caseState is what the read model keeps of one open case: only the fields the queries and
// the listing need, with times as Unix milliseconds (events carry millisecond times).
// Resolved and Closed cases are not kept: no query returns them, and Closed is final.
type caseState struct {
	id            int64
	caseID        string
	ticketNumber  int64
	ticketPrefix  str
	ticketSuffix  str
	serviceType   str
	category      str
	unit          str
	inbox         str
	status        str
	assignedTo    str
	lockedBy      str
	group         str
	channel       str
	entryMode     str
	workstation   str
	statusDate    int64
	referenceDate int64
	dateOpened    int64
	caseTimestamp int64
	// activeSeq is the stream sequence of the event at which the case entered the active
	// cases of its lockedBy agent; it orders an agent's cases (their rank).
	activeSeq uint64
	// waitSeq is the stream sequence of the event at which the case last became Waiting;
	// with statusDate it keys the case in its queue.
	waitSeq uint64
	extra   *caseExtra
	// openedBy is the operator whose case.opened it is (the event's actor), or empty when
	// another kind of actor opened it.
	openedBy str
}

// caseExtra holds the fields most cases leave empty, so that they cost one nil pointer.
type caseExtra struct {
	customer           *events.Customer
	contactPhoneNumber string
	contactEmail       string
}

// agentUnit keys the active cases of one agent in one unit.
type agentUnit struct {
	agent, unit str
}

// queueRef names a queue: a group's (by name) or an inbox's (by id).
type queueRef struct {
	group bool
	name  str
}

// Model is the read model folded from the CASES stream: the open cases, indexed for the
// agent-impersonation API's listing, start-next and queue positions, and the operator API's
// own-cases listing, plus the caseId of every case ever opened. It is safe for concurrent
// use; queries return copies.
type Model struct {
	mu sync.RWMutex // guards every field below
	// lastSeq is the stream sequence of the last record applied (or skipped).
	lastSeq uint64
	// skipped counts records on case subjects that could not be decoded.
	skipped int
	// cases holds the open cases (not Resolved, not Closed) by caseInstanceId.
	cases map[int64]*caseState
	// byUUID and byCaseID map the caseId of every case ever opened to its caseInstanceId:
	// byUUID when the caseId is a canonical (lower-case, hyphenated) uuid, held in 16 bytes,
	// byCaseID otherwise.
	byUUID   map[uuid.UUID]int64
	byCaseID map[string]int64
	// active holds, per agent and unit, the cases with status Active locked by the agent,
	// ordered by activeSeq.
	active map[agentUnit][]*caseState
	// assigned holds, per operator, the caseInstanceIds of the open cases assigned to the
	// operator, ascending.
	assigned map[str][]int64
	// opened holds, per operator, the caseInstanceIds of the open cases the operator opened,
	// ascending.
	opened map[str][]int64
	// queues holds the Waiting cases, per group (cases with an assignedGroup) or per inbox
	// (cases without).
	queues map[queueRef]*queue
	// activeVer holds, per agent and unit, the generation at which that listing last changed
	// (a case entered or left it, or a case in it changed); gen counts generations. A listing
	// encoded at one generation is still right while its key keeps that generation.
	activeVer map[agentUnit]uint64
	gen       uint64
}

// NewModel returns an empty model.
func NewModel() *Model {
	return &Model{
		cases:    map[int64]*caseState{},
		byUUID:   map[uuid.UUID]int64{},
		byCaseID: map[string]int64{},
		active:   map[agentUnit][]*caseState{},
		assigned: map[str][]int64{},
		opened:   map[str][]int64{},
		queues:   map[queueRef]*queue{},

		activeVer: map[agentUnit]uint64{},
	}
}

// LastSeq returns the stream sequence of the last record applied.
func (m *Model) LastSeq() uint64 {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.lastSeq
}

// Skipped returns how many records on case subjects could not be decoded and were skipped.
func (m *Model) Skipped() int {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.skipped
}

// Apply folds one record of the CASES stream into the model. A record at or below the last
// applied sequence is ignored, so that a replay and direct applies may overlap. Records on
// other subjects, of unknown types, or for cases never opened advance the sequence and change
// nothing else.
func (m *Model) Apply(r eventstore.Record) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if r.Seq <= m.lastSeq {
		return
	}
	m.lastSeq = r.Seq
	id, ok := events.CaseInstanceID(r.Envelope.Subject)
	if !ok {
		return
	}
	ev, err := r.Decoded()
	if err != nil {
		if !errors.Is(err, events.ErrUnknownType) {
			m.skipped++
		}
		return
	}
	at := r.Envelope.OccurredAt.UnixMilli()
	if e, ok := ev.(events.CaseOpened); ok {
		opener := empty
		if a := r.Envelope.Actor; a.Kind == events.ActorOperator && a.ID != "" {
			opener = intern(a.ID)
		}
		m.open(id, r.Seq, at, opener, e)
		return
	}
	c := m.cases[id]
	if c == nil {
		return
	}
	before := m.keys(c)
	c.caseTimestamp = at
	switch e := ev.(type) {
	case events.CaseAssigned:
		c.setStatus(e.Status, at)
		if e.To.OperatorID != "" {
			op := intern(e.To.OperatorID)
			c.assignedTo, c.lockedBy, c.group = op, op, empty
		} else {
			c.assignedTo, c.lockedBy, c.group = empty, empty, intern(e.To.GroupName)
		}
	case events.CaseServiceStarted:
		c.setStatus(events.StatusActive, at)
		agent := intern(e.AgentID)
		c.assignedTo, c.lockedBy = agent, agent
		c.workstation = intern(e.WorkstationID)
	case events.CaseStatusChanged:
		c.setStatus(e.To, at)
		if e.To == events.StatusWaiting {
			c.lockedBy = empty
		}
	case events.CaseResolved:
		c.setStatus(events.StatusResolved, at)
		c.lockedBy = empty
	case events.CaseClosed:
		c.setStatus(events.StatusClosed, at)
		c.lockedBy = empty
	case events.CaseUpdated:
		if e.ServiceTypeID != "" {
			c.serviceType, c.category = intern(e.ServiceTypeID), intern(e.ServiceCategoryID)
		}
	}
	m.reindex(c, before, r.Seq)
	if after := m.keys(c); before.inActive || after.inActive {
		m.gen++
		if before.inActive {
			m.activeVer[before.active] = m.gen
		}
		if after.inActive {
			m.activeVer[after.active] = m.gen
		}
	}
	if final(c.status) {
		if c.openedBy != empty {
			m.opened[c.openedBy] = removeID(m.opened, c.openedBy, id)
			if len(m.opened[c.openedBy]) == 0 {
				delete(m.opened, c.openedBy)
			}
		}
		delete(m.cases, id)
	}
}

// removeID returns the ascending ids of index[k] without id.
func removeID(index map[str][]int64, k str, id int64) []int64 {
	ids := index[k]
	if i, ok := slices.BinarySearch(ids, id); ok {
		ids = slices.Delete(ids, i, i+1)
	}
	return ids
}

func (m *Model) open(id int64, seq uint64, at int64, opener str, e events.CaseOpened) {
	if _, ok := m.cases[id]; ok {
		return
	}
	m.indexCaseID(e.CaseID, id)
	status := e.Status
	if status == "" {
		status = events.StatusWaiting
	}
	if final(intern(status)) {
		return
	}
	c := &caseState{
		id:            id,
		caseID:        e.CaseID,
		ticketNumber:  int64(e.Ticket.Number),
		ticketPrefix:  intern(e.Ticket.Prefix),
		ticketSuffix:  intern(e.Ticket.Suffix),
		serviceType:   intern(e.ServiceTypeID),
		category:      intern(e.ServiceCategoryID),
		unit:          intern(e.UnitID),
		inbox:         intern(e.InboxID),
		status:        intern(status),
		assignedTo:    empty,
		lockedBy:      empty,
		group:         intern(e.AssignedGroup),
		channel:       intern(e.Channel),
		entryMode:     intern(e.EntryMode),
		workstation:   empty,
		openedBy:      opener,
		statusDate:    at,
		referenceDate: at,
		dateOpened:    at,
		caseTimestamp: at,
	}
	if e.Customer != nil || e.ContactPhoneNumber != "" || e.ContactEmail != "" {
		c.extra = &caseExtra{customer: e.Customer, contactPhoneNumber: e.ContactPhoneNumber, contactEmail: e.ContactEmail}
	}
	m.cases[id] = c
	if opener != empty {
		ids := m.opened[opener]
		if i, ok := slices.BinarySearch(ids, id); !ok {
			m.opened[opener] = slices.Insert(ids, i, id)
		}
	}
	m.reindex(c, indexKeys{}, seq)
	if k := m.keys(c); k.inActive {
		m.gen++
		m.activeVer[k.active] = m.gen
	}
}

func (m *Model) indexCaseID(caseID string, id int64) {
	if u, ok := canonicalUUID(caseID); ok {
		m.byUUID[u] = id
		return
	}
	m.byCaseID[caseID] = id
}

// canonicalUUID parses s if it is a uuid in the canonical form that String gives back.
func canonicalUUID(s string) (uuid.UUID, bool) {
	if len(s) != 36 {
		return uuid.UUID{}, false
	}
	u, err := uuid.Parse(s)
	if err != nil || u.String() != s {
		return uuid.UUID{}, false
	}
	return u, true
}

var (
	statusActive   = intern(events.StatusActive)
	statusWaiting  = intern(events.StatusWaiting)
	statusResolved = intern(events.StatusResolved)
	statusClosed   = intern(events.StatusClosed)
)

func final(status str) bool { return status == statusResolved || status == statusClosed }

func (c *caseState) setStatus(s string, at int64) {
	h := intern(s)
	if h != c.status {
		c.status = h
		c.statusDate = at
	}
}

// indexKeys is where a case sits in the indexes.
type indexKeys struct {
	active     agentUnit
	inActive   bool
	queue      queueRef
	inQueue    bool
	entry      queueEntry // the case's key in its queue
	assignedTo str
	inAssigned bool
}

func (m *Model) keys(c *caseState) indexKeys {
	var k indexKeys
	if c.status == statusActive && c.lockedBy != empty {
		k.active, k.inActive = agentUnit{c.lockedBy, c.unit}, true
	}
	if c.status == statusWaiting {
		if c.group != empty {
			k.queue = queueRef{group: true, name: c.group}
		} else {
			k.queue = queueRef{name: c.inbox}
		}
		k.inQueue = true
		k.entry = queueEntry{ts: c.statusDate, seq: c.waitSeq, id: c.id}
	}
	if c.assignedTo != empty && !final(c.status) {
		k.assignedTo, k.inAssigned = c.assignedTo, true
	}
	return k
}

// reindex moves c from the index entries of before to those of its current state; seq is the
// sequence of the event that changed it.
func (m *Model) reindex(c *caseState, before indexKeys, seq uint64) {
	after := m.keys(c)
	if before.inActive != after.inActive || before.active != after.active {
		if before.inActive {
			m.removeActive(before.active, c)
		}
		if after.inActive {
			c.activeSeq = seq
			m.active[after.active] = append(m.active[after.active], c)
		}
	}
	if before.inQueue != after.inQueue || before.queue != after.queue {
		if before.inQueue {
			q := m.queues[before.queue]
			q.remove(before.entry)
			if q.n == 0 {
				delete(m.queues, before.queue)
			}
		}
		if after.inQueue {
			// A case that stays Waiting keeps its place in time when it moves between queues.
			if !before.inQueue {
				c.waitSeq = seq
			}
			q := m.queues[after.queue]
			if q == nil {
				q = &queue{}
				m.queues[after.queue] = q
			}
			q.insert(queueEntry{ts: c.statusDate, seq: c.waitSeq, id: c.id})
		}
	}
	if before.inAssigned != after.inAssigned || before.assignedTo != after.assignedTo {
		if before.inAssigned {
			ids := m.assigned[before.assignedTo]
			if i, ok := slices.BinarySearch(ids, c.id); ok {
				ids = slices.Delete(ids, i, i+1)
			}
			if len(ids) == 0 {
				delete(m.assigned, before.assignedTo)
			} else {
				m.assigned[before.assignedTo] = ids
			}
		}
		if after.inAssigned {
			ids := m.assigned[after.assignedTo]
			if i, ok := slices.BinarySearch(ids, c.id); !ok {
				m.assigned[after.assignedTo] = slices.Insert(ids, i, c.id)
			}
		}
	}
}

func (m *Model) removeActive(k agentUnit, c *caseState) {
	list := m.active[k]
	i, ok := slices.BinarySearchFunc(list, c.activeSeq, func(x *caseState, s uint64) int {
		switch {
		case x.activeSeq < s:
			return -1
		case x.activeSeq > s:
			return 1
		}
		return 0
	})
	if !ok || list[i] != c {
		return
	}
	list = slices.Delete(list, i, i+1)
	if len(list) == 0 {
		delete(m.active, k)
		return
	}
	m.active[k] = list
}

// CaseRow is one open case as the read model holds it, plus its rank among the active cases
// of the agent serving it. Listing turns rows into the API's Case objects.
type CaseRow struct {
	CaseInstanceID     int64
	CaseID             string
	Ticket             events.Ticket
	ServiceCategoryID  string
	ServiceTypeID      string
	Status             string
	StatusDate         time.Time
	ReferenceDate      time.Time
	DateOpened         time.Time
	DateClosed         time.Time // zero: the model holds open cases only
	CaseTimestamp      time.Time
	AssignedTo         string
	AssignedGroup      string
	LockedBy           string
	Channel            string
	EntryMode          string
	Rank               int
	UnitID             string
	InboxID            string
	WorkstationID      string
	Customer           *events.Customer
	ContactPhoneNumber string
	ContactEmail       string
}

func millis(ms int64) time.Time { return time.UnixMilli(ms).UTC() }

func (c *caseState) row(rank int) CaseRow {
	r := CaseRow{
		CaseInstanceID:    c.id,
		CaseID:            c.caseID,
		Ticket:            events.Ticket{Prefix: c.ticketPrefix.Value(), Suffix: c.ticketSuffix.Value(), Number: int(c.ticketNumber)},
		ServiceCategoryID: c.category.Value(),
		ServiceTypeID:     c.serviceType.Value(),
		Status:            c.status.Value(),
		StatusDate:        millis(c.statusDate),
		ReferenceDate:     millis(c.referenceDate),
		DateOpened:        millis(c.dateOpened),
		CaseTimestamp:     millis(c.caseTimestamp),
		AssignedTo:        c.assignedTo.Value(),
		AssignedGroup:     c.group.Value(),
		LockedBy:          c.lockedBy.Value(),
		Channel:           c.channel.Value(),
		EntryMode:         c.entryMode.Value(),
		Rank:              rank,
		UnitID:            c.unit.Value(),
		InboxID:           c.inbox.Value(),
		WorkstationID:     c.workstation.Value(),
	}
	if x := c.extra; x != nil {
		if x.customer != nil {
			cu := *x.customer
			r.Customer = &cu
		}
		r.ContactPhoneNumber, r.ContactEmail = x.contactPhoneNumber, x.contactEmail
	}
	return r
}

// ActiveCases returns the active cases of the agent in the unit: status Active, locked by the
// agent, in the unit. They are ordered by rank: the order in which they entered the agent's
// active cases (assigned to the agent, taken by start-next, or set Active again after
// Pending), so rank 1 is the case the agent has held longest. Rank counts from 1.
func (m *Model) ActiveCases(agentID, unitID string) []CaseRow {
	rows, _ := m.ActiveCasesVersion(agentID, unitID)
	return rows
}

// ActiveVersion returns the generation of the agent's listing in the unit (see
// ActiveCasesVersion), without building it.
func (m *Model) ActiveVersion(agentID, unitID string) uint64 {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.activeVer[agentUnit{intern(agentID), intern(unitID)}]
}

// ActiveCasesVersion is ActiveCases with the generation of the listing: the same generation
// later means the same rows.
func (m *Model) ActiveCasesVersion(agentID, unitID string) ([]CaseRow, uint64) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	k := agentUnit{intern(agentID), intern(unitID)}
	list := m.active[k]
	out := make([]CaseRow, len(list))
	for i, c := range list {
		out[i] = c.row(i + 1)
	}
	return out, m.activeVer[k]
}

// AssignedOpen returns the caseInstanceIds of the cases assigned to the operator whose status
// is neither Resolved nor Closed, ascending.
func (m *Model) AssignedOpen(operatorID string) []int64 {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return slices.Clone(m.assigned[intern(operatorID)])
}

// OperatorCases returns one page of the operator API's case list: the caseInstanceIds of
// the open cases (neither Resolved nor Closed) that the operator opened, that are assigned to
// the operator, or that are Waiting in one of the given groups (the operator's groups), each
// once, newest first: by dateOpened descending, then by caseInstanceId descending (api
// replicas allocate ids in blocks, so ids alone do not order cases opened on different
// replicas). Page counts from 0; a page past the end is empty.
func (m *Model) OperatorCases(operatorID string, groups []string, page, size int) []int64 {
	if page < 0 || size < 1 {
		return nil
	}
	type opened struct{ at, id int64 }
	op := intern(operatorID)
	m.mu.RLock()
	ids := slices.Concat(m.opened[op], m.assigned[op])
	for _, g := range groups {
		if q := m.queues[queueRef{group: true, name: intern(g)}]; q != nil {
			for _, e := range q.all() {
				ids = append(ids, e.id)
			}
		}
	}
	list := make([]opened, 0, len(ids))
	for _, id := range ids {
		if c := m.cases[id]; c != nil {
			list = append(list, opened{c.dateOpened, id})
		}
	}
	m.mu.RUnlock()
	slices.SortFunc(list, func(a, b opened) int { return cmp.Or(cmp.Compare(b.at, a.at), cmp.Compare(b.id, a.id)) })
	list = slices.Compact(list)
	pages := len(list) / size
	if len(list)%size != 0 {
		pages++
	}
	if page >= pages {
		return []int64{}
	}
	out := make([]int64, 0, min(size, len(list)-page*size))
	for _, o := range list[page*size : min((page+1)*size, len(list))] {
		out = append(out, o.id)
	}
	return out
}

// NextWaiting returns the caseInstanceIds of at most limit Waiting cases, oldest first by
// queue timestamp (the time the case last became Waiting; ties broken by stream sequence),
// taken from the given inboxes (cases with no assigned group) and the given groups (cases
// assigned to one of them).
func (m *Model) NextWaiting(inboxIDs, groupNames []string, limit int) []int64 {
	m.mu.RLock()
	defer m.mu.RUnlock()
	var cursors []cursor
	seen := map[queueRef]bool{}
	add := func(ref queueRef) {
		if q := m.queues[ref]; q != nil && !seen[ref] {
			seen[ref] = true
			cursors = append(cursors, cursor{q: q})
		}
	}
	for _, id := range inboxIDs {
		add(queueRef{name: intern(id)})
	}
	for _, g := range groupNames {
		if g != "" {
			add(queueRef{group: true, name: intern(g)})
		}
	}
	out := []int64{}
	for len(out) < limit {
		best := -1
		var be queueEntry
		for i := range cursors {
			if e, ok := cursors[i].peek(); ok && (best < 0 || e.less(be)) {
				best, be = i, e
			}
		}
		if best < 0 {
			break
		}
		out = append(out, be.id)
		cursors[best].next()
	}
	return out
}

// QueuePosition returns the 1-based position of a Waiting case in its queue: its group's if it
// has an assigned group, otherwise its inbox's. It reports false for a case that is not
// Waiting or not known.
func (m *Model) QueuePosition(caseInstanceID int64) (int, bool) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	c := m.cases[caseInstanceID]
	if c == nil {
		return 0, false
	}
	k := m.keys(c)
	if !k.inQueue {
		return 0, false
	}
	q := m.queues[k.queue]
	if q == nil {
		return 0, false
	}
	return q.position(k.entry)
}

// CaseInstanceID returns the caseInstanceId of the case with the given caseId, for every case
// ever opened, open or not.
func (m *Model) CaseInstanceID(caseID string) (int64, bool) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if u, ok := canonicalUUID(caseID); ok {
		id, ok := m.byUUID[u]
		return id, ok
	}
	id, ok := m.byCaseID[caseID]
	return id, ok
}

// ActiveCount is how many active cases one agent holds in one unit.
type ActiveCount struct {
	AgentID string
	UnitID  string
	Cases   int
}

// ActiveCounts returns the number of active cases of every agent in every unit where it
// holds one, sorted by agent and unit: the whole listing index at a glance, for audits.
func (m *Model) ActiveCounts() []ActiveCount {
	m.mu.RLock()
	out := make([]ActiveCount, 0, len(m.active))
	for k, list := range m.active {
		if len(list) > 0 {
			out = append(out, ActiveCount{AgentID: k.agent.Value(), UnitID: k.unit.Value(), Cases: len(list)})
		}
	}
	m.mu.RUnlock()
	slices.SortFunc(out, func(a, b ActiveCount) int {
		return cmp.Or(cmp.Compare(a.AgentID, b.AgentID), cmp.Compare(a.UnitID, b.UnitID))
	})
	return out
}
