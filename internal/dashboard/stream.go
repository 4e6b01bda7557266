package dashboard

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"time"
)

// stream sends the page a snapshot as a server-sent event whenever
// something changes, and at least every second; the browser's
// EventSource reconnects by itself when the connection drops.
func (d *Dashboard) stream(w http.ResponseWriter, r *http.Request) {
	f, ok := w.(http.Flusher)
	if !ok {
		http.Error(w, "streaming is not supported on this connection", http.StatusInternalServerError)
		return
	}
	ch := d.subscribe()
	defer d.unsubscribe(ch)
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	fmt.Fprint(w, "retry: 1000\n\n")
	f.Flush()
	for {
		select {
		case <-r.Context().Done():
			return
		case msg, ok := <-ch:
			if !ok {
				return
			}
			if _, err := fmt.Fprintf(w, "data: %s\n\n", msg); err != nil {
				return
			}
			f.Flush()
		}
	}
}

// subscribe returns a channel of snapshots, JSON-encoded, starting with
// the last one sent; the first subscriber starts the loop that makes
// them. A subscriber that falls behind gets only the latest.
func (d *Dashboard) subscribe() chan []byte {
	ch := make(chan []byte, 1)
	d.mu.Lock()
	defer d.mu.Unlock()
	select {
	case <-d.closed:
		close(ch)
		return ch
	default:
	}
	d.subs[ch] = struct{}{}
	if d.last != nil {
		ch <- d.last
	}
	if !d.running {
		d.running = true
		d.loops.Add(1)
		go d.loop()
	}
	return ch
}

func (d *Dashboard) unsubscribe(ch chan []byte) {
	d.mu.Lock()
	delete(d.subs, ch)
	d.mu.Unlock()
}

// publish sends msg to every subscriber, replacing what a slow one has
// not read yet.
func (d *Dashboard) publish(msg []byte) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.last = msg
	for ch := range d.subs {
		select {
		case <-ch:
		default:
		}
		ch <- msg
	}
}

// loop looks at the state every lookEvery while anyone watches, and
// publishes a snapshot when it changed or pushEvery has passed. It ends
// when the last subscriber leaves, or on Close.
func (d *Dashboard) loop() {
	defer d.loops.Done()
	tick := time.NewTicker(lookEvery)
	defer tick.Stop()
	rates := &rateWindow{span: rateSpan}
	var seen []byte
	var sent time.Time
	for {
		now := time.Now()
		if msg, state, err := d.snapshot(now, rates); err != nil {
			d.log.Warn("dashboard: read the state", "err", err)
		} else if !bytes.Equal(state, seen) || now.Sub(sent) >= pushEvery {
			d.publish(msg)
			seen, sent = state, now
		}
		select {
		case <-tick.C:
		case <-d.closed:
			return
		}
		d.mu.Lock()
		if len(d.subs) == 0 {
			d.running, d.last = false, nil
			d.mu.Unlock()
			return
		}
		d.mu.Unlock()
	}
}

// snapshot reads the state and returns it as the page gets it (msg), and
// without its time and rates (state), which changes only when something
// happened.
func (d *Dashboard) snapshot(now time.Time, rates *rateWindow) (msg, state []byte, err error) {
	snap, err := d.backend.Snapshot(recentEvents)
	if err != nil {
		return nil, nil, err
	}
	if snap.Services == nil {
		snap.Services = []Service{}
	}
	if snap.Events == nil {
		snap.Events = []Event{}
	}
	if state, err = json.Marshal(snap); err != nil {
		return nil, nil, err
	}
	snap.Time = now
	rates.observe(now, &snap)
	msg, err = json.Marshal(snap)
	return msg, state, err
}
