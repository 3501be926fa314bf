// Package directory is casestream's reference data: units, inboxes, workspaces, services,
// service categories and types, operators and their groups, touchpoints and applications,
// and each operator's agent state.
//
// The directory is event-sourced in the DIRECTORY stream, one literal subject per entity
// (directory.<kind>.<id>). A Directory is the in-memory view folded from those records; it
// answers the lookups the commands and the APIs need and verifies credentials. Bootstrap
// seeds the stream from a bootstrap File, idempotently; SelectUnit is the agent-state
// command.
package directory

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/google/uuid"

	"github.com/casestream/casestream/events"
)

// File is a bootstrap file: one array per entity kind, keys as in DESIGN.md section 4.
// Secrets appear in clear; Bootstrap stores only their bcrypt hashes.
type File struct {
	Units             []events.Unit            `json:"units"`
	Inboxes           []events.Inbox           `json:"inboxes"`
	Workspaces        []events.Workspace       `json:"workspaces"`
	Services          []events.Service         `json:"services"`
	ServiceCategories []events.ServiceCategory `json:"serviceCategories"`
	ServiceTypes      []events.ServiceType     `json:"serviceTypes"`
	Operators         []FileOperator           `json:"operators"`
	Groups            []events.OperatorGroup   `json:"groups"`
	Touchpoints       []FileTouchpoint         `json:"touchpoints"`
	Applications      []FileApplication        `json:"applications"`
}

// FileOperator is an operator as the bootstrap file spells it: with its password in clear.
type FileOperator struct {
	UserID       string   `json:"userId"`
	Email        string   `json:"email"`
	DisplayName  string   `json:"displayName"`
	Initials     string   `json:"initials"`
	Picture      string   `json:"picture"`
	Password     string   `json:"password"`
	Blocked      bool     `json:"blocked"`
	ServiceTypes []string `json:"serviceTypes"`
	Units        []string `json:"units"`
	Workspaces   []string `json:"workspaces"`
	Roles        []string `json:"roles"`
}

// FileTouchpoint is a touchpoint as the bootstrap file spells it: with its token in clear.
type FileTouchpoint struct {
	Code  string `json:"code"`
	Token string `json:"token"`
}

// FileApplication is an application as the bootstrap file spells it: with its client secret
// in clear.
type FileApplication struct {
	ApplicationID string   `json:"applicationId"`
	ClientID      string   `json:"clientId"`
	ClientSecret  string   `json:"clientSecret"`
	Roles         []string `json:"roles"`
}

// ErrInvalidFile is wrapped by every error of Parse and Validate.
var ErrInvalidFile = errors.New("directory: invalid bootstrap file")

// maxSecret is bcrypt's limit: it refuses longer secrets rather than silently truncating.
const maxSecret = 72

// ReadFile reads, parses and validates the bootstrap file at path.
func ReadFile(path string) (*File, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("directory: read bootstrap file: %w", err)
	}
	f, err := Parse(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if err := f.Validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return f, nil
}

// Parse decodes a bootstrap file. It is strict: an unknown key, at the top level or in an
// entry, is an error, so that a misspelt field ("pasword") is reported instead of silently
// dropped; so is anything after the JSON document. Parse does not validate: call Validate.
func Parse(b []byte) (*File, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var f File
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidFile, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("%w: data after the JSON document", ErrInvalidFile)
	}
	return &f, nil
}

// canonID returns id without surrounding space and, if it is a uuid, in its canonical
// lower-case form, so that uuids match whatever case they are written in.
func canonID(id string) string {
	id = strings.TrimSpace(id)
	if u, err := uuid.Parse(id); err == nil {
		return u.String()
	}
	return id
}

func canonIDs(ids []string) []string {
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = canonID(id)
	}
	return out
}

// emailKey is the key operators are looked up by: emails are case-insensitive.
func emailKey(email string) string { return strings.ToLower(strings.TrimSpace(email)) }

// notNil returns s, or an empty slice for nil, so that an entity encodes "[]" and not
// "null" and compares equal to its stored form.
func notNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// The functions below turn a file entry into the entity it defines: ids canonical, slices
// never nil, defaults filled in. Secrets are left out; Bootstrap decides the hashes.

func unitOf(u events.Unit) events.Unit {
	u.UnitID = canonID(u.UnitID)
	return u
}

func inboxOf(i events.Inbox) events.Inbox {
	i.InboxID, i.UnitID = canonID(i.InboxID), canonID(i.UnitID)
	return i
}

func workspaceOf(w events.Workspace) events.Workspace {
	w.WorkspaceID, w.UnitID = canonID(w.WorkspaceID), canonID(w.UnitID)
	w.InboxIDs = canonIDs(w.InboxIDs)
	if w.StartNextBehavior == "" {
		w.StartNextBehavior = events.StartNextAuto
	}
	return w
}

func serviceOf(s events.Service) events.Service {
	s.ServiceID, s.UnitID, s.InboxID = canonID(s.ServiceID), canonID(s.UnitID), canonID(s.InboxID)
	return s
}

