package httpapi

import (
	"bytes"
	"net/http"

	"github.com/casestream/casestream/idempotency"
)

// idempotent answers a remembered reply, or runs h, answers, and remembers its reply when it
// is not a server error.
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
		return err
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
