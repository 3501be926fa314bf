package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
)

func TestRequest(t *testing.T) {
	h := http.Header{}
	h.Set("Authorization", "Basic eDp5")
	got := request(http.MethodPut, "127.0.0.1:80", "/a/b", h, []byte(`{"k":1}`))
	req, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(got)))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(req.Body)
	if req.Method != http.MethodPut || req.URL.Path != "/a/b" || req.Host != "127.0.0.1:80" ||
		req.Header.Get("Authorization") != "Basic eDp5" || string(body) != `{"k":1}` || req.ContentLength != 7 {
		t.Errorf("parsed %s %s host %q auth %q length %d body %q", req.Method, req.URL.Path, req.Host,
			req.Header.Get("Authorization"), req.ContentLength, body)
	}
}

// TestWireConn checks the measuring client against net/http's server: the connection is
// kept across calls, bodies are read whole in either framing, a status other than the
// wanted one is an error carrying the body, and a closed connection is dialled again.
func TestWireConn(t *testing.T) {
	var conns atomic.Int64
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/length":
			w.Header().Set("Content-Length", "5")
			_, _ = io.WriteString(w, "fixed")
		case "/chunked":
			// Larger than net/http's chunking buffer, without a length: sent chunked.
			_, _ = io.WriteString(w, strings.Repeat("c", 10_000))
		case "/close":
			w.Header().Set("Connection", "close")
			_, _ = io.WriteString(w, "bye")
		default:
			http.Error(w, "nothing here", http.StatusNotFound)
		}
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	defer srv.Close()
	addr := srv.Listener.Addr().String()
	c := newWireConns(addr, 1)[0]
	defer c.close()
	ctx := context.Background()
	get := func(path string) []byte { return request(http.MethodGet, addr, path, http.Header{}, nil) }

	for i := range 3 {
		body, err := c.do(ctx, get("/length"), http.StatusOK, true)
		if err != nil || string(body) != "fixed" {
			t.Fatalf("call %d: %q, %v", i, body, err)
		}
		body, err = c.do(ctx, get("/chunked"), http.StatusOK, true)
		if err != nil || len(body) != 10_000 {
			t.Fatalf("call %d: %d bytes, %v", i, len(body), err)
		}
		if _, err := c.do(ctx, get("/chunked"), http.StatusOK, false); err != nil {
			t.Fatal(err)
		}
	}
	if n := conns.Load(); n != 1 {
		t.Errorf("%d connections for nine calls, want 1", n)
	}

	_, err := c.do(ctx, get("/missing"), http.StatusOK, false)
	var status *errStatus
	if !errors.As(err, &status) || status.status != http.StatusNotFound ||
		!strings.Contains(status.body, "nothing here") || status.method != http.MethodGet ||
		status.url != "http://"+addr+"/missing" {
		t.Errorf("a 404: got %#v", err)
	}

	if _, err := c.do(ctx, get("/close"), http.StatusOK, false); err != nil {
		t.Fatal(err)
	}
	if body, err := c.do(ctx, get("/length"), http.StatusOK, true); err != nil || string(body) != "fixed" {
		t.Fatalf("after the server closed: %q, %v", body, err)
	}
	if n := conns.Load(); n < 2 {
		t.Errorf("%d connections after the server closed one, want a new one", n)
	}

	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := c.do(cancelled, get("/length"), http.StatusOK, false); !errors.Is(err, context.Canceled) {
		t.Errorf("a cancelled call: got %v", err)
	}
}

func TestWireConnDialError(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	c := newWireConns(addr, 1)[0]
	if _, err := c.do(context.Background(), request(http.MethodGet, addr, "/", http.Header{}, nil), http.StatusOK, false); err == nil {
		t.Error("a call to a closed port succeeded")
	}
}
