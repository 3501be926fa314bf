package natsauth_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/casestream/casestream/internal/embedded"
	"github.com/casestream/casestream/internal/embedded/embeddedtest"
	"github.com/casestream/casestream/internal/eventstore"
	"github.com/casestream/casestream/internal/natsauth"
)

// credentialsBucket is the key-value bucket of the secrets' hashes: the service writes it,
// nobody else reads it.
const credentialsBucket = "CASESTREAM_CREDENTIALS"

// world is an embedded server with the log's streams, a few events, and the credentials
// bucket holding one hash, all written by the service.
type world struct {
	s       *embedded.Server
	service jetstream.JetStream
	admin   jetstream.JetStream
}

func newWorld(t *testing.T) *world {
	t.Helper()
	s, nc := embeddedtest.Start(t)
	js := embeddedtest.JetStream(t, nc)
	ctx := testCtx(t)
	if err := eventstore.EnsureStreams(ctx, js, 1); err != nil {
		t.Fatal(err)
	}
	for _, subj := range []string{"cases.1", "cases.2", "directory.unit.u1"} {
		if _, err := js.Publish(ctx, subj, []byte(`{}`)); err != nil {
			t.Fatalf("service publishes %s: %v", subj, err)
		}
	}
	for _, b := range natsauth.KeyValueBuckets {
		kv, err := js.CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: b, History: 1, Storage: jetstream.FileStorage})
		if err != nil {
			t.Fatalf("service creates bucket %s: %v", b, err)
		}
		if _, err := kv.Put(ctx, "operator.alice", []byte("$2a$10$hash")); err != nil {
			t.Fatalf("service puts into %s: %v", b, err)
		}
	}
	adm := embeddedtest.JetStream(t, embeddedtest.Connect(t, s, natsauth.Admin))
	return &world{s: s, service: js, admin: adm}
}

func testCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// connect connects as id and returns the connection with the asynchronous errors the server
// sends it (permission violations among them).
func connect(t *testing.T, s *embedded.Server, id natsauth.Identity) (*nats.Conn, <-chan error) {
	t.Helper()
	errs := make(chan error, 64)
	nc := embeddedtest.Connect(t, s, id, nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
		select {
		case errs <- err:
		default:
		}
	}))
	return nc, errs
}

// denied runs do and requires that the server refuses it with a permission violation
// naming want (e.g. `Publish to "cases.x"`) and that do does not succeed.
func denied(t *testing.T, errs <-chan error, want string, do func(ctx context.Context) error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- do(ctx) }()
	bound := time.NewTimer(30 * time.Second)
	defer bound.Stop()
	var result error
	finished := false
	for {
		select {
		case err := <-errs:
			if !errors.Is(err, nats.ErrPermissionViolation) || !strings.Contains(err.Error(), want) {
				continue // another attempt's, arriving late
			}
			cancel()
			if !finished {
				result = <-done
			}
			if result == nil {
				t.Errorf("%s: got success along with a permission violation, want an error", want)
			}
			return
		case result = <-done:
			if result == nil {
				t.Fatalf("%s: got success, want a permission violation", want)
			}
			finished, done = true, nil
		case <-bound.C:
			t.Fatalf("%s: no permission violation (the attempt returned %v)", want, result)
		}
	}
}

// request is a JetStream API request that reports the answer's error, if any.
func request(nc *nats.Conn, subj string, body string) func(ctx context.Context) error {
	return func(ctx context.Context) error {
		m, err := nc.RequestWithContext(ctx, subj, []byte(body))
		if err != nil {
			return err
		}
		if strings.Contains(string(m.Data), `"error"`) {
			return fmt.Errorf("%s", m.Data)
		}
		return nil
	}
}

// publish is a core publish followed by a round trip, so that a refusal arrives before it
// returns; it never fails by itself.
func publish(nc *nats.Conn, subj string) func(ctx context.Context) error {
	return func(ctx context.Context) error {
		if err := nc.Publish(subj, []byte("x")); err != nil {
			return err
		}
		if err := nc.FlushWithContext(ctx); err != nil {
			return err
		}
		<-ctx.Done()
		return ctx.Err()
	}
}

