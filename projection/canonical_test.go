package projection

import (
	"bytes"
	"cmp"
	"fmt"
	"maps"
	"slices"
)

// Canonical returns a deterministic text dump of all the model's queryable state: every open
// case with every field it keeps, the caseId index, and the order of every index. Two models
// that answer every query alike have equal dumps; tests compare a model folded event by event
// with one rebuilt from the log.
func (m *Model) Canonical() []byte {
	m.mu.RLock()
	defer m.mu.RUnlock()
	var b bytes.Buffer
	fmt.Fprintf(&b, "lastSeq %d skipped %d\n", m.lastSeq, m.skipped)
	for _, id := range slices.Sorted(maps.Keys(m.cases)) {
		c := m.cases[id]
		fmt.Fprintf(&b, "case %d %q ticket=%q/%q/%d type=%q cat=%q unit=%q inbox=%q status=%q assignedTo=%q lockedBy=%q group=%q channel=%q entry=%q ws=%q dates=%d/%d/%d/%d activeSeq=%d waitSeq=%d openedBy=%q",
			c.id, c.caseID, c.ticketPrefix.Value(), c.ticketSuffix.Value(), c.ticketNumber,
			c.serviceType.Value(), c.category.Value(), c.unit.Value(), c.inbox.Value(), c.status.Value(),
			c.assignedTo.Value(), c.lockedBy.Value(), c.group.Value(), c.channel.Value(), c.entryMode.Value(),
			c.workstation.Value(), c.statusDate, c.referenceDate, c.dateOpened, c.caseTimestamp, c.activeSeq, c.waitSeq, c.openedBy.Value())
		if x := c.extra; x != nil {
			fmt.Fprintf(&b, " phone=%q email=%q", x.contactPhoneNumber, x.contactEmail)
			if x.customer != nil {
				fmt.Fprintf(&b, " customer=%q/%q/%q", x.customer.DataTableID, x.customer.RecordID, x.customer.DisplayName)
			}
		}
		b.WriteByte('\n')
	}
	ids := make([]string, 0, len(m.byUUID)+len(m.byCaseID))
	for u, id := range m.byUUID {
		ids = append(ids, fmt.Sprintf("caseId %s %d\n", u, id))
	}
	for s, id := range m.byCaseID {
		ids = append(ids, fmt.Sprintf("caseId %q %d\n", s, id))
	}
	slices.Sort(ids)
	for _, s := range ids {
		b.WriteString(s)
	}
	activeKeys := slices.SortedFunc(maps.Keys(m.active), func(a, b agentUnit) int {
		return cmp.Or(cmp.Compare(a.agent.Value(), b.agent.Value()), cmp.Compare(a.unit.Value(), b.unit.Value()))
	})
	for _, k := range activeKeys {
		fmt.Fprintf(&b, "active %q %q", k.agent.Value(), k.unit.Value())
		for _, c := range m.active[k] {
			fmt.Fprintf(&b, " %d", c.id)
		}
		b.WriteByte('\n')
	}
	ops := slices.SortedFunc(maps.Keys(m.assigned), func(a, b str) int { return cmp.Compare(a.Value(), b.Value()) })
	for _, op := range ops {
		fmt.Fprintf(&b, "assigned %q %v\n", op.Value(), m.assigned[op])
	}
	openers := slices.SortedFunc(maps.Keys(m.opened), func(a, b str) int { return cmp.Compare(a.Value(), b.Value()) })
	for _, op := range openers {
		fmt.Fprintf(&b, "opened %q %v\n", op.Value(), m.opened[op])
	}
	refs := slices.SortedFunc(maps.Keys(m.queues), func(a, b queueRef) int {
		if a.group != b.group {
			if a.group {
				return 1
			}
			return -1
		}
		return cmp.Compare(a.name.Value(), b.name.Value())
	})
	for _, ref := range refs {
		kind := "inbox"
		if ref.group {
			kind = "group"
		}
		fmt.Fprintf(&b, "queue %s %q", kind, ref.name.Value())
		for _, e := range m.queues[ref].all() {
			fmt.Fprintf(&b, " %d@%d/%d", e.id, e.ts, e.seq)
		}
		b.WriteByte('\n')
	}
	return b.Bytes()
}
