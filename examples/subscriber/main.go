// Command subscriber is an example downstream service: it follows every case assignment
// (case.assigned events) in casestream's CASES stream and handles each exactly once, across
// redeliveries and restarts. It uses only what docs/events.md promises: the stream, its
// subjects and headers, the envelope, and the events package that decodes it.
//
// It reads through a durable JetStream pull consumer on CASES (filter cases.>), so the
// server remembers where it stopped: after a restart it resumes with the first event it
// had not acknowledged. Handling an assignment appends one line to the -out file
// ("<event id> <caseInstanceId> <to>"), synced to disk, and only then is the message
// acknowledged. A message whose event id (its Nats-Msg-Id header) is already in that file
// was handled before the acknowledgement was lost (a crash, a timeout): it is acknowledged
// and not handled again.
//
// With -durable-only it handles an event only once the durable sequence of CASES that a
// node in group-commit mode (-durability group) publishes on casestream.durable.CASES has
// reached it: such a node stores an event before it is on disk, and a power cut may still
// erase it. A node that syncs every write (the default) publishes nothing: do not set the
// flag against it, or nothing is ever handled.
//
// It connects as casestream's read-only reader identity:
//
//	go run ./examples/subscriber -nats-url nats://127.0.0.1:4222 -nats-nkey data/identities/reader.nk
package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/casestream/casestream/events"
)

func main() {
	var cfg config
	fs := flag.NewFlagSet("subscriber", flag.ExitOnError)
	fs.StringVar(&cfg.url, "nats-url", "nats://127.0.0.1:4222", "NATS server URL")
	fs.StringVar(&cfg.nkey, "nats-nkey", "", "nkey seed file of the reader identity (<data>/identities/reader.nk)")
	fs.StringVar(&cfg.durable, "durable", "assignments", "name of the durable consumer: the server keeps its position under it")
	fs.StringVar(&cfg.out, "out", "assignments.log", "file each handled assignment is appended to; also the record of what was handled")
	fs.DurationVar(&cfg.ackWait, "ack-wait", 30*time.Second, "how long the server waits for an acknowledgement before it delivers a message again")
	fs.BoolVar(&cfg.durableOnly, "durable-only", false, "handle an event only once the durable sequence published on casestream.durable.CASES reached it (a node in -durability group)")
	fs.IntVar(&cfg.stopBeforeAck, "stop-before-ack", 0, "exit after handling this many assignments, before acknowledging the last (shows a redelivery); 0 never")
	_ = fs.Parse(os.Args[1:])
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, cfg, log); err != nil && !errors.Is(err, context.Canceled) {
		log.Error("subscriber", "err", err)
		os.Exit(1)
	}
}

// config is the subscriber's flags.
type config struct {
	url, nkey, durable, out string
	ackWait                 time.Duration
	stopBeforeAck           int
	durableOnly             bool
}

// errStopped is run's end when -stop-before-ack is reached.
var errStopped = errors.New("stopped before acknowledging, as asked")

// run follows case.assigned events until ctx is done.
func run(ctx context.Context, cfg config, log *slog.Logger) error {
	opts := []nats.Option{nats.Name("casestream-subscriber-example"), nats.MaxReconnects(-1)}
	if cfg.nkey != "" {
		auth, err := nats.NkeyOptionFromSeed(cfg.nkey)
		if err != nil {
			return err
		}
		opts = append(opts, auth)
	}
	nc, err := nats.Connect(cfg.url, opts...)
	if err != nil {
		return err
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return err
	}
	// A durable consumer: created on the first run, found again on the next, with the
	// position the server kept. Every event of every case from the start, acknowledged one
	// by one; one not acknowledged within AckWait is delivered again.
	cons, err := js.CreateOrUpdateConsumer(ctx, events.StreamCases, jetstream.ConsumerConfig{
		Durable:       cfg.durable,
		FilterSubject: "cases.>",
		DeliverPolicy: jetstream.DeliverAllPolicy,
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       cfg.ackWait,
		MaxAckPending: 256,
	})
	if err != nil {
		return fmt.Errorf("consumer %s: %w", cfg.durable, err)
	}
	var durable *durableSeq
	if cfg.durableOnly {
		// Subscribed before the first message is fetched: the node publishes the sequence
		// at least once a second, so it is heard soon even when nothing is written.
		if durable, err = followDurable(nc, events.StreamCases); err != nil {
			return err
		}
	}
	h, err := openHandled(cfg.out)
	if err != nil {
		return err
	}
	defer h.Close()
	log.Info("following case.assigned", "stream", events.StreamCases, "durable", cfg.durable, "handled before", len(h.ids))

	msgs, err := cons.Messages()
	if err != nil {
		return err
	}
	go func() {
		<-ctx.Done()
		msgs.Stop()
	}()
	handled := 0
	for {
		msg, err := msgs.Next()
		if errors.Is(err, jetstream.ErrMsgIteratorClosed) {
			return ctx.Err()
		}
		if err != nil {
			return err
		}
		if durable != nil {
			md, err := msg.Metadata()
			if err != nil {
				return err
			}
			if err := durable.wait(ctx, md.Sequence.Stream); err != nil {
				return err
			}
		}
		// The type is in a header: other events are acknowledged without decoding them.
		if msg.Headers().Get(events.HeaderEventType) != events.TypeCaseAssigned {
			if err := msg.Ack(); err != nil {
				return err
			}
			continue
		}
		id := msg.Headers().Get(events.HeaderMsgID)
		if !h.ids[id] {
			if err := h.handle(id, msg.Data()); err != nil {
				return err
			}
			handled++
			if handled == cfg.stopBeforeAck {
				return errStopped
			}
		}
		if err := msg.DoubleAck(ctx); err != nil {
			return err
		}
	}
}