// TestReaderConsumes: the reader reads CASES and DIRECTORY with an ordered consumer, a
// durable pull consumer of its own (acknowledged, then deleted) and a direct get.
func TestReaderConsumes(t *testing.T) {
	w := newWorld(t)
	nc, _ := connect(t, w.s, natsauth.Reader)
	js := embeddedtest.JetStream(t, nc)
	ctx := testCtx(t)

	oc, err := js.OrderedConsumer(ctx, "CASES", jetstream.OrderedConsumerConfig{})
	if err != nil {
		t.Fatalf("ordered consumer on CASES: %v", err)
	}
	var subjects []string
	for range 2 {
		m, err := oc.Next(jetstream.FetchContext(ctx))
		if err != nil {
			t.Fatalf("ordered consumer on CASES: next: %v", err)
		}
		subjects = append(subjects, m.Subject())
	}
	if got, want := strings.Join(subjects, ","), "cases.1,cases.2"; got != want {
		t.Errorf("ordered consumer on CASES: got %s, want %s", got, want)
	}

	c, err := js.CreateConsumer(ctx, "DIRECTORY", jetstream.ConsumerConfig{Durable: "audit", AckPolicy: jetstream.AckExplicitPolicy})
	if err != nil {
		t.Fatalf("durable consumer on DIRECTORY: %v", err)
	}
	m, err := c.Next(jetstream.FetchContext(ctx))
	if err != nil {
		t.Fatalf("durable consumer on DIRECTORY: next: %v", err)
	}
	if got, want := m.Subject(), "directory.unit.u1"; got != want {
		t.Errorf("durable consumer on DIRECTORY: got %s, want %s", got, want)
	}
	if err := m.DoubleAck(ctx); err != nil {
		t.Errorf("ack: %v", err)
	}
	info, err := c.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.AckFloor.Stream != 1 {
		t.Errorf("ack floor: got %d, want 1", info.AckFloor.Stream)
	}
	if err := js.DeleteConsumer(ctx, "DIRECTORY", "audit"); err != nil {
		t.Errorf("delete its own consumer: %v", err)
	}

	st, err := js.Stream(ctx, "CASES")
	if err != nil {
		t.Fatal(err)
	}
	last, err := st.GetLastMsgForSubject(ctx, "cases.2")
	if err != nil {
		t.Fatalf("direct get: %v", err)
	}
	if last.Sequence != 2 {
		t.Errorf("direct get of cases.2: got sequence %d, want 2", last.Sequence)
	}
}

// TestDurableSequences: the service publishes the streams' durable sequences and a reader
// hears them.
func TestDurableSequences(t *testing.T) {
	w := newWorld(t)
	reader, _ := connect(t, w.s, natsauth.Reader)
	service, errs := connect(t, w.s, natsauth.Service)
	sub, err := reader.SubscribeSync("casestream.durable.>")
	if err != nil {
		t.Fatal(err)
	}
	if err := reader.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := service.Publish("casestream.durable.CASES", []byte("2")); err != nil {
		t.Fatal(err)
	}
	m, err := sub.NextMsg(10 * time.Second)
	if err != nil {
		t.Fatalf("reader: %v", err)
	}
	if m.Subject != "casestream.durable.CASES" || string(m.Data) != "2" {
		t.Errorf("reader heard %s %q, want casestream.durable.CASES \"2\"", m.Subject, m.Data)
	}
	select {
	case err := <-errs:
		t.Errorf("service: %v", err)
	default:
	}
}

