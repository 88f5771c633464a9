// Copyright 2026 The duostream authors. Licensed under the MIT licence.

package input

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/redpanda-data/benthos/v4/public/service"

	"github.com/duostream/duostream/duoapi"
)

// inputMetrics are the duo_admin_logs input's own metrics. Those of one
// stream carry, besides its log_type, its account: the child account's ID,
// or "" for the credentials' own account (a label Prometheus leaves out).
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
	unreachable       *service.MetricGauge
	childAccounts     *service.MetricGauge
	backlog           *service.MetricGauge
	catchUpSeconds    *service.MetricGauge
	streamsOwned      *service.MetricGauge
	leaseTakeovers    *service.MetricCounter
	leaseStepDowns    *service.MetricCounter
}

func newInputMetrics(m *service.Metrics) *inputMetrics {
	return &inputMetrics{
		requests:          m.NewCounter("duo_requests_total", "endpoint", "outcome"),
		requestLatency:    m.NewTimer("duo_request_latency_ns", "endpoint"),
		rateLimited:       m.NewCounter("duo_rate_limited_total", "endpoint"),
		retries:           m.NewCounter("duo_retries_total", "log_type", "reason"),
		pages:             m.NewCounter("duo_pages_total", "log_type"),
		events:            m.NewCounter("duo_events_total", "log_type", "account"),
		boundaryDups:      m.NewCounter("duo_boundary_duplicates_total", "log_type"),
		secondOverflow:    m.NewCounter("duo_second_overflow_total", "log_type"),
		checkpointErrors:  m.NewCounter("duo_checkpoint_errors_total", "log_type", "operation"),
		offsetResets:      m.NewCounter("duo_offset_resets_total", "log_type", "reason"),
		nackedEvents:      m.NewCounter("duo_nacked_events_total", "log_type"),
		clockSkew:         m.NewGauge("duo_clock_skew_seconds"),
		unackedSeconds:    m.NewGauge("duo_unacked_seconds", "log_type"),
		cursorLag:         m.NewGauge("duo_cursor_lag_seconds", "log_type", "account"),
		sinceLastEvent:    m.NewGauge("duo_seconds_since_last_event", "log_type", "account"),
		dropOffAlarmGauge: m.NewGauge("duo_drop_off_alarm", "log_type", "account"),
		unreachable:       m.NewGauge("duo_account_unreachable", "account"),
		childAccounts:     m.NewGauge("duo_child_accounts"),
		backlog:           m.NewGauge("duo_backlog_events", "log_type", "account"),
		catchUpSeconds:    m.NewGauge("duo_catch_up_seconds", "log_type", "account"),
		streamsOwned:      m.NewGauge("duo_streams_owned"),
		leaseTakeovers:    m.NewCounter("duo_lease_takeovers_total"),
		leaseStepDowns:    m.NewCounter("duo_lease_step_downs_total", "reason"),
	}
}

// The operation label values of duo_checkpoint_errors_total.
const (
	checkpointRead   = "read"
	checkpointDecode = "decode"
	checkpointWrite  = "write"
)

var checkpointOperations = []string{checkpointRead, checkpointDecode, checkpointWrite}

// The reason label values of duo_offset_resets_total.
const (
	offsetRejected = "rejected"
	offsetStalled  = "stalled"
)

var offsetResetReasons = []string{offsetRejected, offsetStalled}

// zero makes every counter exist at 0 for each label value it can have, so
// that an alert on its increase sees the first one: the endpoints and log
// types an input pulls, every failure class, checkpoint operation and
// offset reset reason. Counters labelled by account start at each
// stream's start (zeroStream).
func (m *inputMetrics) zero(types []duoapi.LogType, endpoints []string) {
	for _, e := range endpoints {
		m.rateLimited.Incr(0, e)
	}
	for _, t := range types {
		lt := string(t)
		for _, f := range duoapi.Failures {
			m.retries.Incr(0, lt, string(f))
		}
		for _, op := range checkpointOperations {
			m.checkpointErrors.Incr(0, lt, op)
		}
		for _, r := range offsetResetReasons {
			m.offsetResets.Incr(0, lt, r)
		}
		m.pages.Incr(0, lt)
		m.boundaryDups.Incr(0, lt)
		m.secondOverflow.Incr(0, lt)
		m.nackedEvents.Incr(0, lt)
	}
}

