package main

import (
	"context"
	"time"

	"github.com/casestream/casestream/events"
	"github.com/casestream/casestream/internal/eventstore"
	"github.com/casestream/casestream/projection"
)

// activeLine is one active case of an agent, as replay -agent prints it.
type activeLine struct {
	Rank           int       `json:"rank"`
	CaseInstanceID int64     `json:"caseInstanceId"`
	CaseID         string    `json:"caseId"`
	Ticket         string    `json:"ticket"`
	Type           string    `json:"type"`
	Status         string    `json:"status"`
	StatusDate     time.Time `json:"statusDate"`
}

// countLine is how many active cases an agent held in a unit, as replay prints it.
type countLine struct {
	AgentID string `json:"agentId"`
	Agent   string `json:"agent"`
	UnitID  string `json:"unitId"`
	Unit    string `json:"unit"`
	Cases   int    `json:"activeCases"`
}

// replayEnd is where a replay stopped, its last line.
type replayEnd struct {
	Seq     uint64    `json:"seq"`
	Time    time.Time `json:"time"`
	Events  uint64    `json:"events"`
	Skipped int       `json:"skipped"`
}

// replay rebuilds the read model (projection.Model) from the CASES stream up to a sequence
// or a time, with the directory as it was then, and prints one agent's active cases in a
// unit, or the number of active cases of every agent in every unit.
func (m *Main) replay(ctx context.Context, args []string) error {
	fs := m.subFlags("replay")
	toSeq := fs.Uint64("to-seq", 0, "replay CASES up to this sequence")
	var toTime timeFlag
	fs.Var(&toTime, "to-time", "replay the events stored at or before this time (RFC 3339)")
	agent := fs.String("agent", "", "print this agent's active cases (userId or email); needs -unit")
	unit := fs.String("unit", "", "the unit of -agent's active cases (unitId)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	switch {
	case fs.NArg() != 0:
		return usageError("replay takes no arguments")
	case *toSeq > 0 && !toTime.t.IsZero():
		return usageError("-to-seq and -to-time exclude each other")
	case (*agent == "") != (*unit == ""):
		return usageError("-agent and -unit go together")
	}
	tl, err := m.loadTimeline(ctx)
	if err != nil {
		return err
	}
	model := projection.NewModel()
	var end replayEnd
	var bar *progress
	err = m.scan(ctx, events.StreamCases, "", span{To: *toSeq}, false, func(total uint64) {
		bar = m.newProgress("replay", total)
	}, func(e entry) error {
		if !toTime.t.IsZero() && e.Time.After(toTime.t) {
			return errStop
		}
		bar.tick()
		tl.at(e.Time)
		rec := eventstore.Record{Seq: e.Seq}
		if env, ev, err := e.decoded(); err == nil {
			rec.Envelope, rec.Event = env, ev
		} else {
			rec.Envelope.Subject = e.Subject
		}
		model.Apply(rec)
		end.Seq, end.Time = e.Seq, e.Time
		end.Events++
		return nil
	})
	bar.done()
	if err != nil && err != errStop {
		return err
	}
	if !toTime.t.IsZero() {
		end.Time = toTime.t
		tl.at(toTime.t)
	}
	end.Skipped = model.Skipped()
	dir := tl.dir
	out := newPrinter(m.Stdout)
	if *agent != "" {
		agentID := *agent
		if op, ok := dir.OperatorByEmail(*agent); ok {
			agentID = op.UserID
		}
		for _, r := range model.ActiveCases(agentID, *unit) {
			l := activeLine{Rank: r.Rank, CaseInstanceID: r.CaseInstanceID, CaseID: r.CaseID, Ticket: r.Ticket.Prefix + itoa(r.Ticket.Number), Type: typeName(dir, r.ServiceTypeID), Status: r.Status, StatusDate: r.StatusDate}
			if m.Config.JSON {
				out.json(l)
			} else {
				out.linef("%3d  case %-10d %-6s %-8s since %s  %s", l.Rank, l.CaseInstanceID, l.Ticket, l.Status, l.StatusDate.Format(time.RFC3339), l.Type)
			}
		}
	} else {
		for _, c := range model.ActiveCounts() {
			l := countLine{AgentID: c.AgentID, Agent: operatorName(dir, c.AgentID), UnitID: c.UnitID, Unit: unitName(dir, c.UnitID), Cases: c.Cases}
			if m.Config.JSON {
				out.json(l)
			} else {
				out.linef("%4d  %-45s %s", l.Cases, l.Agent, l.Unit)
			}
		}
	}
	if m.Config.JSON {
		out.json(end)
	} else {
		out.linef("as of CASES sequence %d (%s): %d events replayed, %d skipped", end.Seq, end.Time.Format(time.RFC3339), end.Events, end.Skipped)
	}
	return out.err
}
