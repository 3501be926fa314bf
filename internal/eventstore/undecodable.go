package eventstore

import (
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"
)

// Readers of stored events, as UndecodableEvents labels them.
const (
	// ReaderFollow is a fold of a whole stream (Follow, Replay): the projector, the
	// directory view. It skips an event it cannot decode.
	ReaderFollow = "follow"
	// ReaderLoad is the command side loading one case: it refuses the case.
	ReaderLoad = "load"
)

// UndecodableEvents counts the stored events a reader met and could not decode: a body
// that is not an envelope, data that does not decode as its type, or a type this version
// does not know. Only something other than the service can write such an event (a raw
// publish on a case's subject); every process that serves /metrics registers it.
var UndecodableEvents = prometheus.NewCounterVec(prometheus.CounterOpts{
	Name: "casestream_events_undecodable_total",
	Help: "Stored events a reader could not decode, by stream and reader (follow: skipped by a stream's fold; load: the command side refused the case).",
}, []string{"stream", "reader"})

// ReportUndecodable logs and counts an event that reader could not decode: the message at
// seq on subject, whose event type header is typ.
func ReportUndecodable(reader, subject string, seq uint64, typ string, err error) {
	stream, serr := streamOf(subject)
	if serr != nil {
		stream = "unknown"
	}
	UndecodableEvents.WithLabelValues(stream, reader).Inc()
	slog.Warn("eventstore: undecodable event", "reader", reader, "stream", stream, "subject", subject, "seq", seq, "type", typ, "err", err)
}
