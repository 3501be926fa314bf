package directory

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"golang.org/x/crypto/bcrypt"

	"github.com/casestream/casestream/events"
	"github.com/casestream/casestream/eventstore"
)

// BootstrapOptions are Bootstrap's clock, id generator, actor and hashing cost. Zero fields
// take their defaults.
type BootstrapOptions struct {
	// Now stamps the events; default time.Now.
	Now func() time.Time
	// NewID makes event ids; default uuid.NewString.
	NewID func() string
	// Actor is who the events are written by; default {system, "bootstrap"}.
	Actor events.Actor
	// BcryptCost hashes new secrets; default bcrypt.DefaultCost.
	BcryptCost int
}

func (o BootstrapOptions) withDefaults() BootstrapOptions {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.NewID == nil {
		o.NewID = uuid.NewString
	}
	if o.Actor == (events.Actor{}) {
		o.Actor = events.Actor{Kind: events.ActorSystem, ID: "bootstrap"}
	}
	if o.BcryptCost == 0 {
		o.BcryptCost = bcrypt.DefaultCost
	}
	return o
}

// maxAttempts bounds the decide-append rounds of one subject: each conflict means another
// writer appended to it in between, which during a bootstrap happens a few times at most.
const maxAttempts = 5

// ErrTooManyConflicts is returned when a subject kept changing under an append.
var ErrTooManyConflicts = errors.New("directory: too many concurrent changes")

// Bootstrap makes the directory hold what f defines: for each entry, in file order (units,
// inboxes, workspaces, services, service categories, service types, operators, groups,
// touchpoints, applications), it appends one "defined" event if the entity is missing from
// d or differs from it, and nothing if it is equal. It deletes nothing. A secret is equal
// when it matches the stored hash, which is then kept; so applying the same file again
// writes nothing. Each event is appended with the subject's last sequence in d as the
// expectation and applied to d at once; on a conflict, as when replicas bootstrap at the
// same time, the subject is reloaded from store and the entry decided again. It returns the
// number of events written. f is validated first.
func Bootstrap(ctx context.Context, store eventstore.Store, d *Directory, f *File, opts BootstrapOptions) (written int, err error) {
	if err := f.Validate(); err != nil {
		return 0, err
	}
	b := bootstrap{ctx: ctx, store: store, d: d, opts: opts.withDefaults()}
	b.correlationID = b.opts.NewID()

	for _, e := range f.Units {
		u := unitOf(e)
		b.define(events.KindUnit, u.UnitID, func() (events.Event, bool, error) {
			cur, ok := d.Unit(u.UnitID)
			return u, !ok || !equal(cur, u), nil
		})
	}
	for _, e := range f.Inboxes {
		in := inboxOf(e)
		b.define(events.KindInbox, in.InboxID, func() (events.Event, bool, error) {
			cur, ok := d.Inbox(in.InboxID)
			return in, !ok || !equal(cur, in), nil
		})
	}
	for _, e := range f.Workspaces {
		w := workspaceOf(e)
		b.define(events.KindWorkspace, w.WorkspaceID, func() (events.Event, bool, error) {
			cur, ok := d.Workspace(w.WorkspaceID)
			return w, !ok || !equal(cur, w), nil
		})
	}
	for _, e := range f.Services {
		s := serviceOf(e)
		b.define(events.KindService, s.ServiceID, func() (events.Event, bool, error) {
			cur, ok := d.Service(s.ServiceID)
			return s, !ok || !equal(cur, s), nil
		})
	}
	for _, e := range f.ServiceCategories {
		c := categoryOf(e)
		b.define(events.KindServiceCategory, c.ServiceCategoryID, func() (events.Event, bool, error) {
			cur, ok := d.ServiceCategory(c.ServiceCategoryID)
			return c, !ok || !equal(cur, c), nil
		})
	}
	for _, e := range f.ServiceTypes {
		t := serviceTypeOf(e)
		b.define(events.KindServiceType, t.ServiceTypeID, func() (events.Event, bool, error) {
			cur, ok := d.ServiceType(t.ServiceTypeID)
			return t, !ok || !equal(cur, t), nil
		})
	}
	for _, e := range f.Operators {
		o := operatorOf(e)
		b.define(events.KindOperator, o.UserID, func() (events.Event, bool, error) {
			cur, ok := d.Operator(o.UserID)
			var err error
			if o.PasswordHash, err = b.hash(secretOperator, o.UserID, cur.PasswordHash, e.Password); err != nil {
				return nil, false, err
			}
			return o, !ok || !equal(cur, o), nil
		})
	}
	for _, e := range f.Groups {
		g := groupOf(e)
		b.define(events.KindGroup, g.GroupID, func() (events.Event, bool, error) {
			cur, ok := d.groupByID(g.GroupID)
			return g, !ok || !equal(cur, g), nil
		})
	}
	for _, e := range f.Touchpoints {
		tp := events.Touchpoint{Code: e.Code}
		b.define(events.KindTouchpoint, tp.Code, func() (events.Event, bool, error) {
			cur, ok := d.Touchpoint(tp.Code)
			var err error
			if tp.TokenHash, err = b.hash(secretTouchpoint, tp.Code, cur.TokenHash, e.Token); err != nil {
				return nil, false, err
			}
			return tp, !ok || !equal(cur, tp), nil
		})
	}
	for _, e := range f.Applications {
		a := applicationOf(e)
		b.define(events.KindApplication, a.ApplicationID, func() (events.Event, bool, error) {
			cur, ok := d.Application(a.ApplicationID)
			var err error
			if a.ClientSecretHash, err = b.hash(secretApplication, a.ApplicationID, cur.ClientSecretHash, e.ClientSecret); err != nil {
				return nil, false, err
			}
			return a, !ok || !equal(cur, a), nil
		})
	}
	return b.written, b.err
}

