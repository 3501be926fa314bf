package events

import (
	"encoding/hex"
	"regexp"
)

// Directory entity kinds: the <kind> token of directory.<kind>.<id>.
const (
	KindUnit            = "unit"
	KindInbox           = "inbox"
	KindWorkspace       = "workspace"
	KindService         = "service"
	KindServiceCategory = "serviceCategory"
	KindServiceType     = "serviceType"
	KindOperator        = "operator"
	KindGroup           = "group"
	KindTouchpoint      = "touchpoint"
	KindApplication     = "application"
	// KindAgent is an operator's agent state (current unit, current workspace).
	KindAgent = "agent"
)

// Directory event types. Each "defined" event carries the whole entity as it is after the
// change: the first one creates it, later ones replace it.
const (
	TypeUnitDefined            = "directory.unitDefined"
	TypeInboxDefined           = "directory.inboxDefined"
	TypeWorkspaceDefined       = "directory.workspaceDefined"
	TypeServiceDefined         = "directory.serviceDefined"
	TypeServiceCategoryDefined = "directory.serviceCategoryDefined"
	TypeServiceTypeDefined     = "directory.serviceTypeDefined"
	TypeOperatorDefined        = "directory.operatorDefined"
	TypeGroupDefined           = "directory.groupDefined"
	TypeTouchpointDefined      = "directory.touchpointDefined"
	TypeApplicationDefined     = "directory.applicationDefined"
	TypeSecretChanged          = "directory.secretChanged"
	TypeAgentUnitSelected      = "agent.unitSelected"
	TypeAgentWorkspaceSelected = "agent.workspaceSelected"
)

// Unit is an organisational unit: a branch, an office.
type Unit struct {
	UnitID string `json:"unitId"`
	Name   string `json:"name"`
}

// EventType implements Event.
func (Unit) EventType() string { return TypeUnitDefined }

// Inbox holds the waiting cases of one or more services of a unit.
type Inbox struct {
	InboxID   string `json:"inboxId"`
	UnitID    string `json:"unitId"`
	Name      string `json:"name"`
	ColorCode string `json:"colorCode"`
}

// EventType implements Event.
func (Inbox) EventType() string { return TypeInboxDefined }

// Workspace start-next behaviours.
const (
	StartNextAuto            = "Auto"
	StartNextCloseActiveTabs = "CloseActiveTabs"
	StartNextAddTab          = "AddTab"
)

// Workspace is a set of inboxes an agent serves in a unit.
type Workspace struct {
	WorkspaceID       string   `json:"workspaceId"`
	UnitID            string   `json:"unitId"`
	Name              string   `json:"name"`
	Description       string   `json:"description,omitempty"`
	InboxIDs          []string `json:"inboxIds"`
	StartNextBehavior string   `json:"startNextBehavior"`
}

// EventType implements Event.
func (Workspace) EventType() string { return TypeWorkspaceDefined }

// Service is a queue that cases are queued up in.
type Service struct {
	ServiceID    string `json:"serviceId"`
	UnitID       string `json:"unitId"`
	InboxID      string `json:"inboxId"`
	Name         string `json:"name"`
	TicketPrefix string `json:"ticketPrefix"`
}

// EventType implements Event.
func (Service) EventType() string { return TypeServiceDefined }

// ServiceCategory groups service types.
type ServiceCategory struct {
	ServiceCategoryID string `json:"serviceCategoryId"`
	Code              string `json:"code"`
	Name              string `json:"name"`
}

// EventType implements Event.
func (ServiceCategory) EventType() string { return TypeServiceCategoryDefined }

// ServiceType is what a case is about. Cases of a type with an OperatorGroup are routed to
// that group when opened.
type ServiceType struct {
	ServiceTypeID     string `json:"serviceTypeId"`
	Code              string `json:"code"`
	Name              string `json:"name"`
	ServiceCategoryID string `json:"serviceCategoryId"`
	DefaultServiceID  string `json:"defaultServiceId"`
	OperatorGroup     string `json:"operatorGroup,omitempty"`
}

// EventType implements Event.
func (ServiceType) EventType() string { return TypeServiceTypeDefined }

// Operator is a person who handles cases: an operator of the operator API and an agent of
// the agent-impersonation API. It is schema version 2 of directory.operatorDefined: the
// password's hash is not in the log but in the service's credentials bucket, and a change of
// password is a SecretChanged event.
type Operator struct {
	UserID       string   `json:"userId"`
	Email        string   `json:"email"`
	DisplayName  string   `json:"displayName"`
	Initials     string   `json:"initials"`
	Picture      string   `json:"picture"`
	Blocked      bool     `json:"blocked"`
	ServiceTypes []string `json:"serviceTypes"`
	Units        []string `json:"units"`
	Workspaces   []string `json:"workspaces"`
	Roles        []string `json:"roles"`
}

// EventType implements Event.
func (Operator) EventType() string { return TypeOperatorDefined }

// SchemaVersion returns the schema version Operator is written at.
func (Operator) SchemaVersion() int { return 2 }

// OperatorV1 is the data of directory.operatorDefined at schema version 1, found in logs
// written before version 2: the operator and the bcrypt hash of its password. Decode returns
// such events as version 2 reads them (Operator, without the hash); Wrap writes an OperatorV1
// at version 1, for tools that must produce an older log. casestream writes none.
type OperatorV1 struct {
	UserID       string   `json:"userId"`
	Email        string   `json:"email"`
	DisplayName  string   `json:"displayName"`
	Initials     string   `json:"initials"`
	Picture      string   `json:"picture"`
	PasswordHash string   `json:"passwordHash"`
	Blocked      bool     `json:"blocked"`
	ServiceTypes []string `json:"serviceTypes"`
	Units        []string `json:"units"`
	Workspaces   []string `json:"workspaces"`
	Roles        []string `json:"roles"`
}