// TestReaderDenied: the reader writes nothing, reads no bucket (the credentials bucket
// above all), subscribes to no bucket subject or service inbox, and deletes nothing; the
// log and the buckets are as the service left them.
func TestReaderDenied(t *testing.T) {
	w := newWorld(t)
	nc, errs := connect(t, w.s, natsauth.Reader)
	js := embeddedtest.JetStream(t, nc)
	creds := "KV_" + credentialsBucket
	type attempt struct {
		name, want string
		do         func(ctx context.Context) error
	}
	tests := []attempt{
		{"publish cases.x", `Publish to "cases.x"`, publish(nc, "cases.x")},
		{"JetStream publish cases.1", `Publish to "cases.1"`, func(ctx context.Context) error {
			_, err := js.Publish(ctx, "cases.1", []byte(`{}`))
			return err
		}},
		{"publish directory.operator.x", `Publish to "directory.operator.x"`, publish(nc, "directory.operator.x")},
		{"publish a durable sequence", `Publish to "casestream.durable.CASES"`, publish(nc, "casestream.durable.CASES")},
		{"direct get from the credentials bucket", `Publish to "$JS.API.DIRECT.GET.` + creds,
			request(nc, "$JS.API.DIRECT.GET."+creds+".$KV."+credentialsBucket+".operator.alice", "")},
		{"stored get from the credentials bucket", `Publish to "$JS.API.STREAM.MSG.GET.` + creds,
			request(nc, "$JS.API.STREAM.MSG.GET."+creds, `{"last_by_subj":"$KV.`+credentialsBucket+`.operator.alice"}`)},
		{"consumer on the credentials bucket", `Publish to "$JS.API.CONSUMER.CREATE.` + creds,
			func(ctx context.Context) error {
				_, err := js.OrderedConsumer(ctx, creds, jetstream.OrderedConsumerConfig{})
				return err
			}},
		{"credentials bucket through the key-value API", `Publish to "$JS.API.STREAM.INFO.` + creds,
			func(ctx context.Context) error {
				_, err := js.KeyValue(ctx, credentialsBucket)
				return err
			}},
		{"subscribe to the credentials bucket's subjects", `Subscription to "$KV.>"`, func(ctx context.Context) error {
			if _, err := nc.SubscribeSync("$KV.>"); err != nil {
				return err
			}
			<-ctx.Done()
			return ctx.Err()
		}},
		{"subscribe to the object stores' subjects", `Subscription to "$O.>"`, func(ctx context.Context) error {
			if _, err := nc.SubscribeSync("$O.>"); err != nil {
				return err
			}
			<-ctx.Done()
			return ctx.Err()
		}},
		{"subscribe to the service's replies", `Subscription to "` + natsauth.ServiceInboxPrefix + `.>"`, func(ctx context.Context) error {
			if _, err := nc.SubscribeSync(natsauth.ServiceInboxPrefix + ".>"); err != nil {
				return err
			}
			<-ctx.Done()
			return ctx.Err()
		}},
		{"delete CASES", `Publish to "$JS.API.STREAM.DELETE.CASES"`, func(ctx context.Context) error { return js.DeleteStream(ctx, "CASES") }},
		{"purge DIRECTORY", `Publish to "$JS.API.STREAM.PURGE.DIRECTORY"`, request(nc, "$JS.API.STREAM.PURGE.DIRECTORY", "")},
		{"update CASES", `Publish to "$JS.API.STREAM.UPDATE.CASES"`, func(ctx context.Context) error {
			cfg := eventstore.StreamConfigs(1)[0]
			cfg.MaxMsgs = 1
			_, err := js.UpdateStream(ctx, cfg)
			return err
		}},
		{"delete a message", `Publish to "$JS.API.STREAM.MSG.DELETE.CASES"`, request(nc, "$JS.API.STREAM.MSG.DELETE.CASES", `{"seq":1}`)},
	}
	for _, b := range natsauth.KeyValueBuckets {
		tests = append(tests, attempt{"put into " + b, `Publish to "$KV.` + b + `.operator.alice"`, publish(nc, "$KV."+b+".operator.alice")})
		tests = append(tests, attempt{"delete bucket " + b, `Publish to "$JS.API.STREAM.DELETE.KV_` + b + `"`,
			func(ctx context.Context) error { return js.DeleteKeyValue(ctx, b) }})
	}
	for _, b := range natsauth.ObjectBuckets {
		tests = append(tests, attempt{"put into object store " + b, `Publish to "$O.` + b + `.M.x"`, publish(nc, "$O."+b+".M.x")})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { denied(t, errs, tt.want, tt.do) })
	}

	ctx := testCtx(t)
	for name, want := range map[string]uint64{"CASES": 2, "DIRECTORY": 1} {
		st, err := w.admin.Stream(ctx, name)
		if err != nil {
			t.Fatalf("stream %s after the attempts: %v", name, err)
		}
		if got := st.CachedInfo().State.Msgs; got != want {
			t.Errorf("%s messages after the attempts: got %d, want %d", name, got, want)
		}
	}
	for _, b := range natsauth.KeyValueBuckets {
		kv, err := w.admin.KeyValue(ctx, b)
		if err != nil {
			t.Fatalf("bucket %s after the attempts: %v", b, err)
		}
		e, err := kv.Get(ctx, "operator.alice")
		if err != nil || string(e.Value()) != "$2a$10$hash" || e.Revision() != 1 {
			t.Errorf("%s operator.alice after the attempts: got %v, want the service's value at revision 1", b, err)
		}
	}
}

