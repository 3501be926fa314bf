package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/casestream/casestream/aggregate"
	"github.com/casestream/casestream/events"
	"github.com/casestream/casestream/internal/app"
	"github.com/casestream/casestream/internal/eventually"
	"github.com/casestream/casestream/internal/httpapi"
)

// point is the api's answer about a case after one command, and where the log stood.
type point struct {
	step string
	seq  uint64
	at   time.Time
	body any
}

func TestStateAtEveryPoint(t *testing.T) {
	s := startStack(t)
	s.open("ACCOUNTS", "LOST_CARD") // another case, so that the point before this one is a sequence
	before := s.lastSeq()
	id := s.open("SUPPORT", "COMPLAINT")
	path := "/cases/" + strconv.FormatInt(id, 10)
	var points []point
	record := func(step string) {
		var body any
		if err := json.Unmarshal(s.must(http.StatusOK, "GET", path, ""), &body); err != nil {
			t.Fatal(err)
		}
		points = append(points, point{step: step, seq: s.lastSeq(), at: time.Now().UTC(), body: body})
	}
	record("open")
	steps := []struct {
		name, method, path, body string
	}{
		{"assign dave", "PUT", path + "/assignment", `{"email":"dave@example.com"}`},
		{"reassign alice", "PUT", path + "/assignment", `{"email":"alice@example.com"}`},
		{"group Tier 1", "PUT", path + "/assignment", `{"groupName":"Tier 1"}`},
		{"pending", "PUT", path + "/transitions", `{"statusName":"Pending"}`},
		{"active", "PUT", path + "/transitions", `{"statusName":"Active"}`},
		{"note", "POST", path + "/notes", `{"description":"called the customer"}`},
		{"update", "PUT", path, `{"categoryCode":"ACCOUNTS","typeCode":"LOST_CARD","caseData":{"card":"1234"},"comments":[{"description":"card found"}]}`},
		{"edit note", "PUT", path + "/notes", `{"id":1,"description":"called the customer twice"}`},
		{"resolve", "PUT", path + "/transitions", `{"statusName":"Resolved"}`},
		{"close", "PUT", path + "/transitions", `{"statusName":"Closed"}`},
	}
	for _, st := range steps {
		s.must(http.StatusCreated, st.method, st.path, st.body)
		record(st.name)
	}
	for i, p := range points {
		if i > 0 && p.seq == points[i-1].seq {
			t.Fatalf("%s wrote no event", p.step)
		}
		for _, arg := range [][]string{
			{"-at-seq", strconv.FormatUint(p.seq, 10)},
			{"-at-time", p.at.Format(time.RFC3339Nano)},
		} {
			t.Run(p.step+" "+arg[0], func(t *testing.T) {
				r := s.run(append([]string{"-json", "state"}, append(arg, strconv.FormatInt(id, 10))...)...)
				if r.err != nil {
					t.Fatalf("state: %v %s", r.err, r.stderr)
				}
				var got any
				if err := json.Unmarshal([]byte(r.stdout), &got); err != nil {
					t.Fatalf("state answered %q: %v", r.stdout, err)
				}
				if !reflect.DeepEqual(got, p.body) {
					t.Errorf("got %s,\nwant %v", r.stdout, p.body)
				}
			})
		}
	}
	t.Run("before the case", func(t *testing.T) {
		r := s.run("state", "-at-seq", strconv.FormatUint(before, 10), strconv.FormatInt(id, 10))
		if r.err == nil || !strings.Contains(r.err.Error(), "did not exist") {
			t.Errorf("got %v, want the case did not exist", r.err)
		}
	})
}

