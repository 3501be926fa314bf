package projection

import (
	"encoding/json"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/casestream/casestream/events"
)

// The listing is the hot path of the agent API: it is encoded by hand, byte for byte as
// encoding/json encodes ActiveCase's fields (tested against it), without reflection.

// MarshalListing returns the JSON array of cases: "[]" when there are none.
func MarshalListing(cases []ActiveCase) []byte {
	// About 1 KiB per case; a little more, so that a typical listing is not copied on growth.
	b := make([]byte, 0, 1280*len(cases)+2)
	b = append(b, '[')
	for i := range cases {
		if i > 0 {
			b = append(b, ',')
		}
		b = cases[i].appendJSON(b)
	}
	return append(b, ']')
}

// MarshalJSON implements json.Marshaler.
func (a ActiveCase) MarshalJSON() ([]byte, error) {
	return a.appendJSON(make([]byte, 0, 1024)), nil
}

func (a *ActiveCase) appendJSON(b []byte) []byte {
	b = append(b, `{"caseId":`...)
	b = appendString(b, a.CaseID)
	b = append(b, `,"ticket":`...)
	b = appendTicket(b, a.Ticket)
	b = append(b, `,"serviceCategoryId":`...)
	b = appendString(b, a.ServiceCategoryID)
	b = append(b, `,"serviceCategoryName":`...)
	b = appendOptional(b, a.ServiceCategoryName)
	b = append(b, `,"serviceTypeId":`...)
	b = appendString(b, a.ServiceTypeID)
	b = append(b, `,"serviceTypeName":`...)
	b = appendOptional(b, a.ServiceTypeName)
	b = append(b, `,"status":`...)
	b = appendString(b, a.Status)
	b = append(b, `,"statusDate":`...)
	b = a.StatusDate.appendJSON(b)
	b = append(b, `,"referenceDate":`...)
	b = a.ReferenceDate.appendJSON(b)
	b = append(b, `,"dateOpened":`...)
	b = a.DateOpened.appendJSON(b)
	b = append(b, `,"dateClosed":`...)
	b = a.DateClosed.appendJSON(b)
	b = append(b, `,"assignedTo":`...)
	b = appendAgent(b, a.AssignedTo)
	b = append(b, `,"lockedBy":`...)
	b = appendAgent(b, a.LockedBy)
	b = append(b, `,"channel":`...)
	b = appendOptional(b, a.Channel)
	b = append(b, `,"rank":`...)
	b = strconv.AppendInt(b, int64(a.Rank), 10)
	b = append(b, `,"unitId":`...)
	b = appendString(b, a.UnitID)
	b = append(b, `,"unitName":`...)
	b = appendOptional(b, a.UnitName)
	b = append(b, `,"inboxId":`...)
	b = appendString(b, a.InboxID)
	b = append(b, `,"inboxName":`...)
	b = appendOptional(b, a.InboxName)
	b = append(b, `,"inboxColorCode":`...)
	b = appendOptional(b, a.InboxColorCode)
	b = append(b, `,"caseTimestamp":`...)
	b = a.CaseTimestamp.appendJSON(b)
	b = append(b, `,"workstationId":`...)
	b = appendOptional(b, a.WorkstationID)
	b = append(b, `,"workstationName":`...)
	b = appendOptional(b, a.WorkstationName)
	b = append(b, `,"customer":`...)
	b = appendCustomer(b, a.Customer)
	b = append(b, `,"onlineMeeting":`...)
	b = appendRaw(b, a.OnlineMeeting)
	b = append(b, `,"printedTicket":`...)
	b = appendOptional(b, a.PrintedTicket)
	b = append(b, `,"contactPhoneNumber":`...)
	b = appendOptional(b, a.ContactPhoneNumber)
	b = append(b, `,"contactEmail":`...)
	b = appendOptional(b, a.ContactEmail)
	b = append(b, `,"entryMode":`...)
	b = appendOptional(b, a.EntryMode)
	b = append(b, `,"fields":`...)
	b = appendRaw(b, a.Fields)
	b = append(b, `,"tags":`...)
	b = appendRaw(b, a.Tags)
	return append(b, '}')
}

func (t Timestamp) appendJSON(b []byte) []byte {
	if t.IsZero() {
		return append(b, "null"...)
	}
	u := t.UTC()
	year, month, day := u.Date()
	if year < 0 || year > 9999 {
		b = append(b, '"')
		b = u.AppendFormat(b, timestampLayout)
		return append(b, '"')
	}
	// timestampLayout, without the layout interpreter: the listing prints five per case.
	hour, minute, sec := u.Clock()
	ms := u.Nanosecond() / int(time.Millisecond)
	return append(b, '"',
		byte('0'+year/1000), byte('0'+year/100%10), byte('0'+year/10%10), byte('0'+year%10), '-',
		byte('0'+int(month)/10), byte('0'+int(month)%10), '-', byte('0'+day/10), byte('0'+day%10), 'T',
		byte('0'+hour/10), byte('0'+hour%10), ':', byte('0'+minute/10), byte('0'+minute%10), ':',
		byte('0'+sec/10), byte('0'+sec%10), '.', byte('0'+ms/100), byte('0'+ms/10%10), byte('0'+ms%10), 'Z', '"')
}

func appendTicket(b []byte, t events.Ticket) []byte {
	b = append(b, `{"prefix":`...)
	b = appendString(b, t.Prefix)
	b = append(b, `,"suffix":`...)
	b = appendString(b, t.Suffix)
	b = append(b, `,"number":`...)
	b = strconv.AppendInt(b, int64(t.Number), 10)
	return append(b, '}')
}

func appendAgent(b []byte, a *AgentRef) []byte {
	if a == nil {
		return append(b, "null"...)
	}
	b = append(b, `{"userId":`...)
	b = appendString(b, a.UserID)
	b = append(b, `,"displayName":`...)
	b = appendString(b, a.DisplayName)
	b = append(b, `,"initials":`...)
	b = appendString(b, a.Initials)
	b = append(b, `,"picture":`...)
	b = appendString(b, a.Picture)
	return append(b, '}')
}

func appendCustomer(b []byte, c *events.Customer) []byte {
	if c == nil {
		return append(b, "null"...)
	}
	b = append(b, `{"dataTableId":`...)
	b = appendString(b, c.DataTableID)
	b = append(b, `,"recordId":`...)
	b = appendString(b, c.RecordID)
	b = append(b, `,"displayName":`...)
	b = appendString(b, c.DisplayName)
	return append(b, '}')
}

func appendOptional(b []byte, s *string) []byte {
	if s == nil {
		return append(b, "null"...)
	}
	return appendString(b, *s)
}

// appendRaw appends raw JSON as encoding/json does, or null when empty. The listing's raw
// fields are always empty; the rest is left to encoding/json.
func appendRaw(b []byte, raw json.RawMessage) []byte {
	if len(raw) == 0 {
		return append(b, "null"...)
	}
	enc, err := json.Marshal(raw)
	if err != nil {
		return append(b, "null"...)
	}
	return append(b, enc...)
}

const hexDigits = "0123456789abcdef"

// plainASCII reports the ASCII bytes a JSON string holds as they are.
var plainASCII = func() (t [utf8.RuneSelf]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\' && c != '<' && c != '>' && c != '&'
	}
	return t
}()

// appendString appends s as a JSON string exactly as encoding/json does by default: with
// <, > and & escaped for HTML, U+2028 and U+2029 escaped, and invalid UTF-8 replaced by
// U+FFFD.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			if plainASCII[c] {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '\\', '"':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
