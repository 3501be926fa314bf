package httpapi

import (
	"context"
	"net/http"

	"github.com/gorilla/mux"

	"github.com/casestream/casestream/events"
	"github.com/casestream/casestream/internal/directory"
)

// The bodies of the admin API's PUT calls: the entity as its directory event spells it, its
// id optional (the path's), and the change's reason.
type (
	adminUnitBody struct {
		events.Unit
		Reason string `json:"reason"`
	}
	adminInboxBody struct {
		events.Inbox
		Reason string `json:"reason"`
	}
	adminWorkspaceBody struct {
		events.Workspace
		Reason string `json:"reason"`
	}
	adminServiceBody struct {
		events.Service
		Reason string `json:"reason"`
	}
	adminCategoryBody struct {
		events.ServiceCategory
		Reason string `json:"reason"`
	}
	adminServiceTypeBody struct {
		events.ServiceType
		Reason string `json:"reason"`
	}
	adminOperatorBody struct {
		events.Operator
		// Password is required for a new operator; for an existing one it replaces the
		// password when given.
		Password string `json:"password"`
		Reason   string `json:"reason"`
	}
	adminGroupBody struct {
		events.OperatorGroup
		Reason string `json:"reason"`
	}
	adminApplicationBody struct {
		events.Application
		Reason string `json:"reason"`
	}
	adminPasswordBody struct {
		Password string `json:"password"`
		Reason   string `json:"reason"`
	}
)

func (b adminUnitBody) why() string        { return b.Reason }
func (b adminInboxBody) why() string       { return b.Reason }
func (b adminWorkspaceBody) why() string   { return b.Reason }
func (b adminServiceBody) why() string     { return b.Reason }
func (b adminCategoryBody) why() string    { return b.Reason }
func (b adminServiceTypeBody) why() string { return b.Reason }
func (b adminOperatorBody) why() string    { return b.Reason }
func (b adminGroupBody) why() string       { return b.Reason }
func (b adminApplicationBody) why() string { return b.Reason }
func (b adminPasswordBody) why() string    { return b.Reason }
func (b reasonOnly) why() string           { return b.Reason }

type (
	// dir is a Directory lookup by id.
	dir = *directory.Directory
	// adm is the admin commands.
	adm = *directory.Admin
	// chg is one admin change.
	chg = directory.Change
)

