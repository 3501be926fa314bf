package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/casestream/casestream/events"
)

// The vendor's PHP SDK (ThalamusSDK 4.1.4) is the operator API's reference client. The tests
// below send its calls byte for byte as it sends them over PHP's curl, and read the answers
// as it reads them:
//
//   - every path gets "?touchpoint=...&token=..." appended; a path that has a query of its own
//     keeps it after the token (/cases/typecategory?visibility=app);
//   - every call but signin carries HTTP Basic with the signed-in principal and password;
//   - the headers are curl's (Host, Authorization, Accept) and the SDK's (User-Agent,
//     Accept-Encoding, and on calls with a body Content-Type: application/json and
//     Content-Length); GET calls have no body and no content type;
//   - bodies are PHP's json_encode of the SDK's arrays, without flags: unset parameters are
//     null, "/" is written "\/" and characters outside ASCII as \u escapes (surrogate pairs
//     beyond the BMP). The body strings below are json_encode's output (PHP 8.2) for the
//     arrays the SDK builds;
//   - an answer with an "errors" member, or a status of 400 or more, is an exception whose
//     code is the SDK's code for the first {key: value} pair (sdkCode); anything else is
//     decoded as the call's result.

// sdkClient is the SDK's session: the principal and password it signed in with.
type sdkClient struct {
	t          testing.TB
	addr       string
	user, pass string
}

func newSDK(t testing.TB, m *Main, user, pass string) *sdkClient {
	return &sdkClient{t: t, addr: m.Addr(), user: user, pass: pass}
}

// sdkAnswer is what the SDK makes of an answer.
type sdkAnswer struct {
	status int
	body   []byte
	// code is the exception's code (0 for no exception, and for pairs the SDK does not know);
	// pair is the first error pair, as "key/value".
	code int
	pair string
}

// request returns the bytes the SDK sends for a call to the service path with the given
// JSON body ("" for none); auth is false only for signin.
func (s *sdkClient) request(method, servicePath, body string, auth bool) []byte {
	path, query, hasQuery := strings.Cut(servicePath, "?")
	target := "/api/v4" + path + "?" + tpQuery
	if hasQuery {
		target += "&" + query
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "%s %s HTTP/1.1\r\nHost: %s\r\n", method, target, s.addr)
	if auth {
		fmt.Fprintf(&b, "Authorization: Basic %s\r\n", base64.StdEncoding.EncodeToString([]byte(s.user+":"+s.pass)))
	}
	b.WriteString("Accept: */*\r\nUser-Agent: thalamus-sdk-php-v2.0.1\r\nAccept-Encoding: *\r\n")
	if method != http.MethodGet {
		fmt.Fprintf(&b, "Content-Type: application/json\r\nContent-Length: %d\r\n", len(body))
	}
	b.WriteString("\r\n")
	b.WriteString(body)
	return b.Bytes()
}

// call sends one call on a connection of its own and returns what the SDK makes of it.
func (s *sdkClient) call(method, servicePath, body string) sdkAnswer {
	return s.send(s.request(method, servicePath, body, true))
}

