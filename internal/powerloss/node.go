package powerloss

import (
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"syscall"

	gofs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
)

// node is the loopback node with the changes and syncs that the mount records. Lookups,
// reads, attributes and extended attributes pass through unchanged.
type node struct {
	gofs.LoopbackNode
	m *FS
}

var (
	_ gofs.NodeWrapChilder    = (*node)(nil)
	_ gofs.NodeCreater        = (*node)(nil)
	_ gofs.NodeMkdirer        = (*node)(nil)
	_ gofs.NodeMknoder        = (*node)(nil)
	_ gofs.NodeSymlinker      = (*node)(nil)
	_ gofs.NodeLinker         = (*node)(nil)
	_ gofs.NodeUnlinker       = (*node)(nil)
	_ gofs.NodeRmdirer        = (*node)(nil)
	_ gofs.NodeRenamer        = (*node)(nil)
	_ gofs.NodeOpener         = (*node)(nil)
	_ gofs.NodeOpendirHandler = (*node)(nil)
	_ gofs.NodeSetattrer      = (*node)(nil)
	_ gofs.NodeFsyncer        = (*node)(nil)
)

// WrapChild makes every node of the tree a node of this mount.
func (n *node) WrapChild(ctx context.Context, ops gofs.InodeEmbedder) gofs.InodeEmbedder {
	return &node{LoopbackNode: gofs.LoopbackNode{RootData: n.RootData}, m: n.m}
}

// ino is the node's backing inode number (the loopback passes it through unchanged on one
// file system).
func (n *node) ino() uint64 { return n.StableAttr().Ino }

// object returns the node's object. m.mu is held.
func (n *node) object() *object {
	if o := n.m.live[n.ino()]; o != nil {
		return o
	}
	o, err := n.m.objectAt(n.backingPath())
	if err != nil {
		return n.m.created(n.ino(), n.StableAttr().Mode)
	}
	return o
}

func (n *node) backingPath() string {
	return filepath.Join(n.RootData.Path, n.Path(n.RootData.RootNode.EmbeddedInode()))
}

// newChild records the object of the entry name just made in n.
func (n *node) newChild(out *fuse.Attr, name string) {
	n.m.mu.Lock()
	defer n.m.mu.Unlock()
	o := n.m.created(out.Ino, out.Mode)
	if o.kind == syscall.S_IFLNK {
		o.target, _ = os.Readlink(filepath.Join(n.backingPath(), name))
	}
}

// Create records a new file, or a truncation of the existing file it opened.
func (n *node) Create(ctx context.Context, name string, flags, mode uint32, out *fuse.EntryOut) (*gofs.Inode, gofs.FileHandle, uint32, syscall.Errno) {
	if !n.m.enter() {
		return nil, nil, 0, syscall.EIO
	}
	defer n.m.leave()
	var before syscall.Stat_t
	existed := syscall.Lstat(filepath.Join(n.backingPath(), name), &before) == nil
	ch, fh, fuseFlags, errno := n.LoopbackNode.Create(ctx, name, flags, mode, out)
	if errno != 0 {
		return ch, fh, fuseFlags, errno
	}
	n.m.mu.Lock()
	var o *object
	if existed && before.Ino == out.Attr.Ino {
		o = n.m.live[out.Attr.Ino]
		if o == nil {
			o = n.m.created(out.Attr.Ino, out.Attr.Mode)
		}
		if flags&syscall.O_TRUNC != 0 {
			o.dirty(0, math.MaxInt64)
		}
	} else {
		o = n.m.created(out.Attr.Ino, out.Attr.Mode)
	}
	n.m.mu.Unlock()
	return ch, &file{inner: fh.(*gofs.LoopbackFile), m: n.m, obj: o, sync: flags&(syscall.O_SYNC|syscall.O_DSYNC) != 0}, fuseFlags, 0
}

// Open wraps the backing file so that its writes and syncs are recorded.
func (n *node) Open(ctx context.Context, flags uint32) (gofs.FileHandle, uint32, syscall.Errno) {
	if !n.m.enter() {
		return nil, 0, syscall.EIO
	}
	defer n.m.leave()
	fh, fuseFlags, errno := n.LoopbackNode.Open(ctx, flags)
	if errno != 0 {
		return fh, fuseFlags, errno
	}
	n.m.mu.Lock()
	o := n.object()
	if flags&syscall.O_TRUNC != 0 {
		o.dirty(0, math.MaxInt64)
	}
	n.m.mu.Unlock()
	return &file{inner: fh.(*gofs.LoopbackFile), m: n.m, obj: o, sync: flags&(syscall.O_SYNC|syscall.O_DSYNC) != 0}, fuseFlags, 0
}

// newEntry runs mk, the loopback's making of the entry name in n, and records the new entry.
func (n *node) newEntry(name string, out *fuse.EntryOut, mk func() (*gofs.Inode, syscall.Errno)) (*gofs.Inode, syscall.Errno) {
	if !n.m.enter() {
		return nil, syscall.EIO
	}
	defer n.m.leave()
	ch, errno := mk()
	if errno == 0 {
		n.newChild(&out.Attr, name)
	}
	return ch, errno
}