// zeroStream makes the counters of stream k exist at 0, and the
// unreachable gauge of its child account.
func (m *inputMetrics) zeroStream(k duoapi.StreamKey) {
	m.events.Incr(0, string(k.LogType), k.AccountID)
	if k.AccountID != "" {
		m.unreachable.Set(0, k.AccountID)
	}
}

// observer turns what the Duo client and puller report into metrics and
// log lines.
type observer struct {
	// leases, when set, shares the streams of the child accounts pulled.
	leases   *leasedStreams
	log      *service.Logger
	metrics  *inputMetrics
	skew     skewWarning
	alarm    *dropOffAlarm
	progress *catchUp
	health   *streamHealth
}

func (in *duoAdminLogsInput) observer() *observer {
	return &observer{log: in.log, metrics: in.metrics, alarm: in.alarm, progress: in.progress, health: in.health}
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
	o.health.request(time.Now())
	o.metrics.requests.Incr(1, endpoint, outcome)
	o.metrics.requestLatency.Timing(elapsed.Nanoseconds(), endpoint)
	if outcome == "429" {
		o.metrics.rateLimited.Incr(1, endpoint)
	}
}

func (o *observer) Retry(t duoapi.Stream, err error, wait time.Duration) {
	reason := duoapi.Classify(err)
	o.metrics.retries.Incr(1, string(t.LogType), string(reason))
	o.health.failed(t.Key(), err, time.Now())
	wait = wait.Round(time.Millisecond)
	if reason == duoapi.FailureNeedsAction {
		o.log.Errorf("Cannot pull Duo %s logs, retrying in %s: %v", t, wait, err)
		return
	}
	o.log.Warnf("Fetching Duo %s logs failed, retrying in %s: %v", t, wait, err)
}

func (o *observer) BoundaryDuplicates(t duoapi.Stream, n int) {
	o.metrics.boundaryDups.Incr(int64(n), string(t.LogType))
	o.log.Debugf("Dropped %d Duo %s events already delivered from the boundary second", n, t)
}

func (o *observer) SecondOverflow(t duoapi.Stream, second time.Time) {
	o.metrics.secondOverflow.Incr(1, string(t.LogType))
	o.log.Warnf("Duo returned a full page of %s events all in the second %s; its v1 endpoint cannot page inside a second, so further events of that second, if any, cannot be fetched",
		t, second.UTC().Format(time.RFC3339))
}

func (o *observer) WindowClamped(t duoapi.Stream, stored, from time.Time) {
	o.log.Errorf("The stored position of Duo %s logs (%s) is older than the 180 days Duo serves: resuming from %s, events in between are no longer available",
		t, stored.UTC().Format(time.RFC3339), from.UTC().Format(time.RFC3339))
}

func (o *observer) CursorReset(t duoapi.Stream, err error, resume time.Time, skipped bool) {
	o.metrics.offsetResets.Incr(1, string(t.LogType), offsetRejected)
	if skipped {
		o.log.Errorf("Duo rejected the paging offset of %s logs again (%v), after reading on from the same millisecond once: moving on from %s; events of the millisecond before it beyond those delivered may be missed",
			t, err, resume.UTC().Format(time.RFC3339Nano))
		return
	}
	o.log.Warnf("Duo rejected the paging offset of %s logs (%v): reading on from %s without it; events of that millisecond may be delivered twice",
		t, err, resume.UTC().Format(time.RFC3339Nano))
}