func (s *sdkClient) send(raw []byte) sdkAnswer {
	s.t.Helper()
	conn, err := net.Dial("tcp", s.addr)
	if err != nil {
		s.t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.Write(raw); err != nil {
		s.t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		s.t.Fatalf("read the answer to %q: %v", raw, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		s.t.Fatal(err)
	}
	a := sdkAnswer{status: resp.StatusCode, body: b}
	var decoded struct {
		Errors json.RawMessage `json:"errors"`
	}
	if json.Unmarshal(b, &decoded) == nil && decoded.Errors != nil {
		// json_decode keeps the members' order; the SDK's code is the first pair's.
		dec := json.NewDecoder(bytes.NewReader(decoded.Errors))
		if tok, err := dec.Token(); err == nil && tok == json.Delim('{') && dec.More() {
			key, _ := dec.Token()
			var value string
			_ = dec.Decode(&value)
			a.pair = fmt.Sprint(key) + "/" + value
			a.code = sdkCode(fmt.Sprint(key), value)
		}
	}
	if a.pair == "" && a.status >= 400 {
		a.pair = "status " + strconv.Itoa(a.status)
	}
	return a
}

// ok fails the test unless the SDK returns a result with the given status.
func (a sdkAnswer) ok(t testing.TB, status int) {
	t.Helper()
	if a.status != status || a.pair != "" {
		t.Fatalf("got %d %s, want %d and no error", a.status, a.body, status)
	}
}

// refused fails the test unless the SDK throws with the given pair and code.
func (a sdkAnswer) refused(t testing.TB, status int, pair string, code int) {
	t.Helper()
	if a.status != status || a.pair != pair || a.code != code {
		t.Fatalf("got %d %s (pair %s, SDK code %d), want %d, pair %s, SDK code %d", a.status, a.body, a.pair, a.code, status, pair, code)
	}
}

// sdkErrors holds the rows of the SDK's error table (ThalamusErrors.php) that casestream's
// operator API answers with or that name a case: code, key, value.
var sdkErrors = []struct {
	code       int
	key, value string
}{
	{900, "error.message", "UNAUTHORIZED"},
	{1103, "error.description", "User is disabled"},
	{1200, "error.message", "InvalidJson"},
	{1204, "credential", "NotMatchAnyPrincipal"},
	{1205, "credential", "NoCredentialsProvided"},
	{3100, "case", "InvalidID"},
	{3101, "category", "CodeRequired"},
	{3102, "categoryOrType", "InvalidCode"},
	{3103, "caseStatus", "InitialStatusNotSelected"},
	{3104, "caseResolutionType", "InitialResolutionTypeNotSelected"},
}

// sdkCode returns the code the SDK reports for an error pair, by its rules: the key matches
// a row's regardless of case; so does the value, or else each part of the row's value
// between "%" signs must occur in it as written; the last matching row wins; no match is 0.
func sdkCode(key, value string) int {
	code := 0
	for _, row := range sdkErrors {
		if !strings.EqualFold(row.key, key) {
			continue
		}
		match := strings.EqualFold(row.value, value)
		if !match {
			match = true
			for _, part := range strings.Split(row.value, "%") {
				if part != "" && !strings.Contains(value, part) {
					match = false
				}
			}
		}
		if match {
			code = row.code
		}
	}
	return code
}

// sdkCase is what the SDK's Caso model reads of a case object.
type sdkCase struct {
	ID           int64  `json:"id"`
	CategoryCode string `json:"categoryCode"`
	CategoryName string `json:"categoryName"`
	TypeCode     string `json:"typeCode"`
	Status       string `json:"status"`
	Resolution   string `json:"resolution"`
	Comments     []struct {
		ID             int    `json:"id"`
		CaseInstanceID int64  `json:"caseInstanceId"`
		Description    string `json:"description"`
	} `json:"comments"`
	CaseData     map[string]any `json:"caseData"`
	Attachements []any          `json:"attachements"`
	Assignment   struct {
		Operator *struct {
			Email string `json:"email"`
		} `json:"operator"`
		Group *struct {
			Name string `json:"name"`
		} `json:"group"`
	} `json:"assignment"`
}

// decode fails the test unless the SDK returns a result with status 200, and decodes it
// into v.
func (a sdkAnswer) decode(t testing.TB, v any) {
	t.Helper()
	a.ok(t, http.StatusOK)
	mustJSON(t, a.body, v)
}

// created fails the test unless the SDK returns a result with status 201, and returns its
// "case" member: the answer to a create, update, transition or assignment.
func (a sdkAnswer) created(t testing.TB) sdkCase {
	t.Helper()
	a.ok(t, http.StatusCreated)
	var out struct {
		Case *sdkCase `json:"case"`
	}
	mustJSON(t, a.body, &out)
	if out.Case == nil {
		t.Fatalf("no case in %s", a.body)
	}
	return *out.Case
}

// notes returns the descriptions of c's comments, checking their ids and case.
func (c sdkCase) notes(t testing.TB) []string {
	t.Helper()
	var out []string
	for i, n := range c.Comments {
		if n.ID != i+1 || n.CaseInstanceID != c.ID {
			t.Errorf("comment %d: got id %d of case %d, want id %d of case %d", i, n.ID, n.CaseInstanceID, i+1, c.ID)
		}
		out = append(out, n.Description)
	}
	return out
}

// caseTypes returns the types of the events on a case's subject, in order.
func caseTypes(t testing.TB, m *Main, id int64) []string {
	t.Helper()
	cons, err := jetStream(t, m).OrderedConsumer(context.Background(), events.StreamCases, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{events.CaseSubject(id)},
	})
	if err != nil {
		t.Fatal(err)
	}
	n := caseEvents(t, m, id)
	var out []string
	for range n {
		msg, err := cons.Next()
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, msg.Headers().Get(events.HeaderEventType))
	}
	return out
}

