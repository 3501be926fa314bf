package groupcommit

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/sys/unix"
)

// settle is how old a file's last change must be, when a round records it, for a later
// round that finds it unchanged to skip it. Timestamps tick coarsely (a few milliseconds):
// a file changed in the tick of the record can change again with the same size and time;
// one whose change is older than settle cannot have been changed since without a new time.
const settle = time.Second

// tree syncs the files and directories under dir that may hold writes not yet on disk. A
// sync (fdatasync or fsync) costs a flush of the device's cache even for a clean file (here
// about half a millisecond), so a round of a store's fifty-odd files took tens of
// milliseconds; it syncs only what changed since the last round that synced it. It lists a
// directory again only when the directory changed, so that a round costs one lstat(2) per
// path besides its syncs.
type tree struct {
	dir string
	// now and syncFile are time.Now and syncPath but in tests.
	now      func() time.Time
	syncFile func(path string, isDir bool) error
	// synced is each path's state when a round last synced it, only if its last change was
	// settled then; listed is each directory's entries' paths as last read. Only the
	// Syncer's goroutine uses them.
	synced map[string]fileState
	listed map[string][]string
	seen   map[string]bool // the paths the round in progress met
}

// fileState is what tells that a file changed: a write moves its size or its times, a
// rename over it its inode.
type fileState struct {
	ino, size    uint64
	mtime, ctime int64 // nanoseconds
}

func newTree(dir string) *tree {
	return &tree{
		dir: dir, now: time.Now, syncFile: syncPath,
		synced: map[string]fileState{}, listed: map[string][]string{}, seen: map[string]bool{},
	}
}

// sync syncs every regular file and directory under t.dir that changed since a round last
// synced it, or whose change was too recent then to tell (see settle). A file removed
// meanwhile (a compacted block) needs no sync.
func (t *tree) sync() error {
	clear(t.seen)
	err := t.visit(t.dir)
	for path := range t.synced {
		if !t.seen[path] {
			delete(t.synced, path)
		}
	}
	for path := range t.listed {
		if !t.seen[path] {
			delete(t.listed, path)
		}
	}
	return err
}

// visit syncs path if it changed and, for a directory, visits its entries, read again if
// it changed.
func (t *tree) visit(path string) error {
	var st unix.Stat_t
	if err := unix.Lstat(path, &st); err != nil {
		if errors.Is(err, fs.ErrNotExist) && path != t.dir {
			return nil
		}
		return &fs.PathError{Op: "lstat", Path: path, Err: err}
	}
	isDir := st.Mode&unix.S_IFMT == unix.S_IFDIR
	if !isDir && st.Mode&unix.S_IFMT != unix.S_IFREG {
		return nil // neither a file nor a directory: nothing to sync
	}
	t.seen[path] = true
	now := fileState{ino: st.Ino, size: uint64(st.Size), mtime: st.Mtim.Nano(), ctime: st.Ctim.Nano()}
	last, ok := t.synced[path]
	changed := !ok || last != now
	if changed {
		// The state read before the sync: a write after the read is the next round's.
		recorded := t.now()
		if err := t.syncFile(path, isDir); err != nil {
			delete(t.synced, path)
			if errors.Is(err, fs.ErrNotExist) && path != t.dir {
				return nil
			}
			return err
		}
		if latest := max(now.mtime, now.ctime); recorded.UnixNano()-latest >= settle.Nanoseconds() {
			t.synced[path] = now
		} else {
			delete(t.synced, path)
		}
	}
	if !isDir {
		return nil
	}
	entries, ok := t.listed[path]
	if changed || !ok {
		des, err := os.ReadDir(path)
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) && path != t.dir {
				return nil
			}
			return err
		}
		entries = entries[:0]
		for _, de := range des {
			entries = append(entries, filepath.Join(path, de.Name()))
		}
		t.listed[path] = entries
	}
	for _, e := range entries {
		if err := t.visit(e); err != nil {
			return err
		}
	}
	return nil
}

// syncPath fsyncs a directory (its entries) or fdatasyncs a file (its data and size).
func syncPath(path string, isDir bool) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	if isDir {
		err = f.Sync()
	} else {
		err = unix.Fdatasync(int(f.Fd()))
		if err != nil {
			err = &fs.PathError{Op: "fdatasync", Path: path, Err: err}
		}
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}
