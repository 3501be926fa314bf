package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"unicode/utf8"

	jsonv2 "github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
)

// The limits on what a request may carry into an event (docs/api.md, "Limits"). Text is
// counted in characters (Unicode code points), caseData in bytes as stored. Every limit
// keeps an event far below NATS's default maximum payload of 1 MiB, even where the
// encoder escapes each character to six bytes; the store's own check (cases.ErrEventTooLarge)
// is the backstop for a server configured smaller.
const (
	// MaxTextLen bounds free text: comments, notes, descriptions.
	MaxTextLen = 4000
	// MaxComments bounds the comments of a create or update body.
	MaxComments = 50
	// MaxNameLen bounds names: display names, group names.
	MaxNameLen = 200
	// MaxEmailLen bounds email addresses (RFC 5321's path limit).
	MaxEmailLen = 254
	// MaxPhoneLen bounds phone numbers.
	MaxPhoneLen = 32
	// MaxCodeLen bounds codes, statuses, languages and identifiers.
	MaxCodeLen = 64
	// MaxCaseDataBytes bounds caseData as stored: compact, with <, > and & escaped.
	MaxCaseDataBytes = 32 << 10
	// MaxCaseDataDepth bounds the nesting of caseData; the object itself is depth 1.
	MaxCaseDataDepth = 8
	// MaxCaseDataKeys bounds the member names in caseData, at every depth together.
	MaxCaseDataKeys = 256
	// MaxCaseDataKeyLen bounds each member name of caseData, in characters.
	MaxCaseDataKeyLen = 128
	// MaxCorrelationIDLen bounds the X-Correlation-Id header, which every event records.
	MaxCorrelationIDLen = 128
)

// The codes of field errors. InvalidFormat is the vendor's (ThalamusErrors.php spells it
// so for a field whose value is not of the expected form); the others are this service's.
const (
	codeInvalidFormat = "InvalidFormat"
	codeTooLong       = "tooLong"
	codeTooDeep       = "tooDeep"
	codeTooLarge      = "tooLarge"
	codeTooManyKeys   = "tooManyKeys"
	codeTooMany       = "tooMany"
)

// fieldError refuses one field of a request: the operator API answers
// {"errors":{Field: Code}}, the agent API {"message": Field + " " + Detail}. Field is the
// field's JSON name, dotted for a nested one (customer.displayName), or a header's name.
type fieldError struct {
	Field, Code, Detail string
}

func (e *fieldError) Error() string { return e.Field + " " + e.Detail }

// errBodyInvalidJSON is a JSON body that is not one JSON value: the operator API answers
// the vendor's pair error.message/InvalidJson (its code 1200).
var errBodyInvalidJSON = fmt.Errorf("%w: not one JSON value", errBodyMalformed)

// readJSON decodes the request body into v: it must be application/json (a charset parameter
// is accepted), at most MaxBodyBytes, one JSON value of valid UTF-8 (escapes included)
// without repeated member names, whose members have the types of v's fields. A member of
// the wrong type, or a string that is not valid UTF-8, is a *fieldError naming it; any
// other flaw is errBodyInvalidJSON. Member names match v's case-insensitively, as
// encoding/json's did.
//
// It decodes with github.com/go-json-experiment/json, already the decoder of the events:
// it rejects invalid UTF-8 and unpaired surrogates, and says where a value went wrong as a
// JSON pointer, so a body accepted here cannot become an event its readers refuse.
func readJSON(w http.ResponseWriter, r *http.Request, v any) error {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/json" {
		return errBodyContentType
	}
	body, err := readBody(w, r, errBodyInvalidJSON)
	if err != nil {
		return err
	}
	return decodeJSON(body, v)
}

// readBody reads the request body, of at most MaxBodyBytes: a longer one is errBodyTooLarge,
// one that fails otherwise is failed, the surface's error for a body it cannot read.
func readBody(w http.ResponseWriter, r *http.Request, failed error) ([]byte, error) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBodyBytes))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return nil, errBodyTooLarge
		}
		return nil, failed
	}
	return body, nil
}

// decodeJSON is readJSON's decoding of a body already read.
func decodeJSON(body []byte, v any) error {
	flaw, field := unmarshalJSON(body, v, jsonv2.MatchCaseInsensitiveNames(true))
	switch flaw {
	case flawNone:
		return nil
	case flawUnknownMember, flawWrongType:
		return &fieldError{field, codeInvalidFormat, "has the wrong JSON type or an out-of-range value"}
	case flawRepeatedName:
		return &fieldError{field, codeInvalidFormat, "is a repeated member name"}
	case flawInvalidUTF8:
		return &fieldError{field, codeInvalidFormat, "is not valid UTF-8"}
	}
	return errBodyInvalidJSON
}

// jsonFlaw is what kept a JSON body from decoding, as the surfaces tell flaws apart.
type jsonFlaw int

const (
	flawNone          jsonFlaw = iota // it decoded
	flawUnknownMember                 // a member the value has no field for
	flawWrongType                     // a value of the wrong JSON type, or out of range
	flawRepeatedName                  // a member name given twice
	flawInvalidUTF8                   // well-formed but for invalid UTF-8
	flawMalformed                     // not one JSON value, or a flaw at no field
)