// sdkCreate is the body of createCase(category, type, description, status, resolution,
// caseData) as json_encode writes it: nulls for the status and resolution not chosen,
// caseData only when not empty, then comments only when a description is given.
const (
	sdkCreateMinimal = `{"categoryCode":"ACCOUNTS","typeCode":"LOST_CARD","status":null,"resolution":null}`
	sdkCreateFull    = `{"categoryCode":"ACCOUNTS","typeCode":"LOST_CARD","status":null,"resolution":null,"caseData":{"branch":"north\/1","score":3,"tags":["a","b"]},"comments":[{"description":"card swallowed by ATM 24\/7 at Caf\u00e9 \"Nord\" \ud83d\ude00"}]}`
	sdkCreatePending = `{"categoryCode":"ACCOUNTS","typeCode":"LOST_CARD","status":"Pending","resolution":null,"comments":[{"description":"pending one"}]}`
)

// startSDK starts an api and returns it and alice's SDK session.
func startSDK(t *testing.T) (*Main, *sdkClient) {
	t.Helper()
	m := startAPI(t, t.TempDir())
	return m, newSDK(t, m, alice, alicePW)
}

// sdkWithCase is startSDK with a case alice created with the given body.
func sdkWithCase(t *testing.T, body string) (*Main, *sdkClient, sdkCase) {
	t.Helper()
	m, sdk := startSDK(t)
	return m, sdk, sdk.call("POST", "/cases", body).created(t)
}