// TestServiceCannotDelete: the service deletes, purges and updates no stream or bucket;
// the admin may delete them.
func TestServiceCannotDelete(t *testing.T) {
	w := newWorld(t)
	nc, errs := connect(t, w.s, natsauth.Service)
	js := embeddedtest.JetStream(t, nc)
	sessions := "CASESTREAM_SESSIONS"
	tests := []struct {
		name, want string
		do         func(ctx context.Context) error
	}{
		{"delete CASES", `Publish to "$JS.API.STREAM.DELETE.CASES"`, func(ctx context.Context) error { return js.DeleteStream(ctx, "CASES") }},
		{"delete DIRECTORY", `Publish to "$JS.API.STREAM.DELETE.DIRECTORY"`, func(ctx context.Context) error { return js.DeleteStream(ctx, "DIRECTORY") }},
		{"purge CASES", `Publish to "$JS.API.STREAM.PURGE.CASES"`, request(nc, "$JS.API.STREAM.PURGE.CASES", "")},
		{"delete a message of CASES", `Publish to "$JS.API.STREAM.MSG.DELETE.CASES"`, request(nc, "$JS.API.STREAM.MSG.DELETE.CASES", `{"seq":1}`)},
		{"update CASES with a limit", `Publish to "$JS.API.STREAM.UPDATE.CASES"`, func(ctx context.Context) error {
			cfg := eventstore.StreamConfigs(1)[0]
			cfg.MaxAge = time.Second
			_, err := js.UpdateStream(ctx, cfg)
			return err
		}},
		{"delete a bucket", `Publish to "$JS.API.STREAM.DELETE.KV_` + sessions + `"`, func(ctx context.Context) error { return js.DeleteKeyValue(ctx, sessions) }},
		{"purge a bucket", `Publish to "$JS.API.STREAM.PURGE.KV_` + sessions + `"`, request(nc, "$JS.API.STREAM.PURGE.KV_"+sessions, "")},
		{"delete the credentials bucket", `Publish to "$JS.API.STREAM.DELETE.KV_` + credentialsBucket + `"`, func(ctx context.Context) error {
			return js.DeleteKeyValue(ctx, credentialsBucket)
		}},
		{"delete an object store", `Publish to "$JS.API.STREAM.DELETE.OBJ_CASESTREAM_FILES"`, request(nc, "$JS.API.STREAM.DELETE.OBJ_CASESTREAM_FILES", "")},
		{"delete a stream it does not own", `Publish to "$JS.API.STREAM.DELETE.OTHER"`, request(nc, "$JS.API.STREAM.DELETE.OTHER", "")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { denied(t, errs, tt.want, tt.do) })
	}
	ctx := testCtx(t)
	st, err := w.admin.Stream(ctx, "CASES")
	if err != nil {
		t.Fatalf("CASES after the service's attempts: %v", err)
	}
	if got, want := st.CachedInfo().State.Msgs, uint64(2); got != want {
		t.Errorf("CASES messages after the service's attempts: got %d, want %d", got, want)
	}

	t.Run("admin deletes", func(t *testing.T) {
		if err := w.admin.DeleteKeyValue(ctx, sessions); err != nil {
			t.Errorf("admin deletes bucket %s: %v", sessions, err)
		}
		if err := w.admin.DeleteStream(ctx, "CASES"); err != nil {
			t.Errorf("admin deletes CASES: %v", err)
		}
		if _, err := w.admin.Stream(ctx, "CASES"); !errors.Is(err, jetstream.ErrStreamNotFound) {
			t.Errorf("CASES after the admin's delete: got %v, want %v", err, jetstream.ErrStreamNotFound)
		}
	})
}

// TestServiceCreatesWithoutUpdate: starting again creates nothing new and needs no update;
// a stream an admin changed is reported, not changed back.
func TestServiceCreatesWithoutUpdate(t *testing.T) {
	w := newWorld(t)
	ctx := testCtx(t)
	if err := eventstore.EnsureStreams(ctx, w.service, 1); err != nil {
		t.Fatalf("EnsureStreams on existing streams: %v", err)
	}
	cfg := eventstore.StreamConfigs(1)[1]
	cfg.Description = "edited by the admin"
	if _, err := w.admin.UpdateStream(ctx, cfg); err != nil {
		t.Fatalf("admin updates %s: %v", cfg.Name, err)
	}
	err := eventstore.EnsureStreams(ctx, w.service, 1)
	if !errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) {
		t.Fatalf("EnsureStreams on a changed stream: got %v, want %v", err, jetstream.ErrStreamNameAlreadyInUse)
	}
	st, err := w.admin.Stream(ctx, cfg.Name)
	if err != nil {
		t.Fatal(err)
	}
	if got := st.CachedInfo().Config.Description; got != cfg.Description {
		t.Errorf("%s description after EnsureStreams: got %q, want the admin's %q", cfg.Name, got, cfg.Description)
	}
}
