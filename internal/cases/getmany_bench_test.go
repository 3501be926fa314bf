package cases

import (
	"context"
	"testing"

	"github.com/nats-io/nats.go"

	"github.com/casestream/casestream/internal/embedded/embeddedtest"
	"github.com/casestream/casestream/internal/eventstore"
	"github.com/casestream/casestream/internal/natsauth"
)

// BenchmarkListPage reads a page of 200 cached cases that did not change, on the embedded
// server: case by case with Get (what the operator listing did) and with GetMany, over the
// in-process connection and over TCP on the loopback, each on a server of its own. It reports the requests the
// service's connection sent per page.
func BenchmarkListPage(b *testing.B) {
	for _, conn := range []struct {
		name    string
		connect func(b *testing.B) *nats.Conn
	}{
		{"in-process", func(b *testing.B) *nats.Conn {
			_, nc := embeddedtest.Start(b)
			return nc
		}},
		{"loopback", func(b *testing.B) *nats.Conn {
			ns, _ := embeddedtest.Start(b)
			return embeddedtest.Connect(b, ns, natsauth.Service)
		}},
	} {
		b.Run(conn.name, func(b *testing.B) { benchmarkListPage(b, conn.connect(b)) })
	}
}

func benchmarkListPage(b *testing.B, nc *nats.Conn) {
	js := embeddedtest.JetStream(b, nc)
	ctx := context.Background()
	if err := eventstore.EnsureStreams(ctx, js, 1); err != nil {
		b.Fatal(err)
	}
	store := eventstore.NewJetStream(js, eventstore.DefaultJetStreamOptions())
	b.Cleanup(store.Close)
	svc := NewService(store, &counterIDs{}, Options{LastSeqs: store})
	ids := make([]int64, 200)
	for i := range ids {
		ids[i] = openOne(b, svc).CaseInstanceID
		addNote(b, svc, ids[i], "a note")
	}
	for _, bc := range []struct {
		name string
		list func() error
	}{
		{"Get each", func() error {
			for _, id := range ids {
				if _, err := svc.Get(ctx, id); err != nil {
					return err
				}
			}
			return nil
		}},
		{"GetMany", func() error {
			got, err := svc.GetMany(ctx, ids)
			if err == nil && len(got) != len(ids) {
				b.Fatalf("got %d cases, want %d", len(got), len(ids))
			}
			return err
		}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			if err := bc.list(); err != nil { // caches the cases and the stream handle
				b.Fatal(err)
			}
			sent := nc.Stats().OutMsgs
			for b.Loop() {
				if err := bc.list(); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(nc.Stats().OutMsgs-sent)/float64(b.N), "requests/op")
		})
	}
}
