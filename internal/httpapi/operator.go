package httpapi

import (
	"context"
	"net/http"

	"github.com/gorilla/mux"

	"github.com/casestream/casestream/events"
)

// SessionCookie is the name of the cookie that POST /api/v4/signin sets.
const SessionCookie = "casestream_session"

// Queries answers the read-side questions of the operator API. Each call reflects at least
// the given stream sequences of CASES and DIRECTORY.
type Queries interface {
	// OperatorCases returns one page (from 0) of the caseInstanceIds of the open cases the
	// operator opened, is assigned, or that wait in one of the operator's groups, newest first.
	OperatorCases(ctx context.Context, operatorID string, page, size int, minCases, minDir uint64) ([]int64, error)
}

func (s *Server) registerOperatorRoutes(r *mux.Router) {
	r.HandleFunc("/isAlive", s.operator(s.isAlive)).Methods(http.MethodGet)
	r.HandleFunc("/signin", s.operator(s.signin)).Methods(http.MethodPost)
	r.HandleFunc("/logout", s.operator(s.logout)).Methods(http.MethodGet)
	r.HandleFunc("/cases/status", s.operator(s.withTouchpoint(s.caseStatuses))).Methods(http.MethodGet)
	r.HandleFunc("/cases/typecategory", s.operator(s.withTouchpoint(s.typeCategories))).Methods(http.MethodGet)
	r.HandleFunc("/cases", s.operator(s.authed(s.createCase))).Methods(http.MethodPost)
	r.HandleFunc("/cases", s.operator(s.authed(s.myCases))).Methods(http.MethodGet)
	r.HandleFunc("/cases/files/{attachmentId}", s.operator(s.authed(s.downloadFile))).Methods(http.MethodGet)
	r.HandleFunc("/cases/{caseInstanceId}", s.operator(s.authed(s.getCase))).Methods(http.MethodGet)
	r.HandleFunc("/cases/{caseInstanceId}", s.operator(s.authed(s.updateCase))).Methods(http.MethodPut)
	r.HandleFunc("/cases/{caseInstanceId}/assignment", s.operator(s.authed(s.assign))).Methods(http.MethodPut)
	r.HandleFunc("/cases/{caseInstanceId}/transitions", s.operator(s.authed(s.transition))).Methods(http.MethodPut)
	r.HandleFunc("/cases/{caseInstanceId}/notes", s.operator(s.authed(s.addNote))).Methods(http.MethodPost)
	r.HandleFunc("/cases/{caseInstanceId}/notes", s.operator(s.authed(s.editNote))).Methods(http.MethodPut)
	r.HandleFunc("/cases/{caseInstanceId}/files", s.operator(s.authed(s.uploadFile))).Methods(http.MethodPost)
	r.HandleFunc("/cases/{caseInstanceId}/files/{fileId}", s.operator(s.authed(s.removeFile))).Methods(http.MethodDelete)
}

func (s *Server) isAlive(w http.ResponseWriter, r *http.Request) error {
	return writeJSON(w, http.StatusOK, map[string]bool{"isAlive": true})
}

type caseStatus struct {
	StatusName string `json:"statusName"`
	Initial    bool   `json:"initial"`
	FinalState bool   `json:"finalState"`
}

func (s *Server) caseStatuses(w http.ResponseWriter, r *http.Request) error {
	out := make([]caseStatus, 0, len(events.Statuses))
	for _, st := range events.Statuses {
		out = append(out, caseStatus{
			StatusName: st,
			Initial:    st == events.StatusWaiting,
			FinalState: st == events.StatusClosed,
		})
	}
	return writeJSON(w, http.StatusOK, map[string]any{"caseStatuses": out})
}

type typeCategory struct {
	CaseTypeCode     string `json:"caseTypeCode"`
	CaseTypeName     string `json:"caseTypeName"`
	CaseCategoryCode string `json:"caseCategoryCode"`
	CaseCategoryName string `json:"caseCategoryName"`
}

func (s *Server) typeCategories(w http.ResponseWriter, r *http.Request) error {
	types := s.cfg.Directory.ServiceTypes()
	out := make([]typeCategory, 0, len(types))
	for _, t := range types {
		cat, _ := s.cfg.Directory.ServiceCategory(t.ServiceCategoryID)
		out = append(out, typeCategory{t.Code, t.Name, cat.Code, cat.Name})
	}
	return writeJSON(w, http.StatusOK, map[string]any{"caseTypeCategories": out})
}
