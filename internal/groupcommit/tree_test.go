package groupcommit

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

// recorder is a tree whose syncs are recorded instead of made, with a clock the test sets.
type recorder struct {
	*tree
	clock  time.Time
	synced []string // paths relative to the tree's directory, in walk order
}

func newRecorder(t *testing.T) *recorder {
	t.Helper()
	r := &recorder{tree: newTree(t.TempDir()), clock: time.Now()}
	r.now = func() time.Time { return r.clock }
	r.syncFile = func(path string, _ bool) error {
		rel, err := filepath.Rel(r.dir, path)
		if err != nil {
			return err
		}
		r.synced = append(r.synced, rel)
		return nil
	}
	return r
}

// round runs one round and returns what it synced.
func (r *recorder) round(t *testing.T) []string {
	t.Helper()
	r.synced = nil
	if err := r.sync(); err != nil {
		t.Fatal(err)
	}
	return r.synced
}

func (r *recorder) write(t *testing.T, name, content string) {
	t.Helper()
	path := filepath.Join(r.dir, name)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func check(t *testing.T, step string, got []string, want ...string) {
	t.Helper()
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("%s: got synced %q, want %q", step, got, want)
	}
}

// TestTreeSyncsWhatChanged follows one store directory through the changes a stream's
// files go through: every round syncs what changed since the round that last synced it,
// and what changed too recently then to tell, and nothing else.
func TestTreeSyncsWhatChanged(t *testing.T) {
	r := newRecorder(t)
	r.write(t, "msgs/1.blk", "one")
	check(t, "first round", r.round(t), ".", "msgs", "msgs/1.blk")
	// Everything just changed: a second round at the same moment cannot tell and syncs again.
	check(t, "same moment", r.round(t), ".", "msgs", "msgs/1.blk")

	r.clock = r.clock.Add(2 * settle)
	check(t, "settled, recorded now", r.round(t), ".", "msgs", "msgs/1.blk")
	check(t, "settled and unchanged", r.round(t))

	// An append moves the size; a new block file changes its directory.
	r.write(t, "msgs/1.blk", "one two")
	r.write(t, "msgs/2.blk", "two")
	r.clock = time.Now().Add(2 * settle)
	check(t, "append and new file", r.round(t), "msgs", "msgs/1.blk", "msgs/2.blk")
	check(t, "unchanged again", r.round(t))

	// A rewrite of the same size is told by its times; a file renamed over another by
	// its inode.
	past := time.Now().Add(-time.Hour)
	r.write(t, "msgs/2.blk", "TWO")
	if err := os.Chtimes(filepath.Join(r.dir, "msgs/2.blk"), past, past); err != nil {
		t.Fatal(err)
	}
	r.write(t, "meta.tmp", "new meta")
	r.write(t, "meta", "old meta")
	r.clock = time.Now().Add(2 * settle)
	check(t, "rewrite and new meta", r.round(t), ".", "msgs/2.blk", "meta", "meta.tmp")
	if err := os.Rename(filepath.Join(r.dir, "meta.tmp"), filepath.Join(r.dir, "meta")); err != nil {
		t.Fatal(err)
	}
	r.clock = time.Now().Add(2 * settle)
	check(t, "renamed over", r.round(t), ".", "meta")

	// A removed file is forgotten: one of the same name later is synced.
	if err := os.Remove(filepath.Join(r.dir, "msgs/1.blk")); err != nil {
		t.Fatal(err)
	}
	r.clock = time.Now().Add(2 * settle)
	check(t, "removed", r.round(t), "msgs")
	if _, ok := r.tree.synced[filepath.Join(r.dir, "msgs/1.blk")]; ok {
		t.Errorf("got a removed file still recorded")
	}
}
