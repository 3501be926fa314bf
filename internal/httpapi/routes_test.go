package httpapi

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/gorilla/mux"
)

// allMethods are the methods every route is tried with.
var allMethods = []string{
	http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
	http.MethodDelete, http.MethodOptions,
}

// sampleVar matches one variable of a path template, with its optional pattern.
var sampleVar = regexp.MustCompile(`\{([^}:]+)(:[^}]+)?\}`)

// samplePath fills a path template's variables with values that match them and no literal
// segment: a number for ids (caseInstanceId must be one), a uuid-like string otherwise.
func samplePath(tpl string) string {
	return sampleVar.ReplaceAllStringFunc(tpl, func(v string) string {
		if strings.Contains(strings.ToLower(v), "instance") || strings.Contains(v, "fileId") || strings.Contains(v, "attachmentId") {
			return "12345"
		}
		return "a7b8c9d0-e1f2-4a3b-8c4d-6e7f8a9b0c99"
	})
}

// registered walks every route the server registered: its path template and the methods of
// that template (every route that shares it), in the order the router tries them.
func registered(t *testing.T, s *Server) []routeMethods {
	t.Helper()
	var out []routeMethods
	err := s.router.Walk(func(rt *mux.Route, _ *mux.Router, _ []*mux.Route) error {
		tpl, err := rt.GetPathTemplate()
		if err != nil {
			return nil
		}
		if rt.GetHandler() == nil {
			return nil // a subrouter's prefix
		}
		methods, err := rt.GetMethods()
		if err != nil {
			t.Errorf("route %s registered without methods: it would take every method", tpl)
			return nil
		}
		if i := slices.IndexFunc(out, func(e routeMethods) bool { return e.template == tpl }); i >= 0 {
			out[i].methods = append(out[i].methods, methods...)
			return nil
		}
		out = append(out, routeMethods{template: tpl, methods: slices.Clone(methods)})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for i := range out {
		slices.Sort(out[i].methods)
	}
	return out
}

func quietServer() *Server {
	return NewServer(Config{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
}

// TestEveryRouteIsReachable checks that each registered route gets the requests meant for
// it: no route registered earlier (a {caseInstanceId} before /cases/status, say) takes them.
func TestEveryRouteIsReachable(t *testing.T) {
	s := quietServer()
	routes := registered(t, s)
	for _, want := range []string{
		"/api/v4/cases", "/api/v4/cases/{caseInstanceId}", "/api/v4/cases/status", "/api/v4/signin",
		"/oauth2/token", "/healthz", "/readyz", "/metrics", "/{applicationId}/agents/{userId}/activeCases",
	} {
		if !slices.ContainsFunc(routes, func(r routeMethods) bool { return r.template == want }) {
			t.Errorf("route %s: not registered", want)
		}
	}
	for _, rm := range routes {
		for _, m := range rm.methods {
			req := httptest.NewRequest(m, samplePath(rm.template), nil)
			var match mux.RouteMatch
			if !s.router.Match(req, &match) || match.MatchErr != nil || match.Route == nil {
				t.Errorf("%s %s: no route (%v)", m, req.URL.Path, match.MatchErr)
				continue
			}
			if got, _ := match.Route.GetPathTemplate(); got != rm.template {
				t.Errorf("%s %s: got route %s, want %s", m, req.URL.Path, got, rm.template)
			}
		}
	}
}

// TestEveryRouteAnswers405WithAllow sends every method a route does not register to every
// registered route, through the server, so that a route added later cannot escape: each
// answers 405 with an Allow header listing exactly the route's methods, in the error shape
// of its surface. A method another route takes at the same path is that route's request.
func TestEveryRouteAnswers405WithAllow(t *testing.T) {
	s := quietServer()
	tried := 0
	for _, rm := range registered(t, s) {
		for _, m := range allMethods {
			if slices.Contains(rm.methods, m) {
				continue
			}
			path := samplePath(rm.template)
			var match mux.RouteMatch
			if s.router.Match(httptest.NewRequest(m, path, nil), &match) && match.MatchErr == nil && match.Route != nil {
				continue // another route's (PUT /cases/status is PUT /cases/{caseInstanceId}'s)
			}
			tried++
			rec := httptest.NewRecorder()
			s.ServeHTTP(rec, httptest.NewRequest(m, path, nil))
			want := `{"message":"method not allowed"}`
			if strings.HasPrefix(rm.template, OperatorBase+"/") {
				want = `{"errors":{"method":"notAllowed"}}`
			}
			var got, w any
			_ = json.Unmarshal(rec.Body.Bytes(), &got)
			_ = json.Unmarshal([]byte(want), &w)
			allow := strings.Join(rm.methods, ", ")
			if rec.Code != http.StatusMethodNotAllowed || rec.Header().Get("Allow") != allow || !equalJSON(got, w) {
				t.Errorf("%s %s: got %d Allow %q %s, want 405 Allow %q %s", m, path, rec.Code, rec.Header().Get("Allow"), strings.TrimSpace(rec.Body.String()), allow, want)
			}
		}
	}
	if tried < 50 {
		t.Errorf("got %d method mismatches tried, want at least 50", tried)
	}
}

// TestUnknownPathIsNotFound checks that a path no route has is 404 without an Allow header,
// in its surface's shape.
func TestUnknownPathIsNotFound(t *testing.T) {
	s := quietServer()
	for path, want := range map[string]string{
		"/api/v4/nope":        `{"errors":{"route":"notFound"}}`,
		"/api/v4/cases/1/x/y": `{"errors":{"route":"notFound"}}`,
		"/api/v4/":            `{"errors":{"route":"notFound"}}`,
		"/nope":               `{"message":"no such route"}`,
		"/app/agents":         `{"message":"no such route"}`,
	} {
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, httptest.NewRequest("DELETE", path, nil))
		var got, w any
		_ = json.Unmarshal(rec.Body.Bytes(), &got)
		_ = json.Unmarshal([]byte(want), &w)
		if rec.Code != 404 || rec.Header().Get("Allow") != "" || !equalJSON(got, w) {
			t.Errorf("%s: got %d Allow %q %s, want 404 %s", path, rec.Code, rec.Header().Get("Allow"), rec.Body, want)
		}
	}
}

// TestTrailingSlash checks that every operator API route, with every method it has, takes
// its path with a trailing slash too, under /api/v4 and under a base path; and that a wrong
// method there is still a 405.
func TestTrailingSlash(t *testing.T) {
	s := NewServer(Config{Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), BasePath: "/acme/api/v4"})
	n := 0
	for _, rm := range registered(t, s) {
		if !strings.HasPrefix(rm.template, OperatorBase+"/") {
			continue
		}
		n++
		plain := samplePath(rm.template)
		for _, path := range []string{plain + "/", "/acme" + plain + "/", "/acme" + plain} {
			for _, m := range rm.methods {
				req := s.route(httptest.NewRequest(m, path, nil))
				var match mux.RouteMatch
				if !s.router.Match(req, &match) || match.MatchErr != nil || match.Route == nil {
					t.Errorf("%s %s: no route (%v)", m, path, match.MatchErr)
					continue
				}
				if got, _ := match.Route.GetPathTemplate(); got != rm.template {
					t.Errorf("%s %s: got route %s, want %s", m, path, got, rm.template)
				}
			}
		}
		if !slices.Contains(rm.methods, http.MethodPatch) {
			rec := httptest.NewRecorder()
			s.ServeHTTP(rec, httptest.NewRequest(http.MethodPatch, plain+"/", nil))
			if rec.Code != http.StatusMethodNotAllowed {
				t.Errorf("PATCH %s/: got %d, want 405", plain, rec.Code)
			}
		}
	}
	if n < 8 {
		t.Errorf("got %d operator routes, want at least 8", n)
	}
}

// TestRouteRewrite pins which paths are rewritten to their registered form and which base
// path a request came in under (the session cookie's Path).
func TestRouteRewrite(t *testing.T) {
	s := NewServer(Config{Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), BasePath: "/acme/api/v4"})
	tests := []struct{ in, path, base string }{
		{"/api/v4/cases/", "/api/v4/cases", OperatorBase},
		{"/api/v4/cases", "/api/v4/cases", OperatorBase},
		{"/acme/api/v4/cases/", "/api/v4/cases", "/acme/api/v4"},
		{"/acme/api/v4/signin", "/api/v4/signin", "/acme/api/v4"},
		{"/acme/api/v4", "/api/v4", "/acme/api/v4"},
		{"/acme/api/v4x/cases", "/acme/api/v4x/cases", OperatorBase},
		{"/acme/api/v4//cases", "/acme/api/v4//cases", OperatorBase}, // the router redirects it
		{"/other/api/v4/cases", "/other/api/v4/cases", OperatorBase},
		{"/app/agents/u/status/", "/app/agents/u/status/", OperatorBase}, // not the operator API
		{"/api/v4/", "/api/v4/", OperatorBase},
	}
	for _, tt := range tests {
		r := s.route(httptest.NewRequest("GET", tt.in, nil))
		if r.URL.Path != tt.path || operatorBase(r) != tt.base {
			t.Errorf("%s: got %s under %s, want %s under %s", tt.in, r.URL.Path, operatorBase(r), tt.path, tt.base)
		}
	}
}

func TestCheckBasePath(t *testing.T) {
	for p, ok := range map[string]bool{
		"/acme/api/v4": true, "/a/b-c_d.e/api/v4": true,
		"": false, "/api/v4": false, "/acme": false, "/acme/api/v4/": false, "acme/api/v4": false,
		"/acme/../api/v4": false, "/./api/v4": false, "/ac me/api/v4": false, "/{x}/api/v4": false,
		"/acme//api/v4": false, "/healthz": false,
	} {
		if err := CheckBasePath(p); (err == nil) != ok {
			t.Errorf("CheckBasePath(%q): got %v, want ok %v", p, err, ok)
		}
	}
}

// FuzzRoute checks the operator API's path rewrite on any path: no panic; a rewritten path
// is under /api/v4, one trailing slash shorter or moved from the base path, and rewriting it
// again changes nothing.
func FuzzRoute(f *testing.F) {
	for _, p := range []string{"/api/v4/cases/", "/acme/api/v4/cases/", "/acme/api/v4", "/acme/api/v4/", "/api/v4//", "/acme/api/v4x", "/", "/app/agents/u/status"} {
		f.Add(p)
	}
	s := NewServer(Config{Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), BasePath: "/acme/api/v4"})
	f.Fuzz(func(t *testing.T, path string) {
		if !strings.HasPrefix(path, "/") {
			path = "/" + path
		}
		r := httptest.NewRequest("GET", "/", nil)
		r.URL.Path = path
		got := s.route(r)
		if got.URL.Path == path {
			return
		}
		if !hasBase(got.URL.Path, OperatorBase) {
			t.Fatalf("%q: rewritten to %q, outside %s", path, got.URL.Path, OperatorBase)
		}
		if again := s.route(got); again.URL.Path != got.URL.Path {
			t.Fatalf("%q: rewritten to %q, then to %q", path, got.URL.Path, again.URL.Path)
		}
		if r.URL.Path != path {
			t.Fatalf("%q: the caller's request was changed to %q", path, r.URL.Path)
		}
	})
}

// FuzzCasesPage checks the case list's query parameters on any query: a page from 0 and a
// size of 1 to maxCasesPageSize, or one of the two refusals.
func FuzzCasesPage(f *testing.F) {
	for _, q := range []string{"", "page=1&size=2", "page=-1", "size=0", "size=201", "page=x", "page=&size=", "page=1&page=2"} {
		f.Add(q)
	}
	f.Fuzz(func(t *testing.T, query string) {
		r := httptest.NewRequest("GET", "/", nil)
		r.URL.RawQuery = query
		page, size, err := casesPage(r)
		switch {
		case err == errPageInvalid || err == errSizeInvalid:
		case err != nil:
			t.Fatalf("%q: got %v, want a refusal of page or size", query, err)
		case page < 0 || size < 1 || size > maxCasesPageSize:
			t.Fatalf("%q: got page %d size %d", query, page, size)
		}
	})
}
