package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"strings"
	"testing"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/casestream/casestream/events"
	"github.com/casestream/casestream/internal/files"
)

// upload is one multipart upload: a part named field (normally "file") with the given file
// name, content type and bytes.
type upload struct {
	field, filename, contentType string
	data                         []byte
	headers                      map[string]string
	email, password              string
}

// upload posts u to the case as a multipart body streamed from a pipe, as a client with a
// file on disk would.
func (c *client) upload(id int64, u upload) (int, []byte) {
	c.t.Helper()
	pr, pw := io.Pipe()
	mw := multipart.NewWriter(pw)
	go func() {
		h := textproto.MIMEHeader{}
		h.Set("Content-Disposition", fmt.Sprintf(`form-data; name=%q; filename=%q`, u.field, u.filename))
		if u.contentType != "" {
			h.Set("Content-Type", u.contentType)
		}
		part, err := mw.CreatePart(h)
		if err == nil {
			_, err = part.Write(u.data)
		}
		if err == nil {
			err = mw.Close()
		}
		pw.CloseWithError(err)
	}()
	hr, err := http.NewRequest("POST", fmt.Sprintf("%s/api/v4/cases/%d/files?%s", c.base, id, tpQuery), pr)
	if err != nil {
		c.t.Fatal(err)
	}
	hr.Header.Set("Content-Type", mw.FormDataContentType())
	for k, v := range u.headers {
		hr.Header.Set(k, v)
	}
	email, pw2 := u.email, u.password
	if email == "" {
		email, pw2 = alice, alicePW
	}
	hr.SetBasicAuth(email, pw2)
	resp, err := c.hc.Do(hr)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		c.t.Fatal(err)
	}
	return resp.StatusCode, b
}

// uploaded uploads u and returns the new attachment's id.
func (c *client) uploaded(id int64, u upload) string {
	c.t.Helper()
	st, b := c.upload(id, u)
	if st != http.StatusCreated {
		c.t.Fatalf("upload: got %d %s, want 201", st, b)
	}
	var out struct {
		Attachment struct {
			ID string `json:"id"`
		} `json:"attachment"`
	}
	mustJSON(c.t, b, &out)
	return out.Attachment.ID
}

// streamState returns the message count and bytes of a stream.
func streamState(t testing.TB, m *Main, name string) (msgs, size uint64) {
	t.Helper()
	st := streamInfo(t, m, name).State
	return st.Msgs, st.Bytes
}

const filesStream = "OBJ_" + files.Bucket

func randomBytes(n int, seed int64) []byte {
	b := make([]byte, n)
	rand.New(rand.NewSource(seed)).Read(b)
	return b
}

// TestUploadDownloadFiveMB uploads 5 MB through the HTTP stack and reads the same bytes back;
// the case's log grows by the event's metadata only.
func TestUploadDownloadFiveMB(t *testing.T) {
	t.Parallel()
	m, c := startClient(t)
	id := c.openCase("ACCOUNTS", "OPEN_ACCOUNT")
	data := randomBytes(5_000_000, 1)
	_, before := streamState(t, m, events.StreamCases)
	fileID := c.uploaded(id, upload{field: "file", filename: `C:\scans\passport scan.pdf`, contentType: "application/pdf", data: data})
	_, after := streamState(t, m, events.StreamCases)
	if grew := after - before; grew >= 2048 {
		t.Errorf("CASES grew by %d bytes for the upload, want under 2048", grew)
	} else {
		t.Logf("CASES grew by %d bytes for a 5,000,000-byte file", grew)
	}
	if n := caseEvents(t, m, id); n != 2 {
		t.Errorf("case events: got %d, want 2 (opened, fileAttached)", n)
	}

	st, b, h := c.do(asOperator(alice, alicePW, "GET", "/cases/files/"+fileID, ""))
	if st != http.StatusOK || !bytes.Equal(b, data) {
		t.Fatalf("download: got %d and %d bytes (equal: %v), want 200 and the %d bytes uploaded", st, len(b), bytes.Equal(b, data), len(data))
	}
	for k, want := range map[string]string{
		"Content-Type":           "application/pdf",
		"Content-Length":         "5000000",
		"Content-Disposition":    `attachment; filename="passport scan.pdf"`,
		"X-Content-Type-Options": "nosniff",
	} {
		if got := h.Get(k); got != want {
			t.Errorf("%s: got %q, want %q", k, got, want)
		}
	}

	// The case object lists it under the vendor's spelling.
	st, b, _ = c.do(asOperator(alice, alicePW, "GET", fmt.Sprintf("/cases/%d", id), ""))
	if st != http.StatusOK {
		t.Fatalf("get case: got %d %s", st, b)
	}
	var cs struct {
		Attachements []struct {
			ID             string `json:"id"`
			CaseInstanceID int64  `json:"caseInstanceId"`
			Name           string `json:"name"`
			ContentType    string `json:"contentType"`
			Size           int64  `json:"size"`
			Digest         string `json:"digest"`
			Date           string `json:"date"`
		} `json:"attachements"`
	}
	mustJSON(t, b, &cs)
	if len(cs.Attachements) != 1 {
		t.Fatalf("attachements: got %s, want one", b)
	}
	a := cs.Attachements[0]
	if a.ID != fileID || a.CaseInstanceID != id || a.Name != "passport scan.pdf" || a.ContentType != "application/pdf" || a.Size != 5_000_000 || !strings.HasPrefix(a.Digest, "SHA-256=") || a.Date == "" {
		t.Errorf("attachement: got %+v", a)
	}
}

