// Package leaderread reads one message of a JetStream stream from the stream's leader.
//
// A direct get (what nats.go's jetstream package sends for a stream with AllowDirect, as
// the service's streams and key-value buckets have) is answered by any replica, the one
// nearest the client first, and a follower answers from what it has applied: a message
// the leader acknowledged a moment ago may not be there yet. The JetStream API's
// STREAM.MSG.GET is answered by the stream's leader alone, which acknowledged nothing it
// does not hold, so a read that follows an acknowledgement sees it. It is slower (the
// server's queue of API requests rather than its read loop): callers use it to confirm an
// answer a replica gave, or where the answer must include every acknowledged message.
package leaderread

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Request says which message to read: the one at Seq; the last on subject LastBySubj; or
// the first at or after Seq on subject NextBySubj.
type Request struct {
	Seq        uint64 `json:"seq,omitempty"`
	LastBySubj string `json:"last_by_subj,omitempty"`
	NextBySubj string `json:"next_by_subj,omitempty"`
}

// codeNoMessage is the JetStream API's "no message found".
const codeNoMessage = 10037

// callTimeout bounds a read when ctx has no deadline.
const callTimeout = 2 * time.Second

// Get returns the message of stream that req names, as the stream's leader holds it, or
// jetstream.ErrMsgNotFound if there is none. An error of the server (no leader elected
// yet: status 503) is a *jetstream.APIError.
func Get(ctx context.Context, js jetstream.JetStream, stream string, req Request) (*jetstream.RawStreamMsg, error) {
	nc := js.Conn()
	if !nc.IsConnected() {
		return nil, fmt.Errorf("stream %s: %w", stream, nats.ErrDisconnected)
	}
	body, err := json.Marshal(req)
	if err != nil {
		return nil, err
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, callTimeout)
		defer cancel()
	}
	prefix := js.Options().APIPrefix
	if prefix == "" {
		prefix = jetstream.DefaultAPIPrefix
	}
	msg, err := nc.RequestWithContext(ctx, prefix+"STREAM.MSG.GET."+stream, body)
	if err != nil {
		return nil, fmt.Errorf("stream %s: leader read: %w", stream, err)
	}
	var resp struct {
		Message *struct {
			Subject string    `json:"subject"`
			Seq     uint64    `json:"seq"`
			Hdr     []byte    `json:"hdrs"`
			Data    []byte    `json:"data"`
			Time    time.Time `json:"time"`
		} `json:"message"`
		Error *jetstream.APIError `json:"error"`
	}
	if err := json.Unmarshal(msg.Data, &resp); err != nil {
		return nil, fmt.Errorf("stream %s: leader read: %w", stream, err)
	}
	switch {
	case resp.Error != nil && resp.Error.ErrorCode == codeNoMessage:
		return nil, jetstream.ErrMsgNotFound
	case resp.Error != nil:
		return nil, fmt.Errorf("stream %s: leader read: %w", stream, resp.Error)
	case resp.Message == nil:
		return nil, fmt.Errorf("stream %s: leader read: empty answer", stream)
	}
	m := &jetstream.RawStreamMsg{Subject: resp.Message.Subject, Sequence: resp.Message.Seq, Data: resp.Message.Data, Time: resp.Message.Time}
	if len(resp.Message.Hdr) > 0 {
		if m.Header, err = nats.DecodeHeadersMsg(resp.Message.Hdr); err != nil {
			return nil, fmt.Errorf("stream %s: leader read: message %d headers: %w", stream, m.Sequence, err)
		}
	} else {
		m.Header = nats.Header{}
	}
	return m, nil
}
