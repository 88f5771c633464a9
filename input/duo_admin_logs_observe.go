// Copyright 2026 The duostream authors. Licensed under the MIT licence.

package input

import (
	"context"
	"sync"
	"time"

	"github.com/redpanda-data/benthos/v4/public/service"

	"github.com/duostream/duostream/duoapi"
)

// inputMetrics are the duo_admin_logs input's own metrics.
type inputMetrics struct {
	requests          *service.MetricCounter
	requestLatency    *service.MetricTimer
	rateLimited       *service.MetricCounter
	retries           *service.MetricCounter
	pages             *service.MetricCounter
	events            *service.MetricCounter
	boundaryDups      *service.MetricCounter
	secondOverflow    *service.MetricCounter
	checkpointErrors  *service.MetricCounter
	offsetResets      *service.MetricCounter
	nackedEvents      *service.MetricCounter
	clockSkew         *service.MetricGauge
	unackedSeconds    *service.MetricGauge
	cursorLag         *service.MetricGauge
	sinceLastEvent    *service.MetricGauge
	dropOffAlarmGauge *service.MetricGauge
}

func newInputMetrics(m *service.Metrics) *inputMetrics {
	return &inputMetrics{
		requests:          m.NewCounter("duo_requests_total", "endpoint", "outcome"),
		requestLatency:    m.NewTimer("duo_request_latency_ns", "endpoint"),
		rateLimited:       m.NewCounter("duo_rate_limited_total", "endpoint"),
		retries:           m.NewCounter("duo_retries_total", "log_type", "reason"),
		pages:             m.NewCounter("duo_pages_total", "log_type"),
		events:            m.NewCounter("duo_events_total", "log_type"),
		boundaryDups:      m.NewCounter("duo_boundary_duplicates_total", "log_type"),
		secondOverflow:    m.NewCounter("duo_second_overflow_total", "log_type"),
		checkpointErrors:  m.NewCounter("duo_checkpoint_errors_total", "log_type", "operation"),
		offsetResets:      m.NewCounter("duo_offset_resets_total", "log_type", "reason"),
		nackedEvents:      m.NewCounter("duo_nacked_events_total", "log_type"),
		clockSkew:         m.NewGauge("duo_clock_skew_seconds"),
		unackedSeconds:    m.NewGauge("duo_unacked_seconds", "log_type"),
		cursorLag:         m.NewGauge("duo_cursor_lag_seconds", "log_type"),
		sinceLastEvent:    m.NewGauge("duo_seconds_since_last_event", "log_type"),
		dropOffAlarmGauge: m.NewGauge("duo_drop_off_alarm", "log_type"),
	}
}

// observer turns what the Duo client and puller report into metrics and
// log lines.
type observer struct {
	log     *service.Logger
	metrics *inputMetrics
	skew    skewWarning
}

func (in *duoAdminLogsInput) observer() *observer {
	return &observer{log: in.log, metrics: in.metrics}
}

// Clock skews from skewWarnAt on are logged, at most every skewWarnEvery.
const (
	skewWarnAt    = 10 * time.Second
	skewWarnEvery = 10 * time.Minute
)

// skewWarning logs when Duo's clock is far from this machine's: at WARN when
// the skew reaches skewWarnAt, again every skewWarnEvery while it lasts, and
// at INFO once it is back under.
type skewWarning struct {
	mu       sync.Mutex
	warnedAt time.Time
}

func (w *skewWarning) observe(skew time.Duration, now time.Time, log *service.Logger) {
	large := skew >= skewWarnAt || skew <= -skewWarnAt
	w.mu.Lock()
	defer w.mu.Unlock()
	switch {
	case large && (w.warnedAt.IsZero() || now.Sub(w.warnedAt) >= skewWarnEvery):
		w.warnedAt = now
		dir, by := "ahead of", -skew
		if skew > 0 {
			dir, by = "behind", skew
		}
		log.Warnf("This machine's clock is %s %s Duo's (read from Duo's Date header): windows are reckoned on Duo's clock, so no event is missed, but synchronise this clock with NTP: Duo refuses requests dated more than about 60s off",
			by.Round(time.Second), dir)
	case !large && !w.warnedAt.IsZero():
		w.warnedAt = time.Time{}
		log.Infof("This machine's clock is within %s of Duo's again", skewWarnAt)
	}
}

func (o *observer) Request(endpoint, outcome string, elapsed time.Duration) {
	o.metrics.requests.Incr(1, endpoint, outcome)
	o.metrics.requestLatency.Timing(elapsed.Nanoseconds(), endpoint)
	if outcome == "429" {
		o.metrics.rateLimited.Incr(1, endpoint)
	}
}

