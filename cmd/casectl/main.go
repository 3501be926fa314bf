// Command casectl is casestream's audit tool: it reads the CASES and DIRECTORY streams, never
// writes them, and answers what happened to a case, who did it, what the case and the read
// model held at any point, and whether the log is intact. It connects as the read-only
// identity.
//
//	casectl [-nats-url URL] [-json] COMMAND ...
//
// docs/casectl.md describes every command.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

func main() {
	m := NewMain()
	if err := m.ParseFlags(os.Args[1:], os.LookupEnv); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		fmt.Fprintln(os.Stderr, "casectl:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := m.Run(ctx)
	stop()
	m.Close()
	switch {
	case errors.Is(err, ErrFindings):
		os.Exit(1)
	case errors.Is(err, errUsage) || errors.Is(err, flag.ErrHelp):
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "casectl:", err)
		}
		os.Exit(2)
	case err != nil && !errors.Is(err, context.Canceled):
		fmt.Fprintln(os.Stderr, "casectl:", err)
		os.Exit(1)
	}
}

// ErrFindings is Run's answer when verify found something wrong in the log: the report is
// printed, and the program exits 1.
var ErrFindings = errors.New("the log has findings")

// DefaultNATSURL is the embedded server's loopback listener (cmd/api's -nats-listen).
const DefaultNATSURL = "nats://127.0.0.1:4222"

// Config is casectl's configuration: the global flags, then the command and its arguments.
type Config struct {
	// NATSURL is the server to read from.
	NATSURL string
	// Auth says how to authenticate as the read-only identity.
	Auth Auth
	// JSON prints one JSON object per line instead of text.
	JSON bool
	// Command is the command's name; Args its own flags and arguments.
	Command string
	Args    []string
}

// Main is the casectl program: ParseFlags, then Run (which runs the command), then Close.
type Main struct {
	Config Config
	// Stdout receives the command's output, Stderr the progress bar.
	Stdout io.Writer
	Stderr io.Writer
	// Progress shows a progress bar on Stderr during long reads; by default it is shown when
	// Stderr is a terminal.
	Progress bool

	nc *nats.Conn
	js jetstream.JetStream
}

// NewMain returns a Main writing to the process's standard output.
func NewMain() *Main {
	return &Main{
		Config:   Config{NATSURL: DefaultNATSURL},
		Stdout:   os.Stdout,
		Stderr:   os.Stderr,
		Progress: isTerminal(os.Stderr),
	}
}

const usage = `usage: casectl [-nats-url URL] [-json] [credentials] COMMAND ...

commands:
  history <caseInstanceId>                        every event of a case, in words
  state [-at-seq N | -at-time T] <caseInstanceId>  the case as it was, as the operator API shows it
  replay [-to-seq N | -to-time T] [-agent USER -unit UNIT]
                                                  the read model as it was
  verify [-from-seq N]                            check the whole log; exit 1 on findings
  tail [-type TYPE] [-unit UNIT] [-case ID]       follow new case events
  export [-stream CASES|DIRECTORY] [-from-seq N] [-to-seq N]
                                                  every event as JSON Lines
  directory history <kind> <id>                   every version of a directory entity
  directory show [-at-time T] <kind> <id>         a directory entity as it was

times are RFC 3339 (2026-11-24T14:05:00Z)
`

// ParseFlags reads the global flags and the command's name, with defaults from the
// environment through lookup (os.LookupEnv). The command's own flags are read by Run.
func (m *Main) ParseFlags(args []string, lookup func(string) (string, bool)) error {
	fs := flag.NewFlagSet("casectl", flag.ContinueOnError)
	fs.SetOutput(m.Stderr)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), usage)
		fs.PrintDefaults()
	}
	c := &m.Config
	if v, ok := lookup("CASESTREAM_NATS_URL"); ok && v != "" {
		c.NATSURL = v
	}
	fs.StringVar(&c.NATSURL, "nats-url", c.NATSURL, "NATS server URL (CASESTREAM_NATS_URL)")
	fs.BoolVar(&c.JSON, "json", c.JSON, "print one JSON object per line")
	c.Auth.Flags(fs, lookup)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		fs.Usage()
		return errors.New("no command")
	}
	c.Command, c.Args = fs.Arg(0), fs.Args()[1:]
	if _, ok := commands[c.Command]; !ok {
		fs.Usage()
		return fmt.Errorf("unknown command %q", c.Command)
	}
	return c.Auth.Validate()
}

// command runs one casectl command with its own arguments.
type command func(m *Main, ctx context.Context, args []string) error

var commands map[string]command

func init() {
	commands = map[string]command{
		"history":   (*Main).history,
		"state":     (*Main).state,
		"replay":    (*Main).replay,
		"verify":    (*Main).verify,
		"tail":      (*Main).tail,
		"export":    (*Main).export,
		"directory": (*Main).directoryCmd,
	}
}

// Run connects to NATS and runs the command. It returns ErrFindings when verify found
// something wrong, a usage error for bad arguments, and ctx's error when tail is stopped.
func (m *Main) Run(ctx context.Context) error {
	cmd, ok := commands[m.Config.Command]
	if !ok {
		return fmt.Errorf("unknown command %q", m.Config.Command)
	}
	var err error
	if m.nc, err = connect(m.Config); err != nil {
		return err
	}
	if m.js, err = jetstream.New(m.nc); err != nil {
		return err
	}
	return cmd(m, ctx, m.Config.Args)
}

// Close closes the NATS connection.
func (m *Main) Close() error {
	if m.nc != nil {
		m.nc.Close()
	}
	return nil
}

// subFlags returns a flag set for a command's own flags, writing its usage to Stderr.
func (m *Main) subFlags(name string) *flag.FlagSet {
	fs := flag.NewFlagSet("casectl "+name, flag.ContinueOnError)
	fs.SetOutput(m.Stderr)
	return fs
}
