package httpapi

import (
	"encoding/json"
	"net/http"
	"strings"

	"github.com/casestream/casestream/aggregate"
	"github.com/casestream/casestream/events"
	"github.com/casestream/casestream/internal/directory"
)

// The operator API's wire types.
type (
	link struct {
		Ref  string `json:"ref"`
		Href string `json:"href"`
	}
	simpleProfile struct {
		Firstname string `json:"firstname"`
		Lastname  string `json:"lastname"`
		Email     string `json:"email"`
	}
	sessionContext struct {
		Links         []link         `json:"links"`
		Activities    []any          `json:"activities"`
		SimpleProfile *simpleProfile `json:"simpleProfile"`
	}
	comment struct {
		ID             int    `json:"id"`
		CaseInstanceID int64  `json:"caseInstanceId"`
		Description    string `json:"description"`
	}
	operatorRef struct {
		Email       string `json:"email"`
		DisplayName string `json:"displayName"`
	}
	groupRef struct {
		Name string `json:"name"`
	}
	assignmentBody struct {
		Operator *operatorRef `json:"operator"`
		Group    *groupRef    `json:"group"`
	}
	caseObject struct {
		ID           int64           `json:"id"`
		CaseID       string          `json:"caseId"`
		CategoryCode string          `json:"categoryCode"`
		CategoryName string          `json:"categoryName"`
		TypeCode     string          `json:"typeCode"`
		TypeName     string          `json:"typeName"`
		Status       string          `json:"status"`
		Resolution   string          `json:"resolution"`
		Comments     []comment       `json:"comments"`
		CaseData     json.RawMessage `json:"caseData"`
		Attachements []attachment    `json:"attachements"`
		Assignment   assignmentBody  `json:"assignment"`
	}
	caseAnswer struct {
		Context sessionContext `json:"context"`
		Case    caseObject     `json:"case"`
	}
)

// operatorContext is the session context of op, or of no one when op is nil; its links are
// under base, the operator API base path the request came in under.
func operatorContext(base string, op *events.Operator) sessionContext {
	if op == nil {
		return sessionContext{
			Links:      []link{{Ref: "signin", Href: base + "/signin"}},
			Activities: []any{},
		}
	}
	first, last, _ := strings.Cut(op.DisplayName, " ")
	return sessionContext{
		Links: []link{
			{Ref: "cases", Href: base + "/cases"},
			{Ref: "logout", Href: base + "/logout"},
		},
		Activities:    []any{},
		SimpleProfile: &simpleProfile{Firstname: first, Lastname: last, Email: op.Email},
	}
}

func (s *Server) caseAnswer(r *http.Request, op *events.Operator, c *aggregate.Case) caseAnswer {
	return caseAnswer{Context: operatorContext(operatorBase(r), op), Case: s.caseObject(c)}
}

func (s *Server) caseObject(c *aggregate.Case) caseObject {
	return caseObjectOf(s.cfg.Directory, c)
}

// CaseObject returns the operator API's case object of c, as GET /api/v4/cases/{id} answers
// it, with names and emails from dir: audit tools render a case as it was with the
// directory as it was.
func CaseObject(dir *directory.Directory, c *aggregate.Case) any {
	return caseObjectOf(dir, c)
}

func caseObjectOf(dir *directory.Directory, c *aggregate.Case) caseObject {
	st, _ := dir.ServiceType(c.ServiceTypeID)
	cat, _ := dir.ServiceCategory(c.ServiceCategoryID)
	out := caseObject{
		ID: c.CaseInstanceID, CaseID: c.CaseID,
		CategoryCode: cat.Code, CategoryName: cat.Name, TypeCode: st.Code, TypeName: st.Name,
		Status: c.Status, Resolution: c.Resolution,
		Comments: make([]comment, 0, len(c.Notes)), CaseData: c.CaseData, Attachements: attachments(c),
	}
	if len(out.CaseData) == 0 {
		out.CaseData = json.RawMessage("{}")
	}
	for _, n := range c.Notes {
		out.Comments = append(out.Comments, comment{ID: n.ID, CaseInstanceID: c.CaseInstanceID, Description: n.Description})
	}
	if c.AssignedTo != "" {
		op, _ := dir.Operator(c.AssignedTo)
		out.Assignment.Operator = &operatorRef{Email: op.Email, DisplayName: op.DisplayName}
	}
	if c.AssignedGroup != "" {
		out.Assignment.Group = &groupRef{Name: c.AssignedGroup}
	}
	return out
}