// TestUploadLimit refuses a file over -max-attachment-bytes with 413 and writes nothing: no
// object chunk, no event.
func TestUploadLimit(t *testing.T) {
	t.Parallel()
	const limit = 1 << 20
	m, c := startClient(t, func(c *Config) { c.MaxAttachmentBytes = limit })
	id := c.openCase("ACCOUNTS", "OPEN_ACCOUNT")
	tooLarge := `{"errors":{"file":"tooLarge"}}`
	for _, tt := range []struct {
		name string
		size int
	}{
		{"one byte over", limit + 1},
		{"far over, refused before reading", 3 * limit},
	} {
		t.Run(tt.name, func(t *testing.T) {
			st, b := c.upload(id, upload{field: "file", filename: "big.bin", data: make([]byte, tt.size)})
			if st != http.StatusRequestEntityTooLarge || !sameJSON(b, []byte(tooLarge)) {
				t.Fatalf("got %d %s, want 413 %s", st, b, tooLarge)
			}
			if msgs, _ := streamState(t, m, filesStream); msgs != 0 {
				t.Errorf("the files bucket holds %d messages, want 0", msgs)
			}
			if n := caseEvents(t, m, id); n != 1 {
				t.Errorf("case events: got %d, want 1", n)
			}
		})
	}
	t.Run("at the limit", func(t *testing.T) {
		c.uploaded(id, upload{field: "file", filename: "ok.bin", data: make([]byte, limit)})
	})
}

// TestUploadRefusals: each refusal is the operator API's error shape and writes nothing.
func TestUploadRefusals(t *testing.T) {
	t.Parallel()
	m, c := startClient(t)
	open := c.openCase("ACCOUNTS", "OPEN_ACCOUNT")
	complaint := c.openCase("SUPPORT", "COMPLAINT") // bob may not handle complaints
	closed := c.openCase("ACCOUNTS", "LOST_CARD")
	c.transition(closed, "Closed")
	file := upload{field: "file", filename: "a.txt", contentType: "text/plain", data: []byte("hello")}
	other := file
	other.field = "document"
	empty := file
	empty.data = nil
	asBob := file
	asBob.email, asBob.password = bob, bobPW
	for _, tt := range []struct {
		name   string
		id     int64
		u      upload
		status int
		want   string
	}{
		{"no such case", 999999, file, 400, `{"errors":{"case":"invalidId"}}`},
		{"caller may not act on the case", complaint, asBob, 400, `{"errors":{"case":"invalidId"}}`},
		{"closed case", closed, file, 400, `{"errors":{"case":"statusIsAlreadyClose"}}`},
		{"no part named file", open, other, 400, `{"errors":{"file":"empty.file"}}`},
		{"empty file", open, empty, 400, `{"errors":{"file":"empty.file"}}`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			st, b := c.upload(tt.id, tt.u)
			if st != tt.status || !sameJSON(b, []byte(tt.want)) {
				t.Fatalf("got %d %s, want %d %s", st, b, tt.status, tt.want)
			}
		})
	}
	for _, tt := range []struct {
		name, contentType, body, want string
	}{
		{"not multipart", jsonCT, `{"file":"aGVsbG8="}`, `{"errors":{"body":"unsupportedContentType"}}`},
		{"no boundary", "multipart/form-data", "--x\r\n", `{"errors":{"body":"unsupportedContentType"}}`},
		{"cut short", "multipart/form-data; boundary=x", "--x\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a\"\r\n\r\nhello", `{"errors":{"body":"malformed"}}`},
		{"no part at all", "multipart/form-data; boundary=x", "hello", `{"errors":{"file":"empty.file"}}`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			q := asOperator(alice, alicePW, "POST", fmt.Sprintf("/cases/%d/files", open), tt.body)
			q.contentType = tt.contentType
			st, b, _ := c.do(q)
			if st != http.StatusBadRequest || !sameJSON(b, []byte(tt.want)) {
				t.Fatalf("got %d %s, want 400 %s", st, b, tt.want)
			}
		})
	}
	if msgs, _ := streamState(t, m, filesStream); msgs != 0 {
		t.Errorf("after refusals the files bucket holds %d messages, want 0", msgs)
	}
	for _, id := range []int64{open, complaint} {
		if n := caseEvents(t, m, id); n != 1 {
			t.Errorf("case %d: got %d events, want 1", id, n)
		}
	}
}

