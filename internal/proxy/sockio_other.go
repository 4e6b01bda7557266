//go:build !linux

package proxy

import (
	"io"
	"net"
	"time"

	"github.com/teal-deploy/teal/internal/sendtimeout"
)

// sockIO is net.Conn itself, with the send timeout set before each write:
// the raw system calls of sockio_linux.go are Linux's.
type sockIO struct {
	c     net.Conn
	send  time.Duration // the send timeout; 0: none
	clock sendtimeout.Clock
}

func (s *sockIO) use(c net.Conn) io.ReadWriter {
	s.c = c
	s.clock.Reset()
	return s
}

func (s *sockIO) Read(p []byte) (int, error) { return s.c.Read(p) }

func (s *sockIO) Write(p []byte) (int, error) {
	s.clock.Before(s.c, s.send)
	return s.c.Write(p)
}

func (s *sockIO) closeWrite() {}