func TestSDKCreateCase(t *testing.T) {
	t.Parallel()
	m, sdk := startSDK(t)
	before := streamMessages(t, m)
	t.Run("minimal", func(t *testing.T) {
		a := sdk.call("POST", "/cases", sdkCreateMinimal)
		c := a.created(t)
		if c.ID <= 0 || c.CategoryCode != "ACCOUNTS" || c.TypeCode != "LOST_CARD" || c.Status != "Waiting" || c.Resolution != "" ||
			len(c.Comments) != 0 || c.Comments == nil || c.CaseData == nil || len(c.CaseData) != 0 || c.Attachements == nil {
			t.Fatalf("got %+v from %s", c, a.body)
		}
	})
	t.Run("description and case data", func(t *testing.T) {
		a := sdk.call("POST", "/cases", sdkCreateFull)
		c := a.created(t)
		if got, want := c.notes(t), []string{"card swallowed by ATM 24/7 at Café \"Nord\" 😀"}; !reflect.DeepEqual(got, want) {
			t.Errorf("comments: got %q, want %q", got, want)
		}
		if want := map[string]any{"branch": "north/1", "score": 3.0, "tags": []any{"a", "b"}}; !reflect.DeepEqual(c.CaseData, want) {
			t.Errorf("caseData: got %v, want %v", c.CaseData, want)
		}
		if got := caseTypes(t, m, c.ID); !reflect.DeepEqual(got, []string{events.TypeCaseOpened}) {
			t.Errorf("events: got %v, want the opening alone (its comments in it)", got)
		}
	})
	t.Run("pending", func(t *testing.T) {
		if c := sdk.call("POST", "/cases", sdkCreatePending).created(t); c.Status != "Pending" || !reflect.DeepEqual(c.notes(t), []string{"pending one"}) {
			t.Fatalf("got %+v", c)
		}
	})
	opened := streamMessages(t, m)
	refusals := []struct {
		name, body, pair string
		code             int
	}{
		{"no category", `{"categoryCode":"","typeCode":"LOST_CARD","status":null,"resolution":null}`, "category/CodeRequired", 3101},
		{"no type", `{"categoryCode":"ACCOUNTS","typeCode":"","status":null,"resolution":null}`, "categoryOrType/InvalidCode", 3102},
		{"unknown category", `{"categoryCode":"NOPE","typeCode":"LOST_CARD","status":null,"resolution":null}`, "categoryOrType/InvalidCode", 3102},
		{"unknown type", `{"categoryCode":"ACCOUNTS","typeCode":"NOPE","status":null,"resolution":null}`, "categoryOrType/InvalidCode", 3102},
		{"type of another category", `{"categoryCode":"SUPPORT","typeCode":"LOST_CARD","status":null,"resolution":null}`, "categoryOrType/InvalidCode", 3102},
		{"initial status not allowed", `{"categoryCode":"ACCOUNTS","typeCode":"LOST_CARD","status":"Resolved","resolution":null}`, "caseStatus/InitialStatusNotSelected", 3103},
		{"unknown status", `{"categoryCode":"ACCOUNTS","typeCode":"LOST_CARD","status":"Done","resolution":null}`, "caseStatus/InitialStatusNotSelected", 3103},
		{"initial resolution", `{"categoryCode":"ACCOUNTS","typeCode":"LOST_CARD","status":null,"resolution":"card replaced"}`, "caseResolutionType/InitialResolutionTypeNotSelected", 3104},
		{"case data not an object", `{"categoryCode":"ACCOUNTS","typeCode":"LOST_CARD","status":null,"resolution":null,"caseData":["x"]}`, "caseData/invalid", 0},
	}
	for _, r := range refusals {
		t.Run(r.name, func(t *testing.T) {
			sdk.call("POST", "/cases", r.body).refused(t, http.StatusBadRequest, r.pair, r.code)
		})
	}
	t.Run("a type the caller may not handle", func(t *testing.T) {
		newSDK(t, m, bob, bobPW).call("POST", "/cases", `{"categoryCode":"SUPPORT","typeCode":"COMPLAINT","status":null,"resolution":null}`).
			refused(t, http.StatusBadRequest, "typeCode/isNotAuthorized", 0)
	})
	if after := streamMessages(t, m); opened-before != 3 || after != opened {
		t.Fatalf("CASES messages: %d, then %d after 3 cases, then %d after the refusals; want 3 cases and nothing after", before, opened, after)
	}
}

// streamMessages returns how many messages CASES holds.
func streamMessages(t testing.TB, m *Main) uint64 {
	t.Helper()
	return streamInfo(t, m, events.StreamCases).State.Msgs
}

