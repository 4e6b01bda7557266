//go:build linux

package proxy

import (
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/teal-deploy/teal/internal/tcptest"
)

// sockIO must behave as the net.Conn it reads and writes: the fast path's
// errors, deadlines and partial writes depend on it.
func TestSockIOBehavesAsTheConn(t *testing.T) {
	t.Run("a large write waits for the reader and sends everything", func(t *testing.T) {
		c, s := tcptest.Pair(t)
		var sock sockIO
		rw := sock.use(s)
		if rw == io.ReadWriter(s) {
			t.Fatal("use gave the connection itself back for a TCP connection")
		}
		want := bytes.Repeat([]byte("0123456789abcdef"), 1<<19) // 8 MiB: more than the socket buffers
		got := make(chan []byte)
		go func() {
			time.Sleep(50 * time.Millisecond) // the writer fills the buffers and must wait
			b, _ := io.ReadAll(c)
			got <- b
		}()
		n, err := rw.Write(want)
		if err != nil || n != len(want) {
			t.Fatalf("Write = %d, %v; want %d, nil", n, err, len(want))
		}
		sock.closeWrite()
		if b := <-got; !bytes.Equal(b, want) {
			t.Fatalf("the reader got %d bytes, not the %d written", len(b), len(want))
		}
	})
	t.Run("reads what was sent, then EOF after closeWrite", func(t *testing.T) {
		c, s := tcptest.Pair(t)
		var sock sockIO
		rw := sock.use(s)
		c.Write([]byte("hello"))
		c.CloseWrite()
		b, err := io.ReadAll(rw)
		if err != nil || string(b) != "hello" {
			t.Fatalf("ReadAll = %q, %v", b, err)
		}
		n, err := rw.Read(make([]byte, 8))
		if n != 0 || err != io.EOF {
			t.Fatalf("Read after EOF = %d, %v; want 0, io.EOF", n, err)
		}
	})
	t.Run("a read deadline is a timeout", func(t *testing.T) {
		_, s := tcptest.Pair(t)
		var sock sockIO
		rw := sock.use(s)
		s.SetReadDeadline(time.Now().Add(30 * time.Millisecond))
		start := time.Now()
		_, err := rw.Read(make([]byte, 8))
		var ne net.Error
		if !errors.As(err, &ne) || !ne.Timeout() || !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("Read past the deadline = %v; want a timeout", err)
		}
		if waited := time.Since(start); waited < 25*time.Millisecond {
			t.Fatalf("Read returned after %v, before its deadline", waited)
		}
	})
	t.Run("a reset is ECONNRESET in a net.OpError", func(t *testing.T) {
		c, s := tcptest.Pair(t)
		var sock sockIO
		rw := sock.use(s)
		c.SetLinger(0) // close with RST
		c.Close()
		time.Sleep(20 * time.Millisecond)
		_, err := rw.Read(make([]byte, 8))
		var oe *net.OpError
		if !errors.Is(err, syscall.ECONNRESET) || !errors.As(err, &oe) || oe.Op != "read" {
			t.Fatalf("Read from a reset connection = %v; want read ... ECONNRESET", err)
		}
		if !isReset(err) {
			t.Fatalf("isReset(%v) = false", err)
		}
	})
	t.Run("a write after the peer reset fails", func(t *testing.T) {
		c, s := tcptest.Pair(t)
		var sock sockIO
		rw := sock.use(s)
		c.SetLinger(0)
		c.Close()
		time.Sleep(20 * time.Millisecond)
		var err error
		for range 3 { // the first write may still be taken
			if _, err = rw.Write([]byte("x")); err != nil {
				break
			}
		}
		if !isReset(err) {
			t.Fatalf("Write to a reset connection = %v; want ECONNRESET or EPIPE", err)
		}
	})
	t.Run("a closed connection is net.ErrClosed", func(t *testing.T) {
		_, s := tcptest.Pair(t)
		var sock sockIO
		rw := sock.use(s)
		s.Close()
		if _, err := rw.Read(make([]byte, 8)); !errors.Is(err, net.ErrClosed) {
			t.Fatalf("Read after Close = %v; want net.ErrClosed", err)
		}
		if _, err := rw.Write([]byte("x")); !errors.Is(err, net.ErrClosed) {
			t.Fatalf("Write after Close = %v; want net.ErrClosed", err)
		}
		sock.closeWrite() // harmless on a closed connection
	})
	t.Run("Close wakes a waiting read", func(t *testing.T) {
		_, s := tcptest.Pair(t)
		var sock sockIO
		rw := sock.use(s)
		done := make(chan error)
		go func() {
			_, err := rw.Read(make([]byte, 8))
			done <- err
		}()
		time.Sleep(20 * time.Millisecond)
		s.Close()
		select {
		case err := <-done:
			if !errors.Is(err, net.ErrClosed) {
				t.Fatalf("the waiting Read returned %v; want net.ErrClosed", err)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("a Read waiting on a closed connection did not return")
		}
	})
	t.Run("a write the client does not take times out at the send timeout", func(t *testing.T) {
		_, s := tcptest.Pair(t)
		var sock sockIO
		rw := sock.use(s)
		sock.send = 100 * time.Millisecond
		start := time.Now()
		_, err := rw.Write(make([]byte, 64<<20)) // the peer reads nothing
		var ne net.Error
		if !errors.As(err, &ne) || !ne.Timeout() {
			t.Fatalf("Write to a peer that reads nothing = %v; want a timeout", err)
		}
		if took := time.Since(start); took < sock.send || took > 3*time.Second {
			t.Fatalf("the write timed out after %v; want about %v", took, sock.send)
		}
	})
	t.Run("a client that reads slowly but steadily is not cut", func(t *testing.T) {
		c, s := tcptest.Pair(t)
		c.SetReadBuffer(64 << 10)
		s.SetWriteBuffer(64 << 10)
		var sock sockIO
		rw := sock.use(s)
		sock.send = 150 * time.Millisecond
		const size = 2 << 20
		read := make(chan int)
		go func() {
			n, buf := 0, make([]byte, 64<<10)
			for n < size {
				time.Sleep(20 * time.Millisecond) // far slower than the writer, never silent for 150ms
				k, err := c.Read(buf)
				n += k
				if err != nil {
					break
				}
			}
			read <- n
		}()
		start := time.Now()
		if n, err := rw.Write(make([]byte, size)); err != nil || n != size {
			t.Fatalf("Write to a slow reader = %d, %v after %v; want all of it", n, err, time.Since(start))
		}
		if n := <-read; n != size {
			t.Fatalf("the reader got %d bytes of %d", n, size)
		}
		if took := time.Since(start); took < 2*sock.send {
			t.Fatalf("the write took %v: the test did not make it wait past the send timeout", took)
		}
		// A deadline set while the write waited must not outlive it.
		time.Sleep(2 * sock.send)
		if _, err := rw.Write([]byte("x")); err != nil {
			t.Fatalf("a write well after the last wait: %v", err)
		}
	})
	t.Run("a connection without a socket is used as it is", func(t *testing.T) {
		a, b := net.Pipe()
		defer a.Close()
		defer b.Close()
		var sock sockIO
		if rw := sock.use(a); rw != io.ReadWriter(a) {
			t.Fatalf("use(net.Pipe) = %T; want the pipe itself", rw)
		}
		sock.closeWrite() // nothing to do, and no panic
	})
}
