//go:build !linux

package process

import "fmt"

// listenerPID cannot look up listeners here: the PID must be given.
func listenerPID(addr string) (int, error) {
	return 0, fmt.Errorf("finding the process listening on %s needs Linux; give its --pid", addr)
}

// exposedOn cannot read the socket tables here: nothing is reported.
func exposedOn(port uint16) []string { return nil }
