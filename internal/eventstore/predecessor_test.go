package eventstore

import (
	"testing"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/synadia-io/orbit.go/jetstreamext"
)

// FuzzPredecessor feeds predecessor the headers another writer could have stored: it must
// not panic, and a predecessor it names is always before the message.
func FuzzPredecessor(f *testing.F) {
	f.Add(uint64(10), "7", "", "", "")
	f.Add(uint64(10), "0", "", "", "")
	f.Add(uint64(10), "", "", "abc", "3")
	f.Add(uint64(10), "", "", "abc", "1")
	f.Add(uint64(10), "12", "", "", "")
	f.Add(uint64(1), "", "", "abc", "2")
	f.Add(uint64(10), "7", "cases.other", "", "")
	f.Add(uint64(10), "-1", "", "", "x")
	f.Fuzz(func(t *testing.T, seq uint64, expected, expectedSubj, batchID, batchSeq string) {
		m := &jetstream.RawStreamMsg{Subject: "cases.1", Sequence: seq, Header: nats.Header{}}
		for k, v := range map[string]string{
			jetstream.ExpectedLastSubjSeqHeader:     expected,
			jetstream.ExpectedLastSubjSeqSubjHeader: expectedSubj,
			jetstreamext.BatchIDHeader:              batchID,
			jetstreamext.BatchSeqHeader:             batchSeq,
		} {
			if v != "" {
				m.Header.Set(k, v)
			}
		}
		prev, _, ok := predecessor(m)
		if ok && prev >= seq {
			t.Fatalf("predecessor of %d = %d", seq, prev)
		}
		if ok && expected != "" && expectedSubj != "" {
			t.Fatalf("an expectation about %q named a predecessor", expectedSubj)
		}
	})
}
