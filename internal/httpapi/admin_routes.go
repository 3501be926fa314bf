package httpapi

import (
	"context"
	"net/http"

	"github.com/gorilla/mux"

	"github.com/casestream/casestream/events"
	"github.com/casestream/casestream/internal/directory"
)

// adminEntityBody is the body of most PUTs of the admin API: the entity as its directory
// event spells it, its id optional (the path's), and the change's reason. The entity is
// JSON-embedded (a type parameter cannot be Go-embedded): its members stand beside reason.
type adminEntityBody[T any] struct {
	Entity T      `json:",embed"`
	Reason string `json:"reason"`
}

// The bodies of the admin API's other calls, and the entity bodies the decoding fuzz test
// names.
type (
	adminUnitBody        = adminEntityBody[events.Unit]
	adminWorkspaceBody   = adminEntityBody[events.Workspace]
	adminGroupBody       = adminEntityBody[events.OperatorGroup]
	adminApplicationBody = adminEntityBody[events.Application]
	adminOperatorBody    struct {
		events.Operator
		// Password is required for a new operator; for an existing one it replaces the
		// password when given.
		Password string `json:"password"`
		Reason   string `json:"reason"`
	}
	adminPasswordBody struct {
		Password string `json:"password"`
		Reason   string `json:"reason"`
	}
)

func (b adminEntityBody[T]) why() string { return b.Reason }
func (b adminOperatorBody) why() string  { return b.Reason }
func (b adminPasswordBody) why() string  { return b.Reason }
func (b reasonOnly) why() string         { return b.Reason }

type (
	// dir is a Directory lookup by id.
	dir = *directory.Directory
	// adm is the admin commands.
	adm = *directory.Admin
	// chg is one admin change.
	chg = directory.Change
)

// entityKind is the adminKind of an entity whose PUT body is an adminEntityBody: path,
// name and kind as in adminKind; idField is the body's id member ("unitId") and id points
// at it in the entity, which put then stores under the path's id.
func entityKind[T any](path, name, kind string, get func(dir, string) (T, bool), list func(dir) []T,
	idField string, id func(*T) *string, put func(adm, context.Context, chg, T) (directory.Result, error)) adminKind[T, adminEntityBody[T]] {
	return adminKind[T, adminEntityBody[T]]{
		path: path, name: name, kind: kind, why: adminEntityBody[T].why, get: get, list: list,
		put: func(ctx context.Context, a adm, c chg, pathID string, b adminEntityBody[T]) (directory.Result, error) {
			if err := claimID(id(&b.Entity), pathID, idField); err != nil {
				return directory.Result{}, err
			}
			return put(a, ctx, c, b.Entity)
		},
	}
}

// claimID sets the body's id, under field, to the path's, refusing a body that names
// another entity.
func claimID(bodyID *string, pathID, field string) error {
	if !sameID(*bodyID, pathID) {
		return idMismatch(field)
	}
	*bodyID = pathID
	return nil
}

