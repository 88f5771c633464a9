// Copyright 2026 The duostream authors. Licensed under the MIT licence.

package input

import (
	"fmt"
	"math"
	"sync"
	"time"

	"github.com/redpanda-data/benthos/v4/public/service"

	"github.com/duostream/duostream/duoapi"
)

// progressLogEvery is how often the catch-up of streams that are behind is
// logged.
const progressLogEvery = time.Minute

// minProgressSample is how long a catch-up is measured before its rate is
// taken to predict its end.
const minProgressSample = time.Second

// catchUp follows each stream while it is behind (a first backfill, a long
// outage): how many events it has to go, how fast it reads them, and when it
// will have caught up at that pace, which is the pace the request budget
// allows. It sets duo_backlog_events and duo_catch_up_seconds and logs the
// figures every progressLogEvery while a stream is behind; once caught up
// it says so once and is quiet.
type catchUp struct {
	log     *service.Logger
	metrics *inputMetrics
	// edge is how far behind now a caught-up stream reads (the
	// availability lag), end the end_time of a bounded run (zero for a
	// live one), and slack how far a position may trail the edge, or end,
	// and still count as caught up: two polls and margin.
	edge, slack time.Duration
	end         time.Time
	logEvery    time.Duration

	mu      sync.Mutex
	streams map[duoapi.StreamKey]*streamProgress
	logged  time.Time
}

// streamProgress is what catchUp knows of one stream.
type streamProgress struct {
	stream    duoapi.Stream
	pos       time.Time // the position after the last batch
	remaining int64     // events left in the window read, -1 unknown
	// The catch-up being measured: since when, from which position, and
	// the events read since; since is zero while caught up.
	since    time.Time
	sincePos time.Time
	events   int64
}

// estimate is a prediction of a stream's catch-up.
type estimate struct {
	behind  time.Duration // how far the position trails the edge
	backlog int64         // events to go, -1 unknown
	rate    float64       // events read per second
	eta     time.Duration // time to catch up, -1 unknown
}

func newCatchUp(availabilityLag, pollInterval time.Duration, end time.Time, log *service.Logger, m *inputMetrics) *catchUp {
	return &catchUp{
		log: log, metrics: m,
		edge: availabilityLag, slack: 2*pollInterval + 2*time.Minute, end: end,
		logEvery: progressLogEvery,
		streams:  map[duoapi.StreamKey]*streamProgress{},
	}
}

// target is where a stream catches up to at now: the availability edge, or
// the end of a bounded run that lies before it.
func (c *catchUp) target(now time.Time) time.Time {
	edge := now.Add(-c.edge)
	if !c.end.IsZero() && c.end.Before(edge) {
		return c.end
	}
	return edge
}

// behind reports whether a stream at pos is behind at now.
func (c *catchUp) behind(now, pos time.Time) bool {
	return c.target(now).Sub(pos) > c.slack
}

// watchStream starts following s, its gauges at 0.
func (c *catchUp) watchStream(s duoapi.Stream) {
	c.mu.Lock()
	defer c.mu.Unlock()
	k := s.Key()
	if _, ok := c.streams[k]; !ok {
		c.streams[k] = &streamProgress{stream: s, remaining: -1}
	}
	c.metrics.backlog.Set(0, string(k.LogType), k.AccountID)
	c.metrics.catchUpSeconds.Set(0, string(k.LogType), k.AccountID)
}

// stop ends the catch-up of the streams of account id, no longer pulled;
// they are followed again when their batches come.
func (c *catchUp) stop(id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for k, p := range c.streams {
		if k.AccountID == id {
			p.since = time.Time{}
			c.metrics.backlog.Set(0, string(k.LogType), k.AccountID)
			c.metrics.catchUpSeconds.Set(0, string(k.LogType), k.AccountID)
		}
	}
}

