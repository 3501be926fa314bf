package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/casestream/casestream/events"
)

// exportLine is one stored event as export prints it. Event is the stored body when it is
// JSON; a body that is not is given as text in Body instead, so that nothing is left out.
type exportLine struct {
	Stream  string          `json:"stream"`
	Seq     uint64          `json:"seq"`
	Time    time.Time       `json:"time"`
	Subject string          `json:"subject"`
	Event   json.RawMessage `json:"event,omitempty"`
	Body    string          `json:"body,omitempty"`
}

// export prints every event of a stream in a range of sequences as JSON Lines, with its
// sequence, whatever -json says.
func (m *Main) export(ctx context.Context, args []string) error {
	fs := m.subFlags("export")
	stream := fs.String("stream", events.StreamCases, "the stream to export: CASES or DIRECTORY")
	from := fs.Uint64("from-seq", 1, "first sequence")
	to := fs.Uint64("to-seq", 0, "last sequence (default: the stream's last when the export starts)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	*stream = strings.ToUpper(*stream)
	switch {
	case fs.NArg() != 0:
		return usageError("export takes no arguments")
	case *stream != events.StreamCases && *stream != events.StreamDirectory:
		return usageError("-stream is CASES or DIRECTORY")
	case *to > 0 && *to < *from:
		return usageError("-to-seq is before -from-seq")
	}
	w := buffered(m.Stdout)
	var line []byte
	var bar *progress
	err := m.scan(ctx, *stream, "", span{From: *from, To: *to}, false, func(total uint64) {
		bar = m.newProgress("export", total)
	}, func(e entry) error {
		bar.tick()
		var err error
		line, err = appendExportLine(line[:0], e)
		if err != nil {
			return err
		}
		_, err = w.Write(line)
		return err
	})
	bar.done()
	return errors.Join(err, w.Flush())
}

// appendExportLine appends e's line to b: as json.Marshal of its exportLine would write it,
// but with a stored body that is compact JSON (as every writer of the log stores it) copied
// as it is rather than parsed again by the encoder.
func appendExportLine(b []byte, e entry) ([]byte, error) {
	if !json.Valid(e.Data) || bytes.ContainsAny(e.Data, "\n\r") {
		l := exportLine{Stream: e.Stream, Seq: e.Seq, Time: e.Time, Subject: e.Subject}
		if json.Valid(e.Data) {
			l.Event = e.Data // encoding/json compacts it onto the line
		} else {
			l.Body = string(e.Data)
		}
		out, err := json.Marshal(l)
		return append(append(b, out...), '\n'), err
	}
	stream, err := json.Marshal(e.Stream)
	if err != nil {
		return b, err
	}
	subject, err := json.Marshal(e.Subject)
	if err != nil {
		return b, err
	}
	b = append(b, `{"stream":`...)
	b = append(b, stream...)
	b = append(b, `,"seq":`...)
	b = strconv.AppendUint(b, e.Seq, 10)
	b = append(b, `,"time":"`...)
	b = e.Time.AppendFormat(b, time.RFC3339Nano)
	b = append(b, `","subject":`...)
	b = append(b, subject...)
	b = append(b, `,"event":`...)
	b = append(b, e.Data...)
	return append(b, "}\n"...), nil
}
