package directory

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/casestream/casestream/events"
	"github.com/casestream/casestream/internal/eventstore"
	"github.com/casestream/casestream/internal/eventually"
)

// appendV1 writes f to store as the bootstrap wrote it before secrets left the log: one
// "defined" event per entry, at schema version 1, the operators, touchpoints and
// applications with the bcrypt hashes of their secrets. It returns the hashes by bucket key.
func appendV1(t testing.TB, store eventstore.Store, f *File) map[string]string {
	t.Helper()
	hashes := map[string]string{}
	hash := func(kind, id, clear string) string {
		h, err := bcrypt.GenerateFromPassword([]byte(clear), bcrypt.MinCost)
		if err != nil {
			t.Fatal(err)
		}
		hashes[secretKey(kind, id)] = string(h)
		return string(h)
	}
	type entry struct {
		kind, id string
		ev       events.Event
	}
	var all []entry
	for _, e := range f.Units {
		all = append(all, entry{events.KindUnit, e.UnitID, unitOf(e)})
	}
	for _, e := range f.Inboxes {
		all = append(all, entry{events.KindInbox, e.InboxID, inboxOf(e)})
	}
	for _, e := range f.Workspaces {
		all = append(all, entry{events.KindWorkspace, e.WorkspaceID, workspaceOf(e)})
	}
	for _, e := range f.Services {
		all = append(all, entry{events.KindService, e.ServiceID, serviceOf(e)})
	}
	for _, e := range f.ServiceCategories {
		all = append(all, entry{events.KindServiceCategory, e.ServiceCategoryID, categoryOf(e)})
	}
	for _, e := range f.ServiceTypes {
		all = append(all, entry{events.KindServiceType, e.ServiceTypeID, serviceTypeOf(e)})
	}
	for _, e := range f.Operators {
		o := operatorOf(e)
		all = append(all, entry{events.KindOperator, o.UserID, events.OperatorV1{
			UserID: o.UserID, Email: o.Email, DisplayName: o.DisplayName, Initials: o.Initials, Picture: o.Picture,
			PasswordHash: hash(secretOperator, o.UserID, e.Password), Blocked: o.Blocked,
			ServiceTypes: o.ServiceTypes, Units: o.Units, Workspaces: o.Workspaces, Roles: o.Roles,
		}})
	}
	for _, e := range f.Groups {
		all = append(all, entry{events.KindGroup, e.GroupID, groupOf(e)})
	}
	for _, e := range f.Touchpoints {
		all = append(all, entry{events.KindTouchpoint, e.Code, events.TouchpointV1{Code: e.Code, TokenHash: hash(secretTouchpoint, e.Code, e.Token)}})
	}
	for _, e := range f.Applications {
		a := applicationOf(e)
		all = append(all, entry{events.KindApplication, a.ApplicationID, events.ApplicationV1{
			ApplicationID: a.ApplicationID, ClientID: a.ClientID, ClientSecretHash: hash(secretApplication, a.ApplicationID, e.ClientSecret), Roles: a.Roles,
		}})
	}
	for _, e := range all {
		subject := events.DirectorySubject(e.kind, events.SubjectToken(e.id))
		env, err := events.Wrap(events.Meta{ID: fmt.Sprintf("v1-%d", eventCount.Add(1)), Subject: subject, OccurredAt: time.Now(),
			Actor: events.Actor{Kind: events.ActorSystem, ID: "bootstrap"}}, e.ev)
		if err != nil {
			t.Fatal(err)
		}
		if env.SchemaVersion != 1 {
			t.Fatalf("%s written at version %d, want 1", env.Type, env.SchemaVersion)
		}
		if _, err := store.Append(context.Background(), subject, 0, []events.Envelope{env}); err != nil {
			t.Fatal(err)
		}
	}
	return hashes
}