// handledFile is the -out file: one line per handled assignment, starting with its event
// id. The ids in it are what was handled.
type handledFile struct {
	f   *os.File
	ids map[string]bool
}

// openHandled opens (or creates) the -out file and reads the ids it holds. A last line
// without its newline, which a crash in the middle of a write leaves, is cut off: that
// assignment was not handled.
func openHandled(path string) (*handledFile, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, err
	}
	b, err := io.ReadAll(f)
	if err != nil {
		f.Close()
		return nil, err
	}
	complete := b[:bytes.LastIndexByte(b, '\n')+1]
	if len(complete) != len(b) {
		if err := f.Truncate(int64(len(complete))); err != nil {
			f.Close()
			return nil, err
		}
	}
	if _, err := f.Seek(int64(len(complete)), io.SeekStart); err != nil {
		f.Close()
		return nil, err
	}
	ids := map[string]bool{}
	sc := bufio.NewScanner(bytes.NewReader(complete))
	for sc.Scan() {
		if id, _, ok := strings.Cut(sc.Text(), " "); ok {
			ids[id] = true
		}
	}
	return &handledFile{f: f, ids: ids}, nil
}

// handle is the subscriber's work for one assignment: here, one line appended and synced.
func (h *handledFile) handle(id string, body []byte) error {
	env, ev, err := events.UnmarshalEvent(body)
	if err != nil {
		return fmt.Errorf("event %s: %w", id, err)
	}
	a, ok := ev.(events.CaseAssigned)
	if !ok {
		return fmt.Errorf("event %s: data of %s does not decode", id, env.Type)
	}
	to := "operator:" + a.To.OperatorID
	if a.To.GroupName != "" {
		to = "group:" + a.To.GroupName
	}
	caseID, _ := events.CaseInstanceID(env.Subject)
	if _, err := fmt.Fprintf(h.f, "%s %d %s\n", id, caseID, to); err != nil {
		return err
	}
	if err := h.f.Sync(); err != nil {
		return err
	}
	h.ids[id] = true
	return nil
}

// Close closes the file.
func (h *handledFile) Close() error { return h.f.Close() }

// durableSeq is the durable sequence of a stream as the node publishes it.
type durableSeq struct {
	mu   sync.Mutex    // guards seq and next
	seq  uint64        // the highest heard
	next chan struct{} // closed when seq next advances
}

// followDurable subscribes to the durable sequence of stream.
func followDurable(nc *nats.Conn, stream string) (*durableSeq, error) {
	d := &durableSeq{next: make(chan struct{})}
	_, err := nc.Subscribe(events.DurableSubject(stream), func(m *nats.Msg) {
		seq, err := events.ParseDurable(m.Data)
		if err != nil {
			return
		}
		d.mu.Lock()
		defer d.mu.Unlock()
		if seq > d.seq {
			d.seq = seq
			close(d.next)
			d.next = make(chan struct{})
		}
	})
	if err != nil {
		return nil, fmt.Errorf("subscribe to %s: %w", events.DurableSubject(stream), err)
	}
	return d, nil
}

// wait returns once the durable sequence has reached seq.
func (d *durableSeq) wait(ctx context.Context, seq uint64) error {
	for {
		d.mu.Lock()
		cur, next := d.seq, d.next
		d.mu.Unlock()
		if cur >= seq {
			return nil
		}
		select {
		case <-next:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}
