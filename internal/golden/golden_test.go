package golden

import (
	"os"
	"path/filepath"
	"testing"
)

// errRecorder records Errorf instead of failing the test.
type errRecorder struct {
	testing.TB
	failed bool
}

func (r *errRecorder) Helper()                   {}
func (r *errRecorder) Errorf(string, ...any)     { r.failed = true }
func (r *errRecorder) Fatalf(f string, a ...any) { r.TB.Fatalf(f, a...) }
func (r *errRecorder) Fatal(a ...any)            { r.TB.Fatal(a...) }

func TestCheck(t *testing.T) {
	path := filepath.Join(t.TempDir(), "testdata", "x.golden")
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte("{\"a\":1}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		got  string
		want bool
	}{
		{"same", "{\"a\":1}\n", true},
		{"changed", "{\"a\":2}\n", false},
		{"no final newline", "{\"a\":1}", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := &errRecorder{TB: t}
			if ok := Check(rec, path, []byte(tt.got)); ok != tt.want || rec.failed == tt.want {
				t.Errorf("got ok %v (failed %v), want %v", ok, rec.failed, tt.want)
			}
		})
	}
}

func TestCheckUpdate(t *testing.T) {
	*update = true
	t.Cleanup(func() { *update = false })
	path := filepath.Join(t.TempDir(), "testdata", "new.golden")
	if !Check(t, path, []byte("new\n")) {
		t.Fatal("a rewritten file differs")
	}
	if b, err := os.ReadFile(path); err != nil || string(b) != "new\n" {
		t.Errorf("got %q, %v, want the file rewritten", b, err)
	}
}