func (o *observer) OffsetStalled(t duoapi.Stream, sent, got string, resume time.Time, skipped bool) {
	o.metrics.offsetResets.Incr(1, string(t.LogType), offsetStalled)
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

func (o *observer) StreamGivenUp(s duoapi.Stream, err error) {
	o.health.failed(s.Key(), err, time.Now())
	o.log.Errorf("Duo %s logs cannot be read, and are left out of the window to end_time: %v", s, err)
}

func (o *observer) AccountsRefreshed(r duoapi.AccountsRefresh) {
	o.metrics.childAccounts.Set(int64(len(r.Pulled)))
	if o.leases != nil {
		o.leases.setAccounts(r.Pulled)
	}
	if len(r.Added) > 0 || len(r.Removed) > 0 {
		o.log.Infof("Duo child accounts: %d listed, %d pulled; started %s; stopped %s (their positions are kept)",
			r.Listed, len(r.Pulled), accountList(r.Added), accountList(r.Removed))
	}
	// A child no longer pulled raises no alarm and is not catching up;
	// what is known of it stays, for when it comes back.
	for _, a := range r.Removed {
		o.alarm.pause(a.ID)
		o.progress.stop(a.ID)
		o.metrics.unreachable.Set(0, a.ID)
		o.health.setUnreachable(a.ID, nil, time.Now())
	}
	for _, a := range r.Added {
		o.alarm.resume(a.ID)
	}
	if len(r.Unmatched) > 0 {
		o.log.Warnf("accounts.include and accounts.exclude name %q, which is no child account's ID or exact name: check for a typo or a removed child", r.Unmatched)
	}
	for id, err := range r.Failed {
		o.log.Errorf("Cannot start child account %s (%v): trying again shortly", id, err)
	}
}

// accountList names accounts for a log line.
func accountList(as []duoapi.Account) string {
	if len(as) == 0 {
		return "none"
	}
	const most = 20
	var b strings.Builder
	for i, a := range as {
		if i == most {
			fmt.Fprintf(&b, " and %d more", len(as)-most)
			break
		}
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%s (%q)", a.ID, a.Name)
	}
	return b.String()
}

func (o *observer) AccountsListFailed(err error, wait time.Duration) {
	if duoapi.Classify(err) == duoapi.FailureNeedsAction {
		o.log.Errorf("Cannot list the Duo child accounts, retrying in %s (the children already listed go on): %v", wait.Round(time.Millisecond), err)
		return
	}
	o.log.Warnf("Listing the Duo child accounts failed, retrying in %s (the children already listed go on): %v", wait.Round(time.Millisecond), err)
}

func (o *observer) AccountUnreachable(a duoapi.Account, err error) {
	o.metrics.unreachable.Set(1, a.ID)
	o.alarm.pause(a.ID)
	o.health.setUnreachable(a.ID, err, time.Now())
	o.log.Errorf("Duo child account %s (%q) refuses requests made with the parent's Accounts API credentials; none is made for it until the child list is read again: %v", a.ID, a.Name, err)
}

func (o *observer) AccountReachable(a duoapi.Account) {
	o.metrics.unreachable.Set(0, a.ID)
	o.alarm.resume(a.ID)
	o.health.setUnreachable(a.ID, nil, time.Now())
	o.log.Infof("Duo child account %s (%q) answers again", a.ID, a.Name)
}

func (o *observer) ClockSkew(skew time.Duration) {
	o.metrics.clockSkew.SetFloat64(skew.Seconds())
	o.skew.observe(skew, time.Now(), o.log)
}

// dropOffAlarm watches for streams that stopped receiving events, the way
// Panther's log drop-off alarm does: each log type of each account on its
// own.
type dropOffAlarm struct {
	after   time.Duration
	log     *service.Logger
	metrics *inputMetrics

	mu        sync.Mutex
	lastEvent map[duoapi.StreamKey]time.Time
	lastAlarm map[duoapi.StreamKey]time.Time // zero while not alarmed
	names     map[duoapi.StreamKey]duoapi.Stream
	// paused holds the child accounts reported unreachable: that report
	// is their alarm, so their streams raise none of their own.
	paused map[string]bool
	// standbys holds the streams another process pulls (leases): theirs
	// is the alarm.
	standbys map[duoapi.StreamKey]bool
}

func newDropOffAlarm(after time.Duration, log *service.Logger, m *inputMetrics) *dropOffAlarm {
	return &dropOffAlarm{
		after: after, log: log, metrics: m,
		lastEvent: map[duoapi.StreamKey]time.Time{},
		lastAlarm: map[duoapi.StreamKey]time.Time{},
		names:     map[duoapi.StreamKey]duoapi.Stream{},
		paused:    map[string]bool{},
		standbys:  map[duoapi.StreamKey]bool{},
	}
}

// standby keeps stream k from raising the alarm, and clears its alarm,
// while another process pulls it.
func (a *dropOffAlarm) standby(k duoapi.StreamKey) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.standbys[k] = true
	delete(a.lastAlarm, k)
	a.metrics.dropOffAlarmGauge.Set(0, string(k.LogType), k.AccountID)
	a.metrics.sinceLastEvent.Set(0, string(k.LogType), k.AccountID)
}

