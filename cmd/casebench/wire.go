package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// wireConn is one measuring client's keep-alive HTTP/1.1 connection: it writes requests
// rendered beforehand (see request) and reads each answer with net/http's own parser
// (http.ReadResponse), without net/http's Transport, whose two goroutines and channel
// hand-offs per connection cost, in a profile of the assign scenario, about as much CPU
// as the service's assignment handler (see docs/performance.md). One goroutine uses a
// wireConn at a time.
type wireConn struct {
	addr string
	conn net.Conn
	r    *bufio.Reader
	w    *bufio.Writer
	buf  bytes.Buffer // the kept body
}

// wireTimeout bounds one call, like the Transport client's Timeout; the context's
// deadline, if earlier, bounds it too.
const wireTimeout = 30 * time.Second

// wireConns are n clients' connections to addr, dialled on first use.
type wireConns []*wireConn

func newWireConns(addr string, n int) wireConns {
	cs := make(wireConns, n)
	for i := range cs {
		cs[i] = &wireConn{addr: addr}
	}
	return cs
}

func (cs wireConns) close() {
	for _, c := range cs {
		c.close()
	}
}

// request renders an HTTP/1.1 request with a body (nil for none) for addr.
func request(method, addr, path string, header http.Header, body []byte) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "%s %s HTTP/1.1\r\nHost: %s\r\n", method, path, addr)
	_ = header.Write(&b)
	if body != nil {
		b.WriteString("Content-Length: " + strconv.Itoa(len(body)) + "\r\n")
	}
	b.WriteString("\r\n")
	b.Write(body)
	return b.Bytes()
}

// do sends the rendered request req and checks that the answer has status want. It
// returns the body if keep is set (valid until the next call), and otherwise discards it.
func (c *wireConn) do(ctx context.Context, req []byte, want int, keep bool) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if c.conn == nil {
		conn, err := (&net.Dialer{Timeout: 5 * time.Second}).DialContext(ctx, "tcp", c.addr)
		if err != nil {
			return nil, err
		}
		c.conn, c.r, c.w = conn, bufio.NewReaderSize(conn, 64<<10), bufio.NewWriterSize(conn, 4<<10)
	}
	deadline := time.Now().Add(wireTimeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	body, err := c.roundTrip(deadline, req, want, keep)
	if err != nil {
		c.close()
	}
	return body, err
}

func (c *wireConn) roundTrip(deadline time.Time, req []byte, want int, keep bool) ([]byte, error) {
	if err := c.conn.SetDeadline(deadline); err != nil {
		return nil, err
	}
	if _, err := c.w.Write(req); err != nil {
		return nil, err
	}
	if err := c.w.Flush(); err != nil {
		return nil, err
	}
	resp, err := http.ReadResponse(c.r, nil)
	if err != nil {
		return nil, err
	}
	c.buf.Reset()
	if resp.StatusCode != want || keep {
		_, err = c.buf.ReadFrom(resp.Body)
	} else {
		_, err = io.Copy(io.Discard, resp.Body)
	}
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != want {
		method, rest, _ := strings.Cut(string(req[:bytes.IndexByte(req, '\r')]), " ")
		path, _, _ := strings.Cut(rest, " ")
		return nil, &errStatus{method: method, url: "http://" + c.addr + path, status: resp.StatusCode, body: c.buf.String()}
	}
	if resp.Close {
		c.close()
	}
	if keep {
		return c.buf.Bytes(), nil
	}
	return nil, nil
}

func (c *wireConn) close() {
	if c.conn != nil {
		c.conn.Close()
		c.conn = nil
	}
}