// TestDownloadRights: a file is served only to an operator who may read its case, and an
// unknown id, a removed file and someone else's file are refused alike.
func TestDownloadRights(t *testing.T) {
	t.Parallel()
	_, c := startClient(t)
	complaint := c.openCase("SUPPORT", "COMPLAINT") // bob may not handle complaints
	fileID := c.uploaded(complaint, upload{field: "file", filename: "note.txt", contentType: "text/plain", data: []byte("secret")})
	invalid := `{"errors":{"file":"invalidId"}}`
	for _, tt := range []struct {
		name    string
		q       req
		status  int
		want    string
		wantRaw string
	}{
		{"owner", asOperator(alice, alicePW, "GET", "/cases/files/"+fileID, ""), 200, "", "secret"},
		{"operator who may not read the case", asOperator(bob, bobPW, "GET", "/cases/files/"+fileID, ""), 400, invalid, ""},
		{"unknown id", asOperator(alice, alicePW, "GET", "/cases/files/0c1d2e3f-0000-4000-8000-000000000000", ""), 400, invalid, ""},
		{"no operator", req{method: "GET", path: "/api/v4/cases/files/" + fileID + "?" + tpQuery}, 401, `{"errors":{"error.message":"UNAUTHORIZED"}}`, ""},
		{"wrong password", asOperator(alice, "nope", "GET", "/cases/files/"+fileID, ""), 401, `{"errors":{"credential":"NotMatchAnyPrincipal"}}`, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			st, b, _ := c.do(tt.q)
			if st != tt.status {
				t.Fatalf("got %d %s, want %d", st, b, tt.status)
			}
			if tt.want != "" && !sameJSON(b, []byte(tt.want)) {
				t.Fatalf("got %s, want %s", b, tt.want)
			}
			if tt.wantRaw != "" && string(b) != tt.wantRaw {
				t.Fatalf("got %q, want %q", b, tt.wantRaw)
			}
		})
	}
}

// TestDeleteThenDownload removes a file: an event, the bytes deleted, and the file gone from
// the case and from downloads.
func TestDeleteThenDownload(t *testing.T) {
	t.Parallel()
	m, c := startClient(t)
	id := c.openCase("ACCOUNTS", "OPEN_ACCOUNT")
	keep := c.uploaded(id, upload{field: "file", filename: "keep.txt", data: []byte("keep")})
	gone := c.uploaded(id, upload{field: "file", filename: "gone.txt", data: []byte("gone")})
	b := c.expect(http.StatusOK, asOperator(alice, alicePW, "DELETE", fmt.Sprintf("/cases/%d/files/%s", id, gone), ""))
	var out struct {
		Case struct {
			Attachements []struct {
				ID string `json:"id"`
			} `json:"attachements"`
		} `json:"case"`
	}
	mustJSON(t, b, &out)
	if len(out.Case.Attachements) != 1 || out.Case.Attachements[0].ID != keep {
		t.Fatalf("after delete the case lists %s, want only %s", b, keep)
	}
	if n := caseEvents(t, m, id); n != 4 {
		t.Errorf("case events: got %d, want 4 (opened, two attached, removed)", n)
	}
	invalid := `{"errors":{"file":"invalidId"}}`
	if st, b, _ := c.do(asOperator(alice, alicePW, "GET", "/cases/files/"+gone, "")); st != 400 || !sameJSON(b, []byte(invalid)) {
		t.Fatalf("download after delete: got %d %s, want 400 %s", st, b, invalid)
	}
	if st, b, _ := c.do(asOperator(alice, alicePW, "DELETE", fmt.Sprintf("/cases/%d/files/%s", id, gone), "")); st != 400 || !sameJSON(b, []byte(invalid)) {
		t.Fatalf("delete again: got %d %s, want 400 %s", st, b, invalid)
	}
	if st, b, _ := c.do(asOperator(alice, alicePW, "GET", "/cases/files/"+keep, "")); st != 200 || string(b) != "keep" {
		t.Fatalf("the other file: got %d %q, want 200 %q", st, b, "keep")
	}
	// The removed file's bytes are deleted: only its deletion marker is left in the bucket.
	obs, err := jetStream(t, m).ObjectStore(context.Background(), files.Bucket)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := obs.GetInfo(context.Background(), gone); !errors.Is(err, jetstream.ErrObjectNotFound) {
		t.Fatalf("the removed file's object: got %v, want %v", err, jetstream.ErrObjectNotFound)
	}
}

func TestMaxAttachmentBytesFlag(t *testing.T) {
	t.Parallel()
	checkFlag(t, func(c Config) int64 { return c.MaxAttachmentBytes }, []flagCase[int64]{
		{"default", nil, nil, files.DefaultMaxBytes, false},
		{"environment", nil, map[string]string{"CASESTREAM_MAX_ATTACHMENT_BYTES": "2048"}, 2048, false},
		{"flag wins", []string{"-max-attachment-bytes", "4096"}, map[string]string{"CASESTREAM_MAX_ATTACHMENT_BYTES": "2048"}, 4096, false},
		{"not a number", nil, map[string]string{"CASESTREAM_MAX_ATTACHMENT_BYTES": "10MiB"}, 0, true},
		{"zero", []string{"-max-attachment-bytes", "0"}, nil, 0, true},
	})
}
