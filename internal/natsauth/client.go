package natsauth

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"

	"github.com/nats-io/nats.go"
)

// ClientConfig says how the service authenticates to an outside NATS server: one of a
// .creds file, an nkey seed file or a user and password, and optionally the TLS roots that
// verify the server and a client certificate.
type ClientConfig struct {
	// Creds is a .creds file (a user JWT and its nkey seed).
	Creds string
	// Nkey is a file holding an nkey user seed.
	Nkey string
	// User and Password, or PasswordFile (whose first line is the password; it keeps the
	// password out of the process's arguments and environment).
	User         string
	Password     string
	PasswordFile string
	// CA is a PEM file of the roots that verify the server's certificate.
	CA string
	// Cert and Key are a PEM client certificate and its key.
	Cert string
	Key  string
}

// Flags defines the -nats-* flags on fs, each with an environment twin named
// <envPrefix>_NATS_<NAME> (CASESTREAM_NATS_CREDS, ...) whose value, read through lookup,
// is the flag's default.
func (c *ClientConfig) Flags(fs *flag.FlagSet, envPrefix string, lookup func(string) (string, bool)) {
	for _, f := range []struct {
		p           *string
		name, usage string
	}{
		{&c.Creds, "creds", "NATS .creds file (user JWT and seed)"},
		{&c.Nkey, "nkey", "NATS nkey seed file"},
		{&c.User, "user", "NATS user"},
		{&c.Password, "password", "NATS password (prefer -nats-password-file)"},
		{&c.PasswordFile, "password-file", "file holding the NATS password"},
		{&c.CA, "ca", "PEM roots that verify the NATS server's certificate"},
		{&c.Cert, "cert", "PEM TLS client certificate for NATS"},
		{&c.Key, "key", "PEM key of the TLS client certificate"},
	} {
		env := envPrefix + "_NATS_" + strings.ToUpper(strings.ReplaceAll(f.name, "-", "_"))
		if v, ok := lookup(env); ok && v != "" {
			*f.p = v
		}
		fs.StringVar(f.p, "nats-"+f.name, *f.p, f.usage+" ("+env+")")
	}
}

// Validate reports a contradictory configuration: more than one way to authenticate, a
// password without a user, a certificate without its key.
func (c ClientConfig) Validate() error {
	ways := 0
	for _, set := range []bool{c.Creds != "", c.Nkey != "", c.User != ""} {
		if set {
			ways++
		}
	}
	switch {
	case ways > 1:
		return errors.New("-nats-creds, -nats-nkey and -nats-user exclude each other")
	case (c.Password != "" || c.PasswordFile != "") && c.User == "":
		return errors.New("-nats-password and -nats-password-file need -nats-user")
	case c.Password != "" && c.PasswordFile != "":
		return errors.New("-nats-password and -nats-password-file exclude each other")
	case (c.Cert == "") != (c.Key == ""):
		return errors.New("-nats-cert and -nats-key go together")
	}
	return nil
}

// Options returns the nats.Options that authenticate the service as c says. They include
// the service's inbox prefix (ServiceInboxPrefix), which its permissions expect.
func (c ClientConfig) Options() ([]nats.Option, error) {
	return c.options(ServiceInboxPrefix)
}

// ReaderOptions returns the nats.Options that authenticate a reader (audit tools, subscribers)
// as c says, with nats.go's default inbox prefix, the one the reader may subscribe to.
func (c ClientConfig) ReaderOptions() ([]nats.Option, error) {
	return c.options(strings.TrimSuffix(nats.InboxPrefix, "."))
}

func (c ClientConfig) options(inbox string) ([]nats.Option, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	opts := []nats.Option{nats.CustomInboxPrefix(inbox)}
	switch {
	case c.Creds != "":
		if _, err := os.Stat(c.Creds); err != nil {
			return nil, fmt.Errorf("-nats-creds: %w", err)
		}
		opts = append(opts, nats.UserCredentials(c.Creds))
	case c.Nkey != "":
		o, err := nats.NkeyOptionFromSeed(c.Nkey)
		if err != nil {
			return nil, fmt.Errorf("-nats-nkey: %w", err)
		}
		opts = append(opts, o)
	case c.User != "":
		pw := c.Password
		if c.PasswordFile != "" {
			b, err := os.ReadFile(c.PasswordFile)
			if err != nil {
				return nil, fmt.Errorf("-nats-password-file: %w", err)
			}
			pw, _, _ = strings.Cut(string(b), "\n")
			pw = strings.TrimSuffix(pw, "\r")
		}
		opts = append(opts, nats.UserInfo(c.User, pw))
	}
	if c.CA != "" {
		opts = append(opts, nats.RootCAs(c.CA))
	}
	if c.Cert != "" {
		opts = append(opts, nats.ClientCert(c.Cert, c.Key))
	}
	return opts, nil
}
