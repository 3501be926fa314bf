// Package logs configures the programs' structured logs (log/slog): JSON lines by default,
// for a log collector; text for a terminal; and the least level written.
package logs

import (
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strings"
)

// Formats of Config.Format.
const (
	FormatJSON = "json"
	FormatText = "text"
)

// Config says how a program logs; every field has a flag and an environment twin.
type Config struct {
	// Format is FormatJSON (default) or FormatText.
	Format string
	// Level is the least level written: debug, info (default), warn or error.
	Level string
}

// Flags registers -log-format and -log-level on fs, with defaults from the environment
// variables envPrefix_LOG_FORMAT and envPrefix_LOG_LEVEL read through lookup.
func (c *Config) Flags(fs *flag.FlagSet, envPrefix string, lookup func(string) (string, bool)) {
	if c.Format == "" {
		c.Format = FormatJSON
	}
	if c.Level == "" {
		c.Level = "info"
	}
	for _, f := range []struct {
		p           *string
		name, usage string
	}{
		{&c.Format, "format", "log format: json or text"},
		{&c.Level, "level", "least level logged: debug, info, warn or error"},
	} {
		env := envPrefix + "_LOG_" + strings.ToUpper(f.name)
		if v, ok := lookup(env); ok && v != "" {
			*f.p = v
		}
		fs.StringVar(f.p, "log-"+f.name, *f.p, f.usage+" ("+env+")")
	}
}

// New returns a logger writing to w as c says, or an error naming a bad format or level.
func (c Config) New(w io.Writer) (*slog.Logger, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(c.Level)); err != nil {
		return nil, fmt.Errorf("-log-level %q: want debug, info, warn or error", c.Level)
	}
	opts := &slog.HandlerOptions{Level: level}
	switch c.Format {
	case FormatJSON, "":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	case FormatText:
		return slog.New(slog.NewTextHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("-log-format %q: want json or text", c.Format)
}
