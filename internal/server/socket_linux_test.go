package server

import (
	"bytes"
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"unsafe"
)

// The socket is its owner's from the moment it exists, whatever the
// umask: it is never created at its path (inotify sees it moved there),
// it has mode 0600 there, and nothing of the detour is left.
func TestSocketModeWithOpenUmask(t *testing.T) {
	old := syscall.Umask(0)
	defer syscall.Umask(old)
	dir := t.TempDir()
	watch := watchDir(t, dir)
	s := startServer(t, Config{DataDir: filepath.Join(dir, "data"), API: "unix://" + filepath.Join(dir, "api.sock")})
	created, moved := watch()
	if created["api.sock"] || !moved["api.sock"] {
		t.Errorf("the socket was created at its path (%v) or not moved there (%v): it was open to others until its chmod", created["api.sock"], moved["api.sock"])
	}
	st, err := os.Stat(s.socket)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 || st.Mode()&os.ModeSocket == 0 {
		t.Errorf("socket mode %v with umask 0, want a socket with 0600", st.Mode())
	}
	c, err := net.Dial("unix", s.socket)
	if err != nil {
		t.Fatalf("the socket renamed into place does not answer: %v", err)
	}
	c.Close()
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".teal-api-") {
			t.Errorf("%s was left beside the socket", e.Name())
		}
	}
	s.Shutdown(context.Background())
	if _, err := os.Stat(s.socket); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the socket is still there after Shutdown: %v", err)
	}
}

// watchDir watches dir with inotify; the function it returns reports the
// names created in it and the names moved into it so far.
func watchDir(t *testing.T, dir string) func() (created, moved map[string]bool) {
	t.Helper()
	fd, err := syscall.InotifyInit1(syscall.IN_NONBLOCK | syscall.IN_CLOEXEC)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Close(fd) })
	if _, err := syscall.InotifyAddWatch(fd, dir, syscall.IN_CREATE|syscall.IN_MOVED_TO); err != nil {
		t.Fatal(err)
	}
	return func() (created, moved map[string]bool) {
		created, moved = map[string]bool{}, map[string]bool{}
		buf := make([]byte, 64<<10)
		n, err := syscall.Read(fd, buf)
		if err != nil {
			t.Fatalf("reading inotify events: %v", err)
		}
		for off := 0; off+syscall.SizeofInotifyEvent <= n; {
			ev := (*syscall.InotifyEvent)(unsafe.Pointer(&buf[off]))
			name := string(bytes.TrimRight(buf[off+syscall.SizeofInotifyEvent:off+syscall.SizeofInotifyEvent+int(ev.Len)], "\x00"))
			if ev.Mask&syscall.IN_CREATE != 0 {
				created[name] = true
			}
			if ev.Mask&syscall.IN_MOVED_TO != 0 {
				moved[name] = true
			}
			off += syscall.SizeofInotifyEvent + int(ev.Len)
		}
		return created, moved
	}
}
