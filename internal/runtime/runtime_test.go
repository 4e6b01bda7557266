package runtime

import (
	"strings"
	"testing"
)

func TestExitStatusString(t *testing.T) {
	tests := []struct {
		ex   ExitStatus
		want string
	}{
		{ExitStatus{Code: 3}, "exited with status 3"},
		{ExitStatus{Code: -1, Signal: "KILL", Stopped: true}, "killed by signal KILL after teal stopped it"},
		{ExitStatus{Code: -1, Signal: "KILL", OOMKilled: true}, "killed for running out of memory"},
		{ExitStatus{Code: -1, Unknown: true}, "exited (status unknown"},
	}
	for _, tt := range tests {
		if got := tt.ex.String(); !strings.HasPrefix(got, tt.want) {
			t.Errorf("%+v: %q, want it to start %q", tt.ex, got, tt.want)
		}
	}
}
