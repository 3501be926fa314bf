package httpapi

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"regexp"
	"strings"
)

// AdminToken is one administrator of the admin API: the name the log records as the actor
// of their changes, and the bearer token they call with.
type AdminToken struct {
	Name  string
	Token string
}

// MinAdminTokenLen is the shortest admin token accepted: 32 characters, such as the output
// of `openssl rand -hex 16`, so that no token can be guessed.
const MinAdminTokenLen = 32

// adminName is an administrator's name: it becomes an event's actor id.
var adminName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$`)

// ErrAdminTokens is wrapped by every error of ParseAdminTokens.
var ErrAdminTokens = errors.New("admin tokens")

// ParseAdminTokens parses an admin tokens file: one "name:token" per line; blank lines and
// lines starting with # are skipped. A name is a letter or digit followed by up to 63
// letters, digits and ._@-; a token is at least MinAdminTokenLen printable ASCII
// characters without spaces. Names and tokens are unique. Errors name the line, never
// the token.
func ParseAdminTokens(b []byte) ([]AdminToken, error) {
	var out []AdminToken
	names, tokens := map[string]bool{}, map[string]bool{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 0, 4096), 64<<10)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		name, token, ok := strings.Cut(line, ":")
		name, token = strings.TrimSpace(name), strings.TrimSpace(token)
		switch {
		case !ok:
			return nil, fmt.Errorf("%w: line %d: want name:token", ErrAdminTokens, n)
		case !adminName.MatchString(name):
			return nil, fmt.Errorf("%w: line %d: the name is not letters, digits and ._@- (at most 64)", ErrAdminTokens, n)
		case len(token) < MinAdminTokenLen:
			return nil, fmt.Errorf("%w: line %d: the token of %s is shorter than %d characters", ErrAdminTokens, n, name, MinAdminTokenLen)
		case strings.IndexFunc(token, func(r rune) bool { return r <= ' ' || r > '~' }) >= 0:
			return nil, fmt.Errorf("%w: line %d: the token of %s has a character outside printable ASCII", ErrAdminTokens, n, name)
		case names[name]:
			return nil, fmt.Errorf("%w: line %d: %s is named twice", ErrAdminTokens, n, name)
		case tokens[token]:
			return nil, fmt.Errorf("%w: line %d: the token of %s is another's too", ErrAdminTokens, n, name)
		}
		names[name], tokens[token] = true, true
		out = append(out, AdminToken{Name: name, Token: token})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrAdminTokens, err)
	}
	return out, nil
}

// ReadAdminTokens reads and parses the admin tokens file at path.
func ReadAdminTokens(path string) ([]AdminToken, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrAdminTokens, err)
	}
	ts, err := ParseAdminTokens(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return ts, nil
}
