package httpapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/casestream/casestream/events"
)

// inputBody has the shapes of the API's bodies: strings, a nested object, a raw value.
type inputBody struct {
	Description string           `json:"description"`
	Email       *string          `json:"email"`
	Customer    *events.Customer `json:"customer"`
	CaseData    json.RawMessage  `json:"caseData"`
	Comments    []struct {
		Description string `json:"description"`
	} `json:"comments"`
}

func TestDecodeJSON(t *testing.T) {
	tests := []struct {
		name string
		body string
		want error // nil, errBodyMalformed, or a *fieldError compared by field and code
	}{
		{"well-formed", `{"description":"caf\u00e9 ok","caseData":{"a":[1,{"b":"\ud83d\ude00"}]}}`, nil},
		{"names match case-insensitively", `{"DESCRIPTION":"x"}`, nil},
		{"unknown members are ignored", `{"other":[1,2]}`, nil},
		{"null for a pointer", `{"email":null}`, nil},
		{"invalid UTF-8 in a value", "{\"description\":\"a\xffb\"}", &fieldError{Field: "description", Code: codeInvalidFormat}},
		{"invalid UTF-8 in a caseData value", "{\"caseData\":{\"k\":\"\xc3\x28\"}}", &fieldError{Field: "caseData", Code: codeInvalidFormat}},
		{"invalid UTF-8 in a caseData key", "{\"caseData\":{\"k\xff\":1}}", &fieldError{Field: "caseData", Code: codeInvalidFormat}},
		{"lone high surrogate escape", `{"description":"\ud800"}`, &fieldError{Field: "description", Code: codeInvalidFormat}},
		{"lone low surrogate escape in caseData", `{"caseData":{"k":"\udc00x"}}`, &fieldError{Field: "caseData", Code: codeInvalidFormat}},
		{"surrogate escape in a caseData key", `{"caseData":{"\ud800":1}}`, &fieldError{Field: "caseData", Code: codeInvalidFormat}},
		{"invalid UTF-8 in a nested field", "{\"customer\":{\"displayName\":\"\xfe\"}}", &fieldError{Field: "customer.displayName", Code: codeInvalidFormat}},
		{"number for a string", `{"email":42}`, &fieldError{Field: "email", Code: codeInvalidFormat}},
		{"string for an object", `{"customer":"x"}`, &fieldError{Field: "customer", Code: codeInvalidFormat}},
		{"wrong type in a nested field", `{"customer":{"recordId":7}}`, &fieldError{Field: "customer.recordId", Code: codeInvalidFormat}},
		{"wrong type in an array element", `{"comments":[{"description":"a"},{"description":true}]}`, &fieldError{Field: "comments.1.description", Code: codeInvalidFormat}},
		{"repeated member", `{"description":"a","description":"b"}`, &fieldError{Field: "description", Code: codeInvalidFormat}},
		{"repeated member in caseData", `{"caseData":{"a":1,"a":2}}`, &fieldError{Field: "caseData", Code: codeInvalidFormat}},
		{"truncated", `{"description":`, errBodyMalformed},
		{"trailing data", `{"description":"x"} {}`, errBodyMalformed},
		{"empty", ``, errBodyMalformed},
		{"not an object", `[1]`, errBodyMalformed},
		{"truncated and invalid UTF-8", "{\"description\":\"\xff", errBodyMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var v inputBody
			err := decodeJSON([]byte(tt.body), &v)
			if !sameInputError(err, tt.want) {
				t.Fatalf("got %v (%#v), want %v", err, err, tt.want)
			}
		})
	}
}

// sameInputError reports whether got is want: nil, the same sentinel, or a *fieldError with
// the same field and code.
func sameInputError(got, want error) bool {
	var g, w *fieldError
	if errors.As(want, &w) {
		return errors.As(got, &g) && g.Field == w.Field && g.Code == w.Code
	}
	if want == nil {
		return got == nil
	}
	return errors.Is(got, want) && !errors.As(got, &g)
}

// nested returns caseData nested depth objects deep.
func nested(depth int) string {
	return strings.Repeat(`{"a":`, depth-1) + `{}` + strings.Repeat(`}`, depth-1)
}

