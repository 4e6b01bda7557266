//go:build !linux

package proxy

import (
	"io"
	"net"
)

// sockIO is net.Conn itself: the raw system calls of sockio_linux.go are
// Linux's.
type sockIO struct{}

func (s *sockIO) use(c net.Conn) io.ReadWriter { return c }

func (s *sockIO) closeWrite() {}
