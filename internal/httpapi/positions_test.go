package httpapi

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/casestream/casestream/internal/directory"
)

// TestArrivalPositionsReadOnce checks that a request reads the streams' positions once for
// all its reads before a write (the directory wait, then the listing), that a failed read is
// not remembered, and that positions, for reads after a write, always reads again.
func TestArrivalPositionsReadOnce(t *testing.T) {
	reads := 0
	fail := false
	s := NewServer(Config{Positions: func(context.Context) (uint64, uint64, error) {
		reads++
		if fail {
			return 0, 0, errors.New("no leader")
		}
		return uint64(10 * reads), uint64(reads), nil
	}})
	ctx := context.WithValue(context.Background(), requestInfoKey{}, &requestInfo{})

	fail = true
	if _, _, err := s.arrivalPositions(ctx); err == nil {
		t.Fatal("got no error from a failed read")
	}
	fail = false
	for i := range 3 {
		c, d, err := s.arrivalPositions(ctx)
		if err != nil || c != 20 || d != 2 {
			t.Fatalf("read %d: got %d, %d, %v; want the first good read, 20, 2", i+1, c, d, err)
		}
	}
	if reads != 2 {
		t.Errorf("got %d reads, want 2 (the failed one and the first good one)", reads)
	}
	if c, _, _ := s.positions(ctx); c != 30 || reads != 3 {
		t.Errorf("positions: got %d after %d reads, want a new read, 30", c, reads)
	}
	other := context.WithValue(context.Background(), requestInfoKey{}, &requestInfo{})
	if c, _, _ := s.arrivalPositions(other); c != 40 {
		t.Errorf("another request: got %d, want its own read, 40", c)
	}
}

// TestDirectoryWaitReadsWhatTheCallNeeds: the directory wait of a write reads DIRECTORY's
// position alone, once per request; that of a GET reads both streams' positions, which a
// listing then reuses.
func TestDirectoryWaitReadsWhatTheCallNeeds(t *testing.T) {
	both, dir := 0, 0
	s := NewServer(Config{
		Directory: directory.New(),
		Positions: func(context.Context) (uint64, uint64, error) {
			both++
			return 0, 0, nil
		},
		DirectoryPosition: func(context.Context) (uint64, error) {
			dir++
			return 0, nil
		},
	})
	request := func(method string) *http.Request {
		r := httptest.NewRequest(method, "/api/v4/cases/1/assignment", nil)
		return r.WithContext(context.WithValue(r.Context(), requestInfoKey{}, &requestInfo{}))
	}
	w := request(http.MethodPut)
	for range 2 {
		if err := s.directoryCurrent(w); err != nil {
			t.Fatal(err)
		}
	}
	if both != 0 || dir != 1 {
		t.Errorf("a write: got %d reads of both and %d of the directory, want 0 and 1", both, dir)
	}
	g := request(http.MethodGet)
	if err := s.directoryCurrent(g); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.arrivalPositions(g.Context()); err != nil {
		t.Fatal(err)
	}
	if both != 1 || dir != 1 {
		t.Errorf("a read: got %d reads of both and %d of the directory, want 1 and 1 (one more of both, reused)", both, dir)
	}
}
