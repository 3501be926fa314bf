package httpapi

import (
	"bufio"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/gorilla/mux"

	"github.com/casestream/casestream/aggregate"
	"github.com/casestream/casestream/events"
	"github.com/casestream/casestream/internal/cases"
	"github.com/casestream/casestream/internal/files"
)

// multipartSlack is what an upload's body may hold beyond the file's own bytes: boundaries,
// part headers, small fields.
const multipartSlack = 64 << 10

// The operator API's refusals of file uploads.
var (
	// errFileTooLarge is 413, as the JSON body limit: the request is refused for its size.
	errFileTooLarge = &opError{http.StatusRequestEntityTooLarge, "file", "tooLarge"}
	// errFileEmpty is the vendor's pair for an upload without bytes (ThalamusErrors 1802).
	errFileEmpty = &opError{http.StatusBadRequest, "file", "empty.file"}
)

// attachment is the operator API's view of a file attached to a case, an element of the case
// object's attachements.
type attachment struct {
	ID             string    `json:"id"`
	CaseInstanceID int64     `json:"caseInstanceId"`
	Name           string    `json:"name"`
	ContentType    string    `json:"contentType"`
	Size           int64     `json:"size"`
	Digest         string    `json:"digest"`
	Date           time.Time `json:"date"`
}

func attachmentOf(caseInstanceID int64, a aggregate.Attachment) attachment {
	return attachment{
		ID: a.FileID, CaseInstanceID: caseInstanceID, Name: a.Name, ContentType: a.ContentType,
		Size: a.Size, Digest: a.Digest, Date: a.AttachedAt,
	}
}

// attachments is the case object's attachements: never null.
func attachments(c *aggregate.Case) []attachment {
	out := make([]attachment, 0, len(c.Attachments))
	for _, a := range c.Attachments {
		out = append(out, attachmentOf(c.CaseInstanceID, a))
	}
	return out
}

// noteID reads a note id given as a JSON number or a string of digits (PHP clients send
// either); anything else is 0, which no note has.
func noteID(raw json.RawMessage) int {
	var s string
	if json.Unmarshal(raw, &s) != nil {
		s = string(raw)
	}
	id, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil || id <= 0 {
		return 0
	}
	return id
}

func (s *Server) editNote(w http.ResponseWriter, r *http.Request, c caller) error {
	var body struct {
		ID          json.RawMessage `json:"id"`
		Description string          `json:"description"`
	}
	if err := readJSON(w, r, &body); err != nil {
		return err
	}
	if err := checkFields(field{"description", body.Description, MaxTextLen}); err != nil {
		return err
	}
	id := noteID(body.ID)
	cs, err := s.onCase(r, c, func(cs *aggregate.Case) ([]events.Event, error) {
		return cs.EditNote(id, body.Description)
	})
	if err != nil {
		return err
	}
	var cm comment
	for _, n := range cs.Notes {
		if n.ID == id {
			cm = comment{ID: n.ID, CaseInstanceID: cs.CaseInstanceID, Description: n.Description}
		}
	}
	return writeJSON(w, http.StatusCreated, map[string]any{"context": operatorContext(operatorBase(r), &c.operator), "comment": cm})
}

