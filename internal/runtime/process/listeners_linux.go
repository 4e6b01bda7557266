package process

import (
	"bufio"
	"encoding/hex"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
)

// listenerPID finds the process listening on addr (host:port), by the
// socket's inode in /proc/net/tcp and the process that holds it open.
func listenerPID(addr string) (int, error) {
	ap, err := netip.ParseAddrPort(addr)
	if err != nil {
		return 0, fmt.Errorf("%q: expected IP:port", addr)
	}
	inode := ""
	for _, table := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		if inode, err = listeningInode(table, ap); err == nil && inode != "" {
			break
		}
	}
	if inode == "" {
		return 0, fmt.Errorf("nothing listens on %s", addr)
	}
	procs, _ := os.ReadDir("/proc")
	want := "socket:[" + inode + "]"
	for _, p := range procs {
		pid, err := strconv.Atoi(p.Name())
		if err != nil {
			continue
		}
		fds, err := os.ReadDir("/proc/" + p.Name() + "/fd")
		if err != nil {
			continue // another user's: not ours to see
		}
		for _, fd := range fds {
			if link, _ := os.Readlink("/proc/" + p.Name() + "/fd/" + fd.Name()); link == want {
				return pid, nil
			}
		}
	}
	return 0, fmt.Errorf("something listens on %s, but not a process teal can see; give its --pid", addr)
}

// listeningInode returns the inode of the listening socket on ap in one
// of /proc/net/tcp{,6}.
func listeningInode(table string, ap netip.AddrPort) (string, error) {
	f, err := os.Open(table)
	if err != nil {
		return "", err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Scan() // header
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 10 || fields[3] != "0A" { // 0A: LISTEN
			continue
		}
		host, port, ok := strings.Cut(fields[1], ":")
		if !ok {
			continue
		}
		p, err := strconv.ParseUint(port, 16, 16)
		if err != nil || uint16(p) != ap.Port() {
			continue
		}
		a, ok := procAddr(host)
		if !ok {
			continue
		}
		if a == ap.Addr().Unmap() || a.IsUnspecified() {
			return fields[9], nil
		}
	}
	return "", sc.Err()
}

// exposedOn returns the addresses other than loopback on which something
// listens on port, from /proc/net/tcp and tcp6: "0.0.0.0:PORT" for a
// socket bound to every interface.
func exposedOn(port uint16) []string {
	var out []string
	for _, table := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		f, err := os.Open(table)
		if err != nil {
			continue
		}
		sc := bufio.NewScanner(f)
		sc.Scan() // header
		for sc.Scan() {
			fields := strings.Fields(sc.Text())
			if len(fields) < 4 || fields[3] != "0A" { // 0A: LISTEN
				continue
			}
			host, p, ok := strings.Cut(fields[1], ":")
			if !ok {
				continue
			}
			if n, err := strconv.ParseUint(p, 16, 16); err != nil || uint16(n) != port {
				continue
			}
			if a, ok := procAddr(host); ok && !a.IsLoopback() {
				out = append(out, netip.AddrPortFrom(a, port).String())
			}
		}
		f.Close()
	}
	return out
}

// procAddr decodes an address as /proc/net/tcp writes it: hex, in host
// byte order per 32-bit word.
func procAddr(h string) (netip.Addr, bool) {
	b, err := hex.DecodeString(h)
	if err != nil || (len(b) != 4 && len(b) != 16) {
		return netip.Addr{}, false
	}
	for i := 0; i < len(b); i += 4 {
		b[i], b[i+1], b[i+2], b[i+3] = b[i+3], b[i+2], b[i+1], b[i]
	}
	a, ok := netip.AddrFromSlice(net.IP(b))
	return a.Unmap(), ok
}
