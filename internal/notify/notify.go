// Package notify posts what happens to deployments to webhooks: in the
// background, retried with backoff, never holding up a deployment. The
// body is JSON that Slack's incoming webhooks accept ("text"), with the
// details for anything else under "teal".
package notify

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"
)

// Event names what happened to a deployment.
type Event string

// The events notified.
const (
	Started    Event = "started"
	Switched   Event = "switched"
	Succeeded  Event = "succeeded"
	Failed     Event = "failed"
	RolledBack Event = "rolled_back"
)

// Message is one notification.
type Message struct {
	Event      Event     `json:"event"`
	Env        string    `json:"environment,omitempty"`
	Service    string    `json:"service"`
	Deployment int       `json:"deployment"`
	Revision   int       `json:"revision,omitempty"`
	Version    string    `json:"version,omitempty"`
	Reason     string    `json:"reason,omitempty"`
	Time       time.Time `json:"time"`
}

// Text says m in one line, for a chat.
func (m Message) Text() string {
	where := "service " + m.Service
	if m.Env != "" {
		where = m.Env + "/" + m.Service
	}
	s := fmt.Sprintf("teal: %s: deployment %d", where, m.Deployment)
	switch m.Event {
	case Started:
		s += fmt.Sprintf(" of revision %d (%s) started", m.Revision, orNone(m.Version))
	case Switched:
		s += fmt.Sprintf(" switched traffic to revision %d (%s)", m.Revision, orNone(m.Version))
	case Succeeded:
		s += fmt.Sprintf(" succeeded: revision %d (%s) is live", m.Revision, orNone(m.Version))
	case Failed:
		s += " failed"
	case RolledBack:
		s += " was rolled back"
	}
	if m.Reason != "" {
		s += ": " + m.Reason
	}
	return s
}

func orNone(v string) string {
	if v == "" {
		return "no version"
	}
	return v
}

// Attempts and the first delay between them; each delay doubles.
const (
	Attempts   = 5
	firstDelay = time.Second
	perAttempt = 10 * time.Second
	queueSize  = 1000
)

// Notifier sends messages to webhooks. The zero value sends nothing.
type Notifier struct {
	urls   []string
	client *http.Client
	log    *slog.Logger
	delay  time.Duration // before the second attempt; doubles after

	queue  chan Message
	closed sync.Once
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// New returns a notifier for urls and starts its sender.
func New(urls []string, log *slog.Logger) *Notifier {
	ctx, cancel := context.WithCancel(context.Background())
	n := &Notifier{urls: urls, client: &http.Client{Timeout: perAttempt}, log: log, delay: firstDelay,
		queue: make(chan Message, queueSize), ctx: ctx, cancel: cancel}
	n.wg.Add(1)
	go n.run()
	return n
}

// Notify queues m for every webhook and returns at once; when the queue is
// full, m is dropped and logged rather than holding up the caller.
func (n *Notifier) Notify(m Message) {
	if n == nil || len(n.urls) == 0 {
		return
	}
	if m.Time.IsZero() {
		m.Time = time.Now()
	}
	select {
	case n.queue <- m:
	default:
		n.log.Warn("webhook queue full: notification dropped", "event", m.Event, "service", m.Service)
	}
}

// Close stops sending; what is queued is sent first, for at most the
// time ctx allows. Closing again does nothing more.
func (n *Notifier) Close(ctx context.Context) {
	if n == nil {
		return
	}
	n.closed.Do(func() { close(n.queue) })
	done := make(chan struct{})
	go func() { n.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		n.cancel()
		<-done
	}
}

func (n *Notifier) run() {
	defer n.wg.Done()
	for m := range n.queue {
		body, _ := json.Marshal(struct {
			Text string  `json:"text"`
			Teal Message `json:"teal"`
		}{m.Text(), m})
		for _, url := range n.urls {
			n.send(url, body, m)
		}
	}
}

// send posts body to url, trying again with backoff on a network error, a
// 5xx or a 429; any other answer ends it.
func (n *Notifier) send(url string, body []byte, m Message) {
	delay := n.delay
	for attempt := 1; ; attempt++ {
		status, err := n.post(url, body)
		switch {
		case err == nil && status < 300:
			return
		case err == nil && status < 500 && status != http.StatusTooManyRequests:
			n.log.Warn("webhook refused the notification", "url", url, "status", status, "event", m.Event)
			return
		case attempt == Attempts:
			n.log.Warn("webhook failed; notification dropped", "url", url, "attempts", attempt, "status", status, "err", err, "event", m.Event)
			return
		}
		select {
		case <-time.After(delay):
		case <-n.ctx.Done():
			return
		}
		delay *= 2
	}
}

func (n *Notifier) post(url string, body []byte) (int, error) {
	req, err := http.NewRequestWithContext(n.ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "teal-webhook")
	resp, err := n.client.Do(req)
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	return resp.StatusCode, nil
}
