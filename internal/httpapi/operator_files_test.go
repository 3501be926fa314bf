package httpapi

import (
	"encoding/json"
	"mime"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/casestream/casestream/events"
)

func TestFileName(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"scan.pdf", "scan.pdf"},
		{`C:\Users\me\scan.pdf`, "scan.pdf"},
		{"/etc/passwd", "passwd"},
		{"a\x00b\x1fc\x7f.txt", "abc.txt"},
		{"  spaced  ", "spaced"},
		{"", "file"},
		{"..", "file"},
		{"dir/", "file"},
		{"résumé.pdf", "résumé.pdf"},
		{strings.Repeat("é", 200), strings.Repeat("é", 127)},
	} {
		if got := fileName(tt.in); got != tt.want {
			t.Errorf("fileName(%q): got %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestContentType(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"application/pdf", "application/pdf"},
		{"Text/Plain; Charset=UTF-8", "text/plain; charset=UTF-8"},
		{"", "application/octet-stream"},
		{";;", "application/octet-stream"},
		{"text/plain; charset=\"", "application/octet-stream"},
	} {
		if got := contentType(tt.in); got != tt.want {
			t.Errorf("contentType(%q): got %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestNoteID(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want int
	}{
		{`1`, 1}, {`"12"`, 12}, {`" 3 "`, 3}, {`0`, 0}, {`-1`, 0}, {`1.5`, 0}, {`1e3`, 0},
		{`"x"`, 0}, {`null`, 0}, {``, 0}, {`[1]`, 0}, {`99999999999999999999`, 0},
	} {
		if got := noteID(json.RawMessage(tt.in)); got != tt.want {
			t.Errorf("noteID(%s): got %d, want %d", tt.in, got, tt.want)
		}
	}
}

// FuzzUploadNames: whatever a client names its file and its type, the stored name is short,
// printable UTF-8 without a path, and the stored type parses.
func FuzzUploadNames(f *testing.F) {
	for _, s := range []string{"scan.pdf", `C:\x\y.pdf`, "a\x00b", "..", "\xff\xfe", strings.Repeat("é", 200), "text/plain; charset=utf-8", ";;"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		name := fileName(s)
		if name == "" || len(name) > 255 || !utf8.ValidString(name) || strings.ContainsAny(name, "/\\\x00\r\n") {
			t.Fatalf("fileName(%q) = %q", s, name)
		}
		if mime.FormatMediaType("attachment", map[string]string{"filename": name}) == "" {
			t.Fatalf("fileName(%q) = %q cannot be a Content-Disposition filename", s, name)
		}
		if _, _, err := mime.ParseMediaType(contentType(s)); err != nil {
			t.Fatalf("contentType(%q) = %q: %v", s, contentType(s), err)
		}
		_ = noteID(json.RawMessage(s))
	})
}

// TestFileIDFromIdempotencyKey: a retried upload with the same key writes the same object
// (and so its event, deduplicated by the case's rule, once); anything else is a new file.
func TestFileIDFromIdempotencyKey(t *testing.T) {
	var s Server
	c := caller{touchpoint: "kiosk", operator: events.Operator{UserID: "u1"}}
	req := func(key string) *http.Request {
		r := httptest.NewRequest("POST", "/api/v4/cases/7/files", nil)
		if key != "" {
			r.Header.Set("Idempotency-Key", key)
		}
		return r
	}
	first := s.fileID(req("k1"), c, 7)
	if again := s.fileID(req("k1"), c, 7); again != first {
		t.Fatalf("same key: got %s, want %s", again, first)
	}
	other := c
	other.operator.UserID = "u2"
	for name, got := range map[string]string{
		"another key":      s.fileID(req("k2"), c, 7),
		"another case":     s.fileID(req("k1"), c, 8),
		"another operator": s.fileID(req("k1"), other, 7),
		"no key":           s.fileID(req(""), c, 7),
	} {
		if got == first {
			t.Errorf("%s: got the first request's id %s", name, got)
		}
	}
	if a, b := s.fileID(req(""), c, 7), s.fileID(req(""), c, 7); a == b {
		t.Errorf("two uploads without a key: got the same id %s", a)
	}
}
