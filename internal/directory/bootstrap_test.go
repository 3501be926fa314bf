package directory

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/casestream/casestream/events"
	"github.com/casestream/casestream/internal/eventstore"
	"github.com/casestream/casestream/internal/golden"
)

func TestBootstrapDemo(t *testing.T) {
	store := newSubjectLog(t)
	d := store.newDirectory()
	f, err := ReadFile(demoPath)
	if err != nil {
		t.Fatal(err)
	}
	n, err := Bootstrap(context.Background(), store, d, f, testOptions())
	if err != nil {
		t.Fatal(err)
	}
	if n != demoEvents {
		t.Errorf("written: got %d, want %d", n, demoEvents)
	}
	if got := store.LastSeq(); got != uint64(demoEvents) {
		t.Errorf("store last seq: got %d, want %d", got, demoEvents)
	}
	if got := d.LastSeq(); got != store.LastSeq() {
		t.Errorf("directory last seq: got %d, want %d", got, store.LastSeq())
	}

	op, ok := d.OperatorByEmail("alice@example.com")
	if !ok || op.UserID != alice {
		t.Fatalf("alice: got %+v %v, want her", op, ok)
	}
	if h := store.secrets.hash(secretOperator, alice); !strings.HasPrefix(h, "$2a$") {
		t.Fatalf("alice's hash in the bucket: got %q, want a bcrypt hash", h)
	}
	if _, err := d.VerifyOperator("Alice@Example.com", "alice-password"); err != nil {
		t.Errorf("alice's password: got %v, want nil", err)
	}
	if _, err := d.VerifyOperator("carol@example.com", "carol-password"); !errors.Is(err, ErrBlocked) {
		t.Errorf("carol: got %v, want ErrBlocked", err)
	}
	if err := d.VerifyTouchpoint("demo-kiosk", "demo-kiosk-token"); err != nil {
		t.Errorf("demo-kiosk: got %v, want nil", err)
	}
	app, err := d.VerifyApplication("demo-app", "demo-app-secret")
	if err != nil || app.ApplicationID != demoApp || len(app.Roles) != 2 {
		t.Errorf("demo-app: got %+v, %v, want the application with both roles", app, err)
	}
	st, ok := d.ServiceTypeByCode("COMPLAINT")
	if !ok || st.OperatorGroup != "Tier 2" {
		t.Errorf("COMPLAINT: got %+v %v, want routed to Tier 2", st, ok)
	}
	if _, ok := d.GroupByName("Tier 2"); !ok {
		t.Error("group Tier 2 missing")
	}

	// Every event is a "defined" event on the entity's own subject, stamped by the system.
	recs, err := store.Load(context.Background(), events.DirectorySubject(events.KindOperator, alice), 0)
	if err != nil || len(recs) != 2 {
		t.Fatalf("alice's subject: got %d records, %v, want 2", len(recs), err)
	}
	for i, want := range []string{events.TypeOperatorDefined, events.TypeSecretChanged} {
		env := recs[i].Envelope
		if env.Type != want || env.Actor != (events.Actor{Kind: events.ActorSystem, ID: "bootstrap"}) {
			t.Errorf("alice's event %d: got type %q actor %+v, want %s by the bootstrap", i, env.Type, env.Actor, want)
		}
		if strings.Contains(string(env.Data), "alice-password") {
			t.Error("the password is stored in clear")
		}
	}

	sameView(t, store.rebuild(t), d)
}

