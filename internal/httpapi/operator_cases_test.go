package httpapi

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestCommentList(t *testing.T) {
	tests := []struct {
		body string
		want []string
		err  bool
	}{
		{`{}`, nil, false},
		{`{"comments":null}`, nil, false},
		{`{"comments":"one"}`, []string{"one"}, false},
		{`{"comments":[]}`, []string{}, false},
		{`{"comments":[{"description":"a\/b \u00e9"},"c",{"id":3,"description":"d"},{}]}`, []string{"a/b é", "c", "d"}, false},
		{`{"comments":42}`, nil, true},
		{`{"comments":{"description":"x"}}`, nil, true},
		{`{"comments":[42]}`, nil, true},
		{`{"comments":[null,"x"]}`, []string{"x"}, false},
		{`{"comments":[{"description":42}]}`, nil, true},
		{`{"comments":[["x"]]}`, nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.body, func(t *testing.T) {
			var b caseBody
			err := json.Unmarshal([]byte(tt.body), &b)
			if tt.err {
				var te *json.UnmarshalTypeError
				if !errors.As(err, &te) || te.Field != "comments" {
					t.Fatalf("got %v, want a type error of the comments member", err)
				}
				return
			}
			if err != nil || !reflect.DeepEqual([]string(b.Comments), tt.want) {
				t.Fatalf("got %q, %v; want %q", b.Comments, err, tt.want)
			}
		})
	}
}

// FuzzCommentList checks the comments decoder against the rule it implements, on a value
// decoded by encoding/json: no panic, and for any JSON value the same comments or a type
// error of the member.
func FuzzCommentList(f *testing.F) {
	for _, s := range []string{`null`, `"x"`, `[{"description":"a"},"b"]`, `[{"description":null}]`, `[1]`, `{}`, `[[]]`, `"\ud83d"`, `[{"description":"x","description":"y"}]`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, comments string) {
		var v any
		if json.Unmarshal([]byte(comments), &v) != nil {
			return // not one JSON value: the body decoder refuses it before the member's
		}
		var b caseBody
		err := json.Unmarshal([]byte(`{"comments":`+comments+`}`), &b)
		want, ok := referenceComments(v)
		if !ok && strings.Count(strings.ToLower(comments), `"description"`) > 1 {
			return // several description members: the rule does not say which counts
		}
		if !ok {
			var te *json.UnmarshalTypeError
			if !errors.As(err, &te) || te.Field != "comments" {
				t.Fatalf("%s: got %q, %v; want a type error of comments", comments, b.Comments, err)
			}
			return
		}
		if err != nil || !reflect.DeepEqual([]string(b.Comments), want) {
			t.Fatalf("%s: got %q, %v; want %q", comments, b.Comments, err, want)
		}
	})
}

// referenceComments is commentList's rule on a decoded value.
func referenceComments(v any) ([]string, bool) {
	switch v := v.(type) {
	case nil:
		return nil, true
	case string:
		return []string{v}, true
	case []any:
		out := []string{}
		for _, e := range v {
			switch e := e.(type) {
			case nil:
			case string:
				out = append(out, e)
			case map[string]any:
				// encoding/json matches member names regardless of case.
				var d any
				present := false
				for k, val := range e {
					if strings.EqualFold(k, "description") {
						if present {
							return nil, false // which one counts depends on their order
						}
						d, present = val, true
					}
				}
				s, isString := d.(string)
				switch {
				case !present || d == nil:
				case isString:
					out = append(out, s)
				default:
					return nil, false
				}
			default:
				return nil, false
			}
		}
		return out, true
	}
	return nil, false
}
