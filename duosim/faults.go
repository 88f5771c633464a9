// Copyright 2026 The duostream authors. Licensed under the MIT licence.

package duosim

import (
	"fmt"
	"math/rand/v2"
	"sync"
	"time"
)

// Fault names a failure injected into a log request.
type Fault string

// The faults the simulator can inject.
const (
	// FaultTooManyRequests answers 429 with Duo's 42901 body and no
	// Retry-After header.
	FaultTooManyRequests Fault = "too_many_requests"
	// FaultServerError answers 500 with Duo's 50001 body.
	FaultServerError Fault = "server_error"
	// FaultUnavailable answers 503 with an HTML body, as a load balancer
	// in front of the API does.
	FaultUnavailable Fault = "unavailable"
	// FaultTruncate sends a success response with status 200 whose JSON
	// body is cut in the middle (the response itself is well formed, so the
	// client reads the cut body without a transport error).
	FaultTruncate Fault = "truncate"
	// FaultDrop closes the connection without sending a response.
	FaultDrop Fault = "drop"
)

// Faults sets the probability, in [0, 1], that a log request meets each
// failure. At most one of TooManyRequests, ServerError, Unavailable,
// Truncate and Drop happens to a request, so their sum must not exceed 1;
// Slow is drawn on its own and delays the request by SlowDelay before it is
// answered (or failed). Faults apply only to the log endpoints, for the
// parent and its children alike, and to the account list, before
// authentication, and never change which events exist: a retried request
// gets the same data. The draws come from a generator seeded by
// Config.Seed, so a sequential client sees the same faults on every run.
type Faults struct {
	TooManyRequests float64
	ServerError     float64
	Unavailable     float64
	Truncate        float64
	Drop            float64
	Slow            float64
	SlowDelay       time.Duration
}

func (f Faults) validate() error {
	sum := 0.0
	for _, p := range []struct {
		name string
		p    float64
	}{
		{"too_many_requests", f.TooManyRequests},
		{"server_error", f.ServerError},
		{"unavailable", f.Unavailable},
		{"truncate", f.Truncate},
		{"drop", f.Drop},
		{"slow", f.Slow},
	} {
		if !(p.p >= 0 && p.p <= 1) { // also rejects NaN
			return fmt.Errorf("fault %s: probability %v is outside [0, 1]", p.name, p.p)
		}
		if p.name != "slow" {
			sum += p.p
		}
	}
	if sum > 1+1e-9 {
		return fmt.Errorf("faults: probabilities of exclusive faults sum to %v, more than 1", sum)
	}
	if f.SlowDelay < 0 {
		return fmt.Errorf("fault slow: delay %v is negative", f.SlowDelay)
	}
	if f.Slow > 0 && f.SlowDelay == 0 {
		return fmt.Errorf("fault slow: probability %v needs a SlowDelay", f.Slow)
	}
	return nil
}

// faultStream separates the fault generator from the data generator that
// shares the seed.
const faultStream = 0x6661756c74

// faultInjector draws faults for requests.
type faultInjector struct {
	mu  sync.Mutex
	cfg Faults
	rng *rand.Rand
}

// draw returns the fault for one request ("" for none) and how long to delay
// it.
func (fi *faultInjector) draw() (Fault, time.Duration) {
	fi.mu.Lock()
	defer fi.mu.Unlock()
	f := fi.cfg
	var fault Fault
	if f.TooManyRequests+f.ServerError+f.Unavailable+f.Truncate+f.Drop > 0 {
		u := fi.rng.Float64()
		for _, c := range []struct {
			p     float64
			fault Fault
		}{
			{f.Drop, FaultDrop},
			{f.TooManyRequests, FaultTooManyRequests},
			{f.ServerError, FaultServerError},
			{f.Unavailable, FaultUnavailable},
			{f.Truncate, FaultTruncate},
		} {
			if u < c.p {
				fault = c.fault
				break
			}
			u -= c.p
		}
	}
	var delay time.Duration
	if f.Slow > 0 && fi.rng.Float64() < f.Slow {
		delay = f.SlowDelay
	}
	return fault, delay
}

// SetFaults replaces the fault probabilities while the simulator runs; the
// random sequence carries on from where it was.
func (s *Sim) SetFaults(f Faults) error {
	if err := f.validate(); err != nil {
		return err
	}
	s.faults.mu.Lock()
	s.faults.cfg = f
	s.faults.mu.Unlock()
	return nil
}

// rateLimiter admits at most perMinute requests in any 60 seconds.
type rateLimiter struct {
	mu        sync.Mutex
	perMinute int
	admitted  []time.Time // oldest first
}

func (l *rateLimiter) allow(now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	cut := now.Add(-time.Minute)
	i := 0
	for i < len(l.admitted) && !l.admitted[i].After(cut) {
		i++
	}
	l.admitted = l.admitted[i:]
	if len(l.admitted) >= l.perMinute {
		return false
	}
	l.admitted = append(l.admitted, now)
	return true
}
