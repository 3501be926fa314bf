package projection

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/casestream/casestream/events"
)

// plainActiveCase has ActiveCase's fields without its MarshalJSON: encoding/json encodes it by
// reflection, the reference for the hand-written encoder.
type plainActiveCase ActiveCase

func sampleCase(s string, ms int64) ActiveCase {
	at := time.UnixMilli(ms).UTC()
	return ActiveCase{
		CaseID: s, Ticket: events.Ticket{Prefix: s, Suffix: s, Number: int(ms % 100000)},
		ServiceCategoryID: s, ServiceCategoryName: &s, ServiceTypeID: s, ServiceTypeName: optional(s),
		Status: s, StatusDate: Timestamp{at}, ReferenceDate: Timestamp{at.Add(time.Hour)}, DateOpened: Timestamp{at},
		AssignedTo: &AgentRef{UserID: s, DisplayName: s, Initials: s, Picture: s}, LockedBy: nil,
		Channel: &s, Rank: int(ms % 1000), UnitID: s, UnitName: &s, InboxID: s, InboxName: nil, InboxColorCode: &s,
		CaseTimestamp: Timestamp{at}, WorkstationID: optional(s),
		Customer:      &events.Customer{DataTableID: s, RecordID: s, DisplayName: s},
		PrintedTicket: &s, ContactPhoneNumber: &s, ContactEmail: nil, EntryMode: &s,
	}
}

func checkEncoding(t *testing.T, a ActiveCase) {
	t.Helper()
	want, err := json.Marshal(plainActiveCase(a))
	if err != nil {
		t.Fatal(err)
	}
	if got := a.appendJSON(nil); string(got) != string(want) {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
	viaJSON, err := json.Marshal(a)
	if err != nil || string(viaJSON) != string(want) {
		t.Fatalf("json.Marshal: got %s %v, want %s", viaJSON, err, want)
	}
}

func TestEncodeMatchesEncodingJSON(t *testing.T) {
	strs := []string{"", "plain", `quote " and \ backslash`, "<b>&amp;</b>", "tab\tnew\nline\r\x00\x1f\x7f",
		"\u2028\u2029", "ünïcödé 日本 🎉", "bad \xff utf8 \xc3", "\b\f"}
	for _, s := range strs {
		t.Run(s, func(t *testing.T) {
			checkEncoding(t, sampleCase(s, 1772357400123))
		})
	}
	t.Run("zero", func(t *testing.T) { checkEncoding(t, ActiveCase{}) })
	t.Run("raw fields", func(t *testing.T) {
		a := ActiveCase{OnlineMeeting: json.RawMessage(` { "url" : "<x>" } `), Fields: json.RawMessage(`[1, 2]`)}
		checkEncoding(t, a)
	})
	t.Run("listing", func(t *testing.T) {
		cases := []ActiveCase{sampleCase("a", 1), sampleCase("b", 2)}
		want, _ := json.Marshal(cases)
		if got := MarshalListing(cases); string(got) != string(want) {
			t.Errorf("got %s, want %s", got, want)
		}
		if got := MarshalListing(nil); string(got) != "[]" {
			t.Errorf("got %s, want []", got)
		}
	})
}

func FuzzEncodeMatchesEncodingJSON(f *testing.F) {
	f.Add("plain", int64(0))
	f.Add("<&>\u2028\x00\xff", int64(1772357400123))
	f.Add("日本", int64(-62135596800000))
	f.Fuzz(func(t *testing.T, s string, ms int64) {
		if ms < -62135596800000 || ms > 253402300799999 { // years 1 to 9999
			return
		}
		checkEncoding(t, sampleCase(s, ms))
	})
}