// signIns checks that every operator, touchpoint and application of the demo file signs in
// with its secret (carol is blocked: her password is right) and not with another's.
func signIns(t *testing.T, d *Directory, f *File) {
	t.Helper()
	for _, o := range f.Operators {
		want := error(nil)
		if o.Blocked {
			want = ErrBlocked
		}
		if _, err := d.VerifyOperator(o.Email, o.Password); !errors.Is(err, want) {
			t.Errorf("%s: got %v, want %v", o.Email, err, want)
		}
		if _, err := d.VerifyOperator(o.Email, o.Password+"x"); !errors.Is(err, ErrBadCredentials) {
			t.Errorf("%s with a wrong password: got %v, want ErrBadCredentials", o.Email, err)
		}
	}
	for _, tp := range f.Touchpoints {
		if err := d.VerifyTouchpoint(tp.Code, tp.Token); err != nil {
			t.Errorf("touchpoint %s: got %v, want nil", tp.Code, err)
		}
	}
	for _, a := range f.Applications {
		if _, err := d.VerifyApplication(a.ClientID, a.ClientSecret); err != nil {
			t.Errorf("application %s: got %v, want nil", a.ClientID, err)
		}
	}
}

// TestNoHashInTheLog bootstraps the demo into a fresh JetStream store and reads every
// message of both streams: none holds a bcrypt hash or a member named like a hash, and every
// principal of the file still signs in, from the bucket.
func TestNoHashInTheLog(t *testing.T) {
	store, js := newJetStream(t)
	d := New()
	d.UseSecrets(openSecrets(t, js))
	f := demoFile(t)
	if _, err := Bootstrap(context.Background(), store, d, f, testOptions()); err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, stream := range []string{events.StreamDirectory, events.StreamCases} {
		if _, err := eventstore.Replay(context.Background(), js, stream, func(r eventstore.Record) {
			n++
			if problem := hashIn(string(r.Envelope.Data)); problem != "" {
				t.Errorf("%s seq %d (%s): %s", stream, r.Seq, r.Envelope.Type, problem)
			}
		}); err != nil {
			t.Fatal(err)
		}
	}
	if n != demoEvents {
		t.Errorf("messages read: got %d, want %d", n, demoEvents)
	}
	signIns(t, d, f)
	// A process starting on the same store signs in from the bucket alone.
	signIns(t, replay(t, js), f)
}

// hashIn names what in body looks like a secret's hash, "" if nothing does.
func hashIn(body string) string {
	for _, p := range []string{"$2a$", "$2b$", "$2y$"} {
		if strings.Contains(body, p) {
			return "a bcrypt hash " + p
		}
	}
	if i := strings.Index(strings.ToLower(body), `hash"`); i >= 0 {
		return "a member named like a hash: " + body[max(0, i-20):i+5]
	}
	return ""
}

func TestHashIn(t *testing.T) {
	for _, tt := range []struct {
		body  string
		found bool
	}{
		{`{"userId":"u","email":"e"}`, false},
		{`{"passwordHash":""}`, true},
		{`{"tokenHash":"x"}`, true},
		{`{"note":"$2b$10$abc"}`, true},
		{`{"note":"$2y$10$abc"}`, true},
		{`{"note":"$2a$10$abc"}`, true},
	} {
		if got := hashIn(tt.body) != ""; got != tt.found {
			t.Errorf("hashIn(%s): got %v, want %v", tt.body, got, tt.found)
		}
	}
}

