package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/casestream/casestream/aggregate"
	"github.com/casestream/casestream/events"
	"github.com/casestream/casestream/internal/directory"
)

// finding is one thing wrong in the log.
type finding struct {
	Stream  string `json:"stream"`
	Seq     uint64 `json:"seq"`
	Subject string `json:"subject"`
	// Case is the caseInstanceId of a CASES finding, 0 for DIRECTORY.
	Case   int64  `json:"case,omitempty"`
	Type   string `json:"type,omitempty"`
	Rule   string `json:"rule"`
	Detail string `json:"detail"`
}

// verifySummary closes verify's report.
type verifySummary struct {
	CasesEvents     uint64 `json:"casesEvents"`
	DirectoryEvents int    `json:"directoryEvents"`
	Cases           int    `json:"cases"`
	Findings        int    `json:"findings"`
}

// The rules verify checks, as its report names them.
const (
	ruleEnvelope      = "envelope"          // the body is an event envelope
	ruleType          = "type.known"        // the type is one this casectl knows
	ruleData          = "data"              // the data decodes as its type
	ruleSchema        = "schemaVersion"     // a version of the type this casectl knows
	ruleTypeHeader    = "header.type"       // Casestream-Event-Type is the envelope's type
	ruleIDHeader      = "header.id"         // Nats-Msg-Id is the envelope's id
	ruleSubject       = "subject"           // the envelope's subject is the message's
	ruleStream        = "stream"            // the type belongs in this stream
	ruleCaseID        = "case.id"           // case.opened names the case of its subject
	ruleEnvelopeField = "envelope.field"    // id, occurredAt and actor are set
	ruleDirectoryRef  = "directory.missing" // an entity the event names existed when it was stored
	ruleAggregate     = "aggregate."        // prefix of the case's own rules
)

// verifier holds what verify has folded so far.
type verifier struct {
	m        *Main
	tl       *timeline
	cases    map[int64]*aggregate.Case
	from     uint64
	findings []finding
	out      *printer
}

func (v *verifier) report(f finding) {
	v.findings = append(v.findings, f)
	if v.m.Config.JSON {
		v.out.json(f)
		return
	}
	where := fmt.Sprintf("%s seq %d %s", f.Stream, f.Seq, f.Subject)
	if f.Case != 0 {
		where = fmt.Sprintf("%s seq %d case %d", f.Stream, f.Seq, f.Case)
	}
	v.out.linef("%s: %s: %s", where, f.Rule, f.Detail)
}

// verify reads the whole log and checks every event: envelope, type, headers, subject, the
// case's own rules and the directory entities it names. It returns ErrFindings when
// anything is wrong.
func (m *Main) verify(ctx context.Context, args []string) error {
	fs := m.subFlags("verify")
	from := fs.Uint64("from-seq", 1, "check CASES from this sequence on (earlier events of the cases met are folded, not checked)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 0 {
		return usageError("verify takes no arguments")
	}
	w := buffered(m.Stdout)
	v := &verifier{m: m, cases: map[int64]*aggregate.Case{}, from: max(*from, 1), out: newPrinter(w)}
	var err error
	if v.tl, err = m.loadTimeline(ctx); err != nil {
		return err
	}
	for _, e := range v.tl.entries {
		v.checkEntry(e, events.StreamDirectory)
	}
	var n uint64
	var bar *progress
	err = m.scan(ctx, events.StreamCases, "", span{From: v.from}, false, func(total uint64) {
		bar = m.newProgress("verify", total)
	}, func(e entry) error {
		n++
		bar.tick()
		return v.checkCase(ctx, e)
	})
	bar.done()
	if err != nil {
		return err
	}
	sum := verifySummary{CasesEvents: n, DirectoryEvents: len(v.tl.entries), Cases: len(v.cases), Findings: len(v.findings)}
	if m.Config.JSON {
		v.out.json(sum)
	} else {
		v.out.linef("verified %d CASES events of %d cases and %d DIRECTORY events: %d findings", sum.CasesEvents, sum.Cases, sum.DirectoryEvents, sum.Findings)
	}
	if err := errors.Join(v.out.err, w.Flush()); err != nil {
		return err
	}
	if len(v.findings) > 0 {
		return ErrFindings
	}
	return nil
}

