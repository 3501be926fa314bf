// Package files keeps the bytes of the files attached to cases in a JetStream object store
// bucket. A case's events carry only a file's metadata (events.CaseFileAttached), so that the
// log stays small however large the files are; the bytes are an object named by the file's
// id, whose metadata names the case it belongs to.
package files

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"

	"github.com/nats-io/nats.go/jetstream"
)

// Bucket is the name of the object store bucket. Its stream is OBJ_CASESTREAM_FILES.
const Bucket = "CASESTREAM_FILES"

// DefaultMaxBytes is the default size limit of one file: 10 MiB.
const DefaultMaxBytes = 10 << 20

// ErrTooLarge is returned by Put when the file has more bytes than its limit; nothing is kept.
var ErrTooLarge = errors.New("files: file over the size limit")

// ErrNotFound means no file has the given id (or it was deleted).
var ErrNotFound = errors.New("files: no such file")

// Metadata keys of an object.
const (
	metaCase        = "caseInstanceId"
	metaName        = "name"
	metaContentType = "contentType"
)

// Info describes a stored file.
type Info struct {
	// ID is the file's id, the object's name.
	ID             string
	CaseInstanceID int64
	Name           string
	ContentType    string
	Size           int64
	// Digest is the object store's "SHA-256=" digest of the bytes.
	Digest string
}

// Store holds the files' bytes.
type Store struct {
	obs jetstream.ObjectStore
}

// Open creates or binds the bucket: file storage with the given replica count, no limits of
// its own (each Put has one).
func Open(ctx context.Context, js jetstream.JetStream, replicas int) (*Store, error) {
	obs, err := js.CreateObjectStore(ctx, jetstream.ObjectStoreConfig{
		Bucket:      Bucket,
		Description: "bytes of the files attached to cases; metadata in the CASES stream",
		Storage:     jetstream.FileStorage,
		Replicas:    replicas,
	})
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", Bucket, err)
	}
	return &Store{obs: obs}, nil
}

// Put stores the bytes read from r as the file id of the given case, streaming them in chunks
// (nothing holds the whole file in memory). More than limit bytes fail with ErrTooLarge, and
// any failure leaves no object behind. Putting an id again replaces its bytes, so that a
// retried upload under the same id leaves one object.
func (s *Store) Put(ctx context.Context, id string, caseInstanceID int64, name, contentType string, r io.Reader, limit int64) (Info, error) {
	// The object store purges a failed upload's chunks with this context: a client that
	// disconnects mid-upload cancels its request, and its chunks must go all the same.
	ctx = context.WithoutCancel(ctx)
	info, err := s.obs.Put(ctx, jetstream.ObjectMeta{
		Name: id,
		Metadata: map[string]string{
			metaCase: strconv.FormatInt(caseInstanceID, 10), metaName: name, metaContentType: contentType,
		},
	}, &limitReader{r: r, left: limit})
	if err != nil {
		return Info{}, fmt.Errorf("put file %s: %w", id, err)
	}
	return infoOf(info), nil
}

// Stat returns the file's description.
func (s *Store) Stat(ctx context.Context, id string) (Info, error) {
	info, err := s.obs.GetInfo(ctx, id)
	if errors.Is(err, jetstream.ErrObjectNotFound) {
		return Info{}, ErrNotFound
	}
	if err != nil {
		return Info{}, fmt.Errorf("stat file %s: %w", id, err)
	}
	return infoOf(info), nil
}

// Open returns a reader of the file's bytes, streamed from the bucket chunk by chunk. Its
// Read fails at the end if the bytes do not match the stored digest. The caller closes it.
func (s *Store) Open(ctx context.Context, id string) (io.ReadCloser, error) {
	res, err := s.obs.Get(ctx, id)
	if errors.Is(err, jetstream.ErrObjectNotFound) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("open file %s: %w", id, err)
	}
	return res, nil
}

// Delete removes the file's bytes. Deleting a file that is not there is not an error.
func (s *Store) Delete(ctx context.Context, id string) error {
	err := s.obs.Delete(ctx, id)
	if err != nil && !errors.Is(err, jetstream.ErrObjectNotFound) {
		return fmt.Errorf("delete file %s: %w", id, err)
	}
	return nil
}

func infoOf(o *jetstream.ObjectInfo) Info {
	id, _ := strconv.ParseInt(o.Metadata[metaCase], 10, 64)
	return Info{
		ID: o.Name, CaseInstanceID: id, Name: o.Metadata[metaName], ContentType: o.Metadata[metaContentType],
		Size: int64(o.Size), Digest: o.Digest,
	}
}

// limitReader reads r until EOF and fails with ErrTooLarge once more than left bytes came.
type limitReader struct {
	r    io.Reader
	left int64
}

func (l *limitReader) Read(p []byte) (int, error) {
	if l.left < 0 {
		return 0, ErrTooLarge
	}
	// Read at most one byte past the limit: that byte is the proof of too many.
	if int64(len(p)) > l.left+1 {
		p = p[:l.left+1]
	}
	n, err := l.r.Read(p)
	l.left -= int64(n)
	if l.left < 0 {
		return 0, ErrTooLarge
	}
	return n, err
}
