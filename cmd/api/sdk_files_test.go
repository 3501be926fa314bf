package main

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
)

// The requests below are byte for byte what the vendor's PHP SDK (ThalamusSDK 4.1.4) sends
// through PHP's curl: Caso::updateNote (a PUT with a JSON body), Caso::addFile (a POST whose
// parameters array ['file' => CURLFile] curl encodes as multipart/form-data, with its own
// boundary and, for a body this large, Expect: 100-continue), Caso::deleteFile (a DELETE
// that still carries the JSON of an empty PHP array) and Caso::getFileByAttachmentId.

const (
	sdkUserAgent = "thalamus-sdk-php-v2.0.1"
	curlBoundary = "------------------------3f5c2a9e1d7b4c60"
)

// sdkConn sends raw requests to the api, on one connection as curl does.
type sdkConn struct {
	t    testing.TB
	conn net.Conn
	r    *bufio.Reader
	host string
}

func dialSDK(t testing.TB, m *Main) *sdkConn {
	t.Helper()
	conn, err := net.Dial("tcp", m.Addr())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return &sdkConn{t: t, conn: conn, r: bufio.NewReader(conn), host: m.Addr()}
}

// head is the SDK's request line and headers, as curl orders them.
func (s *sdkConn) head(method, path string, extra ...string) string {
	auth := base64.StdEncoding.EncodeToString([]byte(alice + ":" + alicePW))
	h := method + " /api/v4" + path + "?" + tpQuery + " HTTP/1.1\r\n" +
		"Host: " + s.host + "\r\n" +
		"Authorization: Basic " + auth + "\r\n" +
		"Accept: */*\r\n" +
		"User-Agent: " + sdkUserAgent + "\r\n" +
		"Accept-Encoding: *\r\n"
	for _, e := range extra {
		h += e + "\r\n"
	}
	return h + "\r\n"
}

func (s *sdkConn) write(b []byte) {
	s.t.Helper()
	if _, err := s.conn.Write(b); err != nil {
		s.t.Fatal(err)
	}
}

func (s *sdkConn) response() (*http.Response, []byte) {
	s.t.Helper()
	resp, err := http.ReadResponse(s.r, nil)
	if err != nil {
		s.t.Fatal(err)
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		s.t.Fatal(err)
	}
	return resp, b
}

// jsonRequest is a request with a JSON body as the SDK sends it (Content-Type and
// Content-Length headers it sets itself).
func (s *sdkConn) jsonRequest(method, path, body string) (*http.Response, []byte) {
	s.t.Helper()
	s.write([]byte(s.head(method, path, "Content-Type: application/json", "Content-Length: "+strconv.Itoa(len(body))) + body))
	return s.response()
}

// addFile sends curl's multipart upload of a CURLFile, waiting for 100 Continue first as
// curl does, and returns the final answer.
func (s *sdkConn) addFile(id int64, filename, mimeType string, data []byte) (*http.Response, []byte) {
	s.t.Helper()
	var body bytes.Buffer
	body.WriteString("--" + curlBoundary + "\r\n")
	body.WriteString(`Content-Disposition: form-data; name="file"; filename="` + filename + "\"\r\n")
	body.WriteString("Content-Type: " + mimeType + "\r\n\r\n")
	body.Write(data)
	body.WriteString("\r\n--" + curlBoundary + "--\r\n")
	s.write([]byte(s.head("POST", fmt.Sprintf("/cases/%d/files", id),
		"Content-Length: "+strconv.Itoa(body.Len()),
		"Content-Type: multipart/form-data; boundary="+curlBoundary,
		"Expect: 100-continue")))
	resp, err := http.ReadResponse(s.r, nil)
	if err != nil {
		s.t.Fatal(err)
	}
	if resp.StatusCode != http.StatusContinue {
		b, _ := io.ReadAll(resp.Body)
		return resp, b
	}
	s.write(body.Bytes())
	return s.response()
}

