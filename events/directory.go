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
// the agent-impersonation API. PasswordHash is a bcrypt hash; the password itself is never
// stored.
type Operator struct {
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
func (Operator) EventType() string { return TypeOperatorDefined }

// OperatorGroup is a named set of operators that cases can be assigned to.
type OperatorGroup struct {
	GroupID string   `json:"groupId"`
	Name    string   `json:"name"`
	Members []string `json:"members"`
}

// EventType implements Event.
func (OperatorGroup) EventType() string { return TypeGroupDefined }

// Touchpoint is a client application of the operator API. TokenHash is a bcrypt hash.
type Touchpoint struct {
	Code      string `json:"code"`
	TokenHash string `json:"tokenHash"`
}

// EventType implements Event.
func (Touchpoint) EventType() string { return TypeTouchpointDefined }

// Application roles.
const (
	RoleAgentImpersonator = "AgentImpersonator"
	RoleCaseManager       = "CaseManager"
)

// Application is a client of the agent-impersonation API. ClientSecretHash is a bcrypt hash.
type Application struct {
	ApplicationID    string   `json:"applicationId"`
	ClientID         string   `json:"clientId"`
	ClientSecretHash string   `json:"clientSecretHash"`
	Roles            []string `json:"roles"`
}

// EventType implements Event.
func (Application) EventType() string { return TypeApplicationDefined }

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
	register[AgentUnitSelected]()
	register[AgentWorkspaceSelected]()
}