func (o *observer) Retry(t duoapi.LogType, err error, wait time.Duration) {
	reason := duoapi.Classify(err)
	o.metrics.retries.Incr(1, string(t), string(reason))
	wait = wait.Round(time.Millisecond)
	if reason == duoapi.FailureNeedsAction {
		o.log.Errorf("Cannot pull Duo %s logs, retrying in %s: %v", t, wait, err)
		return
	}
	o.log.Warnf("Fetching Duo %s logs failed, retrying in %s: %v", t, wait, err)
}

func (o *observer) BoundaryDuplicates(t duoapi.LogType, n int) {
	o.metrics.boundaryDups.Incr(int64(n), string(t))
	o.log.Debugf("Dropped %d Duo %s events already delivered from the boundary second", n, t)
}

func (o *observer) SecondOverflow(t duoapi.LogType, second time.Time) {
	o.metrics.secondOverflow.Incr(1, string(t))
	o.log.Warnf("Duo returned a full page of %s events all in the second %s; its v1 endpoint cannot page inside a second, so further events of that second, if any, cannot be fetched",
		t, second.UTC().Format(time.RFC3339))
}

func (o *observer) WindowClamped(t duoapi.LogType, stored, from time.Time) {
	o.log.Errorf("The stored position of Duo %s logs (%s) is older than the 180 days Duo serves: resuming from %s, events in between are no longer available",
		t, stored.UTC().Format(time.RFC3339), from.UTC().Format(time.RFC3339))
}

func (o *observer) CursorReset(t duoapi.LogType, err error, resume time.Time, skipped bool) {
	o.metrics.offsetResets.Incr(1, string(t), "rejected")
	if skipped {
		o.log.Errorf("Duo rejected the paging offset of %s logs again (%v), after reading on from the same millisecond once: moving on from %s; events of the millisecond before it beyond those delivered may be missed",
			t, err, resume.UTC().Format(time.RFC3339Nano))
		return
	}
	o.log.Warnf("Duo rejected the paging offset of %s logs (%v): reading on from %s without it; events of that millisecond may be delivered twice",
		t, err, resume.UTC().Format(time.RFC3339Nano))
}

func (o *observer) OffsetStalled(t duoapi.LogType, sent, got string, resume time.Time, skipped bool) {
	o.metrics.offsetResets.Incr(1, string(t), "stalled")
	if sent == "" {
		sent = "(none: the window's first page)"
	}
	if skipped {
		o.log.Errorf("Duo sent a next_offset for %s logs that does not move forward again (sent %q, got %q), after reading on from the same millisecond once: moving on from %s; events of the millisecond before it beyond those delivered may be missed",
			t, sent, got, resume.UTC().Format(time.RFC3339Nano))
		return
	}
	o.log.Warnf("Duo sent a next_offset for %s logs that does not move forward (sent %q, got %q): not following it, reading on from %s; events of that millisecond may be delivered twice",
		t, sent, got, resume.UTC().Format(time.RFC3339Nano))
}

func (o *observer) ClockSkew(skew time.Duration) {
	o.metrics.clockSkew.SetFloat64(skew.Seconds())
	o.skew.observe(skew, time.Now(), o.log)
}

// dropOffAlarm watches for log types that stopped receiving events, the way
// Panther's log drop-off alarm does.
type dropOffAlarm struct {
	after   time.Duration
	log     *service.Logger
	metrics *inputMetrics

	mu        sync.Mutex
	lastEvent map[duoapi.LogType]time.Time
	lastAlarm map[duoapi.LogType]time.Time // zero while not alarmed
}

// newDropOffAlarm returns the alarm of types, each of which last saw events
// at the time stored with its position (from an earlier run), or, when none
// is stored, now.
func newDropOffAlarm(types []duoapi.LogType, after time.Duration, now time.Time, stored map[duoapi.LogType]time.Time, log *service.Logger, m *inputMetrics) *dropOffAlarm {
	a := &dropOffAlarm{
		after: after, log: log, metrics: m,
		lastEvent: map[duoapi.LogType]time.Time{},
		lastAlarm: map[duoapi.LogType]time.Time{},
	}
	for _, t := range types {
		a.lastEvent[t] = now
		if last := stored[t]; !last.IsZero() && last.Before(now) {
			a.lastEvent[t] = last
		}
		m.dropOffAlarmGauge.Set(0, string(t))
	}
	return a
}

