// Package golden pins a test's output to a file under testdata/: the test fails when the
// output changes, and `go test -update` rewrites the files after a change has been checked.
// It registers the -update flag once for every test binary that imports it.
package golden

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/ (and what else a package pins, such as deploy/nats-server.conf)")

// Updating reports whether the test runs with -update: a test that pins a file of its own
// shape (not through Check) rewrites it then.
func Updating() bool { return *update }

// Check compares got with the file at path, or first rewrites the file with got under
// -update. On a difference it reports both with Errorf and returns false, so that the caller
// may say what the difference means or stop.
func Check(tb testing.TB, path string, got []byte) bool {
	tb.Helper()
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			tb.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			tb.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		tb.Fatalf("read golden file (go test -update writes it): %v", err)
	}
	if !bytes.Equal(got, want) {
		tb.Errorf("%s differs (go test -update rewrites it, once the change is checked):\n got %s\nwant %s", path, got, want)
		return false
	}
	return true
}
