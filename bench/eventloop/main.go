//go:build linux

// Command eventloop is a reference participant for the benchmark harness,
// not a proxy: one goroutine running an epoll loop over non-blocking
// sockets, forwarding GET requests without bodies to one backend over
// kept-alive connections and relaying answers that carry a Content-Length.
// It measures what a Go load balancer built as an event loop (as HAProxy
// and nginx are) does on this machine, against teal's goroutine per
// connection on the runtime's poller: the question its design leaves open
// for a new connection per request.
//
// It prints its address and serves until killed.
package main

import (
	"bytes"
	"flag"
	"fmt"
	"net"
	"os"
	"strconv"
	"syscall"
)

// conn is a client connection or one to the backend.
type conn struct {
	fd         int
	client     bool
	registered bool   // in the epoll set
	buf        []byte // what was read and not yet used
	peer       *conn  // the other end of the request in flight
	close      bool   // client: close after this answer
	want       int    // backend: the answer's length, once its head is read; -1 before
}

type loop struct {
	ep      int
	backend syscall.Sockaddr
	conns   map[int]*conn
	idle    []*conn // backend connections without a request
	scratch []byte
}

var (
	headEnd        = []byte("\r\n\r\n")
	connClose      = []byte("\r\nconnection: close")
	contentLength  = []byte("\r\ncontent-length:")
	notImplemented = []byte("HTTP/1.1 501 Not Implemented\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
)

func main() {
	listen := flag.String("listen", "127.0.0.1:0", "address to listen on")
	backend := flag.String("backend", "", "the backend's host:port")
	flag.Parse()
	if err := run(*listen, *backend); err != nil {
		fmt.Fprintln(os.Stderr, "eventloop:", err)
		os.Exit(1)
	}
}

func sockaddr(hostport string) (*syscall.SockaddrInet4, error) {
	a, err := net.ResolveTCPAddr("tcp4", hostport)
	if err != nil {
		return nil, err
	}
	return &syscall.SockaddrInet4{Port: a.Port, Addr: [4]byte(a.IP.To4())}, nil
}

func run(listen, backend string) error {
	la, err := sockaddr(listen)
	if err != nil {
		return err
	}
	ba, err := sockaddr(backend)
	if err != nil {
		return err
	}
	lfd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM|syscall.SOCK_NONBLOCK|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return err
	}
	syscall.SetsockoptInt(lfd, syscall.SOL_SOCKET, syscall.SO_REUSEADDR, 1)
	if err := syscall.Bind(lfd, la); err != nil {
		return err
	}
	if err := syscall.Listen(lfd, 4096); err != nil {
		return err
	}
	sa, err := syscall.Getsockname(lfd)
	if err != nil {
		return err
	}
	fmt.Printf("127.0.0.1:%d\n", sa.(*syscall.SockaddrInet4).Port)
	ep, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		return err
	}
	if err := syscall.EpollCtl(ep, syscall.EPOLL_CTL_ADD, lfd, &syscall.EpollEvent{Events: syscall.EPOLLIN, Fd: int32(lfd)}); err != nil {
		return err
	}
	l := &loop{ep: ep, backend: ba, conns: map[int]*conn{}, scratch: make([]byte, 64<<10)}
	events := make([]syscall.EpollEvent, 256)
	for {
		n, err := syscall.EpollWait(ep, events, -1)
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return err
		}
		for _, ev := range events[:n] {
			fd := int(ev.Fd)
			if fd == lfd {
				l.accept(lfd)
				continue
			}
			c := l.conns[fd]
			switch {
			case c == nil:
			case c.client:
				l.request(c)
			default:
				l.answer(c)
			}
		}
	}
}

// accept takes up to 64 new connections and reads each one's request at
// once: it is usually there, and a connection served at once never joins
// the epoll set.
func (l *loop) accept(lfd int) {
	for range 64 {
		fd, _, err := syscall.Accept4(lfd, syscall.SOCK_NONBLOCK|syscall.SOCK_CLOEXEC)
		if err != nil {
			return
		}
		syscall.SetsockoptInt(fd, syscall.IPPROTO_TCP, syscall.TCP_NODELAY, 1)
		c := &conn{fd: fd, client: true}
		l.conns[fd] = c
		l.request(c)
	}
}

// watch puts c in the epoll set, to hear when it is readable.
func (l *loop) watch(c *conn) {
	if !c.registered {
		c.registered = true
		syscall.EpollCtl(l.ep, syscall.EPOLL_CTL_ADD, c.fd, &syscall.EpollEvent{Events: syscall.EPOLLIN, Fd: int32(c.fd)})
	}
}

