package httpapi

import (
	"errors"
	"strings"
	"testing"
)

func TestParseAdminTokens(t *testing.T) {
	tok := strings.Repeat("a", MinAdminTokenLen)
	for _, tc := range []struct {
		name, file string
		want       []AdminToken
		err        bool
	}{
		{"two", "# admins\nroot:" + tok + "\n\n ops : " + tok + "b \n", []AdminToken{{"root", tok}, {"ops", tok + "b"}}, false},
		{"empty", "", nil, false},
		{"no colon", "root " + tok, nil, true},
		{"short", "root:" + tok[1:], nil, true},
		{"bad name", "ro ot:" + tok, nil, true},
		{"name twice", "root:" + tok + "\nroot:" + tok + "b", nil, true},
		{"token twice", "root:" + tok + "\nops:" + tok, nil, true},
		{"space in token", "root:" + tok + " x", nil, true},
		{"control in token", "root:" + tok + "\x01", nil, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseAdminTokens([]byte(tc.file))
			if (err != nil) != tc.err {
				t.Fatalf("got error %v, want error %v", err, tc.err)
			}
			if err != nil && (!errors.Is(err, ErrAdminTokens) || strings.Contains(err.Error(), tok)) {
				t.Errorf("error %q: want ErrAdminTokens, without the token", err)
			}
			if len(got) != len(tc.want) {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
			for i := range got {
				if got[i] != tc.want[i] {
					t.Errorf("token %d: got %v, want %v", i, got[i], tc.want[i])
				}
			}
		})
	}
}

// FuzzParseAdminTokens: any file parses or is refused, never panics, and what it accepts
// keeps the rules: names of the pattern, tokens long enough, both unique.
func FuzzParseAdminTokens(f *testing.F) {
	tok := strings.Repeat("a", MinAdminTokenLen)
	for _, s := range []string{"", "root:" + tok, "# c\nroot:" + tok + "\nops:" + tok + "b\n", "root:" + tok + "\nroot:" + tok, ":\n:", "x:" + tok + "\x00"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		ts, err := ParseAdminTokens(b)
		if err != nil {
			return
		}
		names, tokens := map[string]bool{}, map[string]bool{}
		for _, a := range ts {
			if !adminName.MatchString(a.Name) || len(a.Token) < MinAdminTokenLen || names[a.Name] || tokens[a.Token] {
				t.Fatalf("accepted %+v", a)
			}
			names[a.Name], tokens[a.Token] = true, true
		}
	})
}

// FuzzDecodeAdminJSON: any body decodes into each admin body or is refused with the admin
// API's 400s, never a panic or another error.
func FuzzDecodeAdminJSON(f *testing.F) {
	for _, s := range []string{
		`{"name":"x","reason":"r"}`, `{"email":"a@b","password":"p","units":["u"]}`, `{"name":7}`, `{"a":1,"a":2}`,
		`{"members":["x"]}`, `[]`, `{"roles":null}`, "{\"name\":\"\xff\"}", `{"inboxIds":[1]}`, ``,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, v := range []any{&adminUnitBody{}, &adminOperatorBody{}, &adminWorkspaceBody{}, &adminGroupBody{}, &adminApplicationBody{}, &adminPasswordBody{}, &reasonOnly{}} {
			err := decodeAdminJSON(b, v)
			if err == nil {
				continue
			}
			var ae *adminError
			if !errors.As(err, &ae) && !errors.Is(err, errBodyMalformed) {
				t.Fatalf("%T: error %v is none of the admin API's", v, err)
			}
			if status, _ := adminStatus(err); status != 400 {
				t.Fatalf("%T: %v answers %d, want 400", v, err, status)
			}
		}
	})
}
