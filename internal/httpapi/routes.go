package httpapi

import (
	"context"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"

	"github.com/gorilla/mux"
)

// OperatorBase is the operator API's base path. It is always served; Config.BasePath adds a
// second one.
const OperatorBase = "/api/v4"

// basePathPattern is a base path as the vendor's SDK builds it: one or more plain segments,
// then /api/v4.
var basePathPattern = regexp.MustCompile(`^(/[A-Za-z0-9_~-][A-Za-z0-9._~-]*)+/api/v4$`)

// CheckBasePath reports whether p may be Config.BasePath: a path such as /acme/api/v4 (the
// vendor's SDK builds /{client}/api/v4), other than /api/v4 itself. Requiring the /api/v4
// ending keeps the prefix from shadowing the agent API (/{applicationId}/agents/...) and the
// service's own routes (/healthz, /readyz, /metrics, /oauth2/token).
func CheckBasePath(p string) error {
	if p == OperatorBase || !basePathPattern.MatchString(p) {
		return fmt.Errorf("base path %q: want a path of plain segments ending in %s, such as /acme%s", p, OperatorBase, OperatorBase)
	}
	return nil
}

// basePathKey is the context key of the base path an operator API request came in under,
// set only when it is Config.BasePath.
type basePathKey struct{}

// operatorBase returns the base path r came in under: Config.BasePath or OperatorBase.
// Session cookies are scoped to it.
func operatorBase(r *http.Request) string {
	if b, ok := r.Context().Value(basePathKey{}).(string); ok {
		return b
	}
	return OperatorBase
}

// route rewrites an operator API request's path to the one its route is registered under:
// Config.BasePath becomes OperatorBase, and one trailing slash is dropped, so that
// /acme/api/v4/cases/ is /api/v4/cases. Other requests are returned as they are.
func (s *Server) route(r *http.Request) *http.Request {
	p := r.URL.Path
	base := OperatorBase
	switch {
	case s.cfg.BasePath != "" && hasBase(p, s.cfg.BasePath):
		// An unclean path is left to the router, which redirects it to its clean form under
		// the same base.
		if strings.Contains(p, "//") || strings.Contains(p, "/.") {
			return r
		}
		base = s.cfg.BasePath
		p = OperatorBase + p[len(base):]
	case hasBase(p, OperatorBase):
	default:
		return r
	}
	if len(p) > len(OperatorBase)+1 && strings.HasSuffix(p, "/") && !strings.HasSuffix(p, "//") {
		p = p[:len(p)-1]
	}
	if p == r.URL.Path {
		return r
	}
	r2 := new(http.Request)
	*r2 = *r
	u := *r.URL
	u.Path, u.RawPath = p, ""
	r2.URL = &u
	if base != OperatorBase {
		r2 = r2.WithContext(context.WithValue(r.Context(), basePathKey{}, base))
	}
	return r2
}

func hasBase(p, base string) bool {
	return p == base || (strings.HasPrefix(p, base) && p[len(base)] == '/')
}

// routeMethods is one path template of the router and the methods registered for it.
type routeMethods struct {
	template string
	path     *regexp.Regexp
	methods  []string
}

// routeTable lists the router's path templates in the order the router tries them, with the
// methods of each. It is built once all routes are registered.
func routeTable(router *mux.Router) ([]routeMethods, error) {
	var out []routeMethods
	err := router.Walk(func(rt *mux.Route, _ *mux.Router, _ []*mux.Route) error {
		methods, err := rt.GetMethods()
		if err != nil {
			return nil // a subrouter's prefix, or a route for any method
		}
		tpl, err := rt.GetPathTemplate()
		if err != nil {
			return nil
		}
		if i := slices.IndexFunc(out, func(e routeMethods) bool { return e.template == tpl }); i >= 0 {
			out[i].methods = append(out[i].methods, methods...)
			return nil
		}
		expr, err := rt.GetPathRegexp()
		if err != nil {
			return err
		}
		re, err := regexp.Compile(expr)
		if err != nil {
			return err
		}
		out = append(out, routeMethods{template: tpl, path: re, methods: slices.Clone(methods)})
		return nil
	})
	for i := range out {
		slices.Sort(out[i].methods)
		out[i].methods = slices.Compact(out[i].methods)
	}
	return out, err
}

// allowed returns the methods of the first route whose path matches the request's, as the
// router would try them, or nil when no route has that path.
func (s *Server) allowed(path string) []string {
	for _, rm := range s.routes {
		if rm.path.MatchString(path) {
			return rm.methods
		}
	}
	return nil
}

// unrouted answers a request no route took: 405 with an Allow header when a route has its
// path (gorilla/mux reports some such requests as not found, for instance when a later
// route's prefix matches the path), 404 otherwise; in the error shape of the path's surface.
func (s *Server) unrouted(w http.ResponseWriter, r *http.Request) {
	if methods := s.allowed(r.URL.Path); len(methods) > 0 && !slices.Contains(methods, r.Method) {
		w.Header().Set("Allow", strings.Join(methods, ", "))
		s.surface(errMethodNotAllowed).ServeHTTP(w, r)
		return
	}
	s.surface(errRouteNotFound).ServeHTTP(w, r)
}
