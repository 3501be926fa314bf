package eventstore

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/casestream/casestream/events"
	"github.com/nats-io/nats.go/jetstream"
)

// DuplicateWindow is how long JetStream remembers an event id for deduplication.
const DuplicateWindow = 2 * time.Minute

// StreamConfigs returns the configuration of the CASES and DIRECTORY streams: file storage,
// nothing ever removed (no limits, no delete, no purge; a full stream refuses new events),
// direct gets for loading, event ids deduplicated for DuplicateWindow, atomic batches for
// multi-event appends.
func StreamConfigs(replicas int) []jetstream.StreamConfig {
	base := func(name, subjects string) jetstream.StreamConfig {
		return jetstream.StreamConfig{
			Name:               name,
			Subjects:           []string{subjects},
			Storage:            jetstream.FileStorage,
			Retention:          jetstream.LimitsPolicy,
			MaxAge:             0,
			MaxMsgs:            -1,
			MaxBytes:           -1,
			MaxMsgsPerSubject:  -1,
			MaxMsgSize:         -1,
			Discard:            jetstream.DiscardNew,
			DenyDelete:         true,
			DenyPurge:          true,
			AllowDirect:        true,
			Duplicates:         DuplicateWindow,
			AllowAtomicPublish: true,
			Replicas:           replicas,
		}
	}
	return []jetstream.StreamConfig{
		base(events.StreamCases, "cases.>"),
		base(events.StreamDirectory, "directory.>"),
	}
}

// EnsureStreams creates the CASES and DIRECTORY streams with the configuration of
// StreamConfigs; a stream that exists with that configuration is left as it is (JetStream
// answers an identical create with the stream). It never updates a stream: an update could
// set limits that drop events, so the service's NATS identity may not make one, and a
// stream that exists with another configuration is an error for an admin to resolve.
// replicas is 1 on a single server, 3 in production.
func EnsureStreams(ctx context.Context, js jetstream.JetStream, replicas int) error {
	if replicas < 1 {
		replicas = 1
	}
	for _, cfg := range StreamConfigs(replicas) {
		if _, err := js.CreateStream(ctx, cfg); err != nil {
			if errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) {
				return fmt.Errorf("eventstore: stream %s exists with another configuration than docs/events.md's; the service does not update streams, an admin does (nats stream edit): %w", cfg.Name, err)
			}
			return fmt.Errorf("eventstore: ensure stream %s: %w", cfg.Name, err)
		}
	}
	return nil
}

// streamOf returns the stream that stores subject.
func streamOf(subject string) (string, error) {
	switch {
	case strings.HasPrefix(subject, "cases."):
		return events.StreamCases, nil
	case strings.HasPrefix(subject, "directory."):
		return events.StreamDirectory, nil
	}
	return "", fmt.Errorf("eventstore: subject %q belongs to no stream", subject)
}
