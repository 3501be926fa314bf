// Package powerloss is a file system for tests that loses what a power cut loses. It serves a
// backing directory through FUSE (a pass-through mount over it) and remembers, per file and
// directory, what the program under test made durable: a file's content as of its last
// fsync or fdatasync (or a write through an O_SYNC/O_DSYNC descriptor), a directory's entries
// (creates, unlinks, renames) as of its last fsync. Cut freezes the mount: from then on every
// change and every sync fails with EIO and reaches nothing, as if the machine had stopped.
// Close unmounts it and, after a Cut, rewrites the backing directory to what was durable, so
// that the program restarts on what a machine would find after the power came back.
//
// The model is POSIX's, stricter than most Linux file systems: a new file's name survives
// only a sync of its directory (ext4 and XFS usually keep it with the file's own fsync), and
// unsynced data is dropped whole (a disk may also keep part of it). What the mount cannot
// see: syncfs(2) and sync(2) (the kernel does not forward them to a FUSE server other than
// virtiofs, so a program relying on them loses data here that it would keep on a disk),
// extended attributes, permissions and times (passed through, never dropped), hard links
// (each name restores as a file of its own) and writes through shared mmap.
package powerloss

import (
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"sync"
	"syscall"

	gofs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
)

// ErrUnavailable is returned by Available and Mount when this machine cannot serve a FUSE
// mount: no /dev/fuse, or neither root nor fusermount3.
var ErrUnavailable = errors.New("powerloss: FUSE unavailable")

