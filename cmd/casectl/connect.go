package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/nats-io/nats.go"

	"github.com/casestream/casestream/internal/natsauth"
)

// Auth says how casectl authenticates: natsauth's credentials (a .creds file, an nkey seed
// file, or a user and password, with optional TLS roots and client certificate), or, with
// none of the three, the read-only identity's seed under the api's data directory
// (identities/reader.nk), where the embedded server writes it.
type Auth struct {
	natsauth.ClientConfig
	// Data is the api's data directory.
	Data string
}

// Flags defines the credential flags on fs, each with an environment twin.
func (a *Auth) Flags(fs *flag.FlagSet, lookup func(string) (string, bool)) {
	a.ClientConfig.Flags(fs, "CASESTREAM", lookup)
	a.Data = "./data"
	if v, ok := lookup("CASESTREAM_DATA"); ok && v != "" {
		a.Data = v
	}
	fs.StringVar(&a.Data, "data", a.Data, "the api's data directory, whose identities/reader.nk is used when no credentials are given (CASESTREAM_DATA)")
}

// options returns the nats.Options that authenticate as a says.
func (a Auth) options() ([]nats.Option, error) {
	c := a.ClientConfig
	if c.Creds == "" && c.Nkey == "" && c.User == "" && a.Data != "" {
		seed := filepath.Join(a.Data, "identities", string(natsauth.Reader)+".nk")
		if st, err := os.Stat(seed); err == nil && !st.IsDir() {
			c.Nkey = seed
		}
	}
	return c.ReaderOptions()
}

// connect is the one place casectl connects to NATS.
func connect(c Config) (*nats.Conn, error) {
	opts, err := c.Auth.options()
	if err != nil {
		return nil, err
	}
	opts = append(opts, nats.Name("casectl"))
	nc, err := nats.Connect(c.NATSURL, opts...)
	if err != nil {
		return nil, fmt.Errorf("connect to %s: %w", c.NATSURL, err)
	}
	return nc, nil
}
