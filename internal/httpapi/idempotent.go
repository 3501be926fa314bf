package httpapi

import (
	"bytes"
	"errors"
	"net/http"

	"github.com/casestream/casestream/internal/eventstore"
	"github.com/casestream/casestream/internal/idempotency"
)

// idempotent answers a remembered reply, or runs h, answers, and remembers its reply: a
// success, and a refusal that a retry of the same request would meet again (a 4xx), so that
// the retry gets the first answer and writes nothing. A server error or an unavailability
// (5xx), and a refusal that says to try again later (429, 409 concurrentModification), is
// not remembered: the retry runs again.
func (s *Server) idempotent(w http.ResponseWriter, r *http.Request, key string, h func(w http.ResponseWriter) error) error {
	if rep, ok, err := s.cfg.Idempotency.Get(r.Context(), key); err != nil {
		return err
	} else if ok {
		s.metrics.replays.Inc()
		w.Header().Set("Idempotent-Replayed", "true")
		writeBody(w, rep.Status, rep.ContentType, rep.Body)
		return nil
	}
	cw := &captureWriter{header: http.Header{}}
	if err := h(cw); err != nil {
		if !final(err) {
			return err
		}
		// The refusal is written through the one error table, into a fresh capture: what h
		// wrote before it failed is no part of the answer.
		cw = &captureWriter{header: http.Header{}}
		s.operatorError(cw, r, err)
	}
	if cw.status < 500 {
		if err := s.cfg.Idempotency.Put(r.Context(), key, idempotency.Reply{
			Status: cw.status, ContentType: cw.header.Get("Content-Type"), Body: cw.body.Bytes(),
		}); err != nil {
			return err
		}
	}
	for k, v := range cw.header {
		w.Header()[k] = v
	}
	w.WriteHeader(cw.status)
	_, _ = w.Write(cw.body.Bytes())
	return nil
}

// final reports whether a refusal is the request's answer for good: a 4xx that does not
// ask the client to come back later.
func final(err error) bool {
	var tm *tooManyAttempts
	status, _, _ := operatorStatus(err)
	return status < 500 && !errors.As(err, &tm) && !errors.Is(err, eventstore.ErrTooManyConflicts)
}

// captureWriter keeps a handler's answer so that it can be remembered before it is sent.
type captureWriter struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (c *captureWriter) Header() http.Header { return c.header }
func (c *captureWriter) WriteHeader(status int) {
	if c.status == 0 {
		c.status = status
	}
}
func (c *captureWriter) Write(b []byte) (int, error) {
	if c.status == 0 {
		c.status = http.StatusOK
	}
	return c.body.Write(b)
}