func categoryOf(c events.ServiceCategory) events.ServiceCategory {
	c.ServiceCategoryID = canonID(c.ServiceCategoryID)
	return c
}

func serviceTypeOf(t events.ServiceType) events.ServiceType {
	t.ServiceTypeID = canonID(t.ServiceTypeID)
	t.ServiceCategoryID = canonID(t.ServiceCategoryID)
	t.DefaultServiceID = canonID(t.DefaultServiceID)
	return t
}

func operatorOf(o FileOperator) events.Operator {
	return events.Operator{
		UserID:       canonID(o.UserID),
		Email:        strings.TrimSpace(o.Email),
		DisplayName:  o.DisplayName,
		Initials:     o.Initials,
		Picture:      o.Picture,
		Blocked:      o.Blocked,
		ServiceTypes: notNil(slices.Clone(o.ServiceTypes)),
		Units:        canonIDs(o.Units),
		Workspaces:   canonIDs(o.Workspaces),
		Roles:        notNil(slices.Clone(o.Roles)),
	}
}

func groupOf(g events.OperatorGroup) events.OperatorGroup {
	g.GroupID = canonID(g.GroupID)
	g.Members = canonIDs(g.Members)
	return g
}

func applicationOf(a FileApplication) events.Application {
	return events.Application{
		ApplicationID: canonID(a.ApplicationID),
		ClientID:      a.ClientID,
		Roles:         notNil(slices.Clone(a.Roles)),
	}
}

// Validate checks the file as a whole and returns the first problem found, naming the
// entry (its key, index and id): required ids and secrets present; unitId, userId and
// applicationId are uuids; ids unique within their kind; operator emails unique regardless
// of case; group names, category codes, type codes, touchpoint codes and client ids unique;
// every reference resolves (inbox to unit; service to unit and to an inbox of that unit;
// workspace to unit and to inboxes of that unit; service type to category, default service
// and operator group; group members to operators; operator units, workspaces and service
// type codes, or "*"); startNextBehavior is Auto, CloseActiveTabs or AddTab (empty means
// Auto); application roles are AgentImpersonator or CaseManager; secrets are at most 72
// bytes, bcrypt's limit. Ids are compared in canonical form: a uuid matches in any case.
func (f *File) Validate() error {
	if f == nil {
		return fmt.Errorf("%w: no file", ErrInvalidFile)
	}
	v := validator{seen: map[string]map[string]bool{}}

	units := map[string]bool{}
	for i, e := range f.Units {
		u := unitOf(e)
		v.entry("units", i, "unitId", u.UnitID, v.uuid)
		units[u.UnitID] = true
	}
	inboxUnit := map[string]string{}
	for i, e := range f.Inboxes {
		in := inboxOf(e)
		at := v.entry("inboxes", i, "inboxId", in.InboxID, v.required)
		v.ref(at, "unitId", in.UnitID, units)
		inboxUnit[in.InboxID] = in.UnitID
	}
	workspaces := map[string]bool{}
	for i, e := range f.Workspaces {
		w := workspaceOf(e)
		at := v.entry("workspaces", i, "workspaceId", w.WorkspaceID, v.required)
		v.ref(at, "unitId", w.UnitID, units)
		for _, id := range w.InboxIDs {
			v.inUnit(at, "inboxIds", id, inboxUnit, w.UnitID)
		}
		switch w.StartNextBehavior {
		case events.StartNextAuto, events.StartNextCloseActiveTabs, events.StartNextAddTab:
		default:
			v.fail(at, "startNextBehavior %q is not Auto, CloseActiveTabs or AddTab", w.StartNextBehavior)
		}
		workspaces[w.WorkspaceID] = true
	}
	services := map[string]bool{}
	for i, e := range f.Services {
		s := serviceOf(e)
		at := v.entry("services", i, "serviceId", s.ServiceID, v.required)
		v.ref(at, "unitId", s.UnitID, units)
		v.inUnit(at, "inboxId", s.InboxID, inboxUnit, s.UnitID)
		services[s.ServiceID] = true
	}
	categories := map[string]bool{}
	for i, e := range f.ServiceCategories {
		c := categoryOf(e)
		at := v.entry("serviceCategories", i, "serviceCategoryId", c.ServiceCategoryID, v.required)
		v.requiredUnique(at, "code", c.Code)
		categories[c.ServiceCategoryID] = true
	}
	groupNames := map[string]bool{}
	for _, g := range f.Groups {
		groupNames[g.Name] = true
	}
	typeCodes := map[string]bool{}
	for i, e := range f.ServiceTypes {
		t := serviceTypeOf(e)
		at := v.entry("serviceTypes", i, "serviceTypeId", t.ServiceTypeID, v.required)
		v.requiredUnique(at, "code", t.Code)
		if t.Code == "*" {
			v.fail(at, `code "*" is reserved: it means every type in an operator's serviceTypes`)
		}
		v.ref(at, "serviceCategoryId", t.ServiceCategoryID, categories)
		v.ref(at, "defaultServiceId", t.DefaultServiceID, services)
		if t.OperatorGroup != "" && !groupNames[t.OperatorGroup] {
			v.fail(at, "operatorGroup %q is not the name of a group", t.OperatorGroup)
		}
		typeCodes[t.Code] = true
	}
	operators := map[string]bool{}
	for i, e := range f.Operators {
		o := operatorOf(e)
		at := v.entry("operators", i, "userId", o.UserID, v.uuid)
		v.required(at, "email", o.Email)
		v.unique(at, "email", emailKey(o.Email))
		v.secret(at, "password", e.Password)
		for _, code := range o.ServiceTypes {
			if code != "*" && !typeCodes[code] {
				v.fail(at, "serviceTypes: %q is not the code of a service type", code)
			}
		}
		for _, id := range o.Units {
			v.ref(at, "units", id, units)
		}
		for _, id := range o.Workspaces {
			v.ref(at, "workspaces", id, workspaces)
		}
		operators[o.UserID] = true
	}
	for i, e := range f.Groups {
		g := groupOf(e)
		at := v.entry("groups", i, "groupId", g.GroupID, v.required)
		v.requiredUnique(at, "name", g.Name)
		for _, id := range g.Members {
			v.ref(at, "members", id, operators)
		}
	}
	for i, tp := range f.Touchpoints {
		at := v.entry("touchpoints", i, "code", tp.Code, v.required)
		v.secret(at, "token", tp.Token)
	}
	for i, e := range f.Applications {
		a := applicationOf(e)
		at := v.entry("applications", i, "applicationId", a.ApplicationID, v.uuid)
		v.requiredUnique(at, "clientId", a.ClientID)
		v.secret(at, "clientSecret", e.ClientSecret)
		for _, r := range a.Roles {
			if r != events.RoleAgentImpersonator && r != events.RoleCaseManager {
				v.fail(at, "role %q is not AgentImpersonator or CaseManager", r)
			}
		}
	}
	return v.err
}

