package groupcommit_test

import (
	"bytes"
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/casestream/casestream/events"
	"github.com/casestream/casestream/internal/embedded"
	"github.com/casestream/casestream/internal/embedded/embeddedtest"
	"github.com/casestream/casestream/internal/eventstore"
)

// TestServerWritesBeforeItAcknowledges pins what group commit rests on: an embedded server
// without SyncAlways has written each record into a file under its store directory (the page
// cache, where the round's sync finds it) by the time it acknowledges it. A server version
// that acknowledged first and wrote later would make a round miss what it was waited for,
// and fails here.
func TestServerWritesBeforeItAcknowledges(t *testing.T) {
	store := t.TempDir()
	_, nc := embeddedtest.StartWith(t, embedded.Options{StoreDir: store, SyncAlways: false})
	js := embeddedtest.JetStream(t, nc)
	ctx := context.Background()
	if err := eventstore.EnsureStreams(ctx, js, 1); err != nil {
		t.Fatal(err)
	}
	for i := range 200 {
		marker := []byte("acknowledged-" + strconv.Itoa(i) + "-" + t.Name())
		if _, err := js.Publish(ctx, events.CaseSubject(int64(i+1)), marker); err != nil {
			t.Fatal(err)
		}
		if !inFiles(t, store, marker) {
			t.Fatalf("record %d acknowledged but in no file under the store yet", i)
		}
	}
}

// inFiles reports whether any file under dir holds b.
func inFiles(t *testing.T, dir string, b []byte) bool {
	t.Helper()
	found := false
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || found {
			return err
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		found = bytes.Contains(data, b)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return found
}
