package embedded

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

func TestStart(t *testing.T) {
	tests := []struct {
		name       string
		listen     string
		syncAlways bool
		wantClient bool
	}{
		{name: "in process only", listen: "", wantClient: false},
		{name: "with listener", listen: "127.0.0.1:-1", syncAlways: true, wantClient: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := Start(Options{StoreDir: t.TempDir(), Listen: tt.listen, SyncAlways: tt.syncAlways, ServerName: "test"})
			if err != nil {
				t.Fatalf("Start: %v", err)
			}
			t.Cleanup(func() { s.Shutdown(); s.WaitForShutdown() })

			if got := s.JetStreamEnabled(); !got {
				t.Fatalf("JetStreamEnabled: got false, want true")
			}
			if got := s.Name(); got != "test" {
				t.Errorf("Name: got %q, want %q", got, "test")
			}
			if got := s.JetStreamConfig().SyncAlways; got != tt.syncAlways {
				t.Errorf("SyncAlways: got %v, want %v", got, tt.syncAlways)
			}
			if got := s.Addr() != nil; got != tt.wantClient {
				t.Errorf("client listener: got %v, want %v", got, tt.wantClient)
			}
			if tt.wantClient {
				nc, err := nats.Connect(s.ClientURL())
				if err != nil {
					t.Fatalf("connect over the network: %v", err)
				}
				nc.Close()
			}

			nc, err := Connect(s)
			if err != nil {
				t.Fatalf("Connect: %v", err)
			}
			defer nc.Close()
			js, err := jetstream.New(nc)
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if _, err := js.AccountInfo(ctx); err != nil {
				t.Errorf("AccountInfo: got %v, want nil", err)
			}
		})
	}
}

func TestStartBadListen(t *testing.T) {
	for _, addr := range []string{"nohost", "127.0.0.1:x", "127.0.0.1:70000"} {
		t.Run(addr, func(t *testing.T) {
			if s, err := Start(Options{StoreDir: t.TempDir(), Listen: addr}); err == nil {
				s.Shutdown()
				t.Errorf("Start(%q): got nil error, want one", addr)
			}
		})
	}
}