// EventType implements Event.
func (OperatorV1) EventType() string { return TypeOperatorDefined }

// Operator returns the operator without its hash, as version 2 carries it.
func (o OperatorV1) Operator() Operator {
	return Operator{
		UserID: o.UserID, Email: o.Email, DisplayName: o.DisplayName, Initials: o.Initials, Picture: o.Picture,
		Blocked: o.Blocked, ServiceTypes: o.ServiceTypes, Units: o.Units, Workspaces: o.Workspaces, Roles: o.Roles,
	}
}

// OperatorGroup is a named set of operators that cases can be assigned to.
type OperatorGroup struct {
	GroupID string   `json:"groupId"`
	Name    string   `json:"name"`
	Members []string `json:"members"`
}

// EventType implements Event.
func (OperatorGroup) EventType() string { return TypeGroupDefined }

// Touchpoint is a client application of the operator API. It is schema version 2 of
// directory.touchpointDefined: the token's hash is in the credentials bucket, not in the log.
type Touchpoint struct {
	Code string `json:"code"`
}

// EventType implements Event.
func (Touchpoint) EventType() string { return TypeTouchpointDefined }

// SchemaVersion returns the schema version Touchpoint is written at.
func (Touchpoint) SchemaVersion() int { return 2 }

// TouchpointV1 is the data of directory.touchpointDefined at schema version 1, found in
// logs written before version 2: the touchpoint and the bcrypt hash of its token. Decode
// returns such events as a Touchpoint, without the hash. casestream writes none.
type TouchpointV1 struct {
	Code      string `json:"code"`
	TokenHash string `json:"tokenHash"`
}

// EventType implements Event.
func (TouchpointV1) EventType() string { return TypeTouchpointDefined }

// Touchpoint returns the touchpoint without its hash, as version 2 carries it.
func (t TouchpointV1) Touchpoint() Touchpoint { return Touchpoint{Code: t.Code} }

// Application roles.
const (
	RoleAgentImpersonator = "AgentImpersonator"
	RoleCaseManager       = "CaseManager"
)

// Application is a client of the agent-impersonation API. It is schema version 2 of
// directory.applicationDefined: the client secret's hash is in the credentials bucket, not
// in the log.
type Application struct {
	ApplicationID string   `json:"applicationId"`
	ClientID      string   `json:"clientId"`
	Roles         []string `json:"roles"`
}

// EventType implements Event.
func (Application) EventType() string { return TypeApplicationDefined }

// SchemaVersion returns the schema version Application is written at.
func (Application) SchemaVersion() int { return 2 }

// ApplicationV1 is the data of directory.applicationDefined at schema version 1, found in
// logs written before version 2: the application and the bcrypt hash of its client secret.
// Decode returns such events as an Application, without the hash. casestream writes none.
type ApplicationV1 struct {
	ApplicationID    string   `json:"applicationId"`
	ClientID         string   `json:"clientId"`
	ClientSecretHash string   `json:"clientSecretHash"`
	Roles            []string `json:"roles"`
}

// EventType implements Event.
func (ApplicationV1) EventType() string { return TypeApplicationDefined }

// Application returns the application without its hash, as version 2 carries it.
func (a ApplicationV1) Application() Application {
	return Application{ApplicationID: a.ApplicationID, ClientID: a.ClientID, Roles: a.Roles}
}

// SecretChanged says that the secret of a directory entity was set or replaced: an
// operator's password, a touchpoint's token, an application's client secret. Its envelope's
// actor and occurredAt say who changed it and when; the secret and its hash are not in the
// log. It is written on the entity's own subject.
type SecretChanged struct {
	// Kind is the entity's kind: KindOperator, KindTouchpoint or KindApplication.
	Kind string `json:"kind"`
	// ID is the entity's id: a userId, a touchpoint code, an applicationId.
	ID string `json:"id"`
}

// EventType implements Event.
func (SecretChanged) EventType() string { return TypeSecretChanged }

// AgentUnitSelected sets an agent's current unit. It clears a workspace selected in another
// unit.
type AgentUnitSelected struct {
	UserID string `json:"userId"`
	UnitID string `json:"unitId"`
}

// EventType implements Event.
func (AgentUnitSelected) EventType() string { return TypeAgentUnitSelected }

// AgentWorkspaceSelected sets an agent's current workspace in its current unit.
type AgentWorkspaceSelected struct {
	UserID      string `json:"userId"`
	WorkspaceID string `json:"workspaceId"`
}

// EventType implements Event.
func (AgentWorkspaceSelected) EventType() string { return TypeAgentWorkspaceSelected }

var tokenSafe = regexp.MustCompile(`^[A-Za-z0-9_-]{1,128}$`)

// SubjectToken returns s if it can stand as one subject token, and otherwise "x" followed
// by its hex encoding, so that any name or code has a literal subject of its own. A safe
// string that starts with "x" is encoded too, so that no two strings share a token.
func SubjectToken(s string) string {
	if tokenSafe.MatchString(s) && s[0] != 'x' {
		return s
	}
	return "x" + hex.EncodeToString([]byte(s))
}

func init() {
	register[Unit]()
	register[Inbox]()
	register[Workspace]()
	register[Service]()
	register[ServiceCategory]()
	register[ServiceType]()
	register[Operator]()
	register[OperatorGroup]()
	register[Touchpoint]()
	register[Application]()
	register[SecretChanged]()
	register[AgentUnitSelected]()
	register[AgentWorkspaceSelected]()
	registerOlder(1, OperatorV1.Operator)
	registerOlder(1, TouchpointV1.Touchpoint)
	registerOlder(1, ApplicationV1.Application)
}
