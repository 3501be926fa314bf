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
// milliseconds; it syncs only what changed since the last round that synced it.
type tree struct {
	dir string
	// now and syncFile are time.Now and syncPath but in tests.
	now      func() time.Time
	syncFile func(path string, isDir bool) error
	// synced is each path's state when a round last synced it, only if its last change was
	// settled then. Only the Syncer's goroutine uses it.
	synced map[string]fileState
}

// fileState is what tells that a file changed: a write moves its size or its times, a
// rename over it its inode.
type fileState struct {
	ino, size    uint64
	mtime, ctime int64 // nanoseconds
}

func newTree(dir string) *tree {
	return &tree{dir: dir, now: time.Now, syncFile: syncPath, synced: map[string]fileState{}}
}

// sync syncs every regular file and directory under t.dir that changed since a round last
// synced it, or whose change was too recent then to tell (see settle). A file removed
// meanwhile (a compacted block) needs no sync.
func (t *tree) sync() error {
	seen := make(map[string]bool, len(t.synced))
	err := filepath.WalkDir(t.dir, func(path string, d fs.DirEntry, err error) error {
		if errors.Is(err, fs.ErrNotExist) && path != t.dir {
			return nil
		}
		if err != nil {
			return err
		}
		if !d.IsDir() && !d.Type().IsRegular() {
			return nil
		}
		var st unix.Stat_t
		if err := unix.Lstat(path, &st); err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return &fs.PathError{Op: "lstat", Path: path, Err: err}
		}
		seen[path] = true
		now := fileState{ino: st.Ino, size: uint64(st.Size), mtime: st.Mtim.Nano(), ctime: st.Ctim.Nano()}
		if last, ok := t.synced[path]; ok && last == now {
			return nil
		}
		// The state read before the sync: a write after the read is the next round's.
		recorded := t.now()
		if err := t.syncFile(path, d.IsDir()); err != nil {
			delete(t.synced, path)
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if latest := max(now.mtime, now.ctime); recorded.UnixNano()-latest >= settle.Nanoseconds() {
			t.synced[path] = now
		} else {
			delete(t.synced, path)
		}
		return nil
	})
	for path := range t.synced {
		if !seen[path] {
			delete(t.synced, path)
		}
	}
	return err
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