// keys returns caseData with n members whose names are n characters or more long.
func keys(n, nameLen int) string {
	var b strings.Builder
	b.WriteString("{")
	for i := range n {
		if i > 0 {
			b.WriteString(",")
		}
		name := fmt.Sprintf("%d", i)
		fmt.Fprintf(&b, "%q:1", name+strings.Repeat("k", max(0, nameLen-len(name))))
	}
	b.WriteString("}")
	return b.String()
}

func TestCheckCaseData(t *testing.T) {
	// Each < is stored as \u003c: six bytes.
	escaped := func(n int) string { return `{"a":"` + strings.Repeat("<", n) + `"}` }
	tests := []struct {
		name string
		data string
		code string // "" for accepted
	}{
		{"none", ``, ""},
		{"empty object", `{}`, ""},
		{"at the depth limit", nested(MaxCaseDataDepth), ""},
		{"one level deeper", nested(MaxCaseDataDepth + 1), codeTooDeep},
		{"9,000 deep", nested(9000), codeTooDeep},
		{"arrays count as levels", `{"a":` + strings.Repeat("[", MaxCaseDataDepth) + strings.Repeat("]", MaxCaseDataDepth) + `}`, codeTooDeep},
		{"at the key limit", keys(MaxCaseDataKeys, 1), ""},
		{"one key more", keys(MaxCaseDataKeys+1, 1), codeTooManyKeys},
		{"keys counted at every depth", `{"x":` + keys(MaxCaseDataKeys, 1) + `}`, codeTooManyKeys},
		{"string values are not keys", `{"a":["` + strings.Repeat(`x","`, MaxCaseDataKeys) + `"]}`, ""},
		{"key at the length limit", keys(1, MaxCaseDataKeyLen), ""},
		{"key one character longer", keys(1, MaxCaseDataKeyLen+1), codeTooLong},
		{"key of multi-byte characters at the limit", `{"` + strings.Repeat("é", MaxCaseDataKeyLen) + `":1}`, ""},
		{"stored size at the limit", escaped((MaxCaseDataBytes - len(`{"a":""}`)) / 6), ""},
		{"stored size over the limit, raw size under it", escaped((MaxCaseDataBytes-len(`{"a":""}`))/6 + 1), codeTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := checkCaseData(json.RawMessage(tt.data))
			var fe *fieldError
			switch {
			case tt.code == "" && err != nil:
				t.Fatalf("got %v, want nil", err)
			case tt.code != "" && (!errors.As(err, &fe) || fe.Field != "caseData" || fe.Code != tt.code):
				t.Fatalf("got %v, want caseData %s", err, tt.code)
			}
		})
	}
}

func TestCheckFields(t *testing.T) {
	tests := []struct {
		name  string
		value string
		max   int
		ok    bool
	}{
		{"empty", "", 3, true},
		{"at the limit", "abc", 3, true},
		{"over the limit", "abcd", 3, false},
		{"multi-byte characters count once", "ééé", 3, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := checkFields(field{"x", "", 0}, field{"comments", tt.value, tt.max})
			var fe *fieldError
			if tt.ok != (err == nil) || err != nil && (!errors.As(err, &fe) || fe.Field != "comments" || fe.Code != codeTooLong) {
				t.Fatalf("got %v, want ok %v", err, tt.ok)
			}
		})
	}
}

func TestCheckCorrelationID(t *testing.T) {
	tests := []struct {
		name  string
		value string
		code  string
	}{
		{"none", "", ""},
		{"uuid", "0b6a1f0e-6c1d-4d9e-9a3c-2f1e4d5c6b7a", ""},
		{"traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", ""},
		{"at the limit", strings.Repeat("x", MaxCorrelationIDLen), ""},
		{"over the limit", strings.Repeat("x", MaxCorrelationIDLen+1), codeTooLong},
		{"space", "a b", codeInvalidFormat},
		{"tab", "a\tb", codeInvalidFormat},
		{"non-ASCII", "café", codeInvalidFormat},
		{"invalid UTF-8", "a\xffb", codeInvalidFormat},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			r.Header["X-Correlation-Id"] = []string{tt.value}
			err := checkCorrelationID(r)
			var fe *fieldError
			switch {
			case tt.code == "" && err != nil:
				t.Fatalf("got %v, want nil", err)
			case tt.code != "" && (!errors.As(err, &fe) || fe.Field != "correlationId" || fe.Code != tt.code):
				t.Fatalf("got %v, want correlationId %s", err, tt.code)
			}
		})
	}
}
