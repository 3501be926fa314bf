package eventstore_test

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/casestream/casestream/events"
	"github.com/casestream/casestream/internal/embedded"
	"github.com/casestream/casestream/internal/embedded/embeddedtest"
	"github.com/casestream/casestream/internal/eventstore"
	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/synadia-io/orbit.go/jetstreamext"
)

var loadCases = flag.Int("load-cases", 10_000, "BenchmarkLoad: cases of 10 events in its streams")

// BenchmarkLoad loads one case of 10 events from a CASES stream of 100,000 events over
// 10,000 cases (-load-cases), built once per run with lazy fsync, in two layouts:
// "spread", each case's events 10,000 sequences apart, as when cases live side by side for
// days; "contiguous", each case's events next to each other, as when each was written in
// one append. Besides the mean, it reports the median and 99th percentile of one load.
func BenchmarkLoad(b *testing.B) {
	cases, perCase := *loadCases, 10
	spread, _ := newJetStream(b, eventstore.DefaultJetStreamOptions())
	buildStream(b, spread, cases, perCase, 1)
	contiguous, _ := newJetStream(b, eventstore.DefaultJetStreamOptions())
	buildStream(b, contiguous, cases, perCase, perCase)

	for _, loader := range []string{"walk", "forward", "ordered"} {
		for _, layout := range []struct {
			name string
			s    *eventstore.JetStream
		}{{"spread", spread}, {"contiguous", contiguous}} {
			load := layout.s.Load
			switch loader {
			case "forward":
				load = layout.s.LoadForward
			case "ordered":
				load = layout.s.LoadOrdered
			}
			b.Run(loader+"/"+layout.name, func(b *testing.B) {
				ctx := context.Background()
				i := 0
				var lat []time.Duration
				for b.Loop() {
					subj := events.CaseSubject(int64(i%cases + 1))
					i += 7919 // a prime: visit the cases out of order
					t := time.Now()
					recs, err := load(ctx, subj, 0)
					lat = append(lat, time.Since(t))
					if err != nil {
						b.Fatal(err)
					}
					if len(recs) != perCase {
						b.Fatalf("Load(%s): got %d records, want %d", subj, len(recs), perCase)
					}
				}
				slices.Sort(lat)
				at := func(p int) float64 { return float64(lat[(len(lat)-1)*p/100]) / float64(time.Millisecond) }
				b.ReportMetric(at(50), "p50-ms")
				b.ReportMetric(at(99), "p99-ms")
			})
		}
	}
}

// buildStream gives each of cases subjects perCase events, written in rounds of perAppend
// events per subject, each round appending to every subject concurrently.
func buildStream(b *testing.B, s *eventstore.JetStream, cases, perCase, perAppend int) {
	b.Helper()
	ctx := context.Background()
	last := make([]uint64, cases)
	const workers = 64
	for round := range perCase / perAppend {
		var wg sync.WaitGroup
		for w := range workers {
			wg.Go(func() {
				for c := w; c < cases; c += workers {
					subj := events.CaseSubject(int64(c + 1))
					envs := make([]events.Envelope, perAppend)
					for k := range envs {
						envs[k] = eventstore.NoteAdded(subj, fmt.Sprint(round, k))
					}
					seq, err := s.Append(ctx, subj, last[c], envs)
					if err != nil {
						b.Errorf("Append(%s): %v", subj, err)
						return
					}
					last[c] = seq
				}
			})
		}
		wg.Wait()
		if b.Failed() {
			b.FailNow()
		}
	}
}

// durableStreams starts a server that fsyncs before every acknowledgement and creates the
// streams on it.
func durableStreams(b *testing.B) jetstream.JetStream {
	b.Helper()
	_, nc := embeddedtest.StartWith(b, embedded.Options{SyncAlways: true})
	js := embeddedtest.JetStream(b, nc)
	if err := eventstore.EnsureStreams(context.Background(), js, 1); err != nil {
		b.Fatal(err)
	}
	return js
}

// BenchmarkAppend appends one event to a new case per operation from 1, 32 or 256
// concurrent writers, with fsync before every acknowledgement.
func BenchmarkAppend(b *testing.B) {
	for _, writers := range []int{1, 32, 256} {
		b.Run(fmt.Sprintf("writers=%d", writers), func(b *testing.B) {
			js := durableStreams(b)
			ctx := context.Background()
			s := eventstore.NewJetStream(js, eventstore.DefaultJetStreamOptions())
			defer s.Close()

			var next atomic.Int64
			work := make(chan struct{}, b.N)
			for range b.N {
				work <- struct{}{}
			}
			close(work)
			b.ResetTimer()
			var wg sync.WaitGroup
			for range writers {
				wg.Go(func() {
					for range work {
						subj := events.CaseSubject(next.Add(1))
						if _, err := s.Append(ctx, subj, 0, []events.Envelope{eventstore.NoteAdded(subj, "x")}); err != nil {
							b.Error(err)
							return
						}
					}
				})
			}
			wg.Wait()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "appends/s")
		})
	}
}

