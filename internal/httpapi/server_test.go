package httpapi

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
)

// TestPanicAnswersInTheSurfaceShape checks that a handler's panic becomes a logged 500 in the
// error shape of the surface the path belongs to, not a dropped connection.
func TestPanicAnswersInTheSurfaceShape(t *testing.T) {
	s := NewServer(Config{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	s.router.HandleFunc("/api/v4/boom", func(http.ResponseWriter, *http.Request) { panic("boom") })
	s.router.HandleFunc("/app/boom", func(http.ResponseWriter, *http.Request) { panic("boom") })
	for path, want := range map[string]string{
		"/api/v4/boom": `{"errors":{"server":"internalError"}}`,
		"/app/boom":    `{"message":"internal error"}`,
	} {
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
		var got, w any
		_ = json.Unmarshal(rec.Body.Bytes(), &got)
		_ = json.Unmarshal([]byte(want), &w)
		if rec.Code != 500 || rec.Body.Len() == 0 || !equalJSON(got, w) {
			t.Errorf("%s: got %d %s, want 500 %s", path, rec.Code, rec.Body, want)
		}
	}
}

func equalJSON(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return string(x) == string(y)
}
