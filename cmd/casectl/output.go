package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"
)

// printer writes a command's output and keeps the first write error.
type printer struct {
	w   io.Writer
	err error
}

func newPrinter(w io.Writer) *printer { return &printer{w: w} }

// json writes v as one line of JSON.
func (p *printer) json(v any) {
	if p.err != nil {
		return
	}
	b, err := json.Marshal(v)
	if err != nil {
		p.err = err
		return
	}
	_, p.err = p.w.Write(append(b, '\n'))
}

// indented writes v as indented JSON.
func (p *printer) indented(v any) {
	if p.err != nil {
		return
	}
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		p.err = err
		return
	}
	_, p.err = p.w.Write(append(b, '\n'))
}

// linef writes one line of text.
func (p *printer) linef(format string, a ...any) {
	if p.err == nil {
		_, p.err = fmt.Fprintf(p.w, format+"\n", a...)
	}
}

// buffered returns a writer over w that the caller flushes, for commands that print a line
// per event of a large log.
func buffered(w io.Writer) *bufio.Writer { return bufio.NewWriterSize(w, 64<<10) }

func isTerminal(f *os.File) bool { return term.IsTerminal(int(f.Fd())) }

// progress is a progress bar over a read of the log, with rate and ETA, or nothing when
// Main.Progress is off.
type progress struct {
	bar     *progressbar.ProgressBar
	pending int // events read and not yet added to bar
}

// progressStep is how many events the bar is moved by at once: moving it takes a lock.
const progressStep = 1024

// newProgress returns a bar for a read of total events, shown on Stderr if m.Progress.
func (m *Main) newProgress(what string, total uint64) *progress {
	if !m.Progress || total == 0 {
		return &progress{}
	}
	return &progress{bar: progressbar.NewOptions64(int64(total),
		progressbar.OptionSetWriter(m.Stderr),
		progressbar.OptionSetDescription(what),
		progressbar.OptionShowCount(),
		progressbar.OptionShowIts(),
		progressbar.OptionSetItsString("events"),
		progressbar.OptionSetPredictTime(true),
		progressbar.OptionThrottle(100*time.Millisecond),
		progressbar.OptionSetRenderBlankState(true),
		progressbar.OptionClearOnFinish(),
	)}
}

// tick counts one event read. A nil progress counts nothing.
func (p *progress) tick() {
	if p == nil || p.bar == nil {
		return
	}
	if p.pending++; p.pending == progressStep {
		_ = p.bar.Add(p.pending)
		p.pending = 0
	}
}

// done clears the bar.
func (p *progress) done() {
	if p != nil && p.bar != nil {
		_ = p.bar.Add(p.pending)
		_ = p.bar.Finish()
	}
}