// healthyLog writes a case of every event type through the api and the command side, and
// returns its caseInstanceId.
func healthyLog(t *testing.T, s *stack) int64 {
	id := s.open("ACCOUNTS", "LOST_CARD")
	path := "/cases/" + strconv.FormatInt(id, 10)
	s.must(http.StatusCreated, "PUT", path+"/assignment", `{"groupName":"Tier 1"}`)
	s.execute(id, func(c *aggregate.Case) ([]events.Event, error) { return c.StartService(bobID, "") })
	s.must(http.StatusCreated, "PUT", path+"/assignment", `{"email":"dave@example.com"}`)
	s.must(http.StatusCreated, "PUT", path+"/transitions", `{"statusName":"Pending"}`)
	s.must(http.StatusCreated, "POST", path+"/notes", `{"description":"a note"}`)
	s.must(http.StatusCreated, "PUT", path+"/notes", `{"id":1,"description":"the note"}`)
	s.must(http.StatusCreated, "PUT", path, `{"categoryCode":"SUPPORT","typeCode":"COMPLAINT","caseData":{"a":1}}`)
	file := events.CaseFileAttached{FileID: "f1", Name: "a.txt", Size: 1, ContentType: "text/plain", Digest: "SHA-256=x"}
	s.execute(id, func(c *aggregate.Case) ([]events.Event, error) { return c.AttachFile(file) })
	s.execute(id, func(c *aggregate.Case) ([]events.Event, error) { return c.RemoveFile("f1") })
	s.must(http.StatusCreated, "PUT", path+"/transitions", `{"statusName":"Resolved"}`)
	s.must(http.StatusCreated, "PUT", path+"/transitions", `{"statusName":"Closed"}`)
	return id
}

func TestVerify(t *testing.T) {
	s := startStack(t)
	healthy := healthyLog(t, s)
	r := s.run("verify")
	if r.err != nil {
		t.Fatalf("verify of a healthy log: got %v\n%s, want no finding", r.err, r.stdout)
	}
	if !strings.Contains(r.stdout, " 0 findings") {
		t.Errorf("got %q, want 0 findings", r.stdout)
	}
	// Every case event type is in the healthy log.
	got := map[string]bool{}
	for _, l := range lines[historyLine](t, s.run("-json", "history", strconv.FormatInt(healthy, 10)).stdout) {
		got[l.Type] = true
	}
	for _, typ := range events.Types() {
		if strings.HasPrefix(typ, "case.") && !got[typ] {
			t.Errorf("the healthy log has no %s", typ)
		}
	}

	const unknownOperator = "00000000-0000-4000-8000-000000000099"
	tests := []struct {
		name string
		// write writes a bad event to a new case and returns the case.
		write func() int64
		rule  string
	}{
		{"assigned to an unknown operator", func() int64 {
			id := s.open("ACCOUNTS", "LOST_CARD")
			s.appendRaw(events.CaseSubject(id), events.CaseAssigned{To: events.Assignment{OperatorID: unknownOperator}, Status: events.StatusActive})
			return id
		}, "aggregate.email.operatorNotValid"},
		{"a Closed case moved", func() int64 {
			id := s.open("ACCOUNTS", "LOST_CARD")
			s.must(http.StatusCreated, "PUT", fmt.Sprintf("/cases/%d/transitions", id), `{"statusName":"Closed"}`)
			s.appendRaw(events.CaseSubject(id), events.CaseStatusChanged{From: events.StatusClosed, To: events.StatusActive})
			return id
		}, "aggregate.case.statusIsAlreadyClose"},
		{"assigned to a group unknown", func() int64 {
			id := s.open("ACCOUNTS", "LOST_CARD")
			s.appendRaw(events.CaseSubject(id), events.CaseAssigned{To: events.Assignment{GroupName: "Tier 9"}, Status: events.StatusWaiting})
			return id
		}, "aggregate.groupName.invalidName"},
		{"a wrong previous assignment", func() int64 {
			id := s.open("ACCOUNTS", "LOST_CARD")
			s.appendRaw(events.CaseSubject(id), events.CaseAssigned{To: events.Assignment{OperatorID: bobID}, Previous: events.Assignment{GroupName: "Tier 2"}, Status: events.StatusActive})
			return id
		}, "aggregate.notDecided"},
		{"an event before the opening", func() int64 {
			id := int64(900000 + time.Now().UnixNano()%1000)
			s.appendRaw(events.CaseSubject(id), events.CaseNoteAdded{NoteID: 1, Description: "x"})
			return id
		}, "aggregate.lifecycle"},
		{"an opening in a unit that does not exist", func() int64 {
			id := int64(800000 + time.Now().UnixNano()%1000)
			s.appendRaw(events.CaseSubject(id), events.CaseOpened{
				CaseInstanceID: id, ServiceTypeID: benchLostCard, ServiceCategoryID: benchCategory, ServiceID: benchService,
				UnitID: "00000000-0000-4000-8000-00000000dead", InboxID: benchInbox, Status: events.StatusWaiting,
			})
			return id
		}, "directory.missing"},
		{"an undecodable body", func() int64 {
			id := s.open("ACCOUNTS", "LOST_CARD")
			s.publishRaw(events.CaseSubject(id), "case.noteAdded", []byte("{not json"))
			return id
		}, "envelope"},
		{"a type header that lies", func() int64 {
			id := s.open("ACCOUNTS", "LOST_CARD")
			env, _ := events.Wrap(events.Meta{ID: "lie-1", Subject: events.CaseSubject(id), OccurredAt: time.Now(), Actor: events.Actor{Kind: events.ActorSystem}}, events.CaseNoteAdded{NoteID: 1, Description: "x"})
			body, _ := json.Marshal(env)
			s.publishRawID(events.CaseSubject(id), "case.closed", "lie-1", body)
			return id
		}, "header.type"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			id := tc.write()
			r := s.run("verify")
			if !errors.Is(r.err, ErrFindings) {
				t.Fatalf("got %v\n%s, want ErrFindings", r.err, r.stdout)
			}
			want := fmt.Sprintf("case %d: %s", id, tc.rule)
			if !strings.Contains(r.stdout, want) {
				t.Errorf("got report\n%s\nwant a line with %q", r.stdout, want)
			}
			if strings.Contains(r.stdout, fmt.Sprintf("case %d:", healthy)) {
				t.Errorf("got a finding on the healthy case %d:\n%s", healthy, r.stdout)
			}
		})
	}
	t.Run("from-seq", func(t *testing.T) {
		// From the last sequence on, only the last bad event is checked, with its case
		// folded from its earlier events.
		last := s.lastSeq()
		r := s.run("-json", "verify", "-from-seq", strconv.FormatUint(last, 10))
		fs := lines[finding](t, r.stdout)
		if len(fs) < 2 || fs[0].Seq != last || fs[0].Rule != "header.type" {
			t.Errorf("got %s, want the findings of sequence %d only", r.stdout, last)
		}
	})
}

