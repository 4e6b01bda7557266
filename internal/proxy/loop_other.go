//go:build !linux

package proxy

// startLoops reports that the listener has no event loops: they are
// Linux's (loop_linux.go), and the accept goroutine serves elsewhere.
func (l *listener) startLoops() bool { return false }
