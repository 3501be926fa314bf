package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"slices"
	"strings"

	"github.com/google/uuid"

	"github.com/casestream/casestream/events"
	"github.com/casestream/casestream/internal/directory"
)

// kinds are the directory entity kinds, the <kind> of directory.<kind>.<id>.
var kinds = []string{
	events.KindUnit, events.KindInbox, events.KindWorkspace, events.KindService, events.KindServiceCategory,
	events.KindServiceType, events.KindOperator, events.KindGroup, events.KindTouchpoint, events.KindApplication,
	events.KindAgent,
}

// directoryCmd runs "directory history" and "directory show".
func (m *Main) directoryCmd(ctx context.Context, args []string) error {
	if len(args) == 0 {
		return usageError("directory history <kind> <id> | directory show [-at-time T] <kind> <id>")
	}
	switch args[0] {
	case "history":
		return m.directoryHistory(ctx, args[1:])
	case "show":
		return m.directoryShow(ctx, args[1:])
	}
	return usageError("unknown directory command %q: history or show", args[0])
}

// entitySubject parses <kind> <id> into the entity's subject.
func entitySubject(args []string) (string, error) {
	if len(args) != 2 {
		return "", usageError("give <kind> <id> (flags before them)")
	}
	kind, id := args[0], strings.TrimSpace(args[1])
	if !slices.Contains(kinds, kind) {
		return "", usageError("unknown kind %q: one of %s", kind, strings.Join(kinds, ", "))
	}
	if id == "" {
		return "", usageError("empty id")
	}
	if u, err := uuid.Parse(id); err == nil {
		id = u.String() // the directory keeps uuids canonical
	}
	return events.DirectorySubject(kind, events.SubjectToken(id)), nil
}

// redacted returns an event's data without its secrets' hashes (members named *Hash): an
// audit shows that a secret changed, never the secret.
func redacted(data json.RawMessage) json.RawMessage {
	var fields map[string]json.RawMessage
	if json.Unmarshal(data, &fields) != nil {
		return data
	}
	changed := false
	for k := range fields {
		if strings.HasSuffix(k, "Hash") {
			delete(fields, k)
			changed = true
		}
	}
	if !changed {
		return data
	}
	b, err := json.Marshal(fields)
	if err != nil {
		return data
	}
	return b
}

// entityEvents parses args with fs, flags then <kind> <id>, and reads every event of the
// directory entity they name.
func (m *Main) entityEvents(ctx context.Context, fs *flag.FlagSet, args []string) (string, []entry, error) {
	if err := fs.Parse(args); err != nil {
		return "", nil, err
	}
	subject, err := entitySubject(fs.Args())
	if err != nil {
		return "", nil, err
	}
	es, err := m.readAll(ctx, events.StreamDirectory, subject)
	return subject, es, err
}

// directoryHistory prints every event of one directory entity.
func (m *Main) directoryHistory(ctx context.Context, args []string) error {
	fs := m.subFlags("directory history")
	subject, es, err := m.entityEvents(ctx, fs, args)
	if err != nil {
		return err
	}
	if len(es) == 0 {
		return fmt.Errorf("no events on %s", subject)
	}
	return m.printHistory(ctx, es, "%8d  %s  %-32s %-30s %s", func(e entry, dir *directory.Directory) historyLine {
		line, ev := historyLineOf(e, dir, directorySummary)
		if ev != nil {
			line.Data = redacted(line.Data)
		}
		return line
	})
}

// agentView is an operator's agent state as directory show prints it.
type agentView struct {
	UserID      string `json:"userId"`
	UnitID      string `json:"currentUnitId"`
	WorkspaceID string `json:"selectedWorkspaceId"`
}

// directoryShow prints one directory entity as it was at a time (now by default): the
// data of its last "defined" event, or for an agent its folded state. Secret changes are
// in its history, not in the entity.
func (m *Main) directoryShow(ctx context.Context, args []string) error {
	fs := m.subFlags("directory show")
	var at timeFlag
	fs.Var(&at, "at-time", "show the entity as it was at this time (RFC 3339)")
	subject, es, err := m.entityEvents(ctx, fs, args)
	if err != nil {
		return err
	}
	var (
		last  json.RawMessage
		agent *agentView
		seq   uint64
	)
	for _, e := range es {
		if !at.t.IsZero() && e.Time.After(at.t) {
			break
		}
		env, ev, err := e.decoded()
		if err != nil || ev == nil {
			continue
		}
		seq = e.Seq
		switch x := ev.(type) {
		case events.AgentUnitSelected:
			if agent == nil || agent.UnitID != x.UnitID {
				agent = &agentView{UserID: x.UserID, UnitID: x.UnitID}
			}
		case events.AgentWorkspaceSelected:
			if agent == nil {
				agent = &agentView{UserID: x.UserID}
			}
			agent.WorkspaceID = x.WorkspaceID
		case events.SecretChanged:
			// The entity is as its last definition says; a secret is not part of it.
		default:
			last = redacted(env.Data)
		}
	}
	if seq == 0 {
		return fmt.Errorf("%s did not exist at that time", subject)
	}
	if agent != nil {
		return m.printValue(agent)
	}
	return m.printValue(last)
}
