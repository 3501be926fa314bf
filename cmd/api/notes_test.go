package main

import (
	"fmt"
	"net/http"
	"os"
	"testing"
)

// TestEditNoteContract runs the note edit's rules through the HTTP stack; refusals write
// nothing, and an edit to the same text writes nothing either.
func TestEditNoteContract(t *testing.T) {
	t.Parallel()
	m, c := startClient(t)
	id := c.openCase("ACCOUNTS", "OPEN_ACCOUNT")
	complaint := c.openCase("SUPPORT", "COMPLAINT") // bob may not handle complaints
	closed := c.openCase("ACCOUNTS", "LOST_CARD")
	for _, cid := range []int64{id, complaint, closed} {
		c.expect(http.StatusCreated, asOperator(alice, alicePW, "POST", fmt.Sprintf("/cases/%d/notes", cid), `{"description":"called back"}`))
	}
	c.transition(closed, "Closed")
	path := func(cid int64) string { return fmt.Sprintf("/cases/%d/notes", cid) }
	for _, tt := range []struct {
		name   string
		caller [2]string
		id     int64
		body   string
		status int
		want   string
	}{
		{"blank description", [2]string{alice, alicePW}, id, `{"id":1,"description":" "}`, 400, `{"errors":{"description":"missing"}}`},
		{"no description", [2]string{alice, alicePW}, id, `{"id":1}`, 400, `{"errors":{"description":"missing"}}`},
		{"unknown note", [2]string{alice, alicePW}, id, `{"id":2,"description":"x"}`, 400, `{"errors":{"id":"invalidId"}}`},
		{"no id", [2]string{alice, alicePW}, id, `{"description":"x"}`, 400, `{"errors":{"id":"invalidId"}}`},
		{"id not a number", [2]string{alice, alicePW}, id, `{"id":"one","description":"x"}`, 400, `{"errors":{"id":"invalidId"}}`},
		{"negative id", [2]string{alice, alicePW}, id, `{"id":-1,"description":"x"}`, 400, `{"errors":{"id":"invalidId"}}`},
		{"no such case", [2]string{alice, alicePW}, 999999, `{"id":1,"description":"x"}`, 400, `{"errors":{"case":"invalidId"}}`},
		{"caller may not act on the case", [2]string{bob, bobPW}, complaint, `{"id":1,"description":"x"}`, 400, `{"errors":{"case":"invalidId"}}`},
		{"closed case", [2]string{alice, alicePW}, closed, `{"id":1,"description":"x"}`, 400, `{"errors":{"case":"statusIsAlreadyClose"}}`},
		{"malformed body", [2]string{alice, alicePW}, id, `{"id":1,`, 400, `{"errors":{"error.message":"InvalidJson"}}`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			st, b, _ := c.do(asOperator(tt.caller[0], tt.caller[1], "PUT", path(tt.id), tt.body))
			if st != tt.status || !sameJSON(b, []byte(tt.want)) {
				t.Fatalf("got %d %s, want %d %s", st, b, tt.status, tt.want)
			}
		})
	}
	if n := caseEvents(t, m, id); n != 2 {
		t.Fatalf("after refusals the case has %d events, want 2", n)
	}
	t.Run("edits", func(t *testing.T) {
		st, b, _ := c.do(asOperator(alice, alicePW, "PUT", path(id), `{"id":1,"description":"called back twice"}`))
		if st != http.StatusCreated {
			t.Fatalf("got %d %s, want 201", st, b)
		}
		golden(t, "edit_note.golden", b)
		if n := caseEvents(t, m, id); n != 3 {
			t.Fatalf("case events: got %d, want 3", n)
		}
		st, b, _ = c.do(asOperator(alice, alicePW, "GET", fmt.Sprintf("/cases/%d", id), ""))
		var cs struct {
			Comments []comment `json:"comments"`
		}
		mustJSON(t, b, &cs)
		if st != http.StatusOK || len(cs.Comments) != 1 || cs.Comments[0].Description != "called back twice" {
			t.Fatalf("the case's comments: got %d %s", st, b)
		}
	})
	t.Run("the same text writes nothing", func(t *testing.T) {
		st, b, _ := c.do(asOperator(alice, alicePW, "PUT", path(id), `{"id":"1","description":"called back twice"}`))
		if st != http.StatusCreated || !sameJSON(b, mustRead(t, "testdata/edit_note.golden")) {
			t.Fatalf("got %d %s, want 201 and the same answer", st, b)
		}
		if n := caseEvents(t, m, id); n != 3 {
			t.Fatalf("case events: got %d, want 3", n)
		}
	})
}

// comment is a case object's comment.
type comment struct {
	ID             int    `json:"id"`
	CaseInstanceID int64  `json:"caseInstanceId"`
	Description    string `json:"description"`
}

func mustRead(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