// unmarshalJSON decodes body into v with opts and returns what kept it from decoding, and
// the field it is in (fieldName of the error's JSON pointer), or flawNone. Each surface
// answers each flaw in its own words.
func unmarshalJSON(body []byte, v any, opts jsonv2.Options) (jsonFlaw, string) {
	err := jsonv2.Unmarshal(body, v, opts)
	if err == nil {
		return flawNone, ""
	}
	var syn *jsontext.SyntacticError
	var sem *jsonv2.SemanticError
	switch {
	case errors.As(err, &sem) && len(sem.JSONPointer) > 0:
		if errors.Is(err, jsonv2.ErrUnknownName) {
			return flawUnknownMember, fieldName(sem.JSONPointer)
		}
		return flawWrongType, fieldName(sem.JSONPointer)
	case errors.As(err, &syn) && len(syn.JSONPointer) > 0 && errors.Is(err, jsontext.ErrDuplicateName):
		return flawRepeatedName, fieldName(syn.JSONPointer)
	case errors.As(err, &syn) && len(syn.JSONPointer) > 0 && jsontext.Value(body).IsValid(jsontext.AllowInvalidUTF8(true)):
		// Well-formed once invalid UTF-8 is allowed: that was the only flaw.
		return flawInvalidUTF8, fieldName(syn.JSONPointer)
	}
	return flawMalformed, ""
}

// fieldName names the field a JSON pointer points into: its tokens dotted, up to caseData,
// whose member names are the client's own and are not named further.
func fieldName(p jsontext.Pointer) string {
	var parts []string
	for tok := range p.Tokens() {
		parts = append(parts, tok)
		if len(parts) == 1 && strings.EqualFold(tok, "caseData") {
			return "caseData"
		}
	}
	if len(parts) == 0 {
		return "body"
	}
	return strings.Join(parts, ".")
}

// field is one request string and its limit in characters.
type field struct {
	name  string
	value string
	max   int
}

// checkFields refuses the first field longer than its limit.
func checkFields(fs ...field) error {
	for _, f := range fs {
		if utf8.RuneCountInString(f.value) > f.max {
			return &fieldError{f.name, codeTooLong, fmt.Sprintf("is longer than %d characters", f.max)}
		}
	}
	return nil
}

// check refuses a create or update body whose fields exceed their limits.
func (b *caseBody) check() error {
	fs := []field{
		{"categoryCode", b.CategoryCode, MaxCodeLen}, {"typeCode", b.TypeCode, MaxCodeLen},
		{"status", b.Status, MaxCodeLen}, {"resolution", b.Resolution, MaxNameLen},
	}
	if len(b.Comments) > MaxComments {
		return &fieldError{"comments", codeTooMany, fmt.Sprintf("has more than %d elements", MaxComments)}
	}
	for i, c := range b.Comments {
		fs = append(fs, field{"comments." + strconv.Itoa(i), c, MaxTextLen})
	}
	if err := checkFields(fs...); err != nil {
		return err
	}
	return checkCaseData(b.CaseData)
}

// checkCaseData refuses caseData (already well-formed, valid UTF-8 JSON) that is nested
// deeper than MaxCaseDataDepth, has more than MaxCaseDataKeys member names or one longer
// than MaxCaseDataKeyLen, or takes more than MaxCaseDataBytes as an event stores it.
func checkCaseData(raw json.RawMessage) error {
	if len(raw) == 0 {
		return nil
	}
	dec := jsontext.NewDecoder(bytes.NewReader(raw))
	keys := 0
	for {
		tok, err := dec.ReadToken()
		if err == io.EOF {
			break
		}
		if err != nil {
			return &fieldError{"caseData", codeInvalidFormat, "is not valid JSON"}
		}
		kind, n := dec.StackIndex(dec.StackDepth())
		switch {
		case dec.StackDepth() > MaxCaseDataDepth:
			return &fieldError{"caseData", codeTooDeep, fmt.Sprintf("is nested deeper than %d levels", MaxCaseDataDepth)}
		case tok.Kind() == '"' && kind == '{' && n%2 == 1:
			// A string at an odd position of an object is a member name.
			keys++
			if keys > MaxCaseDataKeys {
				return &fieldError{"caseData", codeTooManyKeys, fmt.Sprintf("has more than %d member names", MaxCaseDataKeys)}
			}
			if utf8.RuneCountInString(tok.String()) > MaxCaseDataKeyLen {
				return &fieldError{"caseData", codeTooLong, fmt.Sprintf("has a member name longer than %d characters", MaxCaseDataKeyLen)}
			}
		}
	}
	// Measured as the event will hold it: encoding/json compacts it and escapes <, > and &.
	stored, err := json.Marshal(raw)
	if err != nil {
		return &fieldError{"caseData", codeInvalidFormat, "is not valid JSON"}
	}
	if len(stored) > MaxCaseDataBytes {
		return &fieldError{"caseData", codeTooLarge, fmt.Sprintf("takes more than %d bytes", MaxCaseDataBytes)}
	}
	return nil
}

// checkCorrelationID refuses an X-Correlation-Id that every event of the request would
// record badly, and an X-Request-Id that the log and the events would: longer than
// MaxCorrelationIDLen, or with a character outside printable ASCII (spaces and control
// characters included).
func checkCorrelationID(r *http.Request) error {
	if err := checkHeaderID(r.Header.Get("X-Correlation-Id"), "X-Correlation-Id", "correlationId"); err != nil {
		return err
	}
	return checkHeaderID(r.Header.Get(RequestIDHeader), RequestIDHeader, "requestId")
}

// checkHeaderID checks the value v of the id header named header, refused under field.
func checkHeaderID(v, header, field string) error {
	if len(v) > MaxCorrelationIDLen {
		return &fieldError{field, codeTooLong, fmt.Sprintf("(%s) is longer than %d characters", header, MaxCorrelationIDLen)}
	}
	for i := 0; i < len(v); i++ {
		if v[i] < 0x21 || v[i] > 0x7e {
			return &fieldError{field, codeInvalidFormat, fmt.Sprintf("(%s) has a character outside printable ASCII", header)}
		}
	}
	return nil
}