// checkEntry checks what every event of stream must be, and returns its envelope and event
// when they could be read (ev nil otherwise).
func (v *verifier) checkEntry(e entry, stream string) (events.Envelope, events.Event) {
	f := finding{Stream: e.Stream, Seq: e.Seq, Subject: e.Subject}
	if id, ok := events.CaseInstanceID(e.Subject); ok {
		f.Case = id
	}
	fail := func(rule, format string, a ...any) {
		g := f
		g.Rule, g.Detail = rule, fmt.Sprintf(format, a...)
		v.report(g)
	}
	d := e.decoding()
	env, ev := d.env, d.ev
	if d.envErr != nil {
		fail(ruleEnvelope, "%v", d.envErr)
		return env, nil
	}
	f.Type = env.Type
	switch {
	case errors.Is(d.dataErr, events.ErrUnknownType):
		fail(ruleType, "type %q is unknown", env.Type)
	case d.dataErr != nil:
		fail(ruleData, "%v", d.dataErr)
	}
	if ev != nil && (env.SchemaVersion < 1 || env.SchemaVersion > events.VersionOf(ev)) {
		fail(ruleSchema, "schema version %d of %s, known are 1 to %d", env.SchemaVersion, env.Type, events.VersionOf(ev))
	}
	if h := e.Header.Get(events.HeaderEventType); h != env.Type {
		fail(ruleTypeHeader, "header %s is %q, the envelope's type %q", events.HeaderEventType, h, env.Type)
	}
	if h := e.Header.Get(events.HeaderMsgID); h != env.ID {
		fail(ruleIDHeader, "header %s is %q, the envelope's id %q", events.HeaderMsgID, h, env.ID)
	}
	if env.Subject != e.Subject {
		fail(ruleSubject, "the envelope's subject is %q, the message's %q", env.Subject, e.Subject)
	}
	if env.ID == "" || env.OccurredAt.IsZero() || env.Actor.Kind == "" {
		fail(ruleEnvelopeField, "id %q, occurredAt %v, actor kind %q: all must be set", env.ID, env.OccurredAt, env.Actor.Kind)
	}
	if ev != nil {
		_, isCase := caseEvent(ev)
		if isCase != (stream == events.StreamCases) {
			fail(ruleStream, "a %s event in stream %s", env.Type, stream)
		}
	}
	return env, ev
}

// caseEvent reports whether ev is a case event, and the opened event if it is one.
func caseEvent(ev events.Event) (events.CaseOpened, bool) {
	switch e := ev.(type) {
	case events.CaseOpened:
		return e, true
	case events.CaseAssigned, events.CaseServiceStarted, events.CaseStatusChanged, events.CaseResolved,
		events.CaseClosed, events.CaseNoteAdded, events.CaseUpdated, events.CaseNoteEdited,
		events.CaseFileAttached, events.CaseFileRemoved:
		return events.CaseOpened{}, true
	}
	return events.CaseOpened{}, false
}

