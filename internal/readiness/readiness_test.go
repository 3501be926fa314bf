package readiness

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestHandler(t *testing.T) {
	ok := func(context.Context) error { return nil }
	fail := func(context.Context) error { return errors.New("down") }
	// A check that needs its deadline: Handler must bound every check.
	bounded := func(ctx context.Context) error {
		if _, has := ctx.Deadline(); !has {
			return errors.New("no deadline")
		}
		return nil
	}
	tests := []struct {
		name       string
		checks     []Check
		wantStatus int
		want       Report
	}{
		{"all pass", []Check{{"a", ok}, {"b", bounded}}, 200,
			Report{"ready", []Result{{Name: "a", OK: true}, {Name: "b", OK: true}}}},
		{"one fails", []Check{{"a", ok}, {"b", fail}, {"c", ok}}, 503,
			Report{"unavailable", []Result{{Name: "a", OK: true}, {Name: "b", Error: "down"}, {Name: "c", OK: true}}}},
		{"none", nil, 200, Report{"ready", []Result{}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			Handler(tt.checks).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/readyz", nil))
			if rec.Code != tt.wantStatus {
				t.Errorf("status: got %d, want %d", rec.Code, tt.wantStatus)
			}
			if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
				t.Errorf("content type: got %q", ct)
			}
			var got Report
			if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
				t.Fatal(err)
			}
			gb, _ := json.Marshal(got)
			wb, _ := json.Marshal(tt.want)
			if string(gb) != string(wb) {
				t.Errorf("got %s, want %s", gb, wb)
			}
		})
	}
}
