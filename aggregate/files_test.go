package aggregate

import (
	"errors"
	"testing"

	"github.com/casestream/casestream/events"
)

func TestEditNote(t *testing.T) {
	withNote := opened(events.CaseNoteAdded{NoteID: 1, Description: "called back"})
	closed := opened(events.CaseNoteAdded{NoteID: 1, Description: "called back"}, events.CaseClosed{From: events.StatusWaiting})
	resolved := opened(events.CaseNoteAdded{NoteID: 1, Description: "called back"}, events.CaseResolved{From: events.StatusWaiting})
	tests := []struct {
		name        string
		c           Case
		id          int
		description string
		want        error
		events      int
	}{
		{"edits", withNote, 1, "called back twice", nil, 1},
		{"same description", withNote, 1, "called back", nil, 0},
		{"blank description", withNote, 1, "  ", ErrDescriptionMissing, 0},
		{"blank beats unknown note", withNote, 9, "", ErrDescriptionMissing, 0},
		{"unknown note", withNote, 2, "x", ErrNoteInvalidID, 0},
		{"zero id", withNote, 0, "x", ErrNoteInvalidID, 0},
		{"no notes", opened(), 1, "x", ErrNoteInvalidID, 0},
		{"unknown note beats closed", closed, 2, "x", ErrNoteInvalidID, 0},
		{"closed", closed, 1, "x", ErrAlreadyClosed, 0},
		{"resolved still edits", resolved, 1, "x", nil, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			evs, err := tt.c.EditNote(tt.id, tt.description)
			if !errors.Is(err, tt.want) || (tt.want == nil && err != nil) || len(evs) != tt.events {
				t.Fatalf("got %v, %v; want %d events, %v", evs, err, tt.events, tt.want)
			}
		})
	}
	evs, _ := withNote.EditNote(1, "called back twice")
	c := withNote.Clone()
	c.Apply(t0, evs[0])
	if got := c.Notes[0].Description; got != "called back twice" {
		t.Fatalf("after the edit got %q, want %q", got, "called back twice")
	}
	if got := withNote.Notes[0].Description; got != "called back" {
		t.Fatalf("the clone's edit changed the original: got %q", got)
	}
}

func TestFiles(t *testing.T) {
	f := events.CaseFileAttached{FileID: "f1", Name: "a.pdf", Size: 3, ContentType: "application/pdf", Digest: "SHA-256=x"}
	c := opened()
	evs, err := c.AttachFile(f)
	if err != nil || len(evs) != 1 {
		t.Fatalf("attach: got %v, %v; want one event", evs, err)
	}
	c.Apply(t0, evs[0])
	if len(c.Attachments) != 1 || c.Attachments[0].FileID != "f1" || c.Attachments[0].Size != 3 || !c.Attachments[0].AttachedAt.Equal(t0) {
		t.Fatalf("after attaching got %+v", c.Attachments)
	}
	if evs, err := c.AttachFile(f); err != nil || len(evs) != 0 {
		t.Fatalf("attaching the same file again: got %v, %v; want no event", evs, err)
	}
	if _, err := c.RemoveFile("f2"); !errors.Is(err, ErrFileInvalidID) {
		t.Fatalf("remove unknown: got %v, want %v", err, ErrFileInvalidID)
	}
	closed := c.Clone()
	closed.Apply(t0, events.CaseClosed{From: events.StatusWaiting})
	if _, err := closed.RemoveFile("f1"); !errors.Is(err, ErrAlreadyClosed) {
		t.Fatalf("remove from closed: got %v, want %v", err, ErrAlreadyClosed)
	}
	if _, err := closed.AttachFile(events.CaseFileAttached{FileID: "f3"}); !errors.Is(err, ErrAlreadyClosed) {
		t.Fatalf("attach to closed: got %v, want %v", err, ErrAlreadyClosed)
	}
	evs, err = c.RemoveFile("f1")
	if err != nil || len(evs) != 1 {
		t.Fatalf("remove: got %v, %v; want one event", evs, err)
	}
	c.Apply(t0, evs[0])
	if len(c.Attachments) != 0 {
		t.Fatalf("after removing got %+v, want none", c.Attachments)
	}
	if len(closed.Attachments) != 1 {
		t.Fatalf("removing from a clone changed another: got %+v", closed.Attachments)
	}
}