// Mkdir records a new directory.
func (n *node) Mkdir(ctx context.Context, name string, mode uint32, out *fuse.EntryOut) (*gofs.Inode, syscall.Errno) {
	return n.newEntry(name, out, func() (*gofs.Inode, syscall.Errno) { return n.LoopbackNode.Mkdir(ctx, name, mode, out) })
}

// Mknod records a new file.
func (n *node) Mknod(ctx context.Context, name string, mode, rdev uint32, out *fuse.EntryOut) (*gofs.Inode, syscall.Errno) {
	return n.newEntry(name, out, func() (*gofs.Inode, syscall.Errno) { return n.LoopbackNode.Mknod(ctx, name, mode, rdev, out) })
}

// Symlink records a new symbolic link.
func (n *node) Symlink(ctx context.Context, target, name string, out *fuse.EntryOut) (*gofs.Inode, syscall.Errno) {
	return n.newEntry(name, out, func() (*gofs.Inode, syscall.Errno) { return n.LoopbackNode.Symlink(ctx, target, name, out) })
}

// Link adds a name; the object is the target's.
func (n *node) Link(ctx context.Context, target gofs.InodeEmbedder, name string, out *fuse.EntryOut) (*gofs.Inode, syscall.Errno) {
	if !n.m.enter() {
		return nil, syscall.EIO
	}
	defer n.m.leave()
	return n.LoopbackNode.Link(ctx, target, name, out)
}

// Unlink removes a name now; it stays durable until the directory is synced.
func (n *node) Unlink(ctx context.Context, name string) syscall.Errno {
	if !n.m.enter() {
		return syscall.EIO
	}
	defer n.m.leave()
	return n.LoopbackNode.Unlink(ctx, name)
}

// Rmdir removes a directory now; it stays durable until its parent is synced.
func (n *node) Rmdir(ctx context.Context, name string) syscall.Errno {
	if !n.m.enter() {
		return syscall.EIO
	}
	defer n.m.leave()
	return n.LoopbackNode.Rmdir(ctx, name)
}

// Rename moves a name now; both directories keep their durable entries until synced.
func (n *node) Rename(ctx context.Context, name string, newParent gofs.InodeEmbedder, newName string, flags uint32) syscall.Errno {
	if !n.m.enter() {
		return syscall.EIO
	}
	defer n.m.leave()
	if p, ok := newParent.(*node); ok {
		newParent = &p.LoopbackNode
	}
	return n.LoopbackNode.Rename(ctx, name, newParent, newName, flags)
}

// Setattr records a size change (truncate) as a change of everything past the new size.
func (n *node) Setattr(ctx context.Context, f gofs.FileHandle, in *fuse.SetAttrIn, out *fuse.AttrOut) syscall.Errno {
	if !n.m.enter() {
		return syscall.EIO
	}
	defer n.m.leave()
	if pf, ok := f.(*file); ok {
		f = pf.inner
	}
	errno := n.LoopbackNode.Setattr(ctx, f, in, out)
	if size, ok := in.GetSize(); ok && errno == 0 {
		n.m.mu.Lock()
		n.object().dirty(int64(size), math.MaxInt64)
		n.m.mu.Unlock()
	}
	return errno
}

// Fsync makes a file's content or a directory's entries durable. It serves fsync, fdatasync
// and the fsync of a directory (FUSE_FSYNC and FUSE_FSYNCDIR). The backing store is not
// synced: what survives a cut is what this mount remembers, not what the disk holds.
func (n *node) Fsync(ctx context.Context, f gofs.FileHandle, flags uint32) syscall.Errno {
	if !n.m.enter() {
		return syscall.EIO
	}
	defer n.m.leave()
	n.m.mu.Lock()
	defer n.m.mu.Unlock()
	o := n.object()
	var err error
	switch {
	case o.kind == syscall.S_IFDIR:
		err = n.m.syncDir(o, n.backingPath())
	case f != nil:
		pf, ok := f.(*file)
		if !ok {
			return syscall.EBADF
		}
		err = pf.syncLocked()
	default:
		err = n.m.syncFilePath(o, n.backingPath())
	}
	return gofs.ToErrno(err)
}

// OpendirHandle lists through the loopback, but hides its Fsyncdir so that the fsync of a
// directory reaches Fsync.
func (n *node) OpendirHandle(ctx context.Context, flags uint32) (gofs.FileHandle, uint32, syscall.Errno) {
	fh, fuseFlags, errno := n.LoopbackNode.OpendirHandle(ctx, flags)
	if errno != 0 {
		return fh, fuseFlags, errno
	}
	return &dirHandle{inner: fh}, fuseFlags, 0
}

// dirHandle is a loopback directory handle without Fsyncdir.
type dirHandle struct{ inner gofs.FileHandle }

var (
	_ gofs.FileReaddirenter = (*dirHandle)(nil)
	_ gofs.FileSeekdirer    = (*dirHandle)(nil)
	_ gofs.FileReleasedirer = (*dirHandle)(nil)
)

