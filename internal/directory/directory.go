package directory

import (
	"cmp"
	"context"
	"encoding/json"
	"slices"
	"sync"

	"golang.org/x/crypto/bcrypt"

	"github.com/casestream/casestream/aggregate"
	"github.com/casestream/casestream/events"
	"github.com/casestream/casestream/internal/eventstore"
)

// Directory is the in-memory view of the DIRECTORY stream. Apply folds records into it, in
// any mix of sources: a record already applied for its subject is ignored. Lookups return
// copies that share nothing mutable with the view. It is safe for concurrent use.
type Directory struct {
	mu sync.RWMutex // guards lastSeq, subjectSeq, through, above, advanced, the entity maps, agents, the indexes, legacyHashes, announced and secretEvents
	// lastSeq is the highest stream sequence applied; subjectSeq the last one per subject.
	lastSeq    uint64
	subjectSeq map[string]uint64
	// through is the highest sequence up to which every record has been applied: a
	// command's own record may be applied before the stream follower delivers the records
	// before it, which are then in above until the gap closes. WaitFor waits on through.
	through uint64
	above   map[uint64]bool
	// advanced is closed, and replaced, whenever through moves.
	advanced chan struct{}

	units        map[string]events.Unit
	inboxes      map[string]events.Inbox
	workspaces   map[string]events.Workspace
	services     map[string]events.Service
	categories   map[string]events.ServiceCategory
	types        map[string]events.ServiceType
	operators    map[string]events.Operator
	groups       map[string]events.OperatorGroup
	touchpoints  map[string]events.Touchpoint
	applications map[string]events.Application
	agents       map[string]agentState

	// Secondary indexes, kept in step with the maps above by apply.
	operatorByEmail map[string]string // emailKey -> userId
	groupByName     map[string]string // name -> groupId
	categoryByCode  map[string]string // code -> serviceCategoryId
	typeByCode      map[string]string // code -> serviceTypeId
	appByClientID   map[string]string // clientId -> applicationId

	// legacyHashes holds the hashes that schema version 1 events carried, by bucket key,
	// until MigrateSecrets has put them into the credentials bucket.
	legacyHashes map[string]string
	// announced holds the event ids of the SecretChanged events applied.
	announced map[string]bool
	// secretEvents holds, by bucket key, the id of the last SecretChanged event applied:
	// the bucket value the log says is current (see currentHash).
	secretEvents map[string]string

	// secrets holds the hashes verification compares against: set by UseSecrets before
	// first use, read-only after. Nil in a view that verifies nothing, such as a projector's.
	secrets *Secrets
	// creds remembers recent successful verifications; it has a lock of its own.
	creds *credentialCache
	// compare checks a secret against its bcrypt hash: bcrypt.CompareHashAndPassword, or a
	// counting stand-in in tests. Set before first use, read-only after.
	compare func(hash, secret []byte) error
	// bound limits the comparisons in flight (compare.go). Set before first use.
	bound *compareBound
}

// agentState is an operator's agent state as the agent events set it.
type agentState struct {
	unitID string
	// workspaceID was selected while unitID was current; a unit change clears it.
	workspaceID string
}

var _ aggregate.Directory = (*Directory)(nil)

// New returns an empty Directory.
func New() *Directory {
	return &Directory{
		subjectSeq:      map[string]uint64{},
		above:           map[uint64]bool{},
		advanced:        make(chan struct{}),
		secretEvents:    map[string]string{},
		units:           map[string]events.Unit{},
		inboxes:         map[string]events.Inbox{},
		workspaces:      map[string]events.Workspace{},
		services:        map[string]events.Service{},
		categories:      map[string]events.ServiceCategory{},
		types:           map[string]events.ServiceType{},
		operators:       map[string]events.Operator{},
		groups:          map[string]events.OperatorGroup{},
		touchpoints:     map[string]events.Touchpoint{},
		applications:    map[string]events.Application{},
		agents:          map[string]agentState{},
		operatorByEmail: map[string]string{},
		groupByName:     map[string]string{},
		categoryByCode:  map[string]string{},
		typeByCode:      map[string]string{},
		appByClientID:   map[string]string{},
		legacyHashes:    map[string]string{},
		announced:       map[string]bool{},
		creds:           newCredentialCache(defaultCacheTTL, defaultCacheSize),
		compare:         bcrypt.CompareHashAndPassword,
		bound:           newCompareBound(DefaultCompareLimit(), DefaultCompareWait),
	}
}

