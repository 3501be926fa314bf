package natsauth

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nkeys"
)

// Keys are the identities' nkeys, kept as seed files in one directory: <dir>/<identity>.nk.
type Keys struct {
	dir  string
	pubs map[Identity]string
}

// LoadOrCreate reads the identities' seed files from dir, creating (mode 0600, in a 0700
// directory) the seed of any identity that has none, so that a restart reuses the keys
// clients were given.
func LoadOrCreate(dir string) (*Keys, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("natsauth: %w", err)
	}
	k := &Keys{dir: dir, pubs: map[Identity]string{}}
	for _, id := range Identities {
		path := k.SeedFile(id)
		seed, err := os.ReadFile(path)
		if errors.Is(err, fs.ErrNotExist) {
			seed, err = create(path)
		}
		if err != nil {
			return nil, fmt.Errorf("natsauth: seed of %s: %w", id, err)
		}
		kp, err := nkeys.ParseDecoratedNKey(seed)
		if err != nil {
			return nil, fmt.Errorf("natsauth: seed of %s in %s: %w", id, path, err)
		}
		pub, err := kp.PublicKey()
		kp.Wipe()
		if err != nil {
			return nil, fmt.Errorf("natsauth: seed of %s in %s: %w", id, path, err)
		}
		if !nkeys.IsValidPublicUserKey(pub) {
			return nil, fmt.Errorf("natsauth: seed of %s in %s: not a user seed", id, path)
		}
		k.pubs[id] = pub
	}
	return k, nil
}

// create writes a new user seed to path; it never replaces a file that exists.
func create(path string) ([]byte, error) {
	kp, err := nkeys.CreateUser()
	if err != nil {
		return nil, err
	}
	defer kp.Wipe()
	seed, err := kp.Seed()
	if err != nil {
		return nil, err
	}
	// Wipe zeroes the seed Seed returned: keep a copy.
	seed = append([]byte(nil), seed...)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, err
	}
	_, err = f.Write(append(seed, '\n'))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		_ = os.Remove(path)
		return nil, err
	}
	return seed, nil
}

// Dir returns the directory of the seed files.
func (k *Keys) Dir() string { return k.dir }

// SeedFile returns the path of id's seed file: what a client passes to authenticate as id
// (nats --nkey FILE, nats.NkeyOptionFromSeed(FILE)).
func (k *Keys) SeedFile(id Identity) string { return filepath.Join(k.dir, string(id)+".nk") }

// PublicKey returns id's public nkey.
func (k *Keys) PublicKey(id Identity) string { return k.pubs[id] }

// Option returns the client option that authenticates as id.
func (k *Keys) Option(id Identity) (nats.Option, error) {
	return nats.NkeyOptionFromSeed(k.SeedFile(id))
}

// Users returns the server's users: one per identity, with its permissions.
func (k *Keys) Users() ([]*server.NkeyUser, error) {
	var users []*server.NkeyUser
	for _, id := range Identities {
		perms, err := Permissions(id)
		if err != nil {
			return nil, err
		}
		users = append(users, &server.NkeyUser{Nkey: k.pubs[id], Permissions: perms})
	}
	return users, nil
}