// batch records that a batch of n events of s was read at now, leaving the
// position at pos with remaining events of its window to go (-1 unknown).
func (c *catchUp) batch(s duoapi.Stream, now, pos time.Time, n int, remaining int64) {
	if pos.IsZero() {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	p := c.streams[s.Key()]
	if p == nil {
		return
	}
	switch {
	case !p.since.IsZero():
		p.events += int64(n)
	case c.behind(now, pos):
		// The first batch behind: the time before it is not measured,
		// so neither are its events.
		p.since, p.sincePos, p.events = now, pos, 0
	}
	p.pos, p.remaining = pos, remaining
}

// estimate predicts p's catch-up at now. With the events left in the window
// known, the time to go is those at the rate read so far; otherwise it is
// the time left to read at the pace the position has moved, and the events
// to go are the time left at the density read so far.
func (c *catchUp) estimate(p *streamProgress, now time.Time) estimate {
	e := estimate{behind: max(c.target(now).Sub(p.pos), 0), backlog: -1, eta: -1}
	elapsed := now.Sub(p.since)
	if elapsed < minProgressSample {
		return e
	}
	e.rate = float64(p.events) / elapsed.Seconds()
	advanced := p.pos.Sub(p.sincePos)
	// A live stream's target moves on a second a second, so the gap
	// closes only by what the position gains beyond that.
	gain := advanced
	if c.target(now).Equal(now.Add(-c.edge)) {
		gain -= elapsed
	}
	if advanced > 0 {
		density := float64(p.events) / advanced.Seconds()
		e.backlog = int64(math.Round(density * e.behind.Seconds()))
	}
	if gain > 0 {
		e.eta = time.Duration(float64(e.behind) * float64(elapsed) / float64(gain))
	}
	if p.remaining >= 0 && e.rate > 0 && gain > 0 {
		e.backlog = p.remaining
		e.eta = time.Duration(float64(p.remaining) / e.rate * float64(time.Second))
	}
	return e
}

// status tells whether k is behind at now, and then its estimate: the
// events to go and the seconds to catch up, -1 while not known.
func (c *catchUp) status(k duoapi.StreamKey, now time.Time) (behind bool, backlog int64, eta float64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	p := c.streams[k]
	if p == nil || p.since.IsZero() || !c.behind(now, p.pos) {
		return false, 0, 0
	}
	e := c.estimate(p, now)
	if e.eta < 0 {
		return true, e.backlog, -1
	}
	return true, e.backlog, e.eta.Seconds()
}

// check updates the gauges of every stream, and every logEvery logs the
// streams that are behind: each of one account on a line of its own, the
// streams of child accounts, which may be thousands, on one line, each of
// them at debug level.
func (c *catchUp) check(now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	logNow := now.Sub(c.logged) >= c.logEvery
	if logNow {
		c.logged = now
	}
	var children childrenProgress
	for k, p := range c.streams {
		lt := string(k.LogType)
		if p.since.IsZero() {
			continue
		}
		if !c.behind(now, p.pos) {
			c.log.Infof("Duo %s logs have caught up: %d events in %s", p.stream, p.events, now.Sub(p.since).Round(time.Second))
			p.since = time.Time{}
			c.metrics.backlog.Set(0, lt, k.AccountID)
			c.metrics.catchUpSeconds.Set(0, lt, k.AccountID)
			continue
		}
		e := c.estimate(p, now)
		c.metrics.backlog.Set(e.backlog, lt, k.AccountID)
		if e.eta < 0 {
			c.metrics.catchUpSeconds.SetFloat64(-1, lt, k.AccountID)
		} else {
			c.metrics.catchUpSeconds.SetFloat64(e.eta.Seconds(), lt, k.AccountID)
		}
		if !logNow {
			continue
		}
		logf := c.log.Infof
		if k.AccountID != "" {
			children.add(p.stream, e)
			logf = c.log.Debugf
		}
		logf("Duo %s logs are catching up: %s", p.stream, e)
	}
	if children.behind > 0 {
		c.log.Infof("Duo child accounts are catching up: %s", children)
	}
}

// String describes e for a log line.
func (e estimate) String() string {
	s := fmt.Sprintf("%s behind", roundDuration(e.behind))
	if e.eta < 0 {
		return s + ", measuring the pace"
	}
	if e.backlog >= 0 {
		s += fmt.Sprintf(", about %d events to go", e.backlog)
	}
	return s + fmt.Sprintf(" at %.0f events/s, caught up in about %s at the current request budget", e.rate, roundDuration(e.eta))
}

// childrenProgress sums up the streams of child accounts that are behind.
type childrenProgress struct {
	behind  int
	backlog int64
	last    duoapi.Stream
	lastETA time.Duration
}

func (cp *childrenProgress) add(s duoapi.Stream, e estimate) {
	cp.behind++
	cp.backlog += max(e.backlog, 0)
	if e.eta > cp.lastETA {
		cp.last, cp.lastETA = s, e.eta
	}
}

func (cp childrenProgress) String() string {
	s := fmt.Sprintf("%d streams behind, about %d events to go", cp.behind, cp.backlog)
	if cp.lastETA > 0 {
		s += fmt.Sprintf("; the last, %s, caught up in about %s", cp.last, roundDuration(cp.lastETA))
	}
	return s
}

// roundDuration rounds d for people: to the second under an hour, to the
// minute under a day, to the hour beyond.
func roundDuration(d time.Duration) time.Duration {
	switch {
	case d < time.Hour:
		return d.Round(time.Second)
	case d < 24*time.Hour:
		return d.Round(time.Minute)
	}
	return d.Round(time.Hour)
}
