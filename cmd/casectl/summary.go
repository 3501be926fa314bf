package main

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/casestream/casestream/events"
	"github.com/casestream/casestream/internal/directory"
)

// operatorName is an operator as a reader knows them: display name and email, or the
// userId when the directory has no such operator.
func operatorName(dir *directory.Directory, userID string) string {
	if userID == "" {
		return "nobody"
	}
	op, ok := dir.Operator(userID)
	if !ok {
		return "unknown operator " + userID
	}
	return fmt.Sprintf("%s <%s>", op.DisplayName, op.Email)
}

// actorName is who caused an event, in words.
func actorName(dir *directory.Directory, a events.Actor) string {
	switch a.Kind {
	case events.ActorOperator:
		return operatorName(dir, a.ID)
	case events.ActorApplication:
		if app, ok := dir.Application(a.ID); ok {
			return "application " + app.ClientID
		}
		return "application " + a.ID
	case events.ActorSystem:
		if a.ID != "" {
			return "system (" + a.ID + ")"
		}
		return "system"
	}
	return a.Kind + " " + a.ID
}

func assignmentName(dir *directory.Directory, a events.Assignment) string {
	switch {
	case a.OperatorID != "":
		return operatorName(dir, a.OperatorID)
	case a.GroupName != "":
		return "group " + a.GroupName
	}
	return "nobody"
}

func typeName(dir *directory.Directory, serviceTypeID string) string {
	if st, ok := dir.ServiceType(serviceTypeID); ok {
		return st.Code + " (" + st.Name + ")"
	}
	return "unknown type " + serviceTypeID
}

// quote shortens a free text to one line for a summary.
func quote(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > 60 {
		s = string(r[:57]) + "..."
	}
	return fmt.Sprintf("%q", s)
}

// summary says what a case event did, in one line, with names from dir.
func summary(dir *directory.Directory, ev events.Event) string {
	switch e := ev.(type) {
	case events.CaseOpened:
		s := fmt.Sprintf("opened as %s, %s", typeName(dir, e.ServiceTypeID), e.Status)
		if svc, ok := dir.Service(e.ServiceID); ok {
			s += " in " + svc.Name
		}
		s += fmt.Sprintf(", ticket %s%d", e.Ticket.Prefix, e.Ticket.Number)
		if e.AssignedGroup != "" {
			s += ", routed to group " + e.AssignedGroup
		}
		if n := len(e.Comments); n > 0 {
			s += fmt.Sprintf(", %d comment(s)", n)
		}
		return s
	case events.CaseAssigned:
		return fmt.Sprintf("assigned to %s (was %s), now %s", assignmentName(dir, e.To), assignmentName(dir, e.Previous), e.Status)
	case events.CaseServiceStarted:
		return "taken by " + operatorName(dir, e.AgentID) + " (start-next), now Active"
	case events.CaseStatusChanged:
		return fmt.Sprintf("status %s -> %s", e.From, e.To)
	case events.CaseResolved:
		s := fmt.Sprintf("resolved (was %s)", e.From)
		if e.Resolution != "" {
			s += ", resolution " + e.Resolution
		}
		return s
	case events.CaseClosed:
		return fmt.Sprintf("closed (was %s)", e.From)
	case events.CaseNoteAdded:
		return fmt.Sprintf("note %d added: %s", e.NoteID, quote(e.Description))
	case events.CaseNoteEdited:
		return fmt.Sprintf("note %d edited: %s", e.NoteID, quote(e.Description))
	case events.CaseUpdated:
		var parts []string
		if e.ServiceTypeID != "" {
			parts = append(parts, "type changed to "+typeName(dir, e.ServiceTypeID))
		}
		if e.CaseData != nil {
			parts = append(parts, "custom fields replaced")
		}
		return "updated: " + strings.Join(parts, ", ")
	case events.CaseFileAttached:
		return fmt.Sprintf("file %s attached (%s, %d bytes)", quote(e.Name), e.FileID, e.Size)
	case events.CaseFileRemoved:
		return "file " + e.FileID + " removed"
	case nil:
		return "an event of a type this casectl does not know"
	}
	return ev.EventType()
}

// directorySummary says what a directory event set, in one line.
func directorySummary(ev events.Event) string {
	switch e := ev.(type) {
	case events.Operator:
		return fmt.Sprintf("operator %s <%s>, blocked %t, types %v, units %v, roles %v", e.DisplayName, e.Email, e.Blocked, e.ServiceTypes, e.Units, e.Roles)
	case events.OperatorGroup:
		return fmt.Sprintf("group %s, members %v", e.Name, e.Members)
	case events.Unit:
		return "unit " + e.Name
	case events.Inbox:
		return "inbox " + e.Name + " in unit " + e.UnitID
	case events.Workspace:
		return fmt.Sprintf("workspace %s in unit %s, inboxes %v", e.Name, e.UnitID, e.InboxIDs)
	case events.Service:
		return "service " + e.Name + ", prefix " + e.TicketPrefix
	case events.ServiceCategory:
		return "category " + e.Code + " (" + e.Name + ")"
	case events.ServiceType:
		s := "type " + e.Code + " (" + e.Name + ")"
		if e.OperatorGroup != "" {
			s += ", routed to group " + e.OperatorGroup
		}
		return s
	case events.Touchpoint:
		return "touchpoint " + e.Code
	case events.Application:
		return fmt.Sprintf("application %s, roles %v", e.ClientID, e.Roles)
	case events.SecretChanged:
		return "secret of " + e.Kind + " " + e.ID + " set or changed (the log holds neither it nor its hash)"
	case events.AgentUnitSelected:
		return "current unit " + e.UnitID
	case events.AgentWorkspaceSelected:
		return "current workspace " + e.WorkspaceID
	case nil:
		return "an event of a type this casectl does not know"
	}
	return ev.EventType()
}

func unitName(dir *directory.Directory, unitID string) string {
	if u, ok := dir.Unit(unitID); ok {
		return u.Name + " (" + unitID + ")"
	}
	return "unknown unit " + unitID
}

func itoa(n int) string { return strconv.Itoa(n) }