// validator keeps the first error found; later checks are no-ops once one failed.
type validator struct {
	err  error
	seen map[string]map[string]bool // "<key>.<field>" -> values seen
}

// at names an entry: its key, its index and, when it has one, its id.
func (v *validator) at(key string, i int, id string) string {
	if id == "" {
		return fmt.Sprintf("%s[%d]", key, i)
	}
	return fmt.Sprintf("%s[%d] %q", key, i, id)
}

// entry names entry i of key by its id and checks the id, under field, with check
// (required or uuid) and for uniqueness within key.
func (v *validator) entry(key string, i int, field, id string, check func(at, field, value string)) string {
	at := v.at(key, i, id)
	check(at, field, id)
	v.unique(at, field, id)
	return at
}

// requiredUnique checks a member that every entry of a key has and no two share.
func (v *validator) requiredUnique(at, field, value string) {
	v.required(at, field, value)
	v.unique(at, field, value)
}

func (v *validator) fail(at, format string, args ...any) {
	if v.err == nil {
		v.err = fmt.Errorf("%w: %s: %s", ErrInvalidFile, at, fmt.Sprintf(format, args...))
	}
}

func (v *validator) required(at, field, value string) {
	if value == "" {
		v.fail(at, "%s is required", field)
	}
}

func (v *validator) uuid(at, field, value string) {
	if value == "" {
		v.fail(at, "%s is required", field)
	} else if _, err := uuid.Parse(value); err != nil {
		v.fail(at, "%s %q is not a uuid", field, value)
	}
}

// unique checks value was not seen before in the same field of the same key; at's key is
// the part before "[".
func (v *validator) unique(at, field, value string) {
	if value == "" {
		return
	}
	key, _, _ := strings.Cut(at, "[")
	key += "." + field
	if v.seen[key] == nil {
		v.seen[key] = map[string]bool{}
	}
	if v.seen[key][value] {
		v.fail(at, "%s %q is not unique", field, value)
	}
	v.seen[key][value] = true
}

func (v *validator) ref(at, field, id string, known map[string]bool) {
	if id == "" {
		v.fail(at, "%s is required", field)
	} else if !known[id] {
		v.fail(at, "%s: no such entry %q", field, id)
	}
}

// inUnit checks that inbox id exists and belongs to unit.
func (v *validator) inUnit(at, field, id string, inboxUnit map[string]string, unit string) {
	u, ok := inboxUnit[id]
	switch {
	case id == "":
		v.fail(at, "%s is required", field)
	case !ok:
		v.fail(at, "%s: no such inbox %q", field, id)
	case u != unit:
		v.fail(at, "%s: inbox %q belongs to unit %q, not %q", field, id, u, unit)
	}
}

func (v *validator) secret(at, field, value string) {
	if value == "" {
		v.fail(at, "%s is required", field)
	} else if len(value) > maxSecret {
		v.fail(at, "%s is longer than %d bytes", field, maxSecret)
	}
}