// activate lets stream k raise the alarm again: this process pulls it.
func (a *dropOffAlarm) activate(k duoapi.StreamKey) {
	a.mu.Lock()
	defer a.mu.Unlock()
	delete(a.standbys, k)
}

// pause keeps the streams of account id from raising the alarm, and clears
// theirs, until resume: while the child is unreachable, or no longer pulled.
// When events of its streams last arrived is kept.
func (a *dropOffAlarm) pause(id string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.paused[id] = true
	for k := range a.lastEvent {
		if k.AccountID == id {
			delete(a.lastAlarm, k)
			a.metrics.dropOffAlarmGauge.Set(0, string(k.LogType), k.AccountID)
		}
	}
}

// resume lets the streams of account id raise the alarm again.
func (a *dropOffAlarm) resume(id string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	delete(a.paused, id)
}

// watchStream starts watching s, which last saw events at stored (from an
// earlier run), or, when that is zero or later than now, at now.
func (a *dropOffAlarm) watchStream(s duoapi.Stream, now, stored time.Time) {
	a.mu.Lock()
	defer a.mu.Unlock()
	k := s.Key()
	a.lastEvent[k] = now
	if !stored.IsZero() && stored.Before(now) {
		a.lastEvent[k] = stored
	}
	a.names[k] = s
	delete(a.lastAlarm, k)
	a.metrics.dropOffAlarmGauge.Set(0, string(k.LogType), k.AccountID)
}

// alarmed reports whether k's alarm is raised.
func (a *dropOffAlarm) alarmed(k duoapi.StreamKey) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return !a.lastAlarm[k].IsZero()
}

// last returns when events of k last arrived, or when counting began.
func (a *dropOffAlarm) last(k duoapi.StreamKey) time.Time {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.lastEvent[k]
}

// sawEvents records that new events of k arrived, clearing its alarm.
func (a *dropOffAlarm) sawEvents(k duoapi.StreamKey, now time.Time) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.lastEvent[k] = now
	a.metrics.sinceLastEvent.Set(0, string(k.LogType), k.AccountID)
	if !a.lastAlarm[k].IsZero() {
		a.lastAlarm[k] = time.Time{}
		a.metrics.dropOffAlarmGauge.Set(0, string(k.LogType), k.AccountID)
		a.log.Infof("Duo %s events are arriving again: drop-off alarm cleared", a.names[k])
	}
}

