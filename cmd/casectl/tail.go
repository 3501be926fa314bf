package main

import (
	"context"
	"time"

	"github.com/casestream/casestream/events"
	"github.com/casestream/casestream/internal/directory"
	"github.com/casestream/casestream/internal/eventstore"
)

// tail follows the CASES stream from now on and prints each new event as history does,
// with names from the directory as it is (followed too). -type and -case filter on the
// server (the type header and the case's subject); -unit needs the case's unit, which tail
// learns by loading each case it meets once.
func (m *Main) tail(ctx context.Context, args []string) error {
	fs := m.subFlags("tail")
	typ := fs.String("type", "", "only events of this type (case.assigned, ...)")
	unit := fs.String("unit", "", "only events of cases in this unit (unitId)")
	caseID := fs.Int64("case", 0, "only events of this case (caseInstanceId)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 0 {
		return usageError("tail takes no arguments")
	}
	if *caseID < 0 {
		return usageError("-case must be a caseInstanceId")
	}
	dir := directory.New()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	dirDone := make(chan error, 1)
	go func() {
		dirDone <- m.scan(ctx, events.StreamDirectory, "", span{From: 1}, true, nil, func(e entry) error {
			if env, ev, err := e.decoded(); err == nil {
				dir.Apply(eventstore.Record{Seq: e.Seq, Envelope: env, Event: ev})
			}
			return nil
		})
	}()
	defer func() { cancel(); <-dirDone }()
	filter := "cases.>"
	if *caseID > 0 {
		filter = events.CaseSubject(*caseID)
	}
	units := map[int64]string{} // the unit of each case met
	out := newPrinter(m.Stdout)
	err := m.scan(ctx, events.StreamCases, filter, span{}, true, nil, func(e entry) error {
		if *typ != "" && e.Header.Get(events.HeaderEventType) != *typ {
			return nil
		}
		line, ev := historyLineOf(e, dir, func(ev events.Event) string { return summary(dir, ev) })
		id, _ := events.CaseInstanceID(e.Subject)
		if *unit != "" {
			u, ok := units[id]
			if !ok {
				u = m.unitOf(ctx, id, ev)
				units[id] = u
			}
			if u != *unit {
				return nil
			}
		}
		if m.Config.JSON {
			out.json(struct {
				Case int64 `json:"caseInstanceId"`
				historyLine
			}{id, line})
		} else {
			out.linef("%8d  %s  case %-8d %-22s %-40s %s", line.Seq, line.Time.Format(time.RFC3339), id, line.Type, line.Actor.Name, line.text())
		}
		return out.err
	})
	return err
}

// unitOf returns the unit of a case: its opening event's, read from ev when it is that
// event, or else from the case's first event in the log.
func (m *Main) unitOf(ctx context.Context, id int64, ev events.Event) string {
	if o, ok := ev.(events.CaseOpened); ok {
		return o.UnitID
	}
	c, _, _ := m.foldCase(ctx, id, func(entry) bool { return false })
	return c.UnitID
}
