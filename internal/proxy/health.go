package proxy

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/url"
	"time"

	"github.com/teal-deploy/teal/internal/spec"
)

// checkState counts consecutive check results against a health check's
// thresholds. It does no I/O, so its rules are tested with tables.
type checkState struct {
	health Health
	passes int // consecutive passes
	fails  int // consecutive failures counted outside the grace period
}

// observe records one check result and reports whether health changed.
// A failure during the grace period breaks a run of passes but does not
// count towards unhealthy.
func (s *checkState) observe(pass, inGrace bool, hc spec.HealthCheck) bool {
	if pass {
		s.fails = 0
		s.passes++
		if s.health != Healthy && s.passes >= hc.HealthyThreshold {
			s.health = Healthy
			return true
		}
		return false
	}
	s.passes = 0
	if inGrace {
		return false
	}
	s.fails++
	if s.health != Unhealthy && s.fails >= hc.UnhealthyThreshold {
		s.health = Unhealthy
		return true
	}
	return false
}

// StartChecks begins active health checks of t: a GET of hc.Path every
// hc.Interval, the first at once. started is when the instance started,
// from which the grace period runs. notify is called from the checking
// goroutine each time t's health changes; it must not block for long.
func (t *Target) StartChecks(hc spec.HealthCheck, started time.Time, notify func(*Target, Health)) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan bool)
	t.mu.Lock()
	if t.stopChecks != nil || t.closed.Load() {
		t.mu.Unlock()
		cancel()
		return
	}
	t.stopChecks, t.checksDone = cancel, done
	t.mu.Unlock()

	go func() {
		defer close(done)
		state := checkState{health: t.Health()} // checks restarted with a new config keep what is known
		tick := time.NewTicker(hc.Interval.D())
		defer tick.Stop()
		for {
			pass, result := t.probe(ctx, hc)
			if ctx.Err() != nil {
				return
			}
			if pass {
				t.stats.checksPassed.Add(1)
			} else {
				t.stats.checksFailed.Add(1)
			}
			if t.passively.Swap(false) {
				// Real requests took it out: it must pass the checks
				// healthy_threshold times in a row again.
				state = checkState{health: Unhealthy}
			}
			t.mu.Lock()
			t.lastResult = result
			t.mu.Unlock()
			if state.observe(pass, time.Since(started) < hc.GracePeriod.D(), hc) {
				t.health.Store(int32(state.health))
				t.stats.transitions.Add(1)
				if notify != nil {
					notify(t, state.health)
				}
			}
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
		}
	}()
}

// probe runs one check; a 2xx or 3xx answer within the timeout passes.
func (t *Target) probe(ctx context.Context, hc spec.HealthCheck) (bool, string) {
	ctx, cancel := context.WithTimeout(ctx, hc.Timeout.D())
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+t.Addr+hc.Path, nil)
	if err != nil {
		return false, err.Error()
	}
	req.Header.Set("User-Agent", "teal-health-check")
	resp, err := t.p.checks.Do(req)
	if err != nil {
		var uerr *url.Error
		if errors.As(err, &uerr) {
			err = uerr.Err
		}
		if errors.Is(err, context.DeadlineExceeded) {
			return false, "no answer within " + hc.Timeout.String()
		}
		return false, err.Error()
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	return resp.StatusCode >= 200 && resp.StatusCode < 400, "GET " + hc.Path + ": " + resp.Status
}