func TestHistoryNamesAsTheyWere(t *testing.T) {
	s := startStack(t)
	id := s.open("ACCOUNTS", "LOST_CARD")
	path := fmt.Sprintf("/cases/%d/assignment", id)
	s.must(http.StatusCreated, "PUT", path, `{"email":"bob@example.com"}`)
	s.rename(bobID, "Robert Brown")
	s.must(http.StatusCreated, "PUT", path, `{"email":"alice@example.com"}`)
	s.must(http.StatusCreated, "PUT", path, `{"email":"bob@example.com"}`)

	r := s.run("-json", "history", strconv.FormatInt(id, 10))
	if r.err != nil {
		t.Fatal(r.err)
	}
	var got []string
	for _, l := range lines[historyLine](t, r.stdout) {
		if l.Type == events.TypeCaseAssigned {
			got = append(got, l.Summary)
		}
	}
	want := []string{
		"assigned to Bob Brown <bob@example.com> (was nobody), now Active",
		"assigned to Alice Anderson <alice@example.com> (was Robert Brown <bob@example.com>), now Active",
		"assigned to Robert Brown <bob@example.com> (was Alice Anderson <alice@example.com>), now Active",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %q,\nwant %q", got, want)
	}
	text := s.run("history", strconv.FormatInt(id, 10)).stdout
	if n := strings.Count(text, "\n"); n != 4 {
		t.Errorf("got %d lines of text history, want 4:\n%s", n, text)
	}
}

