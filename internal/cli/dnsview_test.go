package cli

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/teal-deploy/teal/internal/engine"
	"github.com/teal-deploy/teal/internal/proxy"
	"github.com/teal-deploy/teal/internal/spec"
)

// teal status shows, for a service that switches by DNS, where its record
// points and what still reaches each slot.
func TestRenderDNSStatus(t *testing.T) {
	st := []engine.ServiceStatus{
		{Name: "web"},
		{Name: "app", DNS: &engine.DNSStatus{Name: "app.example.test", TTL: spec.Duration(30 * time.Second), Points: "127.0.0.3", Slots: []engine.SlotTrafficRow{
			{Slot: spec.Blue, SlotTraffic: proxy.SlotTraffic{Listen: "127.0.0.2:8080", Serves: spec.Blue, Requests: 1204, Rate: 0.4}},
			{Slot: spec.Green, SlotTraffic: proxy.SlotTraffic{Error: "the green slot's listener: bind: address already in use", Serves: spec.Green}},
		}}},
	}
	var b bytes.Buffer
	renderStatus(&b, st, false)
	out := b.String()
	for _, want := range []string{
		"RECORD            POINTS AT  TTL  SLOT   LISTENER",
		"app.example.test  127.0.0.3  30s  blue   127.0.0.2:8080",
		"blue    1204      0.4/s",
		"green  not listening: the green slot's listener: bind: address already in use",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("status lacks %q:\n%s", want, out)
		}
	}
	b.Reset()
	renderStatus(&b, st[:1], false)
	if strings.Contains(b.String(), "RECORD") {
		t.Errorf("a status without DNS services shows the DNS table:\n%s", b.String())
	}
}