func TestSDKFiles(t *testing.T) {
	t.Parallel()
	m, c := startClient(t)
	id := c.openCase("ACCOUNTS", "OPEN_ACCOUNT")
	s := dialSDK(t, m)

	// Caso::addNote, then Caso::updateNote: PHP's json_encode escapes slashes and non-ASCII.
	if resp, b := s.jsonRequest("POST", fmt.Sprintf("/cases/%d/notes", id), `{"description":"called back"}`); resp.StatusCode != http.StatusCreated {
		t.Fatalf("addNote: got %d %s", resp.StatusCode, b)
	}
	resp, b := s.jsonRequest("PUT", fmt.Sprintf("/cases/%d/notes", id), `{"id":1,"description":"called back \/ left a message at the caf\u00e9"}`)
	var note struct {
		Comment comment `json:"comment"`
	}
	mustJSON(t, b, &note)
	if want := (comment{ID: 1, CaseInstanceID: id, Description: "called back / left a message at the café"}); resp.StatusCode != http.StatusCreated || note.Comment != want {
		t.Fatalf("updateNote: got %d %s, want 201 with %+v", resp.StatusCode, b, want)
	}

	// Caso::addFile with new CURLFile($path, 'application/pdf', 'passport.pdf'), and with a
	// CURLFile without a type, which curl sends as application/octet-stream.
	pdf := randomBytes(2_000_000, 7)
	resp, b = s.addFile(id, "passport.pdf", "application/pdf", pdf)
	var added struct {
		Attachment struct {
			ID          string `json:"id"`
			Name        string `json:"name"`
			ContentType string `json:"contentType"`
			Size        int64  `json:"size"`
		} `json:"attachment"`
	}
	mustJSON(t, b, &added)
	if a := added.Attachment; resp.StatusCode != http.StatusCreated || a.Name != "passport.pdf" || a.ContentType != "application/pdf" || a.Size != int64(len(pdf)) || a.ID == "" {
		t.Fatalf("addFile: got %d %s", resp.StatusCode, b)
	}
	pdfID := added.Attachment.ID
	resp, b = s.addFile(id, "notes.bin", "application/octet-stream", []byte("\x00\x01 raw"))
	mustJSON(t, b, &added)
	if resp.StatusCode != http.StatusCreated || added.Attachment.ContentType != "application/octet-stream" {
		t.Fatalf("addFile without a type: got %d %s", resp.StatusCode, b)
	}
	rawID := added.Attachment.ID

	// Caso::getAttachments reads the case's attachements.
	s.write([]byte(s.head("GET", fmt.Sprintf("/cases/%d", id))))
	resp, b = s.response()
	var cs struct {
		Attachements []struct {
			ID string `json:"id"`
		} `json:"attachements"`
	}
	mustJSON(t, b, &cs)
	if resp.StatusCode != http.StatusOK || len(cs.Attachements) != 2 || cs.Attachements[0].ID != pdfID || cs.Attachements[1].ID != rawID {
		t.Fatalf("getAttachments: got %d %s", resp.StatusCode, b)
	}

	// Caso::getFileByAttachmentId.
	s.write([]byte(s.head("GET", "/cases/files/"+pdfID)))
	resp, b = s.response()
	if resp.StatusCode != http.StatusOK || !bytes.Equal(b, pdf) || resp.Header.Get("Content-Type") != "application/pdf" {
		t.Fatalf("getFileByAttachmentId: got %d, %d bytes, %q", resp.StatusCode, len(b), resp.Header.Get("Content-Type"))
	}

	// Caso::deleteFile: curl sends the JSON of the SDK's empty parameter array.
	resp, b = s.jsonRequest("DELETE", fmt.Sprintf("/cases/%d/files/%s", id, pdfID), `[]`)
	if resp.StatusCode != http.StatusOK || strings.Contains(string(b), pdfID) || !strings.Contains(string(b), rawID) {
		t.Fatalf("deleteFile: got %d %s", resp.StatusCode, b)
	}
	s.write([]byte(s.head("GET", "/cases/files/"+pdfID)))
	if resp, b = s.response(); resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("getFileByAttachmentId after deleteFile: got %d %s, want 400", resp.StatusCode, b)
	}
}

// TestSDKUploadRefusedBeforeTheBody: a refused upload is answered before curl sends the
// file, so no byte of it crosses the network.
func TestSDKUploadRefusedBeforeTheBody(t *testing.T) {
	t.Parallel()
	m := startAPI(t, t.TempDir())
	s := dialSDK(t, m)
	resp, b := s.addFile(999999, "passport.pdf", "application/pdf", []byte("%PDF-1.7"))
	if resp.StatusCode != http.StatusBadRequest || !sameJSON(b, []byte(`{"errors":{"case":"invalidId"}}`)) {
		t.Fatalf("got %d %s, want 400 case/invalidId without a 100 Continue", resp.StatusCode, b)
	}
}