// TestSecretChange changes one password: exactly one SecretChanged event on the operator's
// subject, nothing else; the old password stops working at once although it was cached,
// and the new one works.
func TestSecretChange(t *testing.T) {
	store, d := bootstrapDemo(t)
	if _, err := d.VerifyOperator("bob@example.com", "bob-password"); err != nil {
		t.Fatal(err) // and now cached
	}
	before := store.LastSeq()
	oldHash := store.secrets.hash(secretOperator, bob)
	f := demoFile(t)
	f.Operators[1].Password = "bob-new-password"
	n, err := Bootstrap(context.Background(), store, d, f, testOptions())
	if err != nil || n != 1 {
		t.Fatalf("got %d, %v, want 1, nil", n, err)
	}
	recs := store.records(t)
	if got := uint64(len(recs)); got != before+1 {
		t.Fatalf("records: got %d, want %d", got, before+1)
	}
	last := recs[len(recs)-1]
	ev, err := last.Decoded()
	if err != nil {
		t.Fatal(err)
	}
	wantSubject := events.DirectorySubject(events.KindOperator, bob)
	if ev != (events.SecretChanged{Kind: events.KindOperator, ID: bob}) || last.Envelope.Subject != wantSubject {
		t.Errorf("event: got %#v on %s, want bob's SecretChanged on %s", ev, last.Envelope.Subject, wantSubject)
	}
	if last.Envelope.Actor != (events.Actor{Kind: events.ActorSystem, ID: "bootstrap"}) || last.Envelope.OccurredAt.IsZero() {
		t.Errorf("who and when: got %+v at %v", last.Envelope.Actor, last.Envelope.OccurredAt)
	}
	if h := store.secrets.hash(secretOperator, bob); h == oldHash || !strings.HasPrefix(h, "$2a$") {
		t.Errorf("bucket hash: got %q, want a new bcrypt hash", h)
	}
	if _, err := d.VerifyOperator("bob@example.com", "bob-password"); !errors.Is(err, ErrBadCredentials) {
		t.Errorf("old password: got %v, want ErrBadCredentials", err)
	}
	if _, err := d.VerifyOperator("bob@example.com", "bob-new-password"); err != nil {
		t.Errorf("new password: got %v, want nil", err)
	}
	if n, err := Bootstrap(context.Background(), store, d, f, testOptions()); err != nil || n != 0 {
		t.Errorf("the same file again: got %d, %v, want 0, nil", n, err)
	}
}

// failSecretEvents fails the appends of SecretChanged events while fail is set: a crash
// between the bucket's write and the event's.
type failSecretEvents struct {
	*subjectLog
	fail bool
}

func (s *failSecretEvents) Append(ctx context.Context, subject string, expected uint64, envs []events.Envelope) (uint64, error) {
	if s.fail && envs[0].Type == events.TypeSecretChanged {
		return 0, errDown
	}
	return s.subjectLog.Append(ctx, subject, expected, envs)
}

// TestBootstrapCrashBetweenBucketAndLog stops a password change after the bucket's write
// and before the event's: the new password works already, and the next run appends the
// missing event, once, with the id the bucket's value names.
func TestBootstrapCrashBetweenBucketAndLog(t *testing.T) {
	log, d := bootstrapDemo(t)
	store := &failSecretEvents{subjectLog: log, fail: true}
	f := demoFile(t)
	f.Operators[1].Password = "bob-new-password"
	before := log.LastSeq()
	if _, err := Bootstrap(context.Background(), store, d, f, testOptions()); !errors.Is(err, errDown) {
		t.Fatalf("got %v, want %v", err, errDown)
	}
	if got := log.LastSeq(); got != before {
		t.Fatalf("events written by the failed run: got %d, want 0", got-before)
	}
	pending, _ := log.secrets.get(secretKey(secretOperator, bob))
	if pending.EventID == "" {
		t.Fatal("the bucket's value names no event")
	}
	if _, err := d.VerifyOperator("bob@example.com", "bob-new-password"); err != nil {
		t.Errorf("new password after the crash: got %v, want nil", err)
	}

	// A restart: the view from the log, the same file.
	store.fail = false
	d = log.rebuild(t)
	n, err := Bootstrap(context.Background(), store, d, f, testOptions())
	if err != nil || n != 1 {
		t.Fatalf("re-run: got %d, %v, want 1, nil", n, err)
	}
	recs := log.records(t)
	last := recs[len(recs)-1].Envelope
	if last.Type != events.TypeSecretChanged || last.ID != pending.EventID {
		t.Errorf("re-run's event: got %s %s, want %s %s", last.Type, last.ID, events.TypeSecretChanged, pending.EventID)
	}
	if now, _ := log.secrets.get(secretKey(secretOperator, bob)); now.Hash != pending.Hash {
		t.Error("the re-run replaced the hash the crashed run wrote")
	}
	if n, err := Bootstrap(context.Background(), store, d, f, testOptions()); err != nil || n != 0 {
		t.Errorf("a third run: got %d, %v, want 0, nil", n, err)
	}

	// A crash, then a file changed again before the next run: the unannounced value is
	// announced before it is replaced, so the log misses no value the bucket held.
	store.fail = true
	f.Operators[1].Password = "bob-third-password"
	if _, err := Bootstrap(context.Background(), store, d, f, testOptions()); !errors.Is(err, errDown) {
		t.Fatalf("got %v, want %v", err, errDown)
	}
	store.fail = false
	f.Operators[1].Password = "bob-fourth-password"
	if n, err := Bootstrap(context.Background(), store, log.rebuild(t), f, testOptions()); err != nil || n != 2 {
		t.Errorf("after a crash and another change: got %d, %v, want 2, nil", n, err)
	}
}

