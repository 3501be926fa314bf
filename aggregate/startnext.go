package aggregate

import (
	"errors"
	"slices"

	"github.com/casestream/casestream/events"
)

// The refusals of an agent's start-next, which the agent-impersonation API alone answers.
var (
	// ErrNoCurrentUnit refuses start-next to an agent without a current unit.
	ErrNoCurrentUnit = errors.New("aggregate: no current unit selected for the agent")
	// ErrNoWorkspace refuses start-next to an agent without a workspace in its current unit.
	ErrNoWorkspace = errors.New("aggregate: no workspace for the agent in its current unit")
	// ErrInboxNotInWorkspace refuses start-next from an inbox outside the agent's workspace.
	ErrInboxNotInWorkspace = errors.New("aggregate: the inbox is not one of the workspace's")
)

// Workspaces is what start-next reads of the directory: an agent's current unit and
// workspace, and the groups it belongs to.
type Workspaces interface {
	AgentState(userID string) (unitID, workspaceID string)
	Workspace(workspaceID string) (events.Workspace, bool)
	GroupsOf(userID string) []events.OperatorGroup
}

// Queues are where start-next takes a waiting case from: inboxes, and the queues of groups
// (a case assigned to a group waits there, not in its inbox).
type Queues struct {
	InboxIDs []string
	Groups   []string
}

// StartNextQueues decides where the agent's start-next looks. Its checks, the first failure
// wins: a current unit (ErrNoCurrentUnit), a workspace in it (ErrNoWorkspace), and inboxID,
// when given, one of the workspace's inboxes (ErrInboxNotInWorkspace). The queues are the
// workspace's inboxes (only inboxID when given) and the queues of the agent's groups.
func StartNextQueues(dir Workspaces, agentID, inboxID string) (Queues, error) {
	unitID, wsID := dir.AgentState(agentID)
	if unitID == "" {
		return Queues{}, ErrNoCurrentUnit
	}
	ws, ok := dir.Workspace(wsID)
	if !ok {
		return Queues{}, ErrNoWorkspace
	}
	q := Queues{InboxIDs: ws.InboxIDs}
	if inboxID != "" {
		if !slices.Contains(ws.InboxIDs, inboxID) {
			return Queues{}, ErrInboxNotInWorkspace
		}
		q.InboxIDs = []string{inboxID}
	}
	for _, g := range dir.GroupsOf(agentID) {
		q.Groups = append(q.Groups, g.Name)
	}
	return q, nil
}
