package events

import (
	"bytes"
	"encoding/json"
	"os"
	"testing"
)

// BenchmarkDecodeBody decodes a stored message body into its envelope and typed data, as
// every reader of the streams does for each message: in two passes (Unmarshal, then
// Decode) and in one (UnmarshalEvent).
func BenchmarkDecodeBody(b *testing.B) {
	for _, name := range []string{"case.opened", "case.assigned"} {
		golden, err := os.ReadFile("testdata/" + name + ".golden")
		if err != nil {
			b.Fatal(err)
		}
		var body bytes.Buffer
		if err := json.Compact(&body, golden); err != nil {
			b.Fatal(err)
		}
		b.Run(name+"/two-pass", func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(body.Len()))
			for b.Loop() {
				env, err := Unmarshal(body.Bytes())
				if err != nil {
					b.Fatal(err)
				}
				if _, err := Decode(env); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(name+"/one-pass", func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(body.Len()))
			for b.Loop() {
				if _, ev, err := UnmarshalEvent(body.Bytes()); err != nil || ev == nil {
					b.Fatal(ev, err)
				}
			}
		})
	}
}