// TestSecretChangeReachesReplicas changes a password through one process: another, with
// its own bucket watch and following the stream, refuses the old password (cached there)
// and accepts the new one without a restart.
func TestSecretChangeReachesReplicas(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	store, js := newJetStream(t)
	writer := New()
	writer.UseSecrets(openSecrets(t, js))
	if _, err := Bootstrap(ctx, store, writer, demoFile(t), testOptions()); err != nil {
		t.Fatal(err)
	}
	other := replay(t, js)
	if _, err := other.VerifyOperator("bob@example.com", "bob-password"); err != nil {
		t.Fatal(err)
	}
	fctx, fcancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- eventstore.Follow(fctx, js, events.StreamDirectory, other.LastSeq(), other.Apply) }()
	defer func() { fcancel(); <-done }()

	f := demoFile(t)
	f.Operators[1].Password = "bob-new-password"
	if n, err := Bootstrap(ctx, store, writer, f, testOptions()); err != nil || n != 1 {
		t.Fatalf("got %d, %v, want 1, nil", n, err)
	}
	eventually.Check(t, 5*time.Second, 5*time.Millisecond, func() error {
		if _, err := other.VerifyOperator("bob@example.com", "bob-new-password"); err != nil {
			return fmt.Errorf("new password on the other process: got %v", err)
		}
		return nil
	})
	if _, err := other.VerifyOperator("bob@example.com", "bob-password"); !errors.Is(err, ErrBadCredentials) {
		t.Errorf("old password on the other process: got %v, want ErrBadCredentials", err)
	}
	eventually.Check(t, 5*time.Second, 5*time.Millisecond, func() error {
		if other.LastSeq() != writer.LastSeq() {
			return fmt.Errorf("follower at %d, writer at %d", other.LastSeq(), writer.LastSeq())
		}
		return nil
	})
	sameView(t, other, writer)
}