func TestSDKUpdateCase(t *testing.T) {
	t.Parallel()
	m, sdk, created := sdkWithCase(t, sdkCreateFull)
	path := fmt.Sprintf("/cases/%d", created.ID)
	// updateCase(id, "ACCOUNTS", "OPEN_ACCOUNT", "moved to accounts/opening", "Resolved",
	// "card replaced", ["branch" => "south"]).
	full := `{"categoryCode":"ACCOUNTS","typeCode":"OPEN_ACCOUNT","status":"Resolved","resolution":"card replaced","caseData":{"branch":"south"},"comments":[{"description":"moved to accounts\/opening"}]}`
	t.Run("everything", func(t *testing.T) {
		a := sdk.call("PUT", path, full)
		c := a.created(t)
		if c.ID != created.ID || c.TypeCode != "OPEN_ACCOUNT" || c.CategoryCode != "ACCOUNTS" || c.Status != "Resolved" ||
			c.Resolution != "card replaced" || !reflect.DeepEqual(c.CaseData, map[string]any{"branch": "south"}) {
			t.Fatalf("got %+v from %s", c, a.body)
		}
		if got, want := c.notes(t), []string{created.Comments[0].Description, "moved to accounts/opening"}; !reflect.DeepEqual(got, want) {
			t.Errorf("comments: got %q, want %q", got, want)
		}
		want := []string{events.TypeCaseOpened, events.TypeCaseUpdated, events.TypeCaseResolved, events.TypeCaseNoteAdded}
		if got := caseTypes(t, m, c.ID); !reflect.DeepEqual(got, want) {
			t.Errorf("events: got %v, want %v", got, want)
		}
	})
	t.Run("the same again without a description writes nothing", func(t *testing.T) {
		before := caseEvents(t, m, created.ID)
		if c := sdk.call("PUT", path, `{"categoryCode":"ACCOUNTS","typeCode":"OPEN_ACCOUNT","status":"Resolved","resolution":"card replaced","caseData":{"branch":"south"}}`).created(t); c.Status != "Resolved" || len(c.Comments) != 2 {
			t.Fatalf("got %+v", c)
		}
		if after := caseEvents(t, m, created.ID); after != before {
			t.Fatalf("events: got %d, want %d", after, before)
		}
	})
	t.Run("status only, nulls kept", func(t *testing.T) {
		other := sdk.call("POST", "/cases", sdkCreateMinimal).created(t)
		if c := sdk.call("PUT", fmt.Sprintf("/cases/%d", other.ID), `{"categoryCode":"ACCOUNTS","typeCode":"LOST_CARD","status":"Pending","resolution":null}`).created(t); c.Status != "Pending" || c.TypeCode != "LOST_CARD" || len(c.Comments) != 0 {
			t.Fatalf("got %+v", c)
		}
		if got, want := caseTypes(t, m, other.ID), []string{events.TypeCaseOpened, events.TypeCaseStatusChanged}; !reflect.DeepEqual(got, want) {
			t.Fatalf("events: got %v, want %v", got, want)
		}
	})
	open := sdk.call("POST", "/cases", sdkCreateMinimal).created(t)
	complaint := sdk.call("POST", "/cases", `{"categoryCode":"SUPPORT","typeCode":"COMPLAINT","status":null,"resolution":null}`).created(t)
	openPath := fmt.Sprintf("/cases/%d", open.ID)
	refusals := []struct {
		name, user, pw, path, body string
		status                     int
		pair                       string
		code                       int
	}{
		{"no category", alice, alicePW, openPath, `{"categoryCode":"","typeCode":"LOST_CARD","status":null,"resolution":null}`, 400, "category/CodeRequired", 3101},
		{"no category beats no such case", alice, alicePW, "/cases/424242", `{"categoryCode":"","typeCode":"LOST_CARD","status":null,"resolution":null}`, 400, "category/CodeRequired", 3101},
		{"type of another category", alice, alicePW, openPath, `{"categoryCode":"SUPPORT","typeCode":"LOST_CARD","status":null,"resolution":null}`, 400, "categoryOrType/InvalidCode", 3102},
		{"unknown status", alice, alicePW, openPath, `{"categoryCode":"ACCOUNTS","typeCode":"LOST_CARD","status":"Done","resolution":null}`, 400, "caseStatus/InitialStatusNotSelected", 3103},
		{"resolution without resolving", alice, alicePW, openPath, `{"categoryCode":"ACCOUNTS","typeCode":"LOST_CARD","status":null,"resolution":"card replaced"}`, 400, "caseResolutionType/InitialResolutionTypeNotSelected", 3104},
		{"no such case", alice, alicePW, "/cases/424242", `{"categoryCode":"ACCOUNTS","typeCode":"LOST_CARD","status":null,"resolution":null}`, 400, "case/invalidId", 3100},
		{"not a case id", alice, alicePW, "/cases/x1", `{"categoryCode":"ACCOUNTS","typeCode":"LOST_CARD","status":null,"resolution":null}`, 400, "case/invalidId", 3100},
		{"caller may not act on the case", bob, bobPW, fmt.Sprintf("/cases/%d", complaint.ID), `{"categoryCode":"ACCOUNTS","typeCode":"LOST_CARD","status":null,"resolution":null}`, 400, "case/invalidId", 3100},
		{"caller may not handle the new type", bob, bobPW, openPath, `{"categoryCode":"SUPPORT","typeCode":"COMPLAINT","status":null,"resolution":null}`, 400, "typeCode/isNotAuthorized", 0},
		{"retype a resolved case", alice, alicePW, path, `{"categoryCode":"ACCOUNTS","typeCode":"LOST_CARD","status":null,"resolution":null}`, 400, "case/statusIsAlreadyClose", 0},
		{"reopen a resolved case", alice, alicePW, path, `{"categoryCode":"ACCOUNTS","typeCode":"OPEN_ACCOUNT","status":"Active","resolution":null}`, 400, "case/statusIsAlreadyClose", 0},
		{"comments of the wrong type", alice, alicePW, openPath, `{"categoryCode":"ACCOUNTS","typeCode":"LOST_CARD","status":null,"resolution":null,"comments":[42]}`, 400, "comments/InvalidFormat", 0},
	}
	before := streamMessages(t, m)
	for _, r := range refusals {
		t.Run(r.name, func(t *testing.T) {
			newSDK(t, m, r.user, r.pw).call("PUT", r.path, r.body).refused(t, r.status, r.pair, r.code)
		})
	}
	if after := streamMessages(t, m); after != before {
		t.Fatalf("refusals wrote %d events", after-before)
	}
	t.Run("close the resolved case", func(t *testing.T) {
		if c := sdk.call("PUT", path, `{"categoryCode":"ACCOUNTS","typeCode":"OPEN_ACCOUNT","status":"Closed","resolution":null}`).created(t); c.Status != "Closed" || c.Resolution != "card replaced" {
			t.Fatalf("got %+v", c)
		}
	})
}

