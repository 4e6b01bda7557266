package notify

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestRetriedWithBackoff(t *testing.T) {
	var calls atomic.Int32
	var mu sync.Mutex
	var got []map[string]any
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) <= 2 {
			http.Error(w, "busy", http.StatusServiceUnavailable)
			return
		}
		var body map[string]any
		b, _ := io.ReadAll(r.Body)
		json.Unmarshal(b, &body)
		mu.Lock()
		got = append(got, body)
		mu.Unlock()
	}))
	defer srv.Close()
	n := New([]string{srv.URL}, slog.New(slog.DiscardHandler))
	n.delay = 10 * time.Millisecond
	n.Notify(Message{Event: Succeeded, Env: "qa", Service: "web", Deployment: 4, Revision: 7, Version: "2.0"})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	n.Close(ctx)
	if calls.Load() != 3 || len(got) != 1 {
		t.Fatalf("%d attempts, %d delivered; want 3 and 1", calls.Load(), len(got))
	}
	if text := got[0]["text"]; text != "teal: qa/web: deployment 4 succeeded: revision 7 (2.0) is live" {
		t.Errorf("text = %q", text)
	}
	if teal := got[0]["teal"].(map[string]any); teal["event"] != "succeeded" || teal["revision"] != 7.0 {
		t.Errorf("details = %v", teal)
	}
}

// A webhook that hangs never holds up whoever notifies.
func TestNeverBlocks(t *testing.T) {
	hang := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-hang }))
	defer srv.Close()
	defer close(hang)
	n := New([]string{srv.URL}, slog.New(slog.DiscardHandler))
	began := time.Now()
	for i := range queueSize + 10 {
		n.Notify(Message{Event: Started, Service: "web", Deployment: i})
	}
	if took := time.Since(began); took > time.Second {
		t.Errorf("notifying took %s", took)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	began = time.Now()
	n.Close(ctx)
	if took := time.Since(began); took > 2*time.Second {
		t.Errorf("Close took %s past its deadline", took)
	}
}

func TestRefusedIsNotRetried(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		http.Error(w, "no such hook", http.StatusNotFound)
	}))
	defer srv.Close()
	n := New([]string{srv.URL}, slog.New(slog.DiscardHandler))
	n.Notify(Message{Event: Failed, Service: "web", Deployment: 1, Reason: "it broke"})
	n.Close(context.Background())
	if calls.Load() != 1 {
		t.Errorf("%d attempts at a webhook that answered 404", calls.Load())
	}
	if m := (Message{Event: Failed, Service: "web", Deployment: 1, Reason: "it broke"}); !strings.HasSuffix(m.Text(), "deployment 1 failed: it broke") {
		t.Errorf("Text = %q", m.Text())
	}
}
