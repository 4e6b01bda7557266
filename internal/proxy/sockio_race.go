//go:build linux && race

package proxy

import "syscall"

// Under the race detector sockIO reads and writes through the syscall
// package, whose Read and Write tell the detector that what was written
// to a socket happens before what is read from it; raw system calls
// would leave that out, and report races that are not.

func sysRead(fd uintptr, p []byte) (int, syscall.Errno) {
	n, err := syscall.Read(int(fd), p)
	return max(n, 0), errno(err)
}

func sysWrite(fd uintptr, p []byte) (int, syscall.Errno) {
	n, err := syscall.Write(int(fd), p)
	return max(n, 0), errno(err)
}

func errno(err error) syscall.Errno {
	if err == nil {
		return 0
	}
	return err.(syscall.Errno)
}