func TestSDKGetCase(t *testing.T) {
	t.Parallel()
	_, sdk, created := sdkWithCase(t, sdkCreateFull)
	// getCases(id) reads the answer itself as the case.
	a := sdk.call("GET", fmt.Sprintf("/cases/%d", created.ID), "")
	var c sdkCase
	a.decode(t, &c)
	if !reflect.DeepEqual(c, created) {
		t.Fatalf("got %+v, want the case as created %+v", c, created)
	}
	sdk.call("GET", "/cases/424242", "").refused(t, http.StatusBadRequest, "case/invalidId", 3100)
	sdk.call("GET", "/cases/x1", "").refused(t, http.StatusBadRequest, "case/invalidId", 3100)
}

func TestSDKUpdateStatusCase(t *testing.T) {
	t.Parallel()
	_, sdk, created := sdkWithCase(t, sdkCreateMinimal)
	path := fmt.Sprintf("/cases/%d/transitions", created.ID)
	if c := sdk.call("PUT", path, `{"statusName":"Pending"}`).created(t); c.Status != "Pending" {
		t.Fatalf("got %+v", c)
	}
	// updateStatusCase(id) with no status sends null.
	sdk.call("PUT", path, `{"statusName":null}`).refused(t, http.StatusBadRequest, "statusName/invalid", 0)
	sdk.call("PUT", path, `{"statusName":"Closed"}`).ok(t, http.StatusCreated)
	sdk.call("PUT", path, `{"statusName":"Active"}`).refused(t, http.StatusBadRequest, "case/statusIsAlreadyClose", 0)
	sdk.call("PUT", "/cases/424242/transitions", `{"statusName":"Active"}`).refused(t, http.StatusBadRequest, "case/invalidId", 3100)
}

func TestSDKAssignCase(t *testing.T) {
	t.Parallel()
	_, sdk, created := sdkWithCase(t, sdkCreateMinimal)
	path := fmt.Sprintf("/cases/%d/assignment", created.ID)
	a := sdk.call("PUT", path, `{"email":"bob@example.com"}`)
	if c := a.created(t); c.Status != "Active" || c.Assignment.Operator == nil || c.Assignment.Operator.Email != bob || c.Assignment.Group != nil {
		t.Fatalf("got %+v from %s", c, a.body)
	}
	// assignCase(id) with no email sends null; the Assign-case pairs are the contract's own.
	sdk.call("PUT", path, `{"email":null}`).refused(t, http.StatusBadRequest, "assignment/missing", 0)
	sdk.call("PUT", path, `{"email":"nobody@example.com"}`).refused(t, http.StatusBadRequest, "email/operatorNotValid", 0)
	sdk.call("PUT", "/cases/424242/assignment", `{"email":"bob@example.com"}`).refused(t, http.StatusBadRequest, "case/invalidId", 3100)
}

