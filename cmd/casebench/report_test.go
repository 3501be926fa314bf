package main

import (
	"bytes"
	"strings"
	"testing"
)

// TestTableShowsMisses checks that a value just short of its target is not printed rounded
// up to it.
func TestTableShowsMisses(t *testing.T) {
	var buf bytes.Buffer
	r := Results{AssignLazyRatio: 0.49962, ReplayRatio: 0.6004, LagP99Ms: 10.001}
	if err := writeTable(&buf, r, quickScale); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"assign_lazy_ratio      0.49962 ", "replay_ratio           0.600 ", "lag_p99_ms             10.001 "} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, buf.String())
		}
	}
}
