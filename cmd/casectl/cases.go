package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"strconv"
	"time"

	"github.com/casestream/casestream/aggregate"
	"github.com/casestream/casestream/events"
	"github.com/casestream/casestream/internal/directory"
	"github.com/casestream/casestream/internal/httpapi"
)

// errUsage marks an error in a command's arguments.
var errUsage = errors.New("usage")

func usageError(format string, a ...any) error {
	return fmt.Errorf("%w: %s", errUsage, fmt.Sprintf(format, a...))
}

// caseArg parses the one caseInstanceId argument of fs.
func caseArg(fs *flag.FlagSet) (int64, error) {
	if fs.NArg() != 1 {
		return 0, usageError("%s takes one caseInstanceId (flags before it)", fs.Name())
	}
	id, err := strconv.ParseInt(fs.Arg(0), 10, 64)
	if err != nil || id <= 0 {
		return 0, usageError("%q is not a caseInstanceId (a positive integer)", fs.Arg(0))
	}
	return id, nil
}

// timeFlag is a flag holding an RFC 3339 time.
type timeFlag struct{ t time.Time }

func (f *timeFlag) String() string {
	if f.t.IsZero() {
		return ""
	}
	return f.t.Format(time.RFC3339Nano)
}

func (f *timeFlag) Set(s string) error {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return fmt.Errorf("not an RFC 3339 time: %w", err)
	}
	f.t = t.UTC()
	return nil
}

// historyLine is one event of a case's history, as history -json prints it.
type historyLine struct {
	Seq        uint64    `json:"seq"`
	Time       time.Time `json:"time"`
	OccurredAt time.Time `json:"occurredAt"`
	Type       string    `json:"type"`
	Actor      actorLine `json:"actor"`
	Summary    string    `json:"summary"`
	// Reason is the envelope's reason: why the actor made the change, when they said.
	Reason string          `json:"reason,omitempty"`
	Data   json.RawMessage `json:"data"`
	// Error says why the event could not be read; the other fields are what could be.
	Error string `json:"error,omitempty"`
}

// historyLineOf is the history line of e, with the actor named as dir knew them and the
// event summarised by summarize; an undecodable event is a line that says why. It also
// returns the decoded event, nil for an undecodable one.
func historyLineOf(e entry, dir *directory.Directory, summarize func(events.Event) string) (historyLine, events.Event) {
	line := historyLine{Seq: e.Seq, Time: e.Time}
	env, ev, err := e.decoded()
	if err != nil {
		line.Error, line.Type, line.Summary = err.Error(), e.Header.Get(events.HeaderEventType), "undecodable event: "+err.Error()
		return line, nil
	}
	line.OccurredAt, line.Type, line.Data = env.OccurredAt, env.Type, env.Data
	line.Actor = actorLine{Kind: env.Actor.Kind, ID: env.Actor.ID, Name: actorName(dir, env.Actor)}
	line.Reason = env.Reason
	line.Summary = summarize(ev)
	return line, ev
}

// text is the line's summary in words, with the reason given for the change, if any.
func (l historyLine) text() string {
	if l.Reason != "" {
		return l.Summary + " (reason: " + l.Reason + ")"
	}
	return l.Summary
}

// actorLine is an event's actor with their name at the time.
type actorLine struct {
	Kind string `json:"kind"`
	ID   string `json:"id"`
	Name string `json:"name"`
}

// history prints every event of a case with the directory as it was at each event.
func (m *Main) history(ctx context.Context, args []string) error {
	fs := m.subFlags("history")
	if err := fs.Parse(args); err != nil {
		return err
	}
	id, err := caseArg(fs)
	if err != nil {
		return err
	}
	es, err := m.readAll(ctx, events.StreamCases, events.CaseSubject(id))
	if err != nil {
		return err
	}
	if len(es) == 0 {
		return fmt.Errorf("case %d has no events", id)
	}
	return m.printHistory(ctx, es, "%8d  %s  %-22s %-40s %s", func(e entry, dir *directory.Directory) historyLine {
		line, _ := historyLineOf(e, dir, func(ev events.Event) string { return summary(dir, ev) })
		return line
	})
}

// printHistory prints a line for each of es with the directory as it was at the event:
// one JSON object each with -json, else columns of format (sequence, time, type, actor
// and text). lineOf makes an entry's line.
func (m *Main) printHistory(ctx context.Context, es []entry, format string, lineOf func(entry, *directory.Directory) historyLine) error {
	tl, err := m.loadTimeline(ctx)
	if err != nil {
		return err
	}
	out := newPrinter(m.Stdout)
	for _, e := range es {
		line := lineOf(e, tl.at(e.Time))
		if m.Config.JSON {
			out.json(line)
			continue
		}
		out.linef(format, line.Seq, line.Time.Format(time.RFC3339), line.Type, line.Actor.Name, line.text())
	}
	return out.err
}

// printValue prints v as one line of JSON with -json, else indented.
func (m *Main) printValue(v any) error {
	out := newPrinter(m.Stdout)
	if m.Config.JSON {
		out.json(v)
	} else {
		out.indented(v)
	}
	return out.err
}

// foldCase folds the case's events up to the point stop says (true: stop before this
// entry), and returns the case and the time of the last event folded.
func (m *Main) foldCase(ctx context.Context, id int64, stop func(entry) bool) (aggregate.Case, time.Time, error) {
	var (
		c    aggregate.Case
		last time.Time
		errs []error
	)
	err := m.scan(ctx, events.StreamCases, events.CaseSubject(id), span{}, false, nil, func(e entry) error {
		if stop(e) {
			return errStop
		}
		env, ev, err := e.decoded()
		if err != nil {
			errs = append(errs, fmt.Errorf("sequence %d: %w", e.Seq, err))
			return nil
		}
		c.Apply(env.OccurredAt, ev)
		last = e.Time
		return nil
	})
	if err != nil && !errors.Is(err, errStop) {
		return c, last, err
	}
	return c, last, errors.Join(errs...)
}

// errStop ends a scan early.
var errStop = errors.New("stop")

// state prints the case folded up to a sequence or a time, as the operator API renders it,
// with the directory as it was then.
func (m *Main) state(ctx context.Context, args []string) error {
	fs := m.subFlags("state")
	atSeq := fs.Uint64("at-seq", 0, "fold the case's events stored at or before this CASES sequence")
	var atTime timeFlag
	fs.Var(&atTime, "at-time", "fold the case's events stored at or before this time (RFC 3339)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	id, err := caseArg(fs)
	if err != nil {
		return err
	}
	if *atSeq > 0 && !atTime.t.IsZero() {
		return usageError("-at-seq and -at-time exclude each other")
	}
	c, last, err := m.foldCase(ctx, id, func(e entry) bool {
		return (*atSeq > 0 && e.Seq > *atSeq) || (!atTime.t.IsZero() && e.Time.After(atTime.t))
	})
	if err != nil {
		fmt.Fprintln(m.Stderr, "casectl: events skipped:", err)
	}
	if !c.Exists() {
		return fmt.Errorf("case %d did not exist at that point", id)
	}
	tl, err := m.loadTimeline(ctx)
	if err != nil {
		return err
	}
	at := last
	if !atTime.t.IsZero() {
		at = atTime.t
	}
	return m.printValue(httpapi.CaseObject(tl.at(at), &c))
}