// uploadFile attaches the multipart part named "file" to the case. Its bytes are stored
// first, streamed into the object store; then the case.fileAttached event is appended. An
// object whose event never made it is an orphan: a refused command deletes it at once, and
// a retry with the same Idempotency-Key writes the same object and event again.
func (s *Server) uploadFile(w http.ResponseWriter, r *http.Request, c caller) error {
	if s.cfg.Files == nil {
		return errServiceUnavailable
	}
	// Refuse before reading a byte what the command would refuse after the upload.
	cs, err := s.readableCase(r, c)
	if err != nil {
		return err
	}
	id := cs.CaseInstanceID
	if err := cs.AcceptsChanges(); err != nil {
		return err
	}
	limit := s.maxAttachmentBytes()
	if r.ContentLength > limit+multipartSlack {
		// Unread, the body is not worth keeping the connection for.
		w.Header().Set("Connection", "close")
		return errFileTooLarge
	}
	r.Body = http.MaxBytesReader(w, r.Body, limit+multipartSlack)
	mr, err := r.MultipartReader()
	if err != nil {
		return errBodyContentType
	}
	part, err := filePart(mr)
	if err != nil {
		return err
	}
	body := bufio.NewReader(&bodyReader{part})
	if _, err := body.Peek(1); errors.Is(err, io.EOF) {
		return errFileEmpty
	} else if err != nil {
		return uploadError(err)
	}
	fileID := s.fileID(r, c, id)
	info, err := s.cfg.Files.Put(r.Context(), fileID, id, fileName(part.FileName()), contentType(part.Header.Get("Content-Type")), body, limit)
	if err != nil {
		return uploadError(err)
	}
	ev := events.CaseFileAttached{FileID: info.ID, Name: info.Name, Size: info.Size, ContentType: info.ContentType, Digest: info.Digest}
	cs, err = s.onCase(r, c, func(cs *aggregate.Case) ([]events.Event, error) {
		return cs.AttachFile(ev)
	})
	var refused *aggregate.Error
	if errors.As(err, &refused) {
		// Nothing was appended: the object would be an orphan.
		if derr := s.cfg.Files.Delete(r.Context(), fileID); derr != nil {
			s.log.Warn("orphan file left", "file", fileID, "case", id, "err", derr)
		}
	}
	if err != nil {
		return err
	}
	a := attachment{}
	if i := cs.AttachmentIndex(fileID); i >= 0 {
		a = attachmentOf(cs.CaseInstanceID, cs.Attachments[i])
	}
	return writeJSON(w, http.StatusCreated, map[string]any{"context": operatorContext(operatorBase(r), &c.operator), "attachment": a})
}

func (s *Server) maxAttachmentBytes() int64 {
	if s.cfg.MaxAttachmentBytes > 0 {
		return s.cfg.MaxAttachmentBytes
	}
	return files.DefaultMaxBytes
}

// filePart returns the part named "file", skipping (and reading past) any other.
func filePart(mr *multipart.Reader) (*multipart.Part, error) {
	for {
		p, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			return nil, errFileEmpty
		}
		if err != nil {
			return nil, uploadError(&bodyError{err})
		}
		if p.FormName() == "file" {
			return p, nil
		}
		if _, err := io.Copy(io.Discard, p); err != nil {
			return nil, uploadError(&bodyError{err})
		}
	}
}

// bodyReader marks the errors of reading an upload's part, so that they are told apart from
// the object store's: a body cut short or not well-formed multipart is the client's fault.
type bodyReader struct{ r io.Reader }

// bodyError is a failed read of the request body.
type bodyError struct{ err error }

func (e *bodyError) Error() string { return "read body: " + e.err.Error() }
func (e *bodyError) Unwrap() error { return e.err }

func (b *bodyReader) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	if err != nil && err != io.EOF {
		err = &bodyError{err}
	}
	return n, err
}

// uploadError maps a failed upload to its refusal: too many bytes, or a body that could not
// be read as multipart. Anything else is the object store's failure.
func uploadError(err error) error {
	var tooLarge *http.MaxBytesError
	var body *bodyError
	switch {
	case errors.Is(err, files.ErrTooLarge), errors.As(err, &tooLarge):
		return errFileTooLarge
	case errors.As(err, &body):
		return errBodyMalformed
	}
	return err
}

// fileID is a new file's id: random, or derived from the request's Idempotency-Key so that
// a retry writes the same object and the same event.
func (s *Server) fileID(r *http.Request, c caller, caseInstanceID int64) string {
	key := r.Header.Get("Idempotency-Key")
	if key == "" {
		return uuid.NewString()
	}
	return uuid.NewSHA1(fileIDNamespace, []byte(strings.Join([]string{c.touchpoint, c.operator.UserID, strconv.FormatInt(caseInstanceID, 10), key}, "\x00"))).String()
}

