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
	"github.com/casestream/casestream/internal/eventstore"
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

// ErrTooManyConflicts is returned when a subject kept changing under an append, or a
// secret under its compare-and-set. It is eventstore.ErrTooManyConflicts, which the case
// commands return too.
var ErrTooManyConflicts = eventstore.ErrTooManyConflicts

// Bootstrap makes the directory hold what f defines: for each entry, in file order (units,
// inboxes, workspaces, services, service categories, service types, operators, groups,
// touchpoints, applications), it appends one "defined" event if the entity is missing from
// d or differs from it, and nothing if it is equal. It deletes nothing. Secrets go to d's
// credentials bucket (UseSecrets), never into an event: a secret that does not match the
// bucket's hash, or has none, is hashed into the bucket and announced by one SecretChanged
// event on the entity's subject; one that matches writes nothing. So applying the same
// file again writes nothing. Each event is appended with the subject's last sequence in d as the
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
			return o, !ok || !equal(cur, o), nil
		})
		b.secret(secretOperator, o.UserID, e.Password)
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
			return tp, !ok || !equal(cur, tp), nil
		})
		b.secret(secretTouchpoint, tp.Code, e.Token)
	}
	for _, e := range f.Applications {
		a := applicationOf(e)
		b.define(events.KindApplication, a.ApplicationID, func() (events.Event, bool, error) {
			cur, ok := d.Application(a.ApplicationID)
			return a, !ok || !equal(cur, a), nil
		})
		b.secret(secretApplication, a.ApplicationID, e.ClientSecret)
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
	// reason is every event's reason: empty for a bootstrap, the admin's for an admin change.
	reason  string
	written int
	err     error
}

// secret makes the credentials bucket hold a hash of clear for the entity (kind, id) and
// the log announce it with a SecretChanged event on the entity's subject. A secret that
// matches the bucket's hash writes nothing. The check goes through the verification cache:
// a restart pays one bcrypt comparison per secret, and the first sign-in after it none.
//
// The bucket is written first and the event second, and the bucket's value names its event
// (Secret.EventID). A crash in between leaves a value whose event is not in the log: the
// next run finds it unannounced and appends that event, with that id, so that every value
// the bucket held is announced once. The other order would let a crash leave an event for
// a secret that never took effect. The value is replaced only if it is still the one read
// (a compare-and-set on its revision), so replicas bootstrapping at once agree on one hash.
func (b *bootstrap) secret(kind, id, clear string) {
	if b.err != nil {
		return
	}
	if err := b.setSecret(kind, id, clear); err != nil {
		b.err = fmt.Errorf("directory: bootstrap %s %q secret: %w", kind, id, err)
	}
}

func (b *bootstrap) setSecret(kind, id, clear string) error {
	s := b.d.secrets
	if s == nil {
		return ErrNoSecrets
	}
	key := secretKey(kind, id)
	for range maxAttempts {
		cur, ok := s.get(key)
		// A value whose event a crash left unwritten is announced before it is replaced.
		if err := b.announce(kind, id, cur.EventID); err != nil {
			return err
		}
		if ok && cur.Hash != "" {
			// Busy is not a mismatch: a secret is replaced only when it differs.
			switch err := b.d.verify(kind, id, cur.Hash, clear); {
			case err == nil:
				return nil
			case errors.Is(err, ErrBusy):
				return err
			}
		}
		h, err := bcrypt.GenerateFromPassword([]byte(clear), b.opts.BcryptCost)
		if err != nil {
			return fmt.Errorf("hash secret: %w", err)
		}
		next, err := s.put(b.ctx, key, cur.revision, Secret{Hash: string(h), EventID: b.opts.NewID()})
		if errors.Is(err, errSecretChanged) {
			continue
		}
		if err != nil {
			return err
		}
		return b.announce(kind, id, next.EventID)
	}
	return ErrTooManyConflicts
}

// announce appends the SecretChanged event with the given id on the entity's subject unless
// it is in the log already ("" needs no event).
func (b *bootstrap) announce(kind, id, eventID string) error {
	if eventID == "" {
		return nil
	}
	subject := events.DirectorySubject(kind, events.SubjectToken(id))
	n, err := appendDecided(b.ctx, b.store, b.d, subject, func() (events.Event, bool, error) {
		return events.SecretChanged{Kind: kind, ID: id}, !b.d.isAnnounced(eventID), nil
	}, func() events.Meta {
		return events.Meta{
			ID:            eventID,
			OccurredAt:    b.opts.Now(),
			Actor:         b.opts.Actor,
			CorrelationID: b.correlationID,
			Reason:        b.reason,
		}
	})
	b.written += n
	return err
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
			Reason:        b.reason,
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
// subject is reloaded into d and the decision made again, paced by eventstore.Retry (at
// most maxAttempts races lost to other writers). It returns the number of events written,
// 0 or 1.
func appendDecided(ctx context.Context, store eventstore.Store, d *Directory, subject string,
	decide func() (events.Event, bool, error), meta func() events.Meta) (int, error) {
	retry := eventstore.Retry{MaxAttempts: maxAttempts}
	for {
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
			if err := retry.Refused(ctx, len(recs) > 0); err != nil {
				return 0, fmt.Errorf("%w on %s", err, subject)
			}
		default:
			return 0, err
		}
	}
}

// equal reports whether two entities have the same stored form.
func equal(a, b events.Event) bool {
	ja, err1 := json.Marshal(a)
	jb, err2 := json.Marshal(b)
	return err1 == nil && err2 == nil && string(ja) == string(jb)
}
