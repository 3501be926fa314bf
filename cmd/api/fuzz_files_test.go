package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"testing"
)

// FuzzFileAPI sends arbitrary uploads, note edits and file ids through the whole stack: no
// input may produce a 5xx, every refusal is in the operator API's error shape, and a
// successful upload reads back as the bytes of its part.
func FuzzFileAPI(f *testing.F) {
	const b = "multipart/form-data; boundary=x"
	for _, s := range []struct{ call, ct, body string }{
		{"files", b, "--x\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.txt\"\r\nContent-Type: text/plain\r\n\r\nhello\r\n--x--\r\n"},
		{"files", b, "--x\r\nContent-Disposition: form-data; name=\"file\"; filename=\"..\\\\\x01\"\r\nContent-Type: ;;\r\n\r\nhello\r\n--x--\r\n"},
		{"files", b, "--x\r\nContent-Disposition: form-data; name=\"other\"\r\n\r\nv\r\n--x\r\nContent-Disposition: form-data; name=\"file\"\r\n\r\n\r\n--x--\r\n"},
		{"files", b, "--x\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a\"\r\n\r\nhel"},
		{"files", "multipart/form-data", "--x\r\n"},
		{"files", jsonCT, `{}`},
		{"notes", jsonCT, `{"id":1,"description":"edited"}`},
		{"notes", jsonCT, `{"id":"1","description":"edited"}`},
		{"notes", jsonCT, `{"id":1e300,"description":"x"}`},
		{"notes", jsonCT, `{"id":[1],"description":"x"}`},
		{"download", "", "0c1d2e3f-0000-4000-8000-000000000000"},
		{"download", "", "../1/notes"},
		{"delete", "", "%00"},
	} {
		f.Add(s.call, s.ct, s.body)
	}
	_, c := startClient(f)
	id := c.openCase("ACCOUNTS", "OPEN_ACCOUNT")
	c.expect(http.StatusCreated, asOperator(alice, alicePW, "POST", fmt.Sprintf("/cases/%d/notes", id), `{"description":"first"}`))
	f.Fuzz(func(t *testing.T, call, ct, body string) {
		c.t = t
		var r req
		switch call {
		case "files":
			r = asOperator(alice, alicePW, "POST", fmt.Sprintf("/cases/%d/files", id), body)
			r.contentType = ct
		case "notes":
			r = asOperator(alice, alicePW, "PUT", fmt.Sprintf("/cases/%d/notes", id), body)
			r.contentType = ct
		case "download":
			r = asOperator(alice, alicePW, "GET", "/cases/files/"+url.PathEscape(body), "")
		case "delete":
			r = asOperator(alice, alicePW, "DELETE", fmt.Sprintf("/cases/%d/files/%s", id, url.PathEscape(body)), "")
		default:
			return
		}
		if r.body == "" && r.method != "GET" && r.method != "DELETE" {
			r.headers = map[string]string{"Content-Type": ct}
		}
		st, b, _, err := c.try(r)
		if err != nil {
			t.Skip("not a request an HTTP client sends:", err)
		}
		if st >= 500 {
			t.Fatalf("%s %s %q: got %d %s", r.method, r.path, body, st, b)
		}
		if st >= 400 {
			var e struct {
				Errors map[string]string `json:"errors"`
			}
			if err := json.Unmarshal(b, &e); err != nil || len(e.Errors) != 1 {
				t.Fatalf("%s %s: error body %s is not {\"errors\":{key:code}}", r.method, r.path, b)
			}
		}
		if call == "files" && st == http.StatusCreated {
			var out struct {
				Attachment struct {
					ID   string `json:"id"`
					Size int64  `json:"size"`
				} `json:"attachment"`
			}
			mustJSON(t, b, &out)
			st, got, _ := c.do(asOperator(alice, alicePW, "GET", "/cases/files/"+out.Attachment.ID, ""))
			if st != http.StatusOK || int64(len(got)) != out.Attachment.Size {
				t.Fatalf("download of %s: got %d and %d bytes, want 200 and %d", out.Attachment.ID, st, len(got), out.Attachment.Size)
			}
		}
	})
}
