package engine

import (
	"testing"
	"time"
)

func TestRestartDelay(t *testing.T) {
	want := []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 16 * time.Second,
		32 * time.Second, 64 * time.Second, 128 * time.Second, 256 * time.Second, 5 * time.Minute, 5 * time.Minute}
	for i, w := range want {
		if got := restartDelay(i + 1); got != w {
			t.Errorf("crash %d in a row: wait %s, want %s", i+1, got, w)
		}
	}
	if got := restartDelay(1000); got != restartMaxDelay {
		t.Errorf("crash 1000 in a row: wait %s", got)
	}
}