func TestDirectory(t *testing.T) {
	s := startStack(t)
	before := time.Now().UTC()
	s.rename(bobID, "Robert Brown")
	r := s.run("-json", "directory", "history", "operator", strings.ToUpper(bobID))
	if r.err != nil {
		t.Fatal(r.err)
	}
	var defined, secrets []string
	for _, l := range lines[historyLine](t, r.stdout) {
		switch l.Type {
		case events.TypeOperatorDefined:
			defined = append(defined, l.Summary)
		case events.TypeSecretChanged:
			secrets = append(secrets, l.Summary)
		}
	}
	if len(defined) != 2 || !strings.Contains(defined[0], "Bob Brown") || !strings.Contains(defined[1], "Robert Brown") {
		t.Errorf("got %s, want Bob Brown then Robert Brown", r.stdout)
	}
	if len(secrets) != 1 || !strings.Contains(secrets[0], "secret of operator "+bobID) {
		t.Errorf("got secret changes %q, want the bootstrap's password", secrets)
	}
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"now", nil, "Robert Brown"},
		{"before the rename", []string{"-at-time", before.Format(time.RFC3339Nano)}, "Bob Brown"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := s.run("-json", "directory", "show")
			r = s.run(append(append([]string{"-json", "directory", "show"}, tc.args...), "operator", bobID)...)
			if r.err != nil {
				t.Fatal(r.err)
			}
			var op events.Operator
			if err := json.Unmarshal([]byte(r.stdout), &op); err != nil {
				t.Fatal(err)
			}
			if op.DisplayName != tc.want || op.Email != bob {
				t.Errorf("got %s, want %s", r.stdout, tc.want)
			}
			if strings.Contains(r.stdout, "Hash") || strings.Contains(r.stdout, "$2a$") {
				t.Errorf("got %s, want no secret's hash", r.stdout)
			}
		})
	}
	t.Run("unknown kind", func(t *testing.T) {
		if r := s.run("directory", "show", "planet", "x"); !errors.Is(r.err, errUsage) {
			t.Errorf("got %v, want a usage error", r.err)
		}
	})
}

func TestExport(t *testing.T) {
	s := startStack(t)
	s.open("ACCOUNTS", "LOST_CARD")
	s.open("ACCOUNTS", "LOST_CARD")
	last := s.lastSeq()
	for _, tc := range []struct {
		name     string
		args     []string
		from, to uint64
	}{
		{"all", nil, 1, last},
		{"range", []string{"-from-seq", "2", "-to-seq", "2"}, 2, 2},
		{"from", []string{"-from-seq", strconv.FormatUint(last, 10)}, last, last},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := s.run(append([]string{"export"}, tc.args...)...)
			if r.err != nil {
				t.Fatal(r.err)
			}
			got := lines[exportLine](t, r.stdout)
			if uint64(len(got)) != tc.to-tc.from+1 {
				t.Fatalf("got %d lines, want %d", len(got), tc.to-tc.from+1)
			}
			for i, l := range got {
				env, err := events.Unmarshal(l.Event)
				if l.Seq != tc.from+uint64(i) || err != nil || env.Subject != l.Subject || l.Stream != events.StreamCases {
					t.Errorf("line %d: got seq %d subject %s (%v), want seq %d", i, l.Seq, env.Subject, err, tc.from+uint64(i))
				}
			}
		})
	}
	t.Run("directory", func(t *testing.T) {
		r := s.run("export", "-stream", "directory")
		got := lines[exportLine](t, r.stdout)
		if len(got) == 0 || got[0].Stream != events.StreamDirectory {
			t.Errorf("got %d lines %v, want the DIRECTORY stream", len(got), r.err)
		}
	})
}

