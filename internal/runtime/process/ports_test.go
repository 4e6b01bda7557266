package process

import (
	"net"
	"strconv"
	"testing"
)

// Ports come from the range, are not handed out twice while reserved, and
// one someone listens on is skipped.
func TestPortRange(t *testing.T) {
	r := freeRange(t, 24000, 5)
	busy := r.From + 2
	ln, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(busy))
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	seen := map[int]bool{}
	for range 4 {
		p, err := r.take()
		if err != nil {
			t.Fatal(err)
		}
		if p < r.From || p > r.To || p == busy || seen[p] {
			t.Fatalf("took %d (busy %d, taken %v)", p, busy, seen)
		}
		seen[p] = true
	}
	if p, err := r.take(); err == nil {
		t.Errorf("a fifth port %d from a range of five with one busy", p)
	} else if want := "no free port in " + strconv.Itoa(r.From); err.Error()[:len(want)] != want {
		t.Errorf("error: %v", err)
	}
}

// freeRange finds n free ports in a row from about from.
func freeRange(t *testing.T, from, n int) PortRange {
	t.Helper()
next:
	for p := from; p < from+1000; p += n {
		for q := p; q < p+n; q++ {
			ln, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(q))
			if err != nil {
				continue next
			}
			ln.Close()
		}
		return PortRange{From: p, To: p + n - 1}
	}
	t.Skip("no free ports in a row")
	return PortRange{}
}