// registerAdminRoutes registers the admin API under r (AdminBase); see docs/api.md.
func (s *Server) registerAdminRoutes(r *mux.Router) {
	registerAdminKind(s, r, entityKind("units", "unit", events.KindUnit, dir.Unit, dir.Units,
		"unitId", func(e *events.Unit) *string { return &e.UnitID }, adm.PutUnit))
	registerAdminKind(s, r, entityKind("inboxes", "inbox", events.KindInbox, dir.Inbox, dir.Inboxes,
		"inboxId", func(e *events.Inbox) *string { return &e.InboxID }, adm.PutInbox))
	registerAdminKind(s, r, entityKind("workspaces", "workspace", events.KindWorkspace, dir.Workspace, dir.Workspaces,
		"workspaceId", func(e *events.Workspace) *string { return &e.WorkspaceID }, adm.PutWorkspace))
	registerAdminKind(s, r, entityKind("services", "service", events.KindService, dir.Service, dir.Services,
		"serviceId", func(e *events.Service) *string { return &e.ServiceID }, adm.PutService))
	registerAdminKind(s, r, entityKind("serviceCategories", "serviceCategory", events.KindServiceCategory, dir.ServiceCategory, dir.ServiceCategories,
		"serviceCategoryId", func(e *events.ServiceCategory) *string { return &e.ServiceCategoryID }, adm.PutServiceCategory))
	registerAdminKind(s, r, entityKind("serviceTypes", "serviceType", events.KindServiceType, dir.ServiceType, dir.ServiceTypes,
		"serviceTypeId", func(e *events.ServiceType) *string { return &e.ServiceTypeID }, adm.PutServiceType))
	operators := adminKind[events.Operator, adminOperatorBody]{
		path: "operators", name: "operator", kind: events.KindOperator, why: adminOperatorBody.why,
		get: dir.Operator, list: dir.Operators,
		put: func(ctx context.Context, a adm, c chg, id string, b adminOperatorBody) (directory.Result, error) {
			if err := claimID(&b.UserID, id, "userId"); err != nil {
				return directory.Result{}, err
			}
			return a.PutOperator(ctx, c, b.Operator, b.Password)
		},
	}
	registerAdminKind(s, r, operators)
	adminAction(s, r, operators, http.MethodPost, "block", true, reasonOnly.why,
		func(ctx context.Context, a adm, c chg, vars map[string]string, _ reasonOnly) (directory.Result, error) {
			return a.BlockOperator(ctx, c, vars["id"], true)
		})
	adminAction(s, r, operators, http.MethodPost, "unblock", true, reasonOnly.why,
		func(ctx context.Context, a adm, c chg, vars map[string]string, _ reasonOnly) (directory.Result, error) {
			return a.BlockOperator(ctx, c, vars["id"], false)
		})
	adminAction(s, r, operators, http.MethodPut, "password", false, adminPasswordBody.why,
		func(ctx context.Context, a adm, c chg, vars map[string]string, b adminPasswordBody) (directory.Result, error) {
			return a.SetPassword(ctx, c, vars["id"], b.Password)
		})
	groups := entityKind("groups", "group", events.KindGroup, dir.Group, dir.Groups,
		"groupId", func(e *events.OperatorGroup) *string { return &e.GroupID }, adm.PutGroup)
	registerAdminKind(s, r, groups)
	adminAction(s, r, groups, http.MethodPut, "members/{userId}", true, reasonOnly.why,
		func(ctx context.Context, a adm, c chg, vars map[string]string, _ reasonOnly) (directory.Result, error) {
			return a.SetGroupMember(ctx, c, vars["id"], vars["userId"], true)
		})
	adminAction(s, r, groups, http.MethodDelete, "members/{userId}", true, reasonOnly.why,
		func(ctx context.Context, a adm, c chg, vars map[string]string, _ reasonOnly) (directory.Result, error) {
			return a.SetGroupMember(ctx, c, vars["id"], vars["userId"], false)
		})
	touchpoints := adminKind[events.Touchpoint, reasonOnly]{
		path: "touchpoints", name: "touchpoint", kind: events.KindTouchpoint, why: reasonOnly.why,
		get: dir.Touchpoint, list: dir.Touchpoints, optional: true, secret: "token",
		put: func(ctx context.Context, a adm, c chg, id string, _ reasonOnly) (directory.Result, error) {
			return a.PutTouchpoint(ctx, c, id)
		},
	}
	registerAdminKind(s, r, touchpoints)
	adminAction(s, r, touchpoints, http.MethodPost, "token", true, reasonOnly.why,
		func(ctx context.Context, a adm, c chg, vars map[string]string, _ reasonOnly) (directory.Result, error) {
			return a.RotateToken(ctx, c, vars["id"])
		})
	applications := entityKind("applications", "application", events.KindApplication, dir.Application, dir.Applications,
		"applicationId", func(e *events.Application) *string { return &e.ApplicationID }, adm.PutApplication)
	applications.secret = "clientSecret"
	registerAdminKind(s, r, applications)
	adminAction(s, r, applications, http.MethodPost, "secret", true, reasonOnly.why,
		func(ctx context.Context, a adm, c chg, vars map[string]string, _ reasonOnly) (directory.Result, error) {
			return a.RotateClientSecret(ctx, c, vars["id"])
		})
}