func TestTail(t *testing.T) {
	s := startStack(t)
	id := s.open("ACCOUNTS", "LOST_CARD")
	other := s.open("ACCOUNTS", "LOST_CARD")
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"by type and case", []string{"-type", "case.assigned", "-case", strconv.FormatInt(id, 10)}},
		{"by type and unit", []string{"-type", "case.assigned", "-unit", downtown}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			out := &syncBuffer{}
			done := make(chan result, 1)
			go func() { done <- s.runContext(ctx, out, append([]string{"-json", "tail"}, tc.args...)...) }()
			// tail starts at the end of the log: write until it has seen an assignment.
			target := "Bob Brown"
			eventually.Check(t, 10*time.Second, 50*time.Millisecond, func() error {
				if strings.Contains(out.String(), target) {
					return nil
				}
				s.must(http.StatusCreated, "POST", fmt.Sprintf("/cases/%d/notes", id), `{"description":"note"}`)
				s.must(http.StatusCreated, "PUT", fmt.Sprintf("/cases/%d/assignment", other), `{"email":"dave@example.com"}`)
				s.must(http.StatusCreated, "PUT", fmt.Sprintf("/cases/%d/assignment", other), `{"groupName":"Tier 1"}`)
				s.must(http.StatusCreated, "PUT", fmt.Sprintf("/cases/%d/assignment", id), `{"email":"bob@example.com"}`)
				s.must(http.StatusCreated, "PUT", fmt.Sprintf("/cases/%d/assignment", id), `{"groupName":"Tier 1"}`)
				return errors.New("no assignment to bob yet")
			})
			cancel()
			if r := <-done; !errors.Is(r.err, context.Canceled) {
				t.Errorf("tail ended with %v, want context.Canceled", r.err)
			}
			var tl []struct {
				Case int64 `json:"caseInstanceId"`
				historyLine
			}
			for l := range strings.Lines(out.String()) {
				var v struct {
					Case int64 `json:"caseInstanceId"`
					historyLine
				}
				if err := json.Unmarshal([]byte(l), &v); err != nil {
					t.Fatal(err)
				}
				tl = append(tl, v)
			}
			for _, l := range tl {
				if l.Type != events.TypeCaseAssigned {
					t.Errorf("got a %s, want case.assigned only", l.Type)
				}
				if tc.args[2] == "-case" && l.Case != id {
					t.Errorf("got case %d, want %d only", l.Case, id)
				}
			}
		})
	}
}

func TestReplay(t *testing.T) {
	s := startStack(t)
	id := s.open("ACCOUNTS", "LOST_CARD")
	beforeAssign := s.lastSeq()
	s.must(http.StatusCreated, "PUT", fmt.Sprintf("/cases/%d/assignment", id), `{"email":"bob@example.com"}`)
	afterAssign := time.Now().UTC()
	s.must(http.StatusCreated, "PUT", fmt.Sprintf("/cases/%d/transitions", id), `{"statusName":"Resolved"}`)

	active := func(args ...string) []activeLine {
		r := s.run(append([]string{"-json", "replay", "-agent", bob, "-unit", downtown}, args...)...)
		if r.err != nil {
			t.Fatal(r.err)
		}
		ls := lines[activeLine](t, r.stdout)
		return ls[:len(ls)-1] // the last line says where the replay stopped
	}
	for _, tc := range []struct {
		name string
		args []string
		want []int64
	}{
		{"before the assignment", []string{"-to-seq", strconv.FormatUint(beforeAssign, 10)}, nil},
		{"after the assignment", []string{"-to-time", afterAssign.Format(time.RFC3339Nano)}, []int64{id}},
		{"now (resolved)", nil, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got []int64
			for _, l := range active(tc.args...) {
				got = append(got, l.CaseInstanceID)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
	t.Run("counts", func(t *testing.T) {
		r := s.run("-json", "replay", "-to-time", afterAssign.Format(time.RFC3339Nano))
		ls := lines[countLine](t, r.stdout)
		if len(ls) != 2 || ls[0].AgentID != bobID || ls[0].Cases != 1 || ls[0].UnitID != downtown {
			t.Errorf("got %s, want bob with 1 active case", r.stdout)
		}
	})
}

func TestParseFlags(t *testing.T) {
	env := func(kv ...string) func(string) (string, bool) {
		return func(k string) (string, bool) {
			for i := 0; i+1 < len(kv); i += 2 {
				if kv[i] == k {
					return kv[i+1], true
				}
			}
			return "", false
		}
	}
	tests := []struct {
		name    string
		args    []string
		env     func(string) (string, bool)
		wantURL string
		wantErr bool
	}{
		{"default url", []string{"verify"}, env(), DefaultNATSURL, false},
		{"environment twin", []string{"verify"}, env("CASESTREAM_NATS_URL", "nats://10.0.0.1:4222"), "nats://10.0.0.1:4222", false},
		{"flag over environment", []string{"-nats-url", "nats://a:1", "verify"}, env("CASESTREAM_NATS_URL", "nats://b:2"), "nats://a:1", false},
		{"no command", nil, env(), "", true},
		{"unknown command", []string{"purge"}, env(), "", true},
		{"two credentials", []string{"-nats-nkey", "a.nk", "-nats-user", "u", "verify"}, env(), "", true},
		{"password without user", []string{"-nats-password", "p", "verify"}, env(), "", true},
		{"certificate without key", []string{"-nats-cert", "c.pem", "verify"}, env(), "", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := NewMain()
			m.Stderr = io.Discard
			err := m.ParseFlags(tc.args, tc.env)
			if (err != nil) != tc.wantErr {
				t.Fatalf("got %v, want error %t", err, tc.wantErr)
			}
			if err == nil && m.Config.NATSURL != tc.wantURL {
				t.Errorf("got url %q, want %q", m.Config.NATSURL, tc.wantURL)
			}
		})
	}
}

func TestCommandUsage(t *testing.T) {
	s := startStack(t)
	for _, args := range [][]string{
		{"history"},
		{"history", "x"},
		{"state", "-at-seq", "1", "-at-time", "2026-01-01T00:00:00Z", "1"},
		{"replay", "-agent", bob},
		{"export", "-stream", "KV_X"},
		{"directory", "purge"},
	} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			if r := s.run(args...); !errors.Is(r.err, errUsage) {
				t.Errorf("got %v, want a usage error", r.err)
			}
		})
	}
}

