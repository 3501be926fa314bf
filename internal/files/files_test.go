package files

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math/rand"
	"testing"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/casestream/casestream/internal/embedded/embeddedtest"
)

func open(t *testing.T) (*Store, jetstream.JetStream) {
	t.Helper()
	_, nc := embeddedtest.Start(t)
	js := embeddedtest.JetStream(t, nc)
	s, err := Open(context.Background(), js, 1)
	if err != nil {
		t.Fatal(err)
	}
	return s, js
}

// messages is the number of messages in the bucket's stream: chunks and metadata.
func messages(t *testing.T, js jetstream.JetStream) uint64 {
	t.Helper()
	st, err := js.Stream(context.Background(), "OBJ_"+Bucket)
	if err != nil {
		t.Fatal(err)
	}
	info, err := st.Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return info.State.Msgs
}

func TestPutStatOpenDelete(t *testing.T) {
	s, js := open(t)
	ctx := context.Background()
	data := make([]byte, 300_000) // three chunks
	rand.New(rand.NewSource(1)).Read(data)
	info, err := s.Put(ctx, "f1", 42, "scan.pdf", "application/pdf", bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	want := Info{ID: "f1", CaseInstanceID: 42, Name: "scan.pdf", ContentType: "application/pdf", Size: int64(len(data)), Digest: info.Digest}
	if info != want || len(info.Digest) < len("SHA-256=") || info.Digest[:8] != "SHA-256=" {
		t.Fatalf("put: got %+v, want %+v with a SHA-256 digest", info, want)
	}
	if got, err := s.Stat(ctx, "f1"); err != nil || got != want {
		t.Fatalf("stat: got %+v, %v; want %+v", got, err, want)
	}
	rc, err := s.Open(ctx, "f1")
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(rc)
	rc.Close()
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("open: got %d bytes, %v; want the %d bytes put", len(got), err, len(data))
	}
	if err := s.Delete(ctx, "f1"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Stat(ctx, "f1"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("stat after delete: got %v, want %v", err, ErrNotFound)
	}
	if _, err := s.Open(ctx, "f1"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("open after delete: got %v, want %v", err, ErrNotFound)
	}
	if err := s.Delete(ctx, "f1"); err != nil {
		t.Fatalf("delete again: got %v, want nil", err)
	}
	// Only the deletion marker is left: the chunks are gone.
	if n := messages(t, js); n != 1 {
		t.Fatalf("messages after delete: got %d, want 1 (the marker)", n)
	}
}

func TestPutLimit(t *testing.T) {
	tests := []struct {
		name  string
		size  int
		limit int64
		want  error
	}{
		{"at the limit", 200_000, 200_000, nil},
		{"one byte over", 200_001, 200_000, ErrTooLarge},
		{"far over", 1_000_000, 200_000, ErrTooLarge},
		{"empty", 0, 10, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, js := open(t)
			_, err := s.Put(context.Background(), "f", 1, "a", "text/plain", bytes.NewReader(make([]byte, tt.size)), tt.limit)
			if !errors.Is(err, tt.want) {
				t.Fatalf("got %v, want %v", err, tt.want)
			}
			if tt.want != nil {
				if n := messages(t, js); n != 0 {
					t.Fatalf("a refused put left %d messages, want 0", n)
				}
				if _, err := s.Stat(context.Background(), "f"); !errors.Is(err, ErrNotFound) {
					t.Fatalf("stat: got %v, want %v", err, ErrNotFound)
				}
			}
		})
	}
}

// failingReader fails after some bytes, as a request body does when the client goes away.
type failingReader struct{ n int }

func (f *failingReader) Read(p []byte) (int, error) {
	if f.n <= 0 {
		return 0, io.ErrUnexpectedEOF
	}
	n := min(len(p), f.n)
	f.n -= n
	return n, nil
}

func TestPutInterruptedLeavesNothing(t *testing.T) {
	s, js := open(t)
	ctx, cancel := context.WithCancel(context.Background())
	r := &failingReader{n: 400_000}
	cancel() // the request is gone by the time the upload fails
	_, err := s.Put(ctx, "f", 1, "a", "text/plain", r, 1<<20)
	if !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("got %v, want %v", err, io.ErrUnexpectedEOF)
	}
	if n := messages(t, js); n != 0 {
		t.Fatalf("an interrupted put left %d messages, want 0", n)
	}
}