// check updates the gauges and raises the alarm of every stream that has
// been silent for too long, logging again once per alarm interval.
func (a *dropOffAlarm) check(now time.Time) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for k, last := range a.lastEvent {
		if a.standbys[k] {
			continue
		}
		since := now.Sub(last)
		a.metrics.sinceLastEvent.SetFloat64(since.Seconds(), string(k.LogType), k.AccountID)
		if a.after <= 0 || since < a.after || a.paused[k.AccountID] {
			continue
		}
		if prev := a.lastAlarm[k]; prev.IsZero() || now.Sub(prev) >= a.after {
			a.lastAlarm[k] = now
			a.metrics.dropOffAlarmGauge.Set(1, string(k.LogType), k.AccountID)
			a.log.Errorf("Drop-off alarm: no new Duo %s events for %s (drop_off_alarm is %s): check the Duo account and this stream",
				a.names[k], since.Round(time.Second), a.after)
		}
	}
}

// watch checks the drop-off alarm and the unacknowledged batches until ctx
// ends.
func (in *duoAdminLogsInput) watch(ctx context.Context) {
	every := min(30*time.Second, in.progress.logEvery)
	if in.dropOff > 0 {
		every = min(max(in.dropOff/20, 50*time.Millisecond), every)
	}
	tick := time.NewTicker(every)
	defer tick.Stop()
	// Check at once too, so that every gauge exists from the start.
	for {
		now := in.now()
		in.alarm.check(now)
		in.progress.check(now)
		in.unacked.check(now, in.pullerCfg.LogTypes, in.log, in.metrics)
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// unackedWarnAfter is how long a batch may wait for its acknowledgement
// before the wait is logged.
const unackedWarnAfter = 5 * time.Minute

// unackedBatches tracks when each batch still awaiting its acknowledgement
// was read, per stream, so that an output that stops acknowledging one log
// type is seen for what it is.
type unackedBatches struct {
	mu     sync.Mutex
	readAt map[duoapi.StreamKey]map[uint64]time.Time
	warned map[duoapi.LogType]time.Time
}

func newUnackedBatches() *unackedBatches {
	return &unackedBatches{readAt: map[duoapi.StreamKey]map[uint64]time.Time{}, warned: map[duoapi.LogType]time.Time{}}
}

// add records that batch seq of k was read at.
func (u *unackedBatches) add(k duoapi.StreamKey, seq uint64, at time.Time) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.readAt[k] == nil {
		u.readAt[k] = map[uint64]time.Time{}
	}
	u.readAt[k][seq] = at
}

// done records that batch seq of k was acknowledged.
func (u *unackedBatches) done(k duoapi.StreamKey, seq uint64) {
	u.mu.Lock()
	defer u.mu.Unlock()
	delete(u.readAt[k], seq)
}

// check sets the duo_unacked_seconds gauge of every log type to the age of
// its oldest unacknowledged batch, of any account, and logs log types whose
// output has held a batch for unackedWarnAfter, again every
// unackedWarnAfter while it lasts.
func (u *unackedBatches) check(now time.Time, types []duoapi.LogType, log *service.Logger, m *inputMetrics) {
	u.mu.Lock()
	defer u.mu.Unlock()
	oldest := map[duoapi.LogType]time.Time{}
	waiting := map[duoapi.LogType]int{}
	for k, batches := range u.readAt {
		for _, at := range batches {
			if o := oldest[k.LogType]; o.IsZero() || at.Before(o) {
				oldest[k.LogType] = at
			}
		}
		waiting[k.LogType] += len(batches)
	}
	for _, t := range types {
		age := time.Duration(0)
		if o := oldest[t]; !o.IsZero() {
			age = now.Sub(o)
		}
		m.unackedSeconds.SetFloat64(age.Seconds(), string(t))
		switch warned := u.warned[t]; {
		case age >= unackedWarnAfter && (warned.IsZero() || now.Sub(warned) >= unackedWarnAfter):
			u.warned[t] = now
			log.Warnf("Duo %s events read %s ago are still not acknowledged by the output (%d batches waiting): their position cannot move, and once checkpoint_limit events wait, reading stops for every log type; the output's error log lines and output_error metric name the output block that fails",
				t, age.Round(time.Second), waiting[t])
		case age < unackedWarnAfter && !warned.IsZero():
			delete(u.warned, t)
			log.Infof("The output acknowledges Duo %s events again", t)
		}
	}
}
