package process

import (
	"fmt"
	"math/rand/v2"
	"net"
	"sync"
	"time"
)

// PortRange is a range of loopback ports, From to To inclusive.
type PortRange struct{ From, To int }

// DefaultPorts is Nomad's range of dynamic ports. It lies below the
// kernel's ephemeral ports (32768–60999 on Linux), so that a port given to
// an instance is not taken meanwhile by an outgoing connection, as one
// the kernel picked for a listener on port 0 could be: the load balancer's
// own connections to instances come from that range.
var DefaultPorts = PortRange{From: 20000, To: 32000}

// reserveFor is how long a port handed out is not handed out again: the
// instance given it has that long to listen on it.
const reserveFor = time.Minute

// handedOut remembers, across the drivers of one server, the ports given
// to instances that may not listen yet.
var handedOut = struct {
	sync.Mutex
	at map[int]time.Time
}{at: map[int]time.Time{}}

func (d *Driver) ports() PortRange {
	if d.Ports.From <= 0 || d.Ports.To < d.Ports.From {
		return DefaultPorts
	}
	return d.Ports
}

// take returns a port of the range that no one listens on and that was
// not handed out within reserveFor, starting at a random one so that
// several servers on one machine seldom try the same.
func (r PortRange) take() (int, error) {
	handedOut.Lock()
	defer handedOut.Unlock()
	now := time.Now()
	for p, at := range handedOut.at {
		if now.Sub(at) > reserveFor {
			delete(handedOut.at, p)
		}
	}
	n := r.To - r.From + 1
	start := rand.IntN(n)
	for i := range n {
		p := r.From + (start+i)%n
		if _, taken := handedOut.at[p]; taken {
			continue
		}
		ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p))
		if err != nil {
			continue
		}
		ln.Close()
		handedOut.at[p] = now
		return p, nil
	}
	return 0, fmt.Errorf("no free port in %d–%d", r.From, r.To)
}