// checkCase checks one CASES event and folds it into its case.
func (v *verifier) checkCase(ctx context.Context, e entry) error {
	env, ev := v.checkEntry(e, events.StreamCases)
	id, ok := events.CaseInstanceID(e.Subject)
	if !ok {
		v.report(finding{Stream: e.Stream, Seq: e.Seq, Subject: e.Subject, Type: env.Type, Rule: ruleSubject, Detail: "not a case subject (cases.<caseInstanceId>)"})
		return nil
	}
	if ev == nil {
		return nil
	}
	c, err := v.caseBefore(ctx, id, e.Seq)
	if err != nil {
		return err
	}
	fail := func(rule, format string, a ...any) {
		v.report(finding{Stream: e.Stream, Seq: e.Seq, Subject: e.Subject, Case: id, Type: env.Type, Rule: rule, Detail: fmt.Sprintf(format, a...)})
	}
	if o, ok := ev.(events.CaseOpened); ok && o.CaseInstanceID != id {
		fail(ruleCaseID, "case.opened of case %d on the subject of case %d", o.CaseInstanceID, id)
	}
	dir := v.tl.at(e.Time)
	if err := c.Check(dir, ev); err != nil {
		fail(aggregateRule(err), "%s refused on a %s case: %v", env.Type, statusOf(c), err)
	}
	for _, missing := range missingRefs(dir, env.Actor, ev) {
		fail(ruleDirectoryRef, "%s did not exist at %s", missing, e.Time.Format(time.RFC3339Nano))
	}
	c.Apply(env.OccurredAt, ev)
	return nil
}

func statusOf(c *aggregate.Case) string {
	if !c.Exists() {
		return "never opened"
	}
	return c.Status
}

// caseBefore returns the case as folded so far; a case first met after -from-seq is folded
// from its earlier events, unchecked.
func (v *verifier) caseBefore(ctx context.Context, id int64, seq uint64) (*aggregate.Case, error) {
	if c, ok := v.cases[id]; ok {
		return c, nil
	}
	c := &aggregate.Case{}
	if v.from > 1 {
		before, _, err := v.m.foldCase(ctx, id, func(e entry) bool { return e.Seq >= seq })
		if err != nil && before.Version == 0 {
			return nil, err
		}
		c = &before
	}
	v.cases[id] = c
	return c, nil
}

// aggregateRule names the case rule err is: aggregate.<key>.<code> for a command's refusal.
func aggregateRule(err error) string {
	var ae *aggregate.Error
	switch {
	case errors.As(err, &ae):
		return ruleAggregate + ae.Key + "." + ae.Code
	case errors.Is(err, aggregate.ErrNotDecided):
		return ruleAggregate + "notDecided"
	case errors.Is(err, aggregate.ErrNoCase):
		return ruleAggregate + "lifecycle"
	}
	return ruleAggregate + "refused"
}

// missingRefs returns the directory entities ev and its actor name that dir does not hold.
func missingRefs(dir *directory.Directory, actor events.Actor, ev events.Event) []string {
	var out []string
	need := func(ok bool, what string) {
		if !ok {
			out = append(out, what)
		}
	}
	switch actor.Kind {
	case events.ActorOperator:
		_, ok := dir.Operator(actor.ID)
		need(ok, "the actor, operator "+actor.ID)
	case events.ActorApplication:
		_, ok := dir.Application(actor.ID)
		need(ok, "the actor, application "+actor.ID)
	}
	switch e := ev.(type) {
	case events.CaseOpened:
		_, ok := dir.ServiceType(e.ServiceTypeID)
		need(ok, "service type "+e.ServiceTypeID)
		_, ok = dir.ServiceCategory(e.ServiceCategoryID)
		need(ok, "service category "+e.ServiceCategoryID)
		_, ok = dir.Service(e.ServiceID)
		need(ok, "service "+e.ServiceID)
		_, ok = dir.Unit(e.UnitID)
		need(ok, "unit "+e.UnitID)
		_, ok = dir.Inbox(e.InboxID)
		need(ok, "inbox "+e.InboxID)
		if e.AssignedGroup != "" {
			_, ok = dir.GroupByName(e.AssignedGroup)
			need(ok, "group "+e.AssignedGroup)
		}
	case events.CaseUpdated:
		if e.ServiceTypeID != "" {
			_, ok := dir.ServiceCategory(e.ServiceCategoryID)
			need(ok, "service category "+e.ServiceCategoryID)
		}
	}
	return out
}