// fileIDNamespace scopes the file ids derived from idempotency keys.
var fileIDNamespace = uuid.MustParse("0c4e8f2a-7b1d-4d36-a5e9-3f8b2c6d9e14")

// fileName keeps the last element of a client's file name (either slash), without control
// characters, at most 255 bytes; "file" when nothing is left.
func fileName(name string) string {
	if i := strings.LastIndexAny(name, `/\`); i >= 0 {
		name = name[i+1:]
	}
	name = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || r == utf8.RuneError {
			return -1
		}
		return r
	}, name)
	name = strings.TrimSpace(name)
	for len(name) > 255 {
		_, size := utf8.DecodeLastRuneInString(name)
		name = name[:len(name)-size]
	}
	if name == "" || name == "." || name == ".." {
		return "file"
	}
	return name
}

// contentType normalises a part's Content-Type; a missing or malformed one is
// application/octet-stream, as is one too long to be real.
func contentType(ct string) string {
	mt, params, err := mime.ParseMediaType(ct)
	if err != nil || len(ct) > 255 {
		return "application/octet-stream"
	}
	return mime.FormatMediaType(mt, params)
}

func (s *Server) removeFile(w http.ResponseWriter, r *http.Request, c caller) error {
	if s.cfg.Files == nil {
		return errServiceUnavailable
	}
	fileID := mux.Vars(r)["fileId"]
	cs, err := s.onCase(r, c, func(cs *aggregate.Case) ([]events.Event, error) {
		return cs.RemoveFile(fileID)
	})
	if err != nil {
		return err
	}
	// The event is stored: the bytes go now. Should that fail, they stay as an orphan that
	// no request can reach (a download needs the file attached).
	if err := s.cfg.Files.Delete(r.Context(), fileID); err != nil {
		s.log.Warn("orphan file left", "file", fileID, "case", cs.CaseInstanceID, "err", err)
	}
	return writeJSON(w, http.StatusOK, s.caseAnswer(r, &c.operator, &cs))
}

// downloadFile answers an attached file's bytes to an operator who may read its case.
// Unknown files, removed ones and files of cases the caller may not read are all refused
// alike, so that the answer does not tell which.
func (s *Server) downloadFile(w http.ResponseWriter, r *http.Request, c caller) error {
	if s.cfg.Files == nil {
		return errServiceUnavailable
	}
	fileID := mux.Vars(r)["attachmentId"]
	info, err := s.cfg.Files.Stat(r.Context(), fileID)
	if errors.Is(err, files.ErrNotFound) {
		return aggregate.ErrFileInvalidID
	}
	if err != nil {
		return err
	}
	cs, err := s.cfg.Cases.Get(r.Context(), info.CaseInstanceID)
	if err != nil && !errors.Is(err, cases.ErrNotFound) {
		return err
	}
	i := cs.AttachmentIndex(fileID)
	if err != nil || !cs.MayActOn(s.cfg.Directory, c.operator) || i < 0 {
		return aggregate.ErrFileInvalidID
	}
	a := cs.Attachments[i]
	rc, err := s.cfg.Files.Open(r.Context(), fileID)
	if errors.Is(err, files.ErrNotFound) {
		return aggregate.ErrFileInvalidID
	}
	if err != nil {
		return err
	}
	defer rc.Close()
	h := w.Header()
	h.Set("Content-Type", a.ContentType)
	h.Set("Content-Length", strconv.FormatInt(a.Size, 10))
	disposition := mime.FormatMediaType("attachment", map[string]string{"filename": a.Name})
	if disposition == "" {
		disposition = "attachment"
	}
	h.Set("Content-Disposition", disposition)
	// The bytes are the client's: never let a browser run them as this origin's content.
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Security-Policy", "sandbox")
	h.Set("Cache-Control", "private, no-store")
	w.WriteHeader(http.StatusOK)
	if _, err := io.Copy(w, rc); err != nil {
		// The status is sent: the client sees a short body.
		s.log.Error("download", "file", fileID, "err", err)
	}
	return nil
}
