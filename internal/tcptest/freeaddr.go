package tcptest

import (
	"net"
	"strconv"
	"testing"
)

// FreeAddr returns an address on 127.0.0.1 whose port was free for both
// TCP and UDP when it was chosen, for a server the test is about to start
// there (a DNS server listens on both). It is checked with both sockets
// open at once: a port the kernel gives out as free for UDP may be held
// for TCP by another process, and the other way round.
func FreeAddr(tb testing.TB) string {
	tb.Helper()
	for range 50 {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			tb.Fatal(err)
		}
		addr := ln.Addr().String()
		pc, err := net.ListenPacket("udp", addr)
		if err == nil {
			pc.Close()
			ln.Close()
			return addr
		}
		ln.Close()
	}
	tb.Fatal("no port on 127.0.0.1 free for both TCP and UDP in 50 tries")
	return ""
}

// FreePortOn returns a port free for TCP on every one of ips at the moment
// of asking: for servers that share a port on several loopback addresses,
// as a DNS-switched service's slots do.
func FreePortOn(tb testing.TB, ips ...string) int {
	tb.Helper()
	for range 50 {
		ln, err := net.Listen("tcp", net.JoinHostPort(ips[0], "0"))
		if err != nil {
			tb.Fatal(err)
		}
		port := ln.Addr().(*net.TCPAddr).Port
		free := true
		for _, ip := range ips[1:] {
			other, err := net.Listen("tcp", net.JoinHostPort(ip, strconv.Itoa(port)))
			if err != nil {
				free = false
				break
			}
			other.Close()
		}
		ln.Close()
		if free {
			return port
		}
	}
	tb.Fatalf("no port free on all of %v in 50 tries", ips)
	return 0
}