func TestProgressOnlyWhenAsked(t *testing.T) {
	s := startStack(t)
	s.open("ACCOUNTS", "LOST_CARD")
	for _, progress := range []bool{false, true} {
		t.Run(strconv.FormatBool(progress), func(t *testing.T) {
			var out, errOut strings.Builder
			m := NewMain()
			m.Stdout, m.Stderr, m.Progress = &out, &errOut, progress
			if err := m.ParseFlags([]string{"-nats-url", s.url, "-nats-nkey", s.readerSeed(), "export"}, func(string) (string, bool) { return "", false }); err != nil {
				t.Fatal(err)
			}
			err := m.Run(context.Background())
			m.Close()
			if err != nil {
				t.Fatal(err)
			}
			if got := strings.Contains(errOut.String(), "export"); got != progress {
				t.Errorf("got progress %q, want shown %t", errOut.String(), progress)
			}
			if len(lines[exportLine](t, out.String())) != 1 {
				t.Errorf("got %q, want one exported event", out.String())
			}
		})
	}
}

func TestExportLine(t *testing.T) {
	at := time.Date(2026, 11, 24, 14, 5, 0, 123456789, time.UTC)
	for _, tc := range []struct {
		name string
		body string
		want exportLine
	}{
		{"compact", `{"id":"a","type":"case.closed"}`, exportLine{Event: json.RawMessage(`{"id":"a","type":"case.closed"}`)}},
		{"spread over lines", "{\"id\":\n\"a\"}", exportLine{Event: json.RawMessage(`{"id":"a"}`)}},
		{"not JSON", "{not json\n", exportLine{Body: "{not json\n"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := entry{Stream: events.StreamCases, Seq: 42, Time: at, Subject: "cases.7", Data: []byte(tc.body)}
			got, err := appendExportLine(nil, e)
			if err != nil {
				t.Fatal(err)
			}
			tc.want.Stream, tc.want.Seq, tc.want.Time, tc.want.Subject = e.Stream, e.Seq, e.Time, e.Subject
			want, _ := json.Marshal(tc.want)
			if string(got) != string(want)+"\n" {
				t.Errorf("got %s, want %s", got, want)
			}
		})
	}
}