// Apply folds one DIRECTORY record into the view. A record whose sequence is not above the
// last one applied for its subject is ignored, so the same record may arrive both from the
// writer that appended it and from a stream follower. A record of an unknown type or with
// undecodable data advances the sequences and changes nothing else: later schema versions
// may add types.
func (d *Directory) Apply(r eventstore.Record) {
	subject := r.Envelope.Subject
	d.mu.Lock()
	defer d.mu.Unlock()
	if r.Seq <= d.subjectSeq[subject] {
		d.advance(r.Seq) // a command applied it already; the follower's copy closes a gap
		return
	}
	d.subjectSeq[subject] = r.Seq
	d.lastSeq = max(d.lastSeq, r.Seq)
	d.advance(r.Seq)
	ev, err := r.Decoded()
	if err != nil {
		return
	}
	if sc, ok := ev.(events.SecretChanged); ok {
		d.announced[r.Envelope.ID] = true
		d.secretEvents[secretKey(sc.Kind, sc.ID)] = r.Envelope.ID
	}
	if r.Envelope.SchemaVersion == 1 {
		d.keepV1Hash(r.Envelope)
	}
	d.apply(ev)
}

// advance records that the record at seq is applied and moves through past every
// sequence applied without a gap. The DIRECTORY stream has no gaps: it denies deletes and
// purges, so every sequence is delivered to the follower. d.mu is held.
func (d *Directory) advance(seq uint64) {
	if seq <= d.through {
		return
	}
	d.above[seq] = true
	moved := false
	for d.above[d.through+1] {
		delete(d.above, d.through+1)
		d.through++
		moved = true
	}
	if moved {
		close(d.advanced)
		d.advanced = make(chan struct{})
	}
}

