package proxy

import (
	"io"
	"net"
	"os"
	"syscall"
	"time"
)

// sockIO reads and writes a TCP connection's socket with raw system calls
// and waits for it through the runtime's poller, as net.Conn does, deadlines
// included. The difference is what the scheduler sees. net.Conn's reads
// and writes tell the runtime they may block, and when one takes more than
// 20µs (a loopback write runs the receiver's TCP stack and may let it run
// first) its monitor hands the processor to another thread, and the first
// must win it back: thread switches on every few requests, and a longer
// tail. A non-blocking socket never blocks, so the fast path does not say
// it might, and runs on one thread as an event loop does.
//
// It also keeps the send timeout (package sendtimeout) at no cost to a
// client that reads: a write deadline is set only when a write finds the
// socket's buffer full, pushed out whenever the client takes more, and
// cleared when the write is done.
type sockIO struct {
	c       net.Conn
	rc      syscall.RawConn
	buf     []byte // what Read fills or Write sends
	n       int    // how much of it
	errno   syscall.Errno
	send    time.Duration // the send timeout; 0: none
	armedAt int           // n when the write deadline was set last; -1: none is

	readFn  func(fd uintptr) bool
	writeFn func(fd uintptr) bool
	shutFn  func(fd uintptr)
}

// use makes s read and write c, and returns it; for a connection without
// a socket of its own (none that the listeners accept) it returns c, which
// keeps no send timeout. A sockIO serves one connection after another.
func (s *sockIO) use(c net.Conn) io.ReadWriter {
	s.c, s.rc, s.armedAt = nil, nil, -1
	sc, ok := c.(syscall.Conn)
	if !ok {
		return c
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return c
	}
	if s.readFn == nil {
		s.readFn, s.writeFn, s.shutFn = s.read, s.write, s.shutdown
	}
	s.c, s.rc = c, rc
	return s
}

func (s *sockIO) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	s.buf, s.n, s.errno = p, 0, 0
	err := s.rc.Read(s.readFn)
	s.buf = nil
	switch {
	case err != nil:
		return 0, err
	case s.errno != 0:
		return 0, s.opError("read")
	case s.n == 0:
		return 0, io.EOF
	}
	return s.n, nil
}

// read is one attempt at a read; false means "wait until readable".
func (s *sockIO) read(fd uintptr) bool {
	for {
		n, e := sysRead(fd, s.buf)
		switch e {
		case 0:
			s.n = n
			return true
		case syscall.EINTR:
		case syscall.EAGAIN:
			return false
		default:
			s.errno = e
			return true
		}
	}
}

func (s *sockIO) Write(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	s.buf, s.n, s.errno = p, 0, 0
	err := s.rc.Write(s.writeFn)
	s.buf = nil
	if s.armedAt >= 0 {
		s.armedAt = -1
		s.c.SetWriteDeadline(time.Time{})
	}
	switch {
	case err != nil:
		return s.n, err
	case s.errno != 0:
		return s.n, s.opError("write")
	}
	return s.n, nil
}

// write sends what is left of the buffer; false means "wait until
// writable, then call again".
func (s *sockIO) write(fd uintptr) bool {
	for s.n < len(s.buf) {
		n, e := sysWrite(fd, s.buf[s.n:])
		switch {
		case e == syscall.EINTR:
		case e == syscall.EAGAIN:
			if s.send > 0 && s.n > s.armedAt {
				s.armedAt = s.n
				s.c.SetWriteDeadline(time.Now().Add(s.send))
			}
			return false
		case e != 0:
			s.errno = e
			return true
		case n == 0:
			s.errno = syscall.EIO // a socket accepts at least a byte when writable
			return true
		default:
			s.n += n
		}
	}
	return true
}

// opError describes a failed system call as net.Conn would.
func (s *sockIO) opError(op string) error {
	return &net.OpError{Op: op, Net: "tcp", Source: s.c.LocalAddr(), Addr: s.c.RemoteAddr(), Err: os.NewSyscallError(op, s.errno)}
}

// closeWrite sends the connection's FIN. Closing the socket then costs
// little: sending the FIN is the expensive part of a close on loopback
// (it runs the peer's TCP stack and wakes it), and a close tells the
// scheduler it may block.
func (s *sockIO) closeWrite() {
	if s.rc != nil {
		s.rc.Control(s.shutFn)
	}
}

func (s *sockIO) shutdown(fd uintptr) {
	syscall.RawSyscall(syscall.SYS_SHUTDOWN, fd, syscall.SHUT_WR, 0)
}