// TestUpgradeFromV1Log starts today's code on a log that the bootstrap wrote before
// secrets left it: the view folds the version 1 events, the hashes they hold go into the
// bucket once, every principal signs in, and applying the same file writes nothing.
func TestUpgradeFromV1Log(t *testing.T) {
	ctx := context.Background()
	store, js := newJetStream(t)
	f := demoFile(t)
	hashes := appendV1(t, store, f)

	d := replay(t, js)
	if _, err := d.VerifyOperator("alice@example.com", "alice-password"); !errors.Is(err, ErrBadCredentials) {
		t.Fatalf("before the migration: got %v, want ErrBadCredentials (verification reads the bucket only)", err)
	}
	n, err := d.MigrateSecrets(ctx)
	if err != nil || n != demoSecrets {
		t.Fatalf("migrated: got %d, %v, want %d, nil", n, err, demoSecrets)
	}
	for key, want := range hashes {
		if e, _ := d.secrets.get(key); e.Hash != want || e.EventID != "" {
			t.Errorf("bucket %s: got %+v, want the version 1 hash and no event", key, e.Secret)
		}
	}
	signIns(t, d, f)
	if op, _ := d.Operator(alice); op.Email != "alice@example.com" || len(op.Workspaces) != 3 {
		t.Errorf("alice from her version 1 event: got %+v", op)
	}

	// Another process starting: nothing left to migrate, and the file changes nothing.
	d2 := replay(t, js)
	if n, err := d2.MigrateSecrets(ctx); err != nil || n != 0 {
		t.Errorf("migrating again: got %d, %v, want 0, nil", n, err)
	}
	signIns(t, d2, f)
	if n, err := Bootstrap(ctx, store, d2, f, testOptions()); err != nil || n != 0 {
		t.Errorf("the same file on the upgraded log: got %d, %v, want 0, nil", n, err)
	}

	// A password changed after the upgrade: the bucket wins over the version 1 event on
	// every later start.
	f.Operators[1].Password = "bob-new-password"
	if n, err := Bootstrap(ctx, store, d2, f, testOptions()); err != nil || n != 1 {
		t.Fatalf("new password: got %d, %v, want 1, nil", n, err)
	}
	d3 := replay(t, js)
	if n, err := d3.MigrateSecrets(ctx); err != nil || n != 0 {
		t.Errorf("migrating after the change: got %d, %v, want 0, nil", n, err)
	}
	if _, err := d3.VerifyOperator("bob@example.com", "bob-new-password"); err != nil {
		t.Errorf("new password after a restart: got %v, want nil", err)
	}
	if _, err := d3.VerifyOperator("bob@example.com", "bob-password"); !errors.Is(err, ErrBadCredentials) {
		t.Errorf("the version 1 password after a change: got %v, want ErrBadCredentials", err)
	}
}

func TestNoBucket(t *testing.T) {
	store := newSubjectLog(t)
	d := New()
	if _, err := Bootstrap(context.Background(), store, d, demoFile(t), testOptions()); !errors.Is(err, ErrNoSecrets) {
		t.Errorf("Bootstrap: got %v, want ErrNoSecrets", err)
	}
	if _, err := d.MigrateSecrets(context.Background()); !errors.Is(err, ErrNoSecrets) {
		t.Errorf("MigrateSecrets: got %v, want ErrNoSecrets", err)
	}
	// The view's entities are there; without a bucket no one signs in.
	if _, err := d.VerifyOperator("alice@example.com", "alice-password"); !errors.Is(err, ErrBadCredentials) {
		t.Errorf("VerifyOperator: got %v, want ErrBadCredentials", err)
	}
}

// TestBootstrapBusyIsNoChange applies the same file while every bcrypt slot is taken: a
// comparison refused as busy is not a mismatch, so no secret is replaced and nothing is
// written; the run fails with ErrBusy and a later one finds nothing to do.
func TestBootstrapBusyIsNoChange(t *testing.T) {
	store, _ := bootstrapDemo(t)
	d := store.rebuild(t) // a restart: nothing cached
	d.LimitCompares(1, time.Millisecond)
	d.bound.slots <- struct{}{}
	before, hash := store.LastSeq(), store.secrets.hash(secretOperator, alice)
	n, err := Bootstrap(context.Background(), store, d, demoFile(t), testOptions())
	if !errors.Is(err, ErrBusy) || n != 0 {
		t.Fatalf("got %d, %v, want 0, ErrBusy", n, err)
	}
	if store.LastSeq() != before || store.secrets.hash(secretOperator, alice) != hash {
		t.Fatal("a busy comparison replaced a secret")
	}
	<-d.bound.slots
	if n, err := Bootstrap(context.Background(), store, d, demoFile(t), testOptions()); err != nil || n != 0 {
		t.Errorf("once free: got %d, %v, want 0, nil", n, err)
	}
}
