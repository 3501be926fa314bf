package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/nats-io/nats.go"
)

// Auth says how casectl authenticates: a .creds file, an nkey seed file, or a user and
// password, with optional TLS roots and client certificate. With none of the three, the
// read-only identity's seed under the data directory (identities/reader.nk) is used when it
// exists, which is where the embedded server writes it.
type Auth struct {
	Creds, Nkey, User, Password string
	CA, Cert, Key               string
	// Data is the api's data directory, where the embedded server keeps the seeds.
	Data string
}

// Flags defines the credential flags on fs, each with an environment twin.
func (a *Auth) Flags(fs *flag.FlagSet, lookup func(string) (string, bool)) {
	a.Data = "./data"
	for _, f := range []struct {
		p                *string
		name, env, usage string
	}{
		{&a.Creds, "nats-creds", "CASESTREAM_NATS_CREDS", "NATS .creds file (user JWT and seed)"},
		{&a.Nkey, "nats-nkey", "CASESTREAM_NATS_NKEY", "NATS nkey seed file of the read-only identity"},
		{&a.User, "nats-user", "CASESTREAM_NATS_USER", "NATS user"},
		{&a.Password, "nats-password", "CASESTREAM_NATS_PASSWORD", "NATS password"},
		{&a.CA, "nats-ca", "CASESTREAM_NATS_CA", "PEM roots that verify the NATS server's certificate"},
		{&a.Cert, "nats-cert", "CASESTREAM_NATS_CERT", "PEM TLS client certificate for NATS"},
		{&a.Key, "nats-key", "CASESTREAM_NATS_KEY", "PEM key of the TLS client certificate"},
		{&a.Data, "data", "CASESTREAM_DATA", "the api's data directory, whose identities/reader.nk is used when no credentials are given"},
	} {
		if v, ok := lookup(f.env); ok && v != "" {
			*f.p = v
		}
		fs.StringVar(f.p, f.name, *f.p, f.usage+" ("+f.env+")")
	}
}

// Validate refuses contradictory credentials.
func (a Auth) Validate() error {
	ways := 0
	for _, set := range []bool{a.Creds != "", a.Nkey != "", a.User != ""} {
		if set {
			ways++
		}
	}
	switch {
	case ways > 1:
		return errors.New("-nats-creds, -nats-nkey and -nats-user exclude each other")
	case a.Password != "" && a.User == "":
		return errors.New("-nats-password needs -nats-user")
	case (a.Cert == "") != (a.Key == ""):
		return errors.New("-nats-cert and -nats-key go together")
	}
	return nil
}

// options returns the nats.Options that authenticate as a says.
func (a Auth) options() ([]nats.Option, error) {
	var opts []nats.Option
	nkey := a.Nkey
	if a.Creds == "" && nkey == "" && a.User == "" && a.Data != "" {
		if seed := filepath.Join(a.Data, "identities", "reader.nk"); fileExists(seed) {
			nkey = seed
		}
	}
	switch {
	case a.Creds != "":
		if !fileExists(a.Creds) {
			return nil, fmt.Errorf("-nats-creds: no file %s", a.Creds)
		}
		opts = append(opts, nats.UserCredentials(a.Creds))
	case nkey != "":
		o, err := nats.NkeyOptionFromSeed(nkey)
		if err != nil {
			return nil, fmt.Errorf("-nats-nkey: %w", err)
		}
		opts = append(opts, o)
	case a.User != "":
		opts = append(opts, nats.UserInfo(a.User, a.Password))
	}
	if a.CA != "" {
		opts = append(opts, nats.RootCAs(a.CA))
	}
	if a.Cert != "" {
		opts = append(opts, nats.ClientCert(a.Cert, a.Key))
	}
	return opts, nil
}

func fileExists(path string) bool {
	st, err := os.Stat(path)
	return err == nil && !st.IsDir()
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
