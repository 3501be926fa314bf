package httpapi

import (
	"net/http/httptest"
	"testing"

	"github.com/gorilla/mux"
)

// BenchmarkRouteMatch measures gorilla/mux finding the route of the two hottest calls, the
// agent's listing and the operator's assignment: regexps, a cost every request pays. Each
// request first goes through the server's path rewrite (base path, trailing slash), as in
// ServeHTTP; sdkCases is the SDK's getCases under a base path, which the rewrite changes.
func BenchmarkRouteMatch(b *testing.B) {
	s := NewServer(Config{BasePath: "/acme/api/v4"})
	for _, tc := range []struct{ name, method, path string }{
		{"activeCases", "GET", "/a7b8c9d0-e1f2-4a3b-8c4d-6e7f8a9b0c01/agents/20000000-0000-4000-8000-000000000001/activeCases"},
		{"assignment", "PUT", "/api/v4/cases/123456/assignment"},
		{"sdkCases", "GET", "/acme/api/v4/cases/"},
	} {
		b.Run(tc.name, func(b *testing.B) {
			req := httptest.NewRequest(tc.method, tc.path, nil)
			for b.Loop() {
				var m mux.RouteMatch
				if !s.router.Match(s.route(req), &m) || m.MatchErr != nil {
					b.Fatalf("%s %s: no route (%v)", tc.method, tc.path, m.MatchErr)
				}
			}
		})
	}
}
