package aggregate

import (
	"errors"
	"reflect"
	"testing"

	"github.com/casestream/casestream/events"
)

// fakeWorkspaces is an agent's side of the directory for start-next's rule table.
type fakeWorkspaces struct {
	unit, workspace string
	workspaces      map[string]events.Workspace
	groups          []events.OperatorGroup
}

func (d fakeWorkspaces) AgentState(string) (string, string) { return d.unit, d.workspace }
func (d fakeWorkspaces) Workspace(id string) (events.Workspace, bool) {
	ws, ok := d.workspaces[id]
	return ws, ok
}
func (d fakeWorkspaces) GroupsOf(string) []events.OperatorGroup { return d.groups }

func TestStartNextQueues(t *testing.T) {
	ws := map[string]events.Workspace{"w1": {WorkspaceID: "w1", InboxIDs: []string{"i1", "i2"}}}
	groups := []events.OperatorGroup{{Name: "Tier 1"}, {Name: "Tier 2"}}
	tests := []struct {
		name    string
		dir     fakeWorkspaces
		inboxID string
		want    Queues
		wantErr error
	}{
		{"no unit", fakeWorkspaces{workspace: "w1", workspaces: ws}, "", Queues{}, ErrNoCurrentUnit},
		{"no unit before inbox", fakeWorkspaces{workspaces: ws}, "elsewhere", Queues{}, ErrNoCurrentUnit},
		{"no workspace", fakeWorkspaces{unit: "u1", workspaces: ws}, "", Queues{}, ErrNoWorkspace},
		{"unknown workspace", fakeWorkspaces{unit: "u1", workspace: "w9", workspaces: ws}, "i1", Queues{}, ErrNoWorkspace},
		{"inbox outside", fakeWorkspaces{unit: "u1", workspace: "w1", workspaces: ws}, "i3", Queues{}, ErrInboxNotInWorkspace},
		{"workspace inboxes", fakeWorkspaces{unit: "u1", workspace: "w1", workspaces: ws}, "", Queues{InboxIDs: []string{"i1", "i2"}}, nil},
		{"one inbox and groups", fakeWorkspaces{unit: "u1", workspace: "w1", workspaces: ws, groups: groups}, "i2",
			Queues{InboxIDs: []string{"i2"}, Groups: []string{"Tier 1", "Tier 2"}}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := StartNextQueues(tt.dir, "agent", tt.inboxID)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("got %v, want %v", err, tt.wantErr)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}