// Available reports whether Mount can work here, and if not, why.
func Available() error {
	if _, err := os.Stat("/dev/fuse"); err != nil {
		return fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	if os.Geteuid() != 0 {
		if _, err := exec.LookPath("fusermount3"); err != nil {
			return fmt.Errorf("%w: not root and no fusermount3 (Debian package fuse3)", ErrUnavailable)
		}
	}
	return nil
}

// Stats counts what the mount saw, so that a test can tell that syncs reach it.
type Stats struct {
	// Writes counts write calls; FileSyncs fsync and fdatasync of files (and O_SYNC
	// writes); DirSyncs fsync of directories.
	Writes, FileSyncs, DirSyncs int
}

// object is one file, directory or symbolic link of the backing directory: its identity
// outlives its names, so that a name whose unlink was never synced comes back with the
// content the object had when it was last synced.
type object struct {
	kind uint32 // syscall.S_IFREG, S_IFDIR or S_IFLNK
	perm uint32
	// data is a regular file's durable content; lo and hi bound the bytes written since
	// (lo >= hi: none). Outside [lo, hi) the backing file equals data.
	data   []byte
	lo, hi int64
	// entries are a directory's durable entries.
	entries map[string]*object
	target  string // a symbolic link's target
}

func (o *object) dirty(lo, hi int64) {
	if o.lo >= o.hi {
		o.lo, o.hi = lo, hi
		return
	}
	o.lo, o.hi = min(o.lo, lo), max(o.hi, hi)
}

// FS is a mounted power-loss file system.
type FS struct {
	backing, dir string
	server       *fuse.Server
	closed       bool // Close has unmounted; Close is not called concurrently

	// gate is held for reading by every change to the backing directory and every sync, and
	// for writing by Cut, so that once Cut returns nothing more reaches the backing.
	gate sync.RWMutex
	cut  bool // guarded by gate

	mu    sync.Mutex         // guards live, root, stats and every object
	live  map[uint64]*object // backing inode number -> the object it is now
	root  *object
	stats Stats
}

// Mount serves backing at dir (an existing empty directory). Everything backing holds now is
// durable. backing must be one file system (inode numbers identify files).
func Mount(backing, dir string) (*FS, error) {
	if err := Available(); err != nil {
		return nil, err
	}
	backing, err := filepath.Abs(backing)
	if err != nil {
		return nil, err
	}
	m := &FS{backing: backing, dir: dir, live: map[uint64]*object{}}
	if m.root, err = m.scan(backing); err != nil {
		return nil, fmt.Errorf("powerloss: scan %s: %w", backing, err)
	}
	var st syscall.Stat_t
	if err := syscall.Stat(backing, &st); err != nil {
		return nil, err
	}
	lroot := &gofs.LoopbackRoot{Path: backing, Dev: st.Dev}
	root := &node{LoopbackNode: gofs.LoopbackNode{RootData: lroot}, m: m}
	lroot.RootNode = root
	m.server, err = gofs.Mount(dir, root, &gofs.Options{MountOptions: fuse.MountOptions{
		FsName: backing, Name: "powerloss", DirectMount: true,
	}, RootStableAttr: &gofs.StableAttr{Ino: st.Ino, Mode: syscall.S_IFDIR}})
	if err != nil {
		return nil, fmt.Errorf("powerloss: mount %s: %w", dir, err)
	}
	return m, nil
}

// scan records the tree under path as durable and returns its object.
func (m *FS) scan(path string) (*object, error) {
	var st syscall.Stat_t
	if err := syscall.Lstat(path, &st); err != nil {
		return nil, err
	}
	o := &object{kind: st.Mode & syscall.S_IFMT, perm: st.Mode & 0o7777}
	switch o.kind {
	case syscall.S_IFDIR:
		des, err := os.ReadDir(path)
		if err != nil {
			return nil, err
		}
		o.entries = map[string]*object{}
		for _, de := range des {
			if o.entries[de.Name()], err = m.scan(filepath.Join(path, de.Name())); err != nil {
				return nil, err
			}
		}
	case syscall.S_IFREG:
		var err error
		if o.data, err = os.ReadFile(path); err != nil {
			return nil, err
		}
	case syscall.S_IFLNK:
		var err error
		if o.target, err = os.Readlink(path); err != nil {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("%s: unsupported file type %o", path, o.kind)
	}
	m.live[st.Ino] = o
	return o, nil
}

// Dir returns the mount point.
func (m *FS) Dir() string { return m.dir }

// Stats returns what the mount has seen so far.
func (m *FS) Stats() Stats {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.stats
}

// Cut cuts the power: once it returns, every change and every sync fails with EIO and the
// backing directory keeps whatever it holds until Close rewrites it. Reads still work, so
// that the program under test can be shut down.
func (m *FS) Cut() {
	m.gate.Lock()
	m.cut = true
	m.gate.Unlock()
}

// SyncAll makes everything durable, as sync(1) or the kernel's writeback some seconds later
// would: a test calls it to start from a settled disk.
func (m *FS) SyncAll() error {
	m.gate.RLock()
	defer m.gate.RUnlock()
	if m.cut {
		return syscall.EIO
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	// Stats count what the program under test did.
	defer func(st Stats) { m.stats = st }(m.stats)
	return filepath.WalkDir(m.backing, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		o, err := m.objectAt(path)
		if err != nil {
			return err
		}
		if d.IsDir() {
			return m.syncDir(o, path)
		}
		if o.kind == syscall.S_IFREG {
			return m.syncFilePath(o, path)
		}
		return nil
	})
}

// Close unmounts. After a Cut it then rewrites the backing directory to its durable state.
// The program using the mount must have closed its files. Closing again does nothing.
func (m *FS) Close() error {
	if m.closed {
		return nil
	}
	if err := m.server.Unmount(); err != nil {
		return fmt.Errorf("powerloss: unmount %s: %w", m.dir, err)
	}
	m.server.Wait()
	m.closed = true
	m.gate.RLock()
	cut := m.cut
	m.gate.RUnlock()
	if !cut {
		return nil
	}
	return m.restore()
}

// restore empties the backing directory and writes the durable tree into it.
func (m *FS) restore() error {
	des, err := os.ReadDir(m.backing)
	if err != nil {
		return err
	}
	for _, de := range des {
		if err := os.RemoveAll(filepath.Join(m.backing, de.Name())); err != nil {
			return err
		}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	return writeTree(m.backing, m.root, map[*object]bool{m.root: true})
}

// writeTree writes dir's durable entries under path. onPath breaks the cycles that durable
// entries synced at different times can form (a directory moved under one of its children).
func writeTree(path string, dir *object, onPath map[*object]bool) error {
	names := make([]string, 0, len(dir.entries))
	for name := range dir.entries {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		o, p := dir.entries[name], filepath.Join(path, name)
		switch o.kind {
		case syscall.S_IFDIR:
			if onPath[o] {
				continue
			}
			if err := os.Mkdir(p, os.FileMode(o.perm&0o777)); err != nil {
				return err
			}
			onPath[o] = true
			err := writeTree(p, o, onPath)
			delete(onPath, o)
			if err != nil {
				return err
			}
		case syscall.S_IFREG:
			if err := os.WriteFile(p, o.data, os.FileMode(o.perm&0o777)); err != nil {
				return err
			}
		case syscall.S_IFLNK:
			if err := os.Symlink(o.target, p); err != nil {
				return err
			}
		}
	}
	return nil
}

// enter admits a change or a sync: false once the power is cut. The caller calls leave.
func (m *FS) enter() bool {
	m.gate.RLock()
	if m.cut {
		m.gate.RUnlock()
		return false
	}
	return true
}

func (m *FS) leave() { m.gate.RUnlock() }

// objectAt returns the object the backing path names now, recording one for a file that
// appeared without passing through the mount (treated as never synced). m.mu is held.
func (m *FS) objectAt(path string) (*object, error) {
	var st syscall.Stat_t
	if err := syscall.Lstat(path, &st); err != nil {
		return nil, err
	}
	return m.objectOf(&st, path), nil
}

func (m *FS) objectOf(st *syscall.Stat_t, path string) *object {
	if o := m.live[st.Ino]; o != nil && o.kind == st.Mode&syscall.S_IFMT {
		return o
	}
	o := m.created(st.Ino, st.Mode)
	if o.kind == syscall.S_IFLNK {
		o.target, _ = os.Readlink(path)
	}
	return o
}

// created records a new object for inode ino, replacing the object a reused inode number
// named before. m.mu is held.
func (m *FS) created(ino uint64, mode uint32) *object {
	o := &object{kind: mode & syscall.S_IFMT, perm: mode & 0o7777}
	switch o.kind {
	case syscall.S_IFDIR:
		o.entries = map[string]*object{}
	case syscall.S_IFREG:
		o.lo, o.hi = 0, math.MaxInt64
	}
	m.live[ino] = o
	return o
}

// syncDir makes the directory's current entries durable. m.mu is held.
func (m *FS) syncDir(o *object, path string) error {
	des, err := os.ReadDir(path)
	if err != nil {
		return err
	}
	entries := make(map[string]*object, len(des))
	for _, de := range des {
		c, err := m.objectAt(filepath.Join(path, de.Name()))
		if errors.Is(err, fs.ErrNotExist) {
			continue // removed since the listing
		}
		if err != nil {
			return err
		}
		entries[de.Name()] = c
	}
	o.entries = entries
	m.stats.DirSyncs++
	return nil
}

func (m *FS) syncFilePath(o *object, path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	return m.syncFile(o, int(f.Fd()))
}

// syncFile makes the file's current content durable, reading what changed through fd.
// m.mu is held.
func (m *FS) syncFile(o *object, fd int) error {
	m.stats.FileSyncs++
	if o.lo >= o.hi {
		return nil
	}
	var st syscall.Stat_t
	if err := syscall.Fstat(fd, &st); err != nil {
		return err
	}
	size := st.Size
	if int64(len(o.data)) > size {
		o.data = o.data[:size]
	} else {
		o.data = append(o.data, make([]byte, size-int64(len(o.data)))...)
	}
	lo, hi := o.lo, min(o.hi, size)
	for lo < hi {
		n, err := syscall.Pread(fd, o.data[lo:hi], lo)
		if err != nil {
			return err
		}
		if n == 0 {
			break
		}
		lo += int64(n)
	}
	o.lo, o.hi = 0, 0
	return nil
}