func TestSDKAddNote(t *testing.T) {
	t.Parallel()
	_, sdk, created := sdkWithCase(t, sdkCreateFull)
	id := created.ID
	// Caso::addNote("called back <b>&</b> at 10/11"); the SDK ignores the answer's body.
	sdk.call("POST", fmt.Sprintf("/cases/%d/notes", id), `{"description":"called back <b>&<\/b> at 10\/11"}`).ok(t, http.StatusCreated)
	var c sdkCase
	mustJSON(t, sdk.call("GET", fmt.Sprintf("/cases/%d", id), "").body, &c)
	if got := c.notes(t); len(got) != 2 || got[1] != "called back <b>&</b> at 10/11" {
		t.Fatalf("comments: got %q", got)
	}
	sdk.call("POST", fmt.Sprintf("/cases/%d/notes", id), `{"description":""}`).refused(t, http.StatusBadRequest, "description/missing", 0)
	sdk.call("POST", "/cases/424242/notes", `{"description":"x"}`).refused(t, http.StatusBadRequest, "case/invalidId", 3100)
}

func TestSDKGetCaseStatus(t *testing.T) {
	t.Parallel()
	_, sdk := startSDK(t)
	a := sdk.call("GET", "/cases/status", "")
	var out struct {
		CaseStatuses []struct {
			StatusName string `json:"statusName"`
			Initial    bool   `json:"initial"`
			FinalState bool   `json:"finalState"`
		} `json:"caseStatuses"`
	}
	a.decode(t, &out)
	var names []string
	for _, s := range out.CaseStatuses {
		names = append(names, s.StatusName)
		if s.Initial != (s.StatusName == "Waiting") || s.FinalState != (s.StatusName == "Closed") {
			t.Errorf("%s: got initial %v, final %v", s.StatusName, s.Initial, s.FinalState)
		}
	}
	if !reflect.DeepEqual(names, events.Statuses) {
		t.Fatalf("got %v, want %v", names, events.Statuses)
	}
}

func TestSDKGetTypeCategory(t *testing.T) {
	t.Parallel()
	_, sdk := startSDK(t)
	raw := sdk.request("GET", "/cases/typecategory?visibility=app", "", true)
	if !bytes.HasPrefix(raw, []byte("GET /api/v4/cases/typecategory?"+tpQuery+"&visibility=app HTTP/1.1\r\n")) {
		t.Fatalf("request line: got %q", raw)
	}
	a := sdk.send(raw)
	var out struct {
		CaseTypeCategories []struct {
			CaseTypeCode     string `json:"caseTypeCode"`
			CaseCategoryCode string `json:"caseCategoryCode"`
		} `json:"caseTypeCategories"`
	}
	a.decode(t, &out)
	got := map[string]string{}
	for _, tc := range out.CaseTypeCategories {
		got[tc.CaseTypeCode] = tc.CaseCategoryCode
	}
	want := map[string]string{"COMPLAINT": "SUPPORT", "LOST_CARD": "ACCOUNTS", "OPEN_ACCOUNT": "ACCOUNTS", "TRAVEL_HELP": "SUPPORT"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
}

func TestSDKIsAlive(t *testing.T) {
	t.Parallel()
	_, sdk := startSDK(t)
	a := sdk.call("GET", "/isAlive", "")
	var out struct {
		IsAlive any `json:"isAlive"`
	}
	a.decode(t, &out)
	if out.IsAlive != true {
		t.Fatalf("got %s, want isAlive true", a.body)
	}
}

func TestSDKLoginLogout(t *testing.T) {
	t.Parallel()
	_, sdk := startSDK(t)
	// login sends no Basic; the SDK then keeps the principal and password for Basic.
	a := sdk.send(sdk.request("POST", "/signin", `{"principal":"alice@example.com","password":"alice-password"}`, false))
	var ctx struct {
		SimpleProfile struct {
			Email string `json:"email"`
		} `json:"simpleProfile"`
	}
	a.decode(t, &ctx)
	if ctx.SimpleProfile.Email != alice {
		t.Fatalf("got %s", a.body)
	}
	sdk.call("GET", "/logout", "").ok(t, http.StatusOK)
}