// bootstrap is one run of Bootstrap. Once err is set, define does nothing.
type bootstrap struct {
	ctx           context.Context
	store         eventstore.Store
	d             *Directory
	opts          BootstrapOptions
	correlationID string
	written       int
	err           error
}

// hash returns stored if clear matches it, and a new hash of clear otherwise. The check goes
// through the verification cache: a restart pays one bcrypt comparison per secret, and the
// first sign-in after it none.
func (b *bootstrap) hash(kind, id, stored, clear string) (string, error) {
	if stored != "" && b.d.verify(kind, id, stored, clear) == nil {
		return stored, nil
	}
	h, err := bcrypt.GenerateFromPassword([]byte(clear), b.opts.BcryptCost)
	if err != nil {
		return "", fmt.Errorf("directory: hash secret: %w", err)
	}
	return string(h), nil
}

// define runs decide against d and appends the event it returns when it says the entity
// changed; on a conflict it reloads the subject and decides again.
func (b *bootstrap) define(kind, id string, decide func() (events.Event, bool, error)) {
	if b.err != nil {
		return
	}
	subject := events.DirectorySubject(kind, events.SubjectToken(id))
	n, err := appendDecided(b.ctx, b.store, b.d, subject, decide, func() events.Meta {
		return events.Meta{
			ID:            b.opts.NewID(),
			Subject:       subject,
			OccurredAt:    b.opts.Now(),
			Actor:         b.opts.Actor,
			CorrelationID: b.correlationID,
		}
	})
	b.written += n
	if err != nil {
		b.err = fmt.Errorf("directory: bootstrap %s %q: %w", kind, id, err)
	}
}

// appendDecided is the decide-append loop shared by Bootstrap and the agent commands:
// decide against d; if it returns an event, append it on subject expecting d's last
// sequence of subject and apply the stored record to d. On ErrConflict or ErrDuplicate the
// subject is reloaded into d and the decision made again, at most maxAttempts times. It
// returns the number of events written, 0 or 1.
func appendDecided(ctx context.Context, store eventstore.Store, d *Directory, subject string,
	decide func() (events.Event, bool, error), meta func() events.Meta) (int, error) {
	for range maxAttempts {
		ev, changed, err := decide()
		if err != nil || !changed {
			return 0, err
		}
		m := meta()
		m.Subject = subject
		env, err := events.Wrap(m, ev)
		if err != nil {
			return 0, err
		}
		seq, err := store.Append(ctx, subject, d.SubjectSeq(subject), []events.Envelope{env})
		switch {
		case err == nil:
			d.Apply(eventstore.Record{Seq: seq, Envelope: env})
			return 1, nil
		case errors.Is(err, eventstore.ErrConflict), errors.Is(err, eventstore.ErrDuplicate):
			recs, lerr := store.Load(ctx, subject, d.SubjectSeq(subject))
			if lerr != nil {
				return 0, fmt.Errorf("reload %s: %w", subject, lerr)
			}
			for _, r := range recs {
				d.Apply(r)
			}
		default:
			return 0, err
		}
	}
	return 0, fmt.Errorf("%w on %s", ErrTooManyConflicts, subject)
}

// equal reports whether two entities have the same stored form.
func equal(a, b events.Event) bool {
	ja, err1 := json.Marshal(a)
	jb, err2 := json.Marshal(b)
	return err1 == nil && err2 == nil && string(ja) == string(jb)
}
