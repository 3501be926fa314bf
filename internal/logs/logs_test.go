package logs

import (
	"bytes"
	"encoding/json"
	"flag"
	"strings"
	"testing"
)

func TestConfig(t *testing.T) {
	tests := []struct {
		name    string
		env     map[string]string
		args    []string
		wantErr bool
		json    bool
		debug   bool // a debug line is written
	}{
		{name: "defaults: JSON at info", json: true},
		{name: "text from the flag", args: []string{"-log-format", "text"}},
		{name: "level from the environment", env: map[string]string{"X_LOG_LEVEL": "debug"}, json: true, debug: true},
		{name: "flag over environment", env: map[string]string{"X_LOG_FORMAT": "text"}, args: []string{"-log-format", "json"}, json: true},
		{name: "unknown format", args: []string{"-log-format", "xml"}, wantErr: true},
		{name: "unknown level", args: []string{"-log-level", "loud"}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var c Config
			fs := flag.NewFlagSet("x", flag.ContinueOnError)
			c.Flags(fs, "X", func(k string) (string, bool) { v, ok := tt.env[k]; return v, ok })
			if err := fs.Parse(tt.args); err != nil {
				t.Fatal(err)
			}
			var buf bytes.Buffer
			log, err := c.New(&buf)
			if (err != nil) != tt.wantErr {
				t.Fatalf("got error %v, want error %v", err, tt.wantErr)
			}
			if err != nil {
				return
			}
			log.Debug("d")
			log.Info("i", "k", "v")
			lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
			if got := len(lines) == 2; got != tt.debug {
				t.Errorf("debug line written: got %v, want %v (%q)", got, tt.debug, buf.String())
			}
			last := lines[len(lines)-1]
			var v map[string]any
			isJSON := json.Unmarshal([]byte(last), &v) == nil
			if isJSON != tt.json {
				t.Errorf("JSON: got %v, want %v (%q)", isJSON, tt.json, last)
			}
		})
	}
}