// last returns when events of t last arrived, or when counting began.
func (a *dropOffAlarm) last(t duoapi.LogType) time.Time {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.lastEvent[t]
}

// sawEvents records that new events of t arrived, clearing its alarm.
func (a *dropOffAlarm) sawEvents(t duoapi.LogType, now time.Time) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.lastEvent[t] = now
	a.metrics.sinceLastEvent.Set(0, string(t))
	if !a.lastAlarm[t].IsZero() {
		a.lastAlarm[t] = time.Time{}
		a.metrics.dropOffAlarmGauge.Set(0, string(t))
		a.log.Infof("Duo %s events are arriving again: drop-off alarm cleared", t)
	}
}

// check updates the gauges and raises the alarm of every log type that has
// been silent for too long, logging again once per alarm interval.
func (a *dropOffAlarm) check(now time.Time) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for t, last := range a.lastEvent {
		since := now.Sub(last)
		a.metrics.sinceLastEvent.SetFloat64(since.Seconds(), string(t))
		if a.after <= 0 || since < a.after {
			continue
		}
		if prev := a.lastAlarm[t]; prev.IsZero() || now.Sub(prev) >= a.after {
			a.lastAlarm[t] = now
			a.metrics.dropOffAlarmGauge.Set(1, string(t))
			a.log.Errorf("Drop-off alarm: no new Duo %s events for %s (drop_off_alarm is %s): check the Duo account and this stream",
				t, since.Round(time.Second), a.after)
		}
	}
}

// watch checks the drop-off alarm and the unacknowledged batches until ctx
// ends.
func (in *duoAdminLogsInput) watch(ctx context.Context) {
	every := 30 * time.Second
	if in.dropOff > 0 {
		every = min(max(in.dropOff/20, 50*time.Millisecond), every)
	}
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			now := in.now()
			in.alarm.check(now)
			in.unacked.check(now, in.pullerCfg.LogTypes, in.log, in.metrics)
		}
	}
}

// unackedWarnAfter is how long a batch may wait for its acknowledgement
// before the wait is logged.
const unackedWarnAfter = 5 * time.Minute

// unackedBatches tracks when each batch still awaiting its acknowledgement
// was read, per log type, so that an output that stops acknowledging one log
// type is seen for what it is.
type unackedBatches struct {
	mu     sync.Mutex
	readAt map[duoapi.LogType]map[uint64]time.Time
	warned map[duoapi.LogType]time.Time
}

func newUnackedBatches() *unackedBatches {
	return &unackedBatches{readAt: map[duoapi.LogType]map[uint64]time.Time{}, warned: map[duoapi.LogType]time.Time{}}
}

// add records that batch seq of t was read at.
func (u *unackedBatches) add(t duoapi.LogType, seq uint64, at time.Time) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.readAt[t] == nil {
		u.readAt[t] = map[uint64]time.Time{}
	}
	u.readAt[t][seq] = at
}

// done records that batch seq of t was acknowledged.
func (u *unackedBatches) done(t duoapi.LogType, seq uint64) {
	u.mu.Lock()
	defer u.mu.Unlock()
	delete(u.readAt[t], seq)
}

// check sets the duo_unacked_seconds gauge of every log type to the age of
// its oldest unacknowledged batch, and logs log types whose output has held
// a batch for unackedWarnAfter, again every unackedWarnAfter while it lasts.
func (u *unackedBatches) check(now time.Time, types []duoapi.LogType, log *service.Logger, m *inputMetrics) {
	u.mu.Lock()
	defer u.mu.Unlock()
	for _, t := range types {
		var oldest time.Time
		for _, at := range u.readAt[t] {
			if oldest.IsZero() || at.Before(oldest) {
				oldest = at
			}
		}
		age := time.Duration(0)
		if !oldest.IsZero() {
			age = now.Sub(oldest)
		}
		m.unackedSeconds.SetFloat64(age.Seconds(), string(t))
		switch warned := u.warned[t]; {
		case age >= unackedWarnAfter && (warned.IsZero() || now.Sub(warned) >= unackedWarnAfter):
			u.warned[t] = now
			log.Warnf("Duo %s events read %s ago are still not acknowledged by the output (%d batches waiting): their position cannot move, and once checkpoint_limit events wait, reading stops for every log type; the output's error log lines and output_error metric name the output block that fails",
				t, age.Round(time.Second), len(u.readAt[t]))
		case age < unackedWarnAfter && !warned.IsZero():
			delete(u.warned, t)
			log.Infof("The output acknowledges Duo %s events again", t)
		}
	}
}
