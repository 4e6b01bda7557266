package tcptest

import (
	"net"
	"strconv"
	"testing"
)

func TestFreeAddrTakesTCPAndUDP(t *testing.T) {
	addr := FreeAddr(t)
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("TCP on %s: %v", addr, err)
	}
	defer ln.Close()
	pc, err := net.ListenPacket("udp", addr)
	if err != nil {
		t.Fatalf("UDP on %s: %v", addr, err)
	}
	pc.Close()
}

func TestFreeAddrSkipsAPortHeldForUDP(t *testing.T) {
	// Hold UDP on 2,000 ports, a fourteenth of the kernel's ephemeral
	// range: without the UDP check, about 35 of 500 answers would be held.
	held := map[string]bool{}
	for range 2000 {
		pc, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer pc.Close()
		held[pc.LocalAddr().String()] = true
	}
	for range 500 {
		if addr := FreeAddr(t); held[addr] {
			t.Fatalf("FreeAddr returned %s, held for UDP", addr)
		}
	}
}

func TestFreePortOnTakesEveryAddress(t *testing.T) {
	ips := []string{"127.0.0.2", "127.0.0.3", "127.0.0.4"}
	port := FreePortOn(t, ips...)
	for _, ip := range ips {
		ln, err := net.Listen("tcp", net.JoinHostPort(ip, strconv.Itoa(port)))
		if err != nil {
			t.Fatalf("%s:%d: %v", ip, port, err)
		}
		defer ln.Close()
	}
}
