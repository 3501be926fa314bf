package powerloss_test

import (
	"errors"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/casestream/casestream/internal/powerloss"
)

// mount mounts a power-loss file system over a backing directory holding files (a name
// ending in "/" is a directory) and returns it with its backing directory.
func mount(t testing.TB, files map[string]string) (*powerloss.FS, string) {
	t.Helper()
	if err := powerloss.Available(); err != nil {
		t.Skip(err)
	}
	backing, dir := t.TempDir(), t.TempDir()
	for _, name := range slices.Sorted(maps.Keys(files)) {
		p := filepath.Join(backing, name)
		if name[len(name)-1] == '/' {
			if err := os.MkdirAll(p, 0o755); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := os.WriteFile(p, []byte(files[name]), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	m, err := powerloss.Mount(backing, dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m, backing
}

// tree reads a directory into the shape mount takes.
func tree(t testing.TB, root string) map[string]string {
	t.Helper()
	got := map[string]string{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == root {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		if d.IsDir() {
			got[rel+"/"] = ""
			return nil
		}
		b, err := os.ReadFile(p)
		got[rel] = string(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return got
}

// do fails the test on err.
func do(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func writeFile(t testing.TB, path, data string, sync bool) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	do(t, err)
	_, err = f.WriteString(data)
	do(t, err)
	if sync {
		do(t, f.Sync())
	}
	do(t, f.Close())
}

func appendFile(t testing.TB, path, data string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	do(t, err)
	_, err = f.WriteString(data)
	do(t, err)
	do(t, f.Close())
}

func syncPath(t testing.TB, path string) {
	t.Helper()
	f, err := os.Open(path)
	do(t, err)
	do(t, f.Sync())
	do(t, f.Close())
}

func TestPowerCut(t *testing.T) {
	tests := []struct {
		name   string
		before map[string]string
		act    func(t *testing.T, dir string)
		want   map[string]string
	}{
		{
			name:   "unsynced write to an existing file vanishes",
			before: map[string]string{"a": "old"},
			act:    func(t *testing.T, dir string) { writeFile(t, filepath.Join(dir, "a"), "new content", false) },
			want:   map[string]string{"a": "old"},
		},
		{
			name:   "synced write stays",
			before: map[string]string{"a": "old"},
			act:    func(t *testing.T, dir string) { writeFile(t, filepath.Join(dir, "a"), "new content", true) },
			want:   map[string]string{"a": "new content"},
		},
		{
			name:   "write after the last sync vanishes",
			before: map[string]string{"a": ""},
			act: func(t *testing.T, dir string) {
				writeFile(t, filepath.Join(dir, "a"), "synced ", true)
				appendFile(t, filepath.Join(dir, "a"), "unsynced")
			},
			want: map[string]string{"a": "synced "},
		},
		{
			name:   "fdatasync counts as a sync",
			before: map[string]string{"a": "old"},
			act: func(t *testing.T, dir string) {
				f, err := os.OpenFile(filepath.Join(dir, "a"), os.O_WRONLY, 0)
				do(t, err)
				_, err = f.WriteAt([]byte("NEW"), 0)
				do(t, err)
				do(t, unix.Fdatasync(int(f.Fd())))
				do(t, f.Close())
			},
			want: map[string]string{"a": "NEW"},
		},
		{
			name:   "an O_DSYNC write is synced",
			before: map[string]string{"a": "old"},
			act: func(t *testing.T, dir string) {
				f, err := os.OpenFile(filepath.Join(dir, "a"), os.O_WRONLY|os.O_TRUNC|syscall.O_DSYNC, 0)
				do(t, err)
				_, err = f.WriteString("dsync")
				do(t, err)
				do(t, f.Close())
			},
			want: map[string]string{"a": "dsync"},
		},
		{
			name:   "syncfs is not seen: its data vanishes",
			before: map[string]string{"a": "old"},
			act: func(t *testing.T, dir string) {
				writeFile(t, filepath.Join(dir, "a"), "new", false)
				f, err := os.Open(dir)
				do(t, err)
				do(t, unix.Syncfs(int(f.Fd())))
				do(t, f.Close())
			},
			want: map[string]string{"a": "old"},
		},
		{
			name:   "a synced new file without a sync of its directory vanishes",
			before: map[string]string{},
			act:    func(t *testing.T, dir string) { writeFile(t, filepath.Join(dir, "b"), "data", true) },
			want:   map[string]string{},
		},
		{
			name:   "a new file with its directory synced but not itself is empty",
			before: map[string]string{},
			act: func(t *testing.T, dir string) {
				writeFile(t, filepath.Join(dir, "b"), "data", false)
				syncPath(t, dir)
			},
			want: map[string]string{"b": ""},
		},
		{
			name:   "a new file synced with its directory stays",
			before: map[string]string{},
			act: func(t *testing.T, dir string) {
				writeFile(t, filepath.Join(dir, "b"), "data", true)
				syncPath(t, dir)
			},
			want: map[string]string{"b": "data"},
		},
		{
			name:   "an unsynced rename is undone",
			before: map[string]string{"a": "content"},
			act:    func(t *testing.T, dir string) { do(t, os.Rename(filepath.Join(dir, "a"), filepath.Join(dir, "b"))) },
			want:   map[string]string{"a": "content"},
		},
		{
			name:   "a rename followed by a sync of its directory stays",
			before: map[string]string{"a": "content"},
			act: func(t *testing.T, dir string) {
				do(t, os.Rename(filepath.Join(dir, "a"), filepath.Join(dir, "b")))
				syncPath(t, dir)
			},
			want: map[string]string{"b": "content"},
		},
		{
			name:   "an atomic replace (write, fsync, rename, sync directory) stays",
			before: map[string]string{"a": "old"},
			act: func(t *testing.T, dir string) {
				writeFile(t, filepath.Join(dir, "a.tmp"), "new", true)
				do(t, os.Rename(filepath.Join(dir, "a.tmp"), filepath.Join(dir, "a")))
				syncPath(t, dir)
			},
			want: map[string]string{"a": "new"},
		},
		{
			name:   "an atomic replace whose directory was not synced keeps the old file",
			before: map[string]string{"a": "old"},
			act: func(t *testing.T, dir string) {
				writeFile(t, filepath.Join(dir, "a.tmp"), "new", true)
				do(t, os.Rename(filepath.Join(dir, "a.tmp"), filepath.Join(dir, "a")))
			},
			want: map[string]string{"a": "old"},
		},
		{
			name:   "an unsynced unlink comes back with its synced content",
			before: map[string]string{"a": "old"},
			act: func(t *testing.T, dir string) {
				writeFile(t, filepath.Join(dir, "a"), "synced", true)
				do(t, os.Remove(filepath.Join(dir, "a")))
			},
			want: map[string]string{"a": "synced"},
		},
		{
			name:   "an unlink followed by a sync of its directory stays",
			before: map[string]string{"a": "old"},
			act: func(t *testing.T, dir string) {
				do(t, os.Remove(filepath.Join(dir, "a")))
				syncPath(t, dir)
			},
			want: map[string]string{},
		},
		{
			name:   "an unsynced truncate is undone",
			before: map[string]string{"a": "0123456789"},
			act:    func(t *testing.T, dir string) { do(t, os.Truncate(filepath.Join(dir, "a"), 4)) },
			want:   map[string]string{"a": "0123456789"},
		},
		{
			name:   "a synced truncate stays, and so does a synced extension with zeros",
			before: map[string]string{"a": "0123456789", "b": "01"},
			act: func(t *testing.T, dir string) {
				do(t, os.Truncate(filepath.Join(dir, "a"), 4))
				syncPath(t, filepath.Join(dir, "a"))
				f, err := os.OpenFile(filepath.Join(dir, "b"), os.O_RDWR, 0)
				do(t, err)
				do(t, f.Truncate(4))
				do(t, f.Sync())
				do(t, f.Close())
			},
			want: map[string]string{"a": "0123", "b": "01\x00\x00"},
		},
		{
			name:   "a new directory needs a sync of its parent",
			before: map[string]string{},
			act: func(t *testing.T, dir string) {
				do(t, os.Mkdir(filepath.Join(dir, "d"), 0o755))
				writeFile(t, filepath.Join(dir, "d", "f"), "data", true)
				syncPath(t, filepath.Join(dir, "d"))
			},
			want: map[string]string{},
		},
		{
			name:   "a new directory synced all the way stays",
			before: map[string]string{},
			act: func(t *testing.T, dir string) {
				do(t, os.Mkdir(filepath.Join(dir, "d"), 0o755))
				writeFile(t, filepath.Join(dir, "d", "f"), "data", true)
				syncPath(t, filepath.Join(dir, "d"))
				syncPath(t, dir)
			},
			want: map[string]string{"d/": "", "d/f": "data"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, backing := mount(t, tt.before)
			tt.act(t, m.Dir())
			m.Cut()
			do(t, m.Close())
			if got := tree(t, backing); !maps.Equal(got, tt.want) {
				t.Errorf("after the cut got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestCutRefusesChanges(t *testing.T) {
	m, backing := mount(t, map[string]string{"a": "old"})
	f, err := os.OpenFile(filepath.Join(m.Dir(), "a"), os.O_RDWR, 0)
	do(t, err)
	m.Cut()
	if _, err := f.WriteAt([]byte("new"), 0); !errors.Is(err, syscall.EIO) {
		t.Errorf("write after the cut: got %v, want EIO", err)
	}
	if err := f.Sync(); !errors.Is(err, syscall.EIO) {
		t.Errorf("fsync after the cut: got %v, want EIO", err)
	}
	if err := os.WriteFile(filepath.Join(m.Dir(), "b"), nil, 0o644); !errors.Is(err, syscall.EIO) {
		t.Errorf("create after the cut: got %v, want EIO", err)
	}
	b := make([]byte, 3)
	if _, err := f.ReadAt(b, 0); err != nil || string(b) != "old" {
		t.Errorf("read after the cut: got %q, %v, want %q", b, err, "old")
	}
	do(t, f.Close())
	do(t, m.Close())
	if got, want := tree(t, backing), map[string]string{"a": "old"}; !maps.Equal(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestCloseWithoutCutKeepsEverything(t *testing.T) {
	m, backing := mount(t, map[string]string{"a": "old"})
	writeFile(t, filepath.Join(m.Dir(), "a"), "new", false)
	writeFile(t, filepath.Join(m.Dir(), "b"), "b", false)
	do(t, m.Close())
	if got, want := tree(t, backing), map[string]string{"a": "new", "b": "b"}; !maps.Equal(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestSyncAll(t *testing.T) {
	m, backing := mount(t, map[string]string{"a": "old"})
	do(t, os.Mkdir(filepath.Join(m.Dir(), "d"), 0o755))
	writeFile(t, filepath.Join(m.Dir(), "d", "f"), "data", false)
	writeFile(t, filepath.Join(m.Dir(), "a"), "new", false)
	do(t, m.SyncAll())
	writeFile(t, filepath.Join(m.Dir(), "a"), "after", false)
	m.Cut()
	do(t, m.Close())
	if got, want := tree(t, backing), map[string]string{"a": "new", "d/": "", "d/f": "data"}; !maps.Equal(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestStatsCountSyncs(t *testing.T) {
	m, _ := mount(t, map[string]string{})
	writeFile(t, filepath.Join(m.Dir(), "a"), "data", true)
	syncPath(t, m.Dir())
	got := m.Stats()
	if got.Writes < 1 || got.FileSyncs != 1 || got.DirSyncs != 1 {
		t.Errorf("got %+v, want at least one write, one file sync, one directory sync", got)
	}
}
