package main

import (
	"bytes"
	"io"
	"net/http"
	"testing"
)

func TestDurabilityFlag(t *testing.T) {
	t.Parallel()
	checkFlag(t, func(c Config) string { return c.Durability }, []flagCase[string]{
		{"default", nil, nil, "sync", false},
		{"environment", nil, map[string]string{"CASESTREAM_DURABILITY": "group"}, "group", false},
		{"flag wins", []string{"-durability", "sync"}, map[string]string{"CASESTREAM_DURABILITY": "group"}, "sync", false},
		{"unknown", []string{"-durability", "lazy"}, nil, "", true},
	})
}

// TestGroupDurabilityServes: with -durability group a case is opened as usual (its
// acknowledgement waits for a shared sync of the store).
func TestGroupDurabilityServes(t *testing.T) {
	t.Parallel()
	m := parsedMain(t, []string{"-addr", "127.0.0.1:0", "-data", t.TempDir(), "-nats-listen", "", "-durability", "group", "-demo"}, nil)
	runMain(t, m)
	req, err := http.NewRequest(http.MethodPost, "http://"+m.app.Addr()+"/api/v4/cases", bytes.NewReader([]byte(`{"categoryCode":"ACCOUNTS","typeCode":"LOST_CARD"}`)))
	if err != nil {
		t.Fatal(err)
	}
	req.SetBasicAuth("alice@example.com", "alice-password")
	req.Header.Set("Thalamus-Touchpoint", "demo-kiosk")
	req.Header.Set("Thalamus-Token", "demo-kiosk-token")
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("open a case: got %d %s, want 201", resp.StatusCode, b)
	}
}