// WaitFor returns once every record of the stream up to seq is applied, or with ctx's
// error. A request that must reflect every directory change acknowledged before it arrived
// waits for the stream's last sequence at its arrival (read-your-writes across replicas).
func (d *Directory) WaitFor(ctx context.Context, seq uint64) error {
	for {
		d.mu.RLock()
		through, advanced := d.through, d.advanced
		d.mu.RUnlock()
		if through >= seq {
			return nil
		}
		select {
		case <-advanced:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// keepV1Hash remembers the hash that a schema version 1 operator, touchpoint or application
// event carries, for MigrateSecrets: Decode returns such events without it. d.mu is held.
func (d *Directory) keepV1Hash(env events.Envelope) {
	var key, hash string
	switch env.Type {
	case events.TypeOperatorDefined:
		var v events.OperatorV1
		if json.Unmarshal(env.Data, &v) != nil {
			return
		}
		key, hash = secretKey(secretOperator, v.UserID), v.PasswordHash
	case events.TypeTouchpointDefined:
		var v events.TouchpointV1
		if json.Unmarshal(env.Data, &v) != nil {
			return
		}
		key, hash = secretKey(secretTouchpoint, v.Code), v.TokenHash
	case events.TypeApplicationDefined:
		var v events.ApplicationV1
		if json.Unmarshal(env.Data, &v) != nil {
			return
		}
		key, hash = secretKey(secretApplication, v.ApplicationID), v.ClientSecretHash
	default:
		return
	}
	d.legacyHashes[key] = hash
}

// isAnnounced reports whether the SecretChanged event with the given id has been applied.
func (d *Directory) isAnnounced(eventID string) bool {
	d.mu.RLock()
	defer d.mu.RUnlock()
	return d.announced[eventID]
}

// UseSecrets makes d verify secrets against the hashes of s and Bootstrap write them there.
// It is called once, before d is used.
func (d *Directory) UseSecrets(s *Secrets) { d.secrets = s }

// apply is the fold of one event; d.mu is held.
func (d *Directory) apply(ev events.Event) {
	switch e := ev.(type) {
	case events.Unit:
		d.units[e.UnitID] = e
	case events.Inbox:
		d.inboxes[e.InboxID] = e
	case events.Workspace:
		d.workspaces[e.WorkspaceID] = e
	case events.Service:
		d.services[e.ServiceID] = e
	case events.ServiceCategory:
		reindex(d.categoryByCode, d.categories[e.ServiceCategoryID].Code, e.Code, e.ServiceCategoryID)
		d.categories[e.ServiceCategoryID] = e
	case events.ServiceType:
		reindex(d.typeByCode, d.types[e.ServiceTypeID].Code, e.Code, e.ServiceTypeID)
		d.types[e.ServiceTypeID] = e
	case events.Operator:
		reindex(d.operatorByEmail, emailKey(d.operators[e.UserID].Email), emailKey(e.Email), e.UserID)
		d.operators[e.UserID] = e
	case events.OperatorGroup:
		reindex(d.groupByName, d.groups[e.GroupID].Name, e.Name, e.GroupID)
		d.groups[e.GroupID] = e
	case events.Touchpoint:
		d.touchpoints[e.Code] = e
	case events.Application:
		reindex(d.appByClientID, d.applications[e.ApplicationID].ClientID, e.ClientID, e.ApplicationID)
		d.applications[e.ApplicationID] = e
	case events.AgentUnitSelected:
		a := d.agents[e.UserID]
		if a.unitID != e.UnitID {
			a = agentState{unitID: e.UnitID}
		}
		d.agents[e.UserID] = a
	case events.AgentWorkspaceSelected:
		a := d.agents[e.UserID]
		a.workspaceID = e.WorkspaceID
		d.agents[e.UserID] = a
	}
}

// reindex moves id from key old to key new in a secondary index. The old key is removed only
// if it still points at id: another entity may have taken it since.
func reindex(index map[string]string, old, new, id string) {
	if old != new && index[old] == id {
		delete(index, old)
	}
	if new != "" {
		index[new] = id
	}
}

// LastSeq returns the highest stream sequence applied.
func (d *Directory) LastSeq() uint64 {
	d.mu.RLock()
	defer d.mu.RUnlock()
	return d.lastSeq
}

// SubjectSeq returns the stream sequence of the last record applied on subject, 0 if none:
// the expected sequence of the next append to it.
func (d *Directory) SubjectSeq(subject string) uint64 {
	d.mu.RLock()
	defer d.mu.RUnlock()
	return d.subjectSeq[subject]
}

// lookup returns a copy of m[key] made by clone.
func lookup[T any](d *Directory, m map[string]T, key string, clone func(T) T) (T, bool) {
	d.mu.RLock()
	defer d.mu.RUnlock()
	v, ok := m[key]
	if !ok {
		return v, false
	}
	return clone(v), true
}

// byIndex returns a copy of m[index[key]] made by clone.
func byIndex[T any](d *Directory, index map[string]string, m map[string]T, key string, clone func(T) T) (T, bool) {
	d.mu.RLock()
	defer d.mu.RUnlock()
	v, ok := m[index[key]]
	if !ok {
		return v, false
	}
	return clone(v), true
}

// list returns copies of every value of m made by clone, sorted by key.
func list[T any](d *Directory, m map[string]T, clone func(T) T) []T {
	d.mu.RLock()
	defer d.mu.RUnlock()
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	out := make([]T, 0, len(keys))
	for _, k := range keys {
		out = append(out, clone(m[k]))
	}
	return out
}

func same[T any](v T) T { return v }

func cloneOperator(o events.Operator) events.Operator {
	o.ServiceTypes = slices.Clone(o.ServiceTypes)
	o.Units = slices.Clone(o.Units)
	o.Workspaces = slices.Clone(o.Workspaces)
	o.Roles = slices.Clone(o.Roles)
	return o
}

func cloneGroup(g events.OperatorGroup) events.OperatorGroup {
	g.Members = slices.Clone(g.Members)
	return g
}

func cloneWorkspace(w events.Workspace) events.Workspace {
	w.InboxIDs = slices.Clone(w.InboxIDs)
	return w
}

func cloneApplication(a events.Application) events.Application {
	a.Roles = slices.Clone(a.Roles)
	return a
}

// OperatorByEmail returns the operator with the given email, compared without regard to
// case or surrounding space.
func (d *Directory) OperatorByEmail(email string) (events.Operator, bool) {
	return byIndex(d, d.operatorByEmail, d.operators, emailKey(email), cloneOperator)
}

// Operator returns the operator with the given userId (a uuid, in any case).
func (d *Directory) Operator(userID string) (events.Operator, bool) {
	return lookup(d, d.operators, canonID(userID), cloneOperator)
}

// GroupByName returns the operator group with the given name, compared exactly.
func (d *Directory) GroupByName(name string) (events.OperatorGroup, bool) {
	return byIndex(d, d.groupByName, d.groups, name, cloneGroup)
}

// groupByID returns the operator group with the given id.
func (d *Directory) groupByID(groupID string) (events.OperatorGroup, bool) {
	return lookup(d, d.groups, canonID(groupID), cloneGroup)
}

// GroupsOf returns the groups userID is a member of, sorted by name.
func (d *Directory) GroupsOf(userID string) []events.OperatorGroup {
	userID = canonID(userID)
	d.mu.RLock()
	defer d.mu.RUnlock()
	var out []events.OperatorGroup
	for _, g := range d.groups {
		if slices.Contains(g.Members, userID) {
			out = append(out, cloneGroup(g))
		}
	}
	slices.SortFunc(out, func(a, b events.OperatorGroup) int { return cmp.Compare(a.Name, b.Name) })
	return out
}

// ServiceType returns the service type with the given id.
func (d *Directory) ServiceType(serviceTypeID string) (events.ServiceType, bool) {
	return lookup(d, d.types, canonID(serviceTypeID), same)
}

// ServiceTypeByCode returns the service type with the given code, compared exactly.
func (d *Directory) ServiceTypeByCode(code string) (events.ServiceType, bool) {
	return byIndex(d, d.typeByCode, d.types, code, same)
}

// ServiceCategory returns the service category with the given id.
func (d *Directory) ServiceCategory(serviceCategoryID string) (events.ServiceCategory, bool) {
	return lookup(d, d.categories, canonID(serviceCategoryID), same)
}

// ServiceCategoryByCode returns the service category with the given code, compared exactly.
func (d *Directory) ServiceCategoryByCode(code string) (events.ServiceCategory, bool) {
	return byIndex(d, d.categoryByCode, d.categories, code, same)
}

// ServiceTypes returns every service type, sorted by code.
func (d *Directory) ServiceTypes() []events.ServiceType {
	d.mu.RLock()
	defer d.mu.RUnlock()
	out := make([]events.ServiceType, 0, len(d.types))
	for _, t := range d.types {
		out = append(out, t)
	}
	slices.SortFunc(out, func(a, b events.ServiceType) int { return cmp.Compare(a.Code, b.Code) })
	return out
}

// Service returns the service with the given id.
func (d *Directory) Service(serviceID string) (events.Service, bool) {
	return lookup(d, d.services, canonID(serviceID), same)
}

// Inbox returns the inbox with the given id.
func (d *Directory) Inbox(inboxID string) (events.Inbox, bool) {
	return lookup(d, d.inboxes, canonID(inboxID), same)
}

// Unit returns the unit with the given id (a uuid, in any case).
func (d *Directory) Unit(unitID string) (events.Unit, bool) {
	return lookup(d, d.units, canonID(unitID), same)
}

// Workspace returns the workspace with the given id.
func (d *Directory) Workspace(workspaceID string) (events.Workspace, bool) {
	return lookup(d, d.workspaces, canonID(workspaceID), cloneWorkspace)
}

// Touchpoint returns the touchpoint with the given code, compared exactly.
func (d *Directory) Touchpoint(code string) (events.Touchpoint, bool) {
	return lookup(d, d.touchpoints, code, same)
}

// Application returns the application with the given id (a uuid, in any case).
func (d *Directory) Application(applicationID string) (events.Application, bool) {
	return lookup(d, d.applications, canonID(applicationID), cloneApplication)
}

// ApplicationByClientID returns the application with the given client id, compared exactly.
func (d *Directory) ApplicationByClientID(clientID string) (events.Application, bool) {
	return byIndex(d, d.appByClientID, d.applications, clientID, cloneApplication)
}

// AgentState returns an operator's current unit ("" if none was selected) and current
// workspace: the one selected in the current unit if there is one and it still is one of
// the operator's workspaces in that unit, else the first of the operator's workspaces whose
// unit is the current unit, else "".
func (d *Directory) AgentState(userID string) (unitID, workspaceID string) {
	userID = canonID(userID)
	d.mu.RLock()
	defer d.mu.RUnlock()
	a := d.agents[userID]
	if a.unitID == "" {
		return "", ""
	}
	ws := d.workspacesOf(userID, a.unitID)
	if a.workspaceID != "" && slices.ContainsFunc(ws, func(w events.Workspace) bool { return w.WorkspaceID == a.workspaceID }) {
		return a.unitID, a.workspaceID
	}
	if len(ws) > 0 {
		return a.unitID, ws[0].WorkspaceID
	}
	return a.unitID, ""
}

// WorkspacesOf returns the operator's workspaces in the given unit, in the order of the
// operator's workspaces; unknown workspaces are left out.
func (d *Directory) WorkspacesOf(userID, unitID string) []events.Workspace {
	d.mu.RLock()
	defer d.mu.RUnlock()
	return d.workspacesOf(canonID(userID), canonID(unitID))
}

// workspacesOf is WorkspacesOf with d.mu held and ids canonical.
func (d *Directory) workspacesOf(userID, unitID string) []events.Workspace {
	var out []events.Workspace
	for _, id := range d.operators[userID].Workspaces {
		if w, ok := d.workspaces[id]; ok && w.UnitID == unitID {
			out = append(out, cloneWorkspace(w))
		}
	}
	return out
}