// BenchmarkCommit publishes n single-event appends to n new cases, with fsync before every
// acknowledgement, as one atomic batch or as n pipelined publishes: the two ways appends
// could share a commit, neither of which the store uses (docs/performance.md). One op is
// one batch.
func BenchmarkCommit(b *testing.B) {
	js := durableStreams(b)
	ctx := context.Background()
	var next int64
	messages := func(n int) []*nats.Msg {
		msgs := make([]*nats.Msg, n)
		for i := range msgs {
			next++
			subj := events.CaseSubject(next)
			body, _ := json.Marshal(eventstore.NoteAdded(subj, "x"))
			m := nats.NewMsg(subj)
			m.Data = body
			m.Header.Set(jetstream.MsgIDHeader, uuid.NewString())
			m.Header.Set(jetstream.ExpectedLastSubjSeqHeader, "0")
			msgs[i] = m
		}
		return msgs
	}
	for _, n := range []int{1, 16, 64, 256, 1000} {
		b.Run(fmt.Sprintf("atomic/n=%d", n), func(b *testing.B) {
			for b.Loop() {
				if _, err := jetstreamext.PublishMsgBatch(ctx, js, messages(n), jetstreamext.BatchFlowControl{}); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N*n)/b.Elapsed().Seconds(), "events/s")
		})
		b.Run(fmt.Sprintf("pipelined/n=%d", n), func(b *testing.B) {
			for b.Loop() {
				futures := make([]jetstream.PubAckFuture, 0, n)
				for _, m := range messages(n) {
					f, err := js.PublishMsgAsync(m)
					if err != nil {
						b.Fatal(err)
					}
					futures = append(futures, f)
				}
				for _, f := range futures {
					select {
					case <-f.Ok():
					case err := <-f.Err():
						b.Fatal(err)
					}
				}
			}
			b.ReportMetric(float64(b.N*n)/b.Elapsed().Seconds(), "events/s")
		})
	}
}

// BenchmarkReplay replays a CASES stream of 100,000 events (10,000 cases of 10) with
// Replay, which reads through the same ordered consumer as Follow. One op is one replay.
func BenchmarkReplay(b *testing.B) {
	const cases, perCase = 10_000, 10
	s, js := newJetStream(b, eventstore.DefaultJetStreamOptions())
	buildStream(b, s, cases, perCase, perCase)
	ctx := context.Background()
	for b.Loop() {
		n := 0
		if _, err := eventstore.Replay(ctx, js, events.StreamCases, func(eventstore.Record) { n++ }); err != nil {
			b.Fatal(err)
		}
		if n != cases*perCase {
			b.Fatalf("Replay: got %d events, want %d", n, cases*perCase)
		}
	}
	b.ReportMetric(float64(b.N*cases*perCase)/b.Elapsed().Seconds(), "events/s")
}

// BenchmarkLastSeq reads the last sequence of a CASES stream of 100,000 events, through
// each of LastSeq's two ways, from 1 or 16 concurrent readers.
func BenchmarkLastSeq(b *testing.B) {
	s, _ := newJetStream(b, eventstore.DefaultJetStreamOptions())
	buildStream(b, s, 10_000, 10, 10)
	ctx := context.Background()
	want, err := s.LastSeqInfo(ctx, events.StreamCases)
	if err != nil || want != 100_000 {
		b.Fatalf("last sequence: got %d, %v; want 100000", want, err)
	}
	ways := []struct {
		name string
		read func() (uint64, error)
	}{
		{"direct", func() (uint64, error) {
			seq, _, err := s.LastSeqDirect(ctx, events.StreamCases)
			return seq, err
		}},
		{"info", func() (uint64, error) { return s.LastSeqInfo(ctx, events.StreamCases) }},
	}
	for _, way := range ways {
		for _, readers := range []int{1, 16} {
			b.Run(fmt.Sprintf("%s/readers=%d", way.name, readers), func(b *testing.B) {
				b.SetParallelism((readers + runtime.GOMAXPROCS(0) - 1) / runtime.GOMAXPROCS(0))
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						if got, err := way.read(); err != nil || got != want {
							b.Errorf("got %d, %v; want %d", got, err, want)
							return
						}
					}
				})
			})
		}
	}
}
