package embeddedtest

import "testing"

func TestStart(t *testing.T) {
	s, nc := Start(t)
	if !nc.IsConnected() {
		t.Fatalf("IsConnected: got false, want true")
	}
	if s.JetStreamConfig().SyncAlways {
		t.Errorf("SyncAlways: got true, want false")
	}
	if s.Addr() == nil {
		t.Errorf("client listener: got none, want a random port")
	}
}