func (d *dirHandle) Readdirent(ctx context.Context) (*fuse.DirEntry, syscall.Errno) {
	return d.inner.(gofs.FileReaddirenter).Readdirent(ctx)
}

func (d *dirHandle) Seekdir(ctx context.Context, off uint64) syscall.Errno {
	return d.inner.(gofs.FileSeekdirer).Seekdir(ctx, off)
}

func (d *dirHandle) Releasedir(ctx context.Context, flags uint32) {
	d.inner.(gofs.FileReleasedirer).Releasedir(ctx, flags)
}

// file is a loopback file whose writes are recorded as changes of its object. It offers no
// passthrough (the kernel would write the backing file without asking), no writev, ioctl or
// copy_file_range, so that every change reaches Write, Setattr or Allocate.
type file struct {
	inner *gofs.LoopbackFile
	m     *FS
	obj   *object
	sync  bool // opened with O_SYNC or O_DSYNC: every write is synced
}

var (
	_ gofs.FileReader    = (*file)(nil)
	_ gofs.FileWriter    = (*file)(nil)
	_ gofs.FileReleaser  = (*file)(nil)
	_ gofs.FileFlusher   = (*file)(nil)
	_ gofs.FileGetattrer = (*file)(nil)
	_ gofs.FileSetattrer = (*file)(nil)
	_ gofs.FileLseeker   = (*file)(nil)
	_ gofs.FileAllocater = (*file)(nil)
	_ gofs.FileGetlker   = (*file)(nil)
	_ gofs.FileSetlker   = (*file)(nil)
	_ gofs.FileSetlkwer  = (*file)(nil)
)

func (f *file) Write(ctx context.Context, data []byte, off int64) (uint32, syscall.Errno) {
	if !f.m.enter() {
		return 0, syscall.EIO
	}
	defer f.m.leave()
	written, errno := f.inner.Write(ctx, data, off)
	f.m.mu.Lock()
	defer f.m.mu.Unlock()
	f.m.stats.Writes++
	if written > 0 {
		// Marked after the write: a sync running meanwhile may copy the new bytes already,
		// and this keeps them dirty for the next one.
		f.obj.dirty(off, off+int64(written))
	}
	if f.sync && errno == 0 {
		errno = gofs.ToErrno(f.syncLocked())
	}
	return written, errno
}

// syncLocked makes the file's content durable. The descriptor may be write-only: the
// content is read through a descriptor of its own, opened on the same file (which may have
// no name left). m.mu is held.
func (f *file) syncLocked() error {
	fd, ok := f.inner.PassthroughFd()
	if !ok {
		return syscall.EBADF
	}
	return f.m.syncFilePath(f.obj, fmt.Sprintf("/proc/self/fd/%d", fd))
}

func (f *file) Setattr(ctx context.Context, in *fuse.SetAttrIn, out *fuse.AttrOut) syscall.Errno {
	if !f.m.enter() {
		return syscall.EIO
	}
	defer f.m.leave()
	errno := f.inner.Setattr(ctx, in, out)
	if size, ok := in.GetSize(); ok && errno == 0 {
		f.m.mu.Lock()
		f.obj.dirty(int64(size), math.MaxInt64)
		f.m.mu.Unlock()
	}
	return errno
}

func (f *file) Allocate(ctx context.Context, off, size uint64, mode uint32) syscall.Errno {
	if !f.m.enter() {
		return syscall.EIO
	}
	defer f.m.leave()
	errno := f.inner.Allocate(ctx, off, size, mode)
	f.m.mu.Lock()
	f.obj.dirty(int64(off), math.MaxInt64)
	f.m.mu.Unlock()
	return errno
}

func (f *file) Read(ctx context.Context, buf []byte, off int64) (fuse.ReadResult, syscall.Errno) {
	return f.inner.Read(ctx, buf, off)
}

func (f *file) Release(ctx context.Context) syscall.Errno { return f.inner.Release(ctx) }

func (f *file) Flush(ctx context.Context) syscall.Errno { return f.inner.Flush(ctx) }

func (f *file) Getattr(ctx context.Context, out *fuse.AttrOut) syscall.Errno {
	return f.inner.Getattr(ctx, out)
}

func (f *file) Lseek(ctx context.Context, off uint64, whence uint32) (uint64, syscall.Errno) {
	return f.inner.Lseek(ctx, off, whence)
}

func (f *file) Getlk(ctx context.Context, owner uint64, lk *fuse.FileLock, flags uint32, out *fuse.FileLock) syscall.Errno {
	return f.inner.Getlk(ctx, owner, lk, flags, out)
}

func (f *file) Setlk(ctx context.Context, owner uint64, lk *fuse.FileLock, flags uint32) syscall.Errno {
	return f.inner.Setlk(ctx, owner, lk, flags)
}

func (f *file) Setlkw(ctx context.Context, owner uint64, lk *fuse.FileLock, flags uint32) syscall.Errno {
	return f.inner.Setlkw(ctx, owner, lk, flags)
}