func TestReadsAsTheReader(t *testing.T) {
	s := startStack(t)
	id := s.open("ACCOUNTS", "LOST_CARD")
	noEnv := func(string) (string, bool) { return "", false }
	for _, tc := range []struct {
		name    string
		args    []string
		wantErr bool
	}{
		{"the reader's seed under -data", []string{"-data", s.data}, false},
		{"an explicit seed", []string{"-data", "", "-nats-nkey", s.readerSeed()}, false},
		{"no credentials", []string{"-data", ""}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out strings.Builder
			m := NewMain()
			m.Stdout, m.Stderr, m.Progress = &out, io.Discard, false
			args := append(append([]string{"-nats-url", s.url}, tc.args...), "history", strconv.FormatInt(id, 10))
			if err := m.ParseFlags(args, noEnv); err != nil {
				t.Fatal(err)
			}
			err := m.Run(context.Background())
			m.Close()
			if (err != nil) != tc.wantErr {
				t.Fatalf("got %v, want error %t", err, tc.wantErr)
			}
			if !tc.wantErr && !strings.Contains(out.String(), "case.opened") {
				t.Errorf("got %q, want the case's history", out.String())
			}
		})
	}
}

func TestHistoryReportsUndecodable(t *testing.T) {
	s := startStack(t)
	id := s.open("ACCOUNTS", "LOST_CARD")
	s.publishRaw(events.CaseSubject(id), events.TypeCaseNoteAdded, []byte("{not json"))
	// The api refuses commands on the case now (its state is unreadable): the event after it
	// is written straight to the stream too.
	env, err := events.Wrap(events.Meta{ID: "after-1", Subject: events.CaseSubject(id), OccurredAt: time.Now(), Actor: events.Actor{Kind: events.ActorSystem}}, events.CaseNoteAdded{NoteID: 1, Description: "after it"})
	if err != nil {
		t.Fatal(err)
	}
	body, _ := json.Marshal(env)
	s.publishRawID(events.CaseSubject(id), events.TypeCaseNoteAdded, env.ID, body)
	r := s.run("-json", "history", strconv.FormatInt(id, 10))
	if r.err != nil {
		t.Fatal(r.err)
	}
	ls := lines[historyLine](t, r.stdout)
	if len(ls) != 3 {
		t.Fatalf("got %d events, want 3:\n%s", len(ls), r.stdout)
	}
	if ls[1].Error == "" || ls[1].Type != events.TypeCaseNoteAdded {
		t.Errorf("got %+v, want the undecodable event with its error and header type", ls[1])
	}
	if ls[2].Error != "" || !strings.Contains(ls[2].Summary, "after it") {
		t.Errorf("got %+v, want the note after it", ls[2])
	}
}

// TestDirectoryHistoryShowsTheAdmin blocks an operator through the admin API and checks that
// directory history names the admin who did it and the reason they gave, in both outputs.
func TestDirectoryHistoryShowsTheAdmin(t *testing.T) {
	const token = "0123456789abcdef0123456789abcdef"
	s := startStack(t, func(c *app.Config) {
		c.AdminTokens = []httpapi.AdminToken{{Name: "carol", Token: token}}
	})
	req, err := http.NewRequest("POST", s.base+"/admin/v1/operators/"+bobID+"/block", strings.NewReader(`{"reason":"left the company"}`))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := s.hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("block: got %d, want 200", resp.StatusCode)
	}

	r := s.run("-json", "directory", "history", "operator", bobID)
	if r.err != nil {
		t.Fatal(r.err)
	}
	ls := lines[historyLine](t, r.stdout)
	last := ls[len(ls)-1]
	if last.Type != events.TypeOperatorDefined || last.Actor.Kind != events.ActorAdmin || last.Actor.ID != "carol" || last.Reason != "left the company" {
		t.Errorf("last event: got %s by %+v, reason %q; want the block by admin carol, reason %q", last.Type, last.Actor, last.Reason, "left the company")
	}
	r = s.run("directory", "history", "operator", bobID)
	if r.err != nil {
		t.Fatal(r.err)
	}
	text := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if got := text[len(text)-1]; !strings.Contains(got, "admin carol") || !strings.Contains(got, "(reason: left the company)") {
		t.Errorf("got %q, want the admin's name and the reason", got)
	}
}
