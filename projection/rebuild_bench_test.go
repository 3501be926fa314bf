package projection

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/casestream/casestream/events"
	"github.com/casestream/casestream/internal/embedded/embeddedtest"
	"github.com/casestream/casestream/internal/eventstore"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// BenchmarkRebuild replays a CASES stream of 100,000 cases opened and assigned (200,000
// events) into a fresh projector, through the embedded server, as a projector does when
// it starts; it reports the events folded per second and what one rebuild allocates.
func BenchmarkRebuild(b *testing.B) {
	_, nc := embeddedtest.Start(b)
	js := embeddedtest.JetStream(b, nc, jetstream.WithPublishAsyncMaxPending(4096))
	ctx := context.Background()
	if err := eventstore.EnsureStreams(ctx, js, 1); err != nil {
		b.Fatal(err)
	}
	recs := activeLog(b, 100_000, 1000)
	for _, r := range recs {
		body, err := json.Marshal(r.Envelope)
		if err != nil {
			b.Fatal(err)
		}
		m := nats.NewMsg(r.Envelope.Subject)
		m.Data = body
		m.Header.Set(events.HeaderEventType, r.Envelope.Type)
		if _, err := js.PublishMsgAsync(m); err != nil {
			b.Fatal(err)
		}
	}
	<-js.PublishAsyncComplete()
	d := demoDir(b)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		p := NewProjector(d)
		last, err := eventstore.Replay(ctx, js, events.StreamCases, p.ApplyCases)
		if err != nil {
			b.Fatal(err)
		}
		if got := p.Model().LastSeq(); got != last || last != uint64(len(recs)) {
			b.Fatalf("rebuilt to %d of %d, want %d", got, last, len(recs))
		}
	}
	b.ReportMetric(float64(b.N*len(recs))/b.Elapsed().Seconds(), "events/s")
}