// registerAdminRoutes registers the admin API under r (AdminBase); see docs/api.md.
func (s *Server) registerAdminRoutes(r *mux.Router) {
	registerAdminKind(s, r, adminKind[events.Unit, adminUnitBody]{
		path: "units", name: "unit", kind: events.KindUnit, why: adminUnitBody.why,
		get: dir.Unit, list: dir.Units,
		put: func(ctx context.Context, a adm, c chg, id string, b adminUnitBody) (directory.Result, error) {
			if !sameID(b.UnitID, id) {
				return directory.Result{}, idMismatch("unitId")
			}
			b.UnitID = id
			return a.PutUnit(ctx, c, b.Unit)
		},
	})
	registerAdminKind(s, r, adminKind[events.Inbox, adminInboxBody]{
		path: "inboxes", name: "inbox", kind: events.KindInbox, why: adminInboxBody.why,
		get: dir.Inbox, list: dir.Inboxes,
		put: func(ctx context.Context, a adm, c chg, id string, b adminInboxBody) (directory.Result, error) {
			if !sameID(b.InboxID, id) {
				return directory.Result{}, idMismatch("inboxId")
			}
			b.InboxID = id
			return a.PutInbox(ctx, c, b.Inbox)
		},
	})
	registerAdminKind(s, r, adminKind[events.Workspace, adminWorkspaceBody]{
		path: "workspaces", name: "workspace", kind: events.KindWorkspace, why: adminWorkspaceBody.why,
		get: dir.Workspace, list: dir.Workspaces,
		put: func(ctx context.Context, a adm, c chg, id string, b adminWorkspaceBody) (directory.Result, error) {
			if !sameID(b.WorkspaceID, id) {
				return directory.Result{}, idMismatch("workspaceId")
			}
			b.WorkspaceID = id
			return a.PutWorkspace(ctx, c, b.Workspace)
		},
	})
	registerAdminKind(s, r, adminKind[events.Service, adminServiceBody]{
		path: "services", name: "service", kind: events.KindService, why: adminServiceBody.why,
		get: dir.Service, list: dir.Services,
		put: func(ctx context.Context, a adm, c chg, id string, b adminServiceBody) (directory.Result, error) {
			if !sameID(b.ServiceID, id) {
				return directory.Result{}, idMismatch("serviceId")
			}
			b.ServiceID = id
			return a.PutService(ctx, c, b.Service)
		},
	})
	registerAdminKind(s, r, adminKind[events.ServiceCategory, adminCategoryBody]{
		path: "serviceCategories", name: "serviceCategory", kind: events.KindServiceCategory, why: adminCategoryBody.why,
		get: dir.ServiceCategory, list: dir.ServiceCategories,
		put: func(ctx context.Context, a adm, c chg, id string, b adminCategoryBody) (directory.Result, error) {
			if !sameID(b.ServiceCategoryID, id) {
				return directory.Result{}, idMismatch("serviceCategoryId")
			}
			b.ServiceCategoryID = id
			return a.PutServiceCategory(ctx, c, b.ServiceCategory)
		},
	})
	registerAdminKind(s, r, adminKind[events.ServiceType, adminServiceTypeBody]{
		path: "serviceTypes", name: "serviceType", kind: events.KindServiceType, why: adminServiceTypeBody.why,
		get: dir.ServiceType, list: dir.ServiceTypes,
		put: func(ctx context.Context, a adm, c chg, id string, b adminServiceTypeBody) (directory.Result, error) {
			if !sameID(b.ServiceTypeID, id) {
				return directory.Result{}, idMismatch("serviceTypeId")
			}
			b.ServiceTypeID = id
			return a.PutServiceType(ctx, c, b.ServiceType)
		},
	})
	operators := adminKind[events.Operator, adminOperatorBody]{
		path: "operators", name: "operator", kind: events.KindOperator, why: adminOperatorBody.why,
		get: dir.Operator, list: dir.Operators,
		put: func(ctx context.Context, a adm, c chg, id string, b adminOperatorBody) (directory.Result, error) {
			if !sameID(b.UserID, id) {
				return directory.Result{}, idMismatch("userId")
			}
			b.UserID = id
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
	groups := adminKind[events.OperatorGroup, adminGroupBody]{
		path: "groups", name: "group", kind: events.KindGroup, why: adminGroupBody.why,
		get: dir.Group, list: dir.Groups,
		put: func(ctx context.Context, a adm, c chg, id string, b adminGroupBody) (directory.Result, error) {
			if !sameID(b.GroupID, id) {
				return directory.Result{}, idMismatch("groupId")
			}
			b.GroupID = id
			return a.PutGroup(ctx, c, b.OperatorGroup)
		},
	}
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
	applications := adminKind[events.Application, adminApplicationBody]{
		path: "applications", name: "application", kind: events.KindApplication, why: adminApplicationBody.why,
		get: dir.Application, list: dir.Applications, secret: "clientSecret",
		put: func(ctx context.Context, a adm, c chg, id string, b adminApplicationBody) (directory.Result, error) {
			if !sameID(b.ApplicationID, id) {
				return directory.Result{}, idMismatch("applicationId")
			}
			b.ApplicationID = id
			return a.PutApplication(ctx, c, b.Application)
		},
	}
	registerAdminKind(s, r, applications)
	adminAction(s, r, applications, http.MethodPost, "secret", true, reasonOnly.why,
		func(ctx context.Context, a adm, c chg, vars map[string]string, _ reasonOnly) (directory.Result, error) {
			return a.RotateClientSecret(ctx, c, vars["id"])
		})
}