func TestBootstrapIdempotent(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name   string
		change func(f *File)
		want   int
		check  func(t *testing.T, d *Directory)
	}{
		{"same file", func(f *File) {}, 0, nil},
		{"uuids in upper case", func(f *File) {
			f.Units[0].UnitID = strings.ToUpper(f.Units[0].UnitID)
			f.Operators[0].UserID = strings.ToUpper(f.Operators[0].UserID)
			f.Operators[0].Units[0] = strings.ToUpper(f.Operators[0].Units[0])
		}, 0, nil},
		{"one field of one operator", func(f *File) { f.Operators[1].DisplayName = "Robert Brown" }, 1,
			func(t *testing.T, d *Directory) {
				op, _ := d.Operator(bob)
				if op.DisplayName != "Robert Brown" {
					t.Errorf("displayName: got %q, want Robert Brown", op.DisplayName)
				}
				if _, err := d.VerifyOperator("bob@example.com", "bob-password"); err != nil {
					t.Errorf("bob's unchanged password: got %v, want nil", err)
				}
			}},
		{"a password", func(f *File) { f.Operators[1].Password = "bob-new-password" }, 1,
			func(t *testing.T, d *Directory) {
				if _, err := d.VerifyOperator("bob@example.com", "bob-new-password"); err != nil {
					t.Errorf("new password: got %v, want nil", err)
				}
				if _, err := d.VerifyOperator("bob@example.com", "bob-password"); !errors.Is(err, ErrBadCredentials) {
					t.Errorf("old password: got %v, want ErrBadCredentials", err)
				}
			}},
		{"an email's case", func(f *File) { f.Operators[1].Email = "Bob@Example.com" }, 1,
			func(t *testing.T, d *Directory) {
				op, ok := d.OperatorByEmail("BOB@EXAMPLE.COM")
				if !ok || op.Email != "Bob@Example.com" {
					t.Errorf("got %+v %v, want bob with his new spelling", op, ok)
				}
			}},
		{"an email", func(f *File) { f.Operators[1].Email = "robert@example.com" }, 1,
			func(t *testing.T, d *Directory) {
				if _, ok := d.OperatorByEmail("bob@example.com"); ok {
					t.Error("old email still finds bob")
				}
				if op, ok := d.OperatorByEmail("robert@example.com"); !ok || op.UserID != bob {
					t.Errorf("new email: got %+v %v, want bob", op, ok)
				}
			}},
		{"a token and a client secret", func(f *File) {
			f.Touchpoints[0].Token = "new-token"
			f.Applications[0].ClientSecret = "new-secret"
		}, 2, func(t *testing.T, d *Directory) {
			if err := d.VerifyTouchpoint("demo-kiosk", "new-token"); err != nil {
				t.Errorf("new token: got %v, want nil", err)
			}
			if _, err := d.VerifyApplication("demo-app", "new-secret"); err != nil {
				t.Errorf("new secret: got %v, want nil", err)
			}
		}},
		{"a group renamed and a type rerouted", func(f *File) {
			f.Groups[1].Name = "Escalations"
			f.ServiceTypes[2].OperatorGroup = "Escalations"
		}, 2, func(t *testing.T, d *Directory) {
			if _, ok := d.GroupByName("Tier 2"); ok {
				t.Error("old group name still found")
			}
			if g, ok := d.GroupByName("Escalations"); !ok || len(g.Members) != 3 {
				t.Errorf("new group name: got %+v %v", g, ok)
			}
		}},
		{"an entry removed from the file", func(f *File) { f.Touchpoints = nil }, 0,
			func(t *testing.T, d *Directory) {
				if _, ok := d.Touchpoint("demo-kiosk"); !ok {
					t.Error("bootstrap deleted a touchpoint")
				}
			}},
		{"a new unit", func(f *File) {
			f.Units = append(f.Units, events.Unit{UnitID: "5f0c6b1e-2d3a-4c8b-9e71-0a1b2c3d4e03", Name: "Harbour"})
		}, 1, nil},
	}
	// Each case changes the demo file and applies it to a directory bootstrapped from the
	// demo, so that the cases do not depend on each other.
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			store, d := bootstrapDemo(t)
			before := store.LastSeq()
			f := demoFile(t)
			tt.change(f)
			n, err := Bootstrap(ctx, store, d, f, testOptions())
			if err != nil {
				t.Fatal(err)
			}
			if n != tt.want {
				t.Errorf("written: got %d, want %d", n, tt.want)
			}
			if got := store.LastSeq() - before; got != uint64(tt.want) {
				t.Errorf("events stored: got %d, want %d", got, tt.want)
			}
			if tt.check != nil {
				tt.check(t, d)
			}
			again, err := Bootstrap(ctx, store, d, f, testOptions())
			if err != nil || again != 0 {
				t.Errorf("applying it again: got %d, %v, want 0, nil", again, err)
			}
			sameView(t, store.rebuild(t), d)
		})
	}
}

func TestBootstrapInvalidFile(t *testing.T) {
	f := demoFile(t)
	f.Operators[0].UserID = "alice"
	store := eventstore.NewMemory()
	n, err := Bootstrap(context.Background(), store, New(), f, testOptions())
	if !errors.Is(err, ErrInvalidFile) || n != 0 || store.LastSeq() != 0 {
		t.Errorf("got %d, %v, %d stored, want 0, ErrInvalidFile, 0 stored", n, err, store.LastSeq())
	}
}

// TestBootstrapStaleView bootstraps into a directory that has not seen what another replica
// wrote: every append conflicts, the subject is reloaded, and nothing is written twice.
func TestBootstrapStaleView(t *testing.T) {
	store, d1 := bootstrapDemo(t)
	d2 := store.newDirectory()
	n, err := Bootstrap(context.Background(), store, d2, demoFile(t), testOptions())
	if err != nil || n != 0 {
		t.Fatalf("got %d, %v, want 0, nil", n, err)
	}
	sameView(t, d2, d1)
}

