// Package natsconn holds the NATS connection options every casestream program connects
// with: how the connection behaves, and is logged, while NATS is away.
package natsconn

import (
	"log/slog"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
)

// Options returns the connection options of a casestream program named name, logging to log:
//
//   - reconnect forever, soon (every 250 ms, with jitter), so that service resumes within a
//     second of NATS coming back;
//   - buffer nothing while reconnecting (ReconnectBufSize -1): a publish while disconnected
//     fails at once, instead of being sent after reconnecting, when the caller has already
//     answered its client that the write failed;
//   - ping every 5 s, so that a server that vanished without closing the connection is
//     noticed in seconds, not minutes;
//   - drain within 5 s on shutdown;
//   - log every disconnect, reconnect and close with the server's URL and the error.
func Options(log *slog.Logger, name string) []nats.Option {
	var (
		mu  sync.Mutex // guards url
		url string     // the server last connected to
	)
	remember := func(nc *nats.Conn) string {
		mu.Lock()
		defer mu.Unlock()
		if u := nc.ConnectedUrlRedacted(); u != "" {
			url = u
		}
		return url
	}
	return []nats.Option{
		nats.Name(name),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(250 * time.Millisecond),
		nats.ReconnectJitter(100*time.Millisecond, time.Second),
		nats.ReconnectBufSize(-1),
		nats.PingInterval(5 * time.Second),
		nats.MaxPingsOutstanding(2),
		nats.DrainTimeout(5 * time.Second),
		nats.ConnectHandler(func(nc *nats.Conn) {
			log.Info("NATS connected", "url", remember(nc))
		}),
		nats.DisconnectErrHandler(func(nc *nats.Conn, err error) {
			log.Warn("NATS disconnected", "url", remember(nc), "err", err)
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) {
			log.Info("NATS reconnected", "url", remember(nc))
		}),
		nats.ClosedHandler(func(nc *nats.Conn) {
			log.Info("NATS connection closed", "url", remember(nc), "err", nc.LastError())
		}),
	}
}