func (l *loop) closeClient(c *conn) {
	syscall.Shutdown(c.fd, syscall.SHUT_WR)
	delete(l.conns, c.fd)
	syscall.Close(c.fd) // leaves the epoll set with it
}

// request reads from a client and, once a whole request head is there,
// forwards it to the backend.
func (l *loop) request(c *conn) {
	if c.peer != nil {
		// Readable with a request in flight: pipelining, which this
		// loop does not do, or the client going away. Stop hearing of
		// it until the answer (the epoll set is level-triggered).
		syscall.EpollCtl(l.ep, syscall.EPOLL_CTL_DEL, c.fd, nil)
		c.registered = false
		return
	}
	n, err := syscall.Read(c.fd, l.scratch)
	switch {
	case err == syscall.EAGAIN:
		l.watch(c)
		return
	case n <= 0:
		l.closeClient(c)
		return
	}
	c.buf = append(c.buf, l.scratch[:n]...)
	end := bytes.Index(c.buf, headEnd)
	if end < 0 {
		l.watch(c)
		return
	}
	head := c.buf[:end+2] // up to the last header's CRLF
	lower := bytes.ToLower(head)
	if !bytes.HasPrefix(head, []byte("GET ")) || bytes.Contains(lower, contentLength) || bytes.Contains(lower, []byte("\r\ntransfer-encoding:")) {
		syscall.Write(c.fd, notImplemented)
		l.closeClient(c)
		return
	}
	c.close = bytes.Contains(lower, connClose)
	var b *conn
	if len(l.idle) > 0 {
		b = l.idle[len(l.idle)-1]
		l.idle = l.idle[:len(l.idle)-1]
	} else if b, err = l.dial(); err != nil {
		fmt.Fprintln(os.Stderr, "eventloop: backend:", err)
		l.closeClient(c)
		return
	}
	// The client's Connection: close stays between it and the loop.
	req := head
	if c.close {
		i := bytes.Index(lower, connClose)
		j := i + 2 + bytes.Index(head[i+2:], []byte("\r\n"))
		req = append(append([]byte{}, head[:i]...), head[j:]...)
	}
	req = append(req, "\r\n"...)
	c.buf = c.buf[:0]
	c.peer, b.peer, b.want = b, c, -1
	if _, err := syscall.Write(b.fd, req); err != nil {
		fmt.Fprintln(os.Stderr, "eventloop: backend write:", err)
		os.Exit(1)
	}
}

func (l *loop) dial() (*conn, error) {
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	if err := syscall.Connect(fd, l.backend); err != nil { // blocking, once per pooled connection
		syscall.Close(fd)
		return nil, err
	}
	syscall.SetNonblock(fd, true)
	syscall.SetsockoptInt(fd, syscall.IPPROTO_TCP, syscall.TCP_NODELAY, 1)
	b := &conn{fd: fd}
	l.conns[fd] = b
	l.watch(b)
	return b, nil
}

// answer reads the backend's answer and, once it is whole, writes it to
// the client, then closes the client or waits for its next request.
func (l *loop) answer(b *conn) {
	for {
		n, err := syscall.Read(b.fd, l.scratch)
		if err == syscall.EAGAIN {
			return
		}
		if n <= 0 {
			fmt.Fprintln(os.Stderr, "eventloop: the backend closed a connection:", err)
			os.Exit(1)
		}
		b.buf = append(b.buf, l.scratch[:n]...)
		if b.want < 0 {
			end := bytes.Index(b.buf, headEnd)
			if end < 0 {
				continue
			}
			lower := bytes.ToLower(b.buf[:end+2])
			i := bytes.Index(lower, contentLength)
			if i < 0 {
				fmt.Fprintln(os.Stderr, "eventloop: an answer without Content-Length")
				os.Exit(1)
			}
			i += len(contentLength)
			j := i + bytes.Index(lower[i:], []byte("\r\n"))
			cl, err := strconv.Atoi(string(bytes.TrimSpace(lower[i:j])))
			if err != nil {
				fmt.Fprintln(os.Stderr, "eventloop: Content-Length:", err)
				os.Exit(1)
			}
			b.want = end + 4 + cl
		}
		if len(b.buf) >= b.want {
			break
		}
	}
	c := b.peer
	b.peer, c.peer = nil, nil
	l.idle = append(l.idle, b)
	out := b.buf
	if c.close {
		end := bytes.Index(out, headEnd)
		out = append(append(append([]byte{}, out[:end]...), "\r\nConnection: close\r\n\r\n"...), out[end+4:]...)
	}
	syscall.Write(c.fd, out) // a small answer: the socket's buffer takes it whole
	b.buf = b.buf[:0]
	if c.close {
		l.closeClient(c)
	} else {
		l.watch(c)
	}
}