// TestBootstrapConcurrent runs replicas bootstrapping the same file at the same time: each
// entity is defined once, and every replica ends with the same view.
func TestBootstrapConcurrent(t *testing.T) {
	store := newSubjectLog(t)
	const replicas = 4
	dirs := make([]*Directory, replicas)
	written := make([]int, replicas)
	errs := make([]error, replicas)
	var wg sync.WaitGroup
	for i := range dirs {
		dirs[i] = store.newDirectory()
		f := demoFile(t)
		wg.Go(func() {
			written[i], errs[i] = Bootstrap(context.Background(), store, dirs[i], f, testOptions())
		})
	}
	wg.Wait()
	total := 0
	for i := range dirs {
		if errs[i] != nil {
			t.Fatalf("replica %d: %v", i, errs[i])
		}
		total += written[i]
	}
	if total != demoEvents || store.LastSeq() != demoEvents {
		t.Errorf("written: got %d (%d stored), want %d", total, store.LastSeq(), demoEvents)
	}
	want := store.rebuild(t)
	for i, d := range dirs {
		// A replica that lost every race on a subject learned of it by reloading, so its
		// view of that subject is the winner's.
		t.Run("replica"+string(rune('0'+i)), func(t *testing.T) { sameView(t, d, want) })
	}
}

// conflictStore refuses every append as a conflict.
type conflictStore struct{ *eventstore.Memory }

func (conflictStore) Append(context.Context, string, uint64, []events.Envelope) (uint64, error) {
	return 0, eventstore.ErrConflict
}

func TestBootstrapTooManyConflicts(t *testing.T) {
	n, err := Bootstrap(context.Background(), conflictStore{eventstore.NewMemory()}, New(), demoFile(t), testOptions())
	if !errors.Is(err, ErrTooManyConflicts) || n != 0 {
		t.Errorf("got %d, %v, want 0, ErrTooManyConflicts", n, err)
	}
	if err != nil && !strings.Contains(err.Error(), "unit") {
		t.Errorf("error %q does not name the entity", err)
	}
}

// inFlightStore refuses the first refusals appends as conflicts with nothing newer to load,
// as a replicated stream's leader refuses an expectation on a subject while another append
// on it is still being replicated; then it stores them.
type inFlightStore struct {
	*subjectLog
	refusals int
}

func (s *inFlightStore) Append(ctx context.Context, subject string, expected uint64, envs []events.Envelope) (uint64, error) {
	if s.refusals > 0 {
		s.refusals--
		return 0, eventstore.ErrConflict
	}
	return s.subjectLog.Append(ctx, subject, expected, envs)
}

// TestBootstrapInFlightRefusals: refusals after which the reload finds nothing newer are
// outwaited, not counted as lost races: more of them than maxAttempts still end in the
// file's events, each written once.
func TestBootstrapInFlightRefusals(t *testing.T) {
	ref := newSubjectLog(t)
	want, err := Bootstrap(context.Background(), ref, ref.newDirectory(), demoFile(t), testOptions())
	if err != nil {
		t.Fatal(err)
	}
	store := &inFlightStore{subjectLog: newSubjectLog(t), refusals: 2 * maxAttempts}
	n, err := Bootstrap(context.Background(), store, store.newDirectory(), demoFile(t), testOptions())
	if err != nil || n != want {
		t.Errorf("got %d, %v, want %d, nil", n, err, want)
	}
	if store.refusals != 0 {
		t.Errorf("refusals left: got %d, want 0", store.refusals)
	}
}

// failStore fails every append.
type failStore struct{ *eventstore.Memory }

var errDown = errors.New("store down")

func (failStore) Append(context.Context, string, uint64, []events.Envelope) (uint64, error) {
	return 0, errDown
}

func TestBootstrapStoreError(t *testing.T) {
	n, err := Bootstrap(context.Background(), failStore{eventstore.NewMemory()}, New(), demoFile(t), testOptions())
	if !errors.Is(err, errDown) || n != 0 {
		t.Errorf("got %d, %v, want 0, %v", n, err, errDown)
	}
}

// TestBootstrapGolden pins what bootstrapping the demo writes: the subjects, the order, the
// envelopes and the data of every event. No event holds a hash.
func TestBootstrapGolden(t *testing.T) {
	store, _ := bootstrapDemo(t)
	var buf bytes.Buffer
	for _, r := range store.records(t) {
		env := r.Envelope
		var data map[string]any
		if err := json.Unmarshal(env.Data, &data); err != nil {
			t.Fatal(err)
		}
		env.ID = "(id)"
		env.CorrelationID = "(correlation)"
		env.Data, _ = json.Marshal(data)
		b, err := json.Marshal(struct {
			Seq uint64 `json:"seq"`
			events.Envelope
		}{r.Seq, env})
		if err != nil {
			t.Fatal(err)
		}
		buf.Write(b)
		buf.WriteByte('\n')
	}
	golden.Check(t, filepath.Join("testdata", "bootstrap-demo.golden"), buf.Bytes())
}
