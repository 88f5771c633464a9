// Copyright 2026 The duostream authors. Licensed under the MIT licence.

package duoapi

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/url"
	"slices"
	"strconv"
	"time"
)

// MaxLookback is the longest initial lookback: Duo serves 180 days and
// rejects a mintime even slightly past that, so a first window keeps a day
// in hand for the time its paging takes.
const MaxLookback = 179 * 24 * time.Hour

// Retention is how far back Duo serves logs.
const Retention = 180 * 24 * time.Hour

// retentionSlack is kept between the oldest time the puller asks for and the
// edge of Duo's retention, for the time a request takes to reach Duo.
const retentionSlack = 10 * time.Minute

// ClockMargin is kept between the newest time the puller asks for and Duo's
// clock, read from the Date header of its last response, minus the
// availability lag: it covers the clocks drifting between two responses.
const ClockMargin = 5 * time.Second

// UnknownClockMargin replaces ClockMargin until a response has told Duo's
// time: Duo accepts requests dated up to about a minute off, so its clock
// is at most that far behind this machine's.
const UnknownClockMargin = 60 * time.Second

// maxTrustedLead caps how far ahead of this machine Duo's clock is taken to
// be: a Date header further ahead than Duo's own tolerance for request dates
// is more likely a proxy's than Duo's, and believing it could ask for events
// Duo does not show yet.
const maxTrustedLead = 60 * time.Second

// PageLimit is the most records a Duo log endpoint returns per request.
const PageLimit = 1000

// minWindow is the shortest v2 window worth a request; Duo requires maxtime
// to be strictly greater than mintime.
const minWindow = time.Second

// Backoff is a capped exponential backoff with jitter.
type Backoff struct {
	Initial time.Duration
	Max     time.Duration
}

// Delay returns the wait after the given number of consecutive failures
// (1 for the first), with "equal jitter": half fixed, half random (rnd is a
// number in [0, 1)).
func (b Backoff) Delay(failures int, rnd float64) time.Duration {
	d := b.Initial
	for i := 1; i < failures && d < b.Max; i++ {
		d *= 2
	}
	d = min(d, b.Max)
	return d/2 + time.Duration(rnd*float64(d/2))
}

// PullerConfig configures a Puller. Zero durations take the defaults given.
type PullerConfig struct {
	// LogTypes are pulled in turns, in this order. Empty means
	// PantherLogTypes.
	LogTypes []LogType
	// TelephonyV1 pulls telephony from the legacy v1 endpoint instead of
	// /admin/v2/logs/telephony.
	TelephonyV1 bool
	// TrustMonitorTypes, when not empty, asks Duo for Trust Monitor events
	// of these types only (sent as repeated "type" parameters), such as
	// "auth", "bypass_status" or "device_registration".
	TrustMonitorTypes []string
	// InitialLookback is how far back a log type with no stored cursor
	// starts (default 24h, at most MaxLookback).
	InitialLookback time.Duration
	// PollInterval is the wait once a log type has caught up (default 1m).
	PollInterval time.Duration
	// AvailabilityLag is how long Duo takes to make an event consistently
	// available; nothing newer is requested (default 2m).
	AvailabilityLag time.Duration
	// ErrorBackoff paces retries after transient failures (default 1s to 1m).
	ErrorBackoff Backoff
	// RateLimitBackoff paces retries after a 429 (default 15s to 5m).
	RateLimitBackoff Backoff
	// ConfigErrorBackoff paces retries after errors that need the user to
	// act, such as a missing permission (default 30s to 10m). The puller
	// never gives up: once fixed, pulling resumes by itself.
	ConfigErrorBackoff Backoff
	// StartTime, when not zero, is where a stream with no cursor starts,
	// instead of InitialLookback ago.
	StartTime time.Time
	// EndTime, when not zero, bounds the pull: events from EndTime on are
	// not read, a stream is done once it has read everything before
	// EndTime, and Next returns ErrWindowRead once every stream is done.
	// A stream that cannot be read at all (a log type the account lacks,
	// an unreachable child) is given up and reported, so that the pull
	// ends; every other failure is retried as usual.
	EndTime time.Time
	// MaxInFlight is how many requests may be in flight at once, each for
	// a different account: a Puller never has two requests of one account
	// in flight. 0 means 1 for NewPuller and DefaultAccountsInFlight for
	// NewAccountsPuller.
	MaxInFlight int
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Observer is told about retries and paging events; nil means none.
	Observer Observer
	// Rand returns jitter in [0, 1); nil means math/rand/v2.
	Rand func() float64
	// Ownership, when not nil, shares the streams with other processes:
	// a stream is pulled only while Ownership says this process owns it.
	// Nil means every stream is this process's. It cannot be combined
	// with EndTime.
	Ownership Ownership
}

// Ownership says which streams a Puller may pull when several processes
// share them (PullerConfig.Ownership). It must be safe for concurrent use.
type Ownership interface {
	// Owns reports whether this process owns s now, and the token of that
	// tenure. A token other than the last one seen means s was lost and
	// taken again since, by this process or another: the Puller resumes
	// it from Resume before pulling on.
	Owns(s Stream) (token string, ok bool)
	// Resume returns where s continues at the start of a tenure: the
	// cursor stored by whoever owned it last (the zero Cursor when none
	// is stored).
	Resume(ctx context.Context, s Stream) (Cursor, error)
}

func (c *PullerConfig) setDefaults() {
	if len(c.LogTypes) == 0 {
		c.LogTypes = PantherLogTypes
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	def(&c.InitialLookback, 24*time.Hour)
	def(&c.PollInterval, time.Minute)
	def(&c.AvailabilityLag, 2*time.Minute)
	def(&c.ErrorBackoff.Initial, time.Second)
	def(&c.ErrorBackoff.Max, time.Minute)
	def(&c.RateLimitBackoff.Initial, 15*time.Second)
	def(&c.RateLimitBackoff.Max, 5*time.Minute)
	def(&c.ConfigErrorBackoff.Initial, 30*time.Second)
	def(&c.ConfigErrorBackoff.Max, 10*time.Minute)
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Observer == nil {
		c.Observer = NopObserver{}
	}
	if c.Rand == nil {
		c.Rand = rand.Float64
	}
}

// Batch is one fetched page of one stream.
type Batch struct {
	LogType LogType
	// Account is the child account the page is of; its ID is empty for a
	// Puller made by NewPuller, which pulls its credentials' own account.
	Account Account
	// Endpoint is the path the page came from.
	Endpoint string
	// Events are the records as Duo sent them, never seen before in this
	// pull (v1 boundary duplicates are already dropped).
	Events []json.RawMessage
	// Cursor is the position after this batch: store it once this batch and
	// every batch before it are delivered.
	Cursor Cursor
	// Remaining is how many events Duo still holds in the window being
	// read, after this batch, from the total_objects Duo sends with a v2
	// page (0 once the window is read); -1 when it is not known: v1 pages,
	// pages without total_objects, and a window that began before this
	// Puller (after a restart) or was read on without its offset.
	Remaining int64
	// Tenure is the Ownership token under which the batch was read, for
	// fenced writes of its cursor; empty without Ownership.
	Tenure string
}

// stream is the paging state of one log type of one account. While a fetch
// of it is in flight, only that fetch touches it.
type stream struct {
	id       Stream
	account  *account
	info     logTypeInfo
	cursor   Cursor
	due      time.Time
	failures int

	// v2 paging progress: the offsets already followed in the millisecond
	// of the last offset (Trust Monitor: in the window since it started or
	// was resumed, offsetMs holding the window's start), and the
	// millisecond the window was last resumed from after an offset could
	// not be followed.
	offsetMs    int64
	offsetsSeen map[string]bool
	resumedFrom int64

	// The window whose first page this Puller read, and how many events
	// its pages have held since, for Batch.Remaining.
	countedMin, countedMax int64
	counted                int64

	// inFlight is set while a fetch of the stream runs; only Next reads
	// and writes it.
	inFlight bool
	// forbidden is set when a child's stream of a log type some editions
	// lack got 403, until it answers again.
	forbidden bool
	// done is set once a bounded pull (PullerConfig.EndTime) has read the
	// stream to its end, or given it up.
	done bool
	// tenure is the Ownership token the stream's cursor belongs to; a
	// fetch under another token resumes the cursor first.
	tenure string
}

func (s *stream) v2() bool { return s.info.paging != pagingV1 }

func (s *stream) trustMonitor() bool { return s.info.paging == pagingTrustMonitor }

// startMillis returns where a stream with no cursor starts, in Unix
// milliseconds: StartTime, or InitialLookback before now.
func (p *Puller) startMillis(now time.Time) int64 {
	if !p.cfg.StartTime.IsZero() {
		return p.cfg.StartTime.UnixMilli()
	}
	return now.Add(-p.cfg.InitialLookback).UnixMilli()
}

// lastMillis returns the last millisecond a bounded pull reads (the one
// before EndTime), and false for a pull without end.
func (p *Puller) lastMillis() (int64, bool) {
	if p.cfg.EndTime.IsZero() {
		return 0, false
	}
	return p.cfg.EndTime.UnixMilli() - 1, true
}

// finalWindow reports whether [start, latest] is the last window of a
// bounded pull, which is read however short it is.
func (p *Puller) finalWindow(start, latest int64) bool {
	end, ok := p.lastMillis()
	return ok && latest == end && latest > start
}

// reachedEnd reports whether s, whose last fetch brought no more pages and
// delivered events, has read everything before EndTime.
func (p *Puller) reachedEnd(s *stream, delivered int) bool {
	end, ok := p.lastMillis()
	switch {
	case !ok:
		return false
	case s.v2():
		return s.cursor.WindowMax == 0 && s.cursor.WindowMin > end
	}
	// Duo may answer a v1 request with fewer events than it holds, so
	// only an answer with nothing new says the log has been read (to the
	// end, once the end is available: later events are held back).
	return delivered == 0 && p.duoNow(s).Add(-p.cfg.AvailabilityLag).UnixMilli() >= end
}

// caughtUpUntil returns when a stream that has read everything available
// should ask again: once a poll interval's worth of new events can exist.
func (p *Puller) caughtUpUntil(s *stream) time.Time {
	now := p.cfg.Now()
	next := now.Add(p.cfg.PollInterval)
	if s.v2() && s.cursor.WindowMax == 0 && s.cursor.WindowMin != 0 {
		// The next window starts at WindowMin; it is worth a request once
		// it reaches PollInterval past the availability lag on Duo's clock.
		at := time.UnixMilli(s.cursor.WindowMin).Add(p.cfg.AvailabilityLag + p.cfg.PollInterval - p.duoOffset(s))
		if at.Before(next) {
			return at
		}
	}
	return next
}

// duoOffset is what to add to this machine's clock to get the latest time
// Duo's clock can safely be taken to show: the skew measured from Duo's Date
// header less ClockMargin, or less UnknownClockMargin before any response.
func (p *Puller) duoOffset(s *stream) time.Duration {
	skew, ok := s.account.client.ClockSkew()
	if !ok {
		return -UnknownClockMargin
	}
	return min(skew, maxTrustedLead) - ClockMargin
}

// duoNow is Duo's clock, reckoned safely (see duoOffset). Every window and
// the retention edge are worked out in Duo's time, so a clock here that is
// fast asks for nothing Duo does not show yet.
func (p *Puller) duoNow(s *stream) time.Time {
	return p.cfg.Now().Add(p.duoOffset(s))
}

// resume starts a new tenure of s at cursor c, forgetting the paging
// progress of the last one.
func (s *stream) resume(c Cursor, tenure string) {
	s.cursor, s.tenure = c, tenure
	s.offsetMs, s.offsetsSeen, s.resumedFrom = 0, nil, 0
	s.countedMin, s.countedMax, s.counted = 0, 0, 0
}

func (p *Puller) fetch(ctx context.Context, s *stream) (Batch, bool, error) {
	if s.v2() {
		return p.fetchV2(ctx, s)
	}
	return p.fetchV1(ctx, s)
}

func (p *Puller) fetchV2(ctx context.Context, s *stream) (Batch, bool, error) {
	now := p.duoNow(s)
	oldest := now.Add(-Retention + retentionSlack).UnixMilli()
	latest := now.Add(-p.cfg.AvailabilityLag).UnixMilli()
	cur := s.cursor
	if cur.WindowMin == 0 && cur.MinTime != 0 {
		// A cursor stored while this type was pulled from a v1 endpoint.
		cur = Cursor{WindowMin: cur.MinTime * 1000}
	}
	if cur.WindowMax != 0 && cur.WindowMin < oldest {
		// Paging has taken so long that Duo will soon not serve the
		// window's start: read on from where the offset stands.
		read := cur.Position().UnixMilli()
		from := max(read, oldest)
		if from > read {
			p.cfg.Observer.WindowClamped(s.id, time.UnixMilli(read), time.UnixMilli(from))
		}
		cur = cur.from(from)
	}
	if cur.WindowMax == 0 {
		start := cur.WindowMin
		if start == 0 {
			start = p.startMillis(now)
		}
		if start < oldest {
			p.cfg.Observer.WindowClamped(s.id, time.UnixMilli(start), time.UnixMilli(oldest))
			start = oldest
		}
		if end, ok := p.lastMillis(); ok {
			switch {
			case latest >= end:
				latest = end
			case end-latest < minWindow.Milliseconds():
				// Read the last window whole once its end is
				// available, rather than leave less than a window.
				latest = start
			}
		}
		if latest-start < minWindow.Milliseconds() && !p.finalWindow(start, latest) {
			return Batch{LogType: s.id.LogType, Endpoint: s.info.path, Cursor: cur.from(start)}, false, nil
		}
		cur = cur.from(start)
		cur.WindowMax = latest
	}
	params := url.Values{
		"mintime": {strconv.FormatInt(cur.WindowMin, 10)},
		"maxtime": {strconv.FormatInt(cur.WindowMax, 10)},
		"limit":   {strconv.Itoa(s.info.limit)},
	}
	offsetParam := "next_offset"
	if s.trustMonitor() {
		// Trust Monitor has no sort, takes its offset back as "offset"
		// and filters by event type.
		offsetParam = "offset"
		if len(p.cfg.TrustMonitorTypes) > 0 {
			params["type"] = slices.Clone(p.cfg.TrustMonitorTypes)
		}
	} else {
		params.Set("sort", "ts:asc")
	}
	if cur.NextOffset != "" {
		params.Set(offsetParam, cur.NextOffset)
	}
	body, err := s.account.client.Get(ctx, s.info.path, params)
	if err != nil {
		var apiErr *APIError
		if cur.NextOffset != "" && errors.As(err, &apiErr) && apiErr.Code == CodeInvalidParams {
			// Duo no longer accepts the offset: read the rest of the
			// window from the offset's millisecond rather than skip it.
			var skipped bool
			cur, skipped = s.resumeWithoutOffset(cur, cur.Position().UnixMilli())
			p.cfg.Observer.CursorReset(s.id, err, time.UnixMilli(cur.WindowMin), skipped)
		}
		s.cursor = cur
		return Batch{}, false, s.fetchError(err)
	}
	var page V2Page
	if s.trustMonitor() {
		page, err = ParseTrustMonitorPage(body)
	} else {
		page, err = ParseV2Page(body, s.info.itemsKey)
	}
	if err != nil {
		s.cursor = cur
		return Batch{}, false, &APIError{Endpoint: s.info.path, HTTPStatus: 200, Err: err}
	}
	batch := Batch{LogType: s.id.LogType, Endpoint: s.info.path, Events: page.Events, Remaining: s.remaining(cur, page)}
	// read is the window's progress after this page, before its offset.
	read := Cursor{WindowMin: cur.WindowMin, WindowMax: cur.WindowMax}
	advances := s.offsetAdvances
	if s.trustMonitor() {
		var dups int
		batch.Events, read, dups = pageTrustMonitor(cur, page.Events)
		if dups > 0 {
			p.cfg.Observer.BoundaryDuplicates(s.id, dups)
		}
		advances = func(cur Cursor, got string) bool {
			// An offset followed must bring an event not delivered yet:
			// one surfaced later than the position, or a new sekey of
			// its millisecond. Duo sending the same events under new
			// offsets would otherwise be paged for ever.
			progressed := read.Surfaced > cur.Surfaced || len(read.Seen) > len(cur.Seen)
			return s.trustMonitorOffsetAdvances(cur, got) && (cur.NextOffset == "" || progressed)
		}
	}
	if page.NextOffset != "" && len(page.Events) > 0 {
		if !advances(cur, page.NextOffset) {
			// Following an offset that does not move forward would read
			// the same page forever.
			from := cur.Position().UnixMilli()
			if s.trustMonitor() {
				// An opaque offset: read on from the last event delivered.
				from = read.Position().UnixMilli()
			} else if ms, ok := offsetMillis(page.NextOffset); ok {
				from = max(from, ms)
			}
			next, skipped := s.resumeWithoutOffset(read, from)
			p.cfg.Observer.OffsetStalled(s.id, cur.NextOffset, page.NextOffset, time.UnixMilli(next.WindowMin), skipped)
			batch.Cursor = next
			return batch, next.WindowMax != 0, nil
		}
		batch.Cursor = read
		batch.Cursor.NextOffset = page.NextOffset
		return batch, true, nil
	}
	batch.Cursor = Cursor{WindowMin: cur.WindowMax + 1}
	return batch, false, nil
}

// remaining works out Batch.Remaining of page, fetched at cur: Duo's
// total_objects counts the whole window, so the events of the window's
// pages are counted from its first page on.
func (s *stream) remaining(cur Cursor, page V2Page) int64 {
	if cur.NextOffset == "" {
		s.countedMin, s.countedMax, s.counted = cur.WindowMin, cur.WindowMax, 0
	}
	if s.countedMin != cur.WindowMin || s.countedMax != cur.WindowMax {
		return -1
	}
	s.counted += int64(len(page.Events))
	switch {
	case page.NextOffset == "":
		return 0
	case page.TotalObjects <= 0:
		return -1
	}
	return max(page.TotalObjects-s.counted, 0)
}

// fetchError wraps a failed request of s, adding what to do when the
// account lacks s's endpoint.
func (s *stream) fetchError(err error) error {
	if u := unavailableError(s.id.LogType, s.info, err); u != nil {
		return u
	}
	return fmt.Errorf("fetch %s page: %w", s.id.LogType, err)
}

// pageTrustMonitor works out a Trust Monitor page fetched at cur: the events
// not yet delivered, the window's progress after them (the latest
// surfaced_timestamp delivered and the sekeys delivered in that
// millisecond), and how many events were dropped as already delivered.
// Events surfacing in one millisecond may straddle pages; when a window is
// resumed from that millisecond without an offset, the sekeys drop those
// already delivered. Events without a readable surfaced_timestamp or sekey
// are delivered as they are, for the schema to reject.
func pageTrustMonitor(cur Cursor, events []json.RawMessage) (out []json.RawMessage, read Cursor, dups int) {
	read = Cursor{WindowMin: cur.WindowMin, WindowMax: cur.WindowMax, Surfaced: cur.Surfaced}
	atLast := make(map[string]bool, len(cur.Seen))
	for _, k := range cur.Seen {
		atLast[k] = true
	}
	read.Seen = slices.Clone(cur.Seen)
	for _, ev := range events {
		key, ok := ParseTrustMonitorKey(ev)
		inWindow := ok && key.Surfaced >= read.WindowMin && (read.WindowMax == 0 || key.Surfaced <= read.WindowMax)
		switch {
		case !inWindow || key.Surfaced < read.Surfaced:
			// Delivered, but not a position: unreadable, outside the
			// window Duo was asked for, or out of order.
		case key.Surfaced == read.Surfaced && atLast[key.SEKey]:
			dups++
			continue
		case key.Surfaced > read.Surfaced:
			read.Surfaced = key.Surfaced
			read.Seen = nil
			clear(atLast)
			fallthrough
		default:
			read.Seen = append(read.Seen, key.SEKey)
			atLast[key.SEKey] = true
		}
		out = append(out, ev)
	}
	if read.Surfaced < read.WindowMin {
		// Nothing readable was delivered in the window yet.
		read.Surfaced, read.Seen = read.WindowMin, nil
	}
	return out, read, dups
}

// trustMonitorOffsetAdvances reports whether got, the next_offset of a Trust
// Monitor page fetched at cur, moves paging forward: the offset is opaque, so
// it only has to differ from every offset already followed in the window.
func (s *stream) trustMonitorOffsetAdvances(cur Cursor, got string) bool {
	if s.offsetsSeen == nil || s.offsetMs != cur.WindowMin {
		s.offsetMs, s.offsetsSeen = cur.WindowMin, map[string]bool{}
	}
	if cur.NextOffset != "" {
		s.offsetsSeen[cur.NextOffset] = true
	}
	return !s.offsetsSeen[got]
}

// offsetAdvances reports whether got, the next_offset of a page fetched at
// cur, moves paging forward: to a later millisecond than cur's offset (or
// window start), or to an offset not yet followed in the same millisecond.
// Offsets whose millisecond cannot be read only have to differ from every
// offset already followed at cur's position.
func (s *stream) offsetAdvances(cur Cursor, got string) bool {
	at := cur.Position().UnixMilli()
	gotMs, ok := offsetMillis(got)
	if !ok {
		gotMs = at
	}
	if s.offsetMs != at {
		s.offsetMs, s.offsetsSeen = at, map[string]bool{}
	}
	if cur.NextOffset != "" {
		s.offsetsSeen[cur.NextOffset] = true
	}
	switch {
	case gotMs < at:
		return false
	case gotMs == at && s.offsetsSeen[got]:
		return false
	}
	return true
}

// resumeWithoutOffset returns the cursor that reads the rest of cur's window
// from millisecond ms on, without an offset: the events of that millisecond
// already delivered are delivered again. When the window was already resumed
// from that millisecond (or a later one) and still could not move on, it
// resumes one millisecond later so that the pull always moves forward, and
// reports skipped: events of the millisecond beyond those delivered may be
// missed.
func (s *stream) resumeWithoutOffset(cur Cursor, ms int64) (Cursor, bool) {
	from := max(ms, cur.WindowMin)
	skipped := false
	if s.resumedFrom != 0 && from <= s.resumedFrom {
		from = s.resumedFrom + 1
		skipped = true
	}
	s.resumedFrom = from
	s.offsetMs, s.offsetsSeen = 0, nil
	next := cur.from(from)
	if from <= cur.WindowMax {
		next.WindowMax = cur.WindowMax
	}
	return next, skipped
}

// from returns a cursor with no window end that reads on from millisecond
// ms. It keeps the Trust Monitor sekeys delivered in ms, so that the
// events of ms already delivered are not delivered again.
func (c Cursor) from(ms int64) Cursor {
	if c.Surfaced == ms && ms != 0 {
		return Cursor{WindowMin: ms, Surfaced: ms, Seen: slices.Clone(c.Seen)}
	}
	return Cursor{WindowMin: ms}
}

func (p *Puller) fetchV1(ctx context.Context, s *stream) (Batch, bool, error) {
	now := p.duoNow(s)
	oldest := now.Add(-Retention + retentionSlack).Unix()
	cur := s.cursor
	if cur.MinTime == 0 && cur.WindowMin != 0 {
		// A cursor stored while this type was pulled from a v2 endpoint.
		cur = Cursor{MinTime: cur.WindowMin / 1000, Seen: nil}
	}
	if cur.MinTime == 0 {
		// The first whole second at or after the start.
		cur.MinTime = (p.startMillis(now) + 999) / 1000
	}
	if cur.MinTime < oldest {
		p.cfg.Observer.WindowClamped(s.id, time.Unix(cur.MinTime, 0), time.Unix(oldest, 0))
		cur = Cursor{MinTime: oldest}
	}
	body, err := s.account.client.Get(ctx, s.info.path, url.Values{"mintime": {strconv.FormatInt(cur.MinTime, 10)}})
	if err != nil {
		s.cursor = cur
		return Batch{}, false, fmt.Errorf("fetch %s page: %w", s.id.LogType, err)
	}
	events, err := ParseV1Page(body)
	if err != nil {
		s.cursor = cur
		return Batch{}, false, &APIError{Endpoint: s.info.path, HTTPStatus: 200, Err: err}
	}
	// What is available is only used to sift the response, so reckon it
	// now, on Duo's clock as this very response showed it.
	available := p.duoNow(s).Add(-p.cfg.AvailabilityLag).Unix()
	if end, ok := p.lastMillis(); ok {
		available = min(available, end/1000)
	}
	next, out, dups, withheld := pageV1(cur, events, available)
	if dups > 0 {
		p.cfg.Observer.BoundaryDuplicates(s.id, dups)
	}
	full := len(events) >= PageLimit
	switch {
	case full && next.MinTime == cur.MinTime && !withheld:
		// The whole page is one second: Duo cannot page inside a second,
		// so move on past it.
		p.cfg.Observer.SecondOverflow(s.id, time.Unix(cur.MinTime, 0))
		next = Cursor{MinTime: cur.MinTime + 1}
	case len(events) == 0 && cur.MinTime < available:
		// Duo has nothing from cur.MinTime on: move on to available, so
		// that a quiet log's position keeps up with time instead of
		// falling out of Duo's retention. (Only an empty answer says so:
		// Duo may return fewer than a full page while more events exist.)
		next = Cursor{MinTime: available}
	}
	return Batch{LogType: s.id.LogType, Endpoint: s.info.path, Events: out, Cursor: next, Remaining: -1}, full && !withheld, nil
}

// pageV1 works out a v1 page fetched at cur.MinTime: the events not yet
// delivered, the cursor after them, how many boundary duplicates were
// dropped, and whether events newer than available were held back. The next
// request asks for the last second seen again, inclusively, so a second
// split across two pages loses nothing; the hashes in Seen drop the events
// of that second that were already delivered. Seen is a multiset: two
// identical events in one second are two events, and both are delivered.
func pageV1(cur Cursor, events []json.RawMessage, available int64) (next Cursor, out []json.RawMessage, dups int, withheld bool) {
	delivered := make(map[string]int, len(cur.Seen))
	for _, h := range cur.Seen {
		delivered[h]++
	}
	type kept struct {
		second int64
		hash   string
	}
	var keep []kept
	last := cur.MinTime
	for _, ev := range events {
		sec, ok := eventSecond(ev)
		if !ok || sec < cur.MinTime {
			sec = cur.MinTime
		}
		if sec > available {
			withheld = true
			continue
		}
		h := hashEvent(ev)
		if sec == cur.MinTime && delivered[h] > 0 {
			delivered[h]--
			dups++
			continue
		}
		out = append(out, ev)
		keep = append(keep, kept{sec, h})
		last = max(last, sec)
	}
	next = Cursor{MinTime: last}
	if last == cur.MinTime {
		next.Seen = slices.Clone(cur.Seen)
	}
	for _, k := range keep {
		if k.second == last {
			next.Seen = append(next.Seen, k.hash)
		}
	}
	return next, out, dups, withheld
}

// hashEvent identifies a v1 event, which has no ID of its own, by its
// content.
func hashEvent(ev json.RawMessage) string {
	sum := sha256.Sum256(ev)
	return hex.EncodeToString(sum[:16])
}

func cursorEqual(a, b Cursor) bool {
	return a.WindowMin == b.WindowMin && a.WindowMax == b.WindowMax && a.NextOffset == b.NextOffset &&
		a.MinTime == b.MinTime && a.Surfaced == b.Surfaced && slices.Equal(a.Seen, b.Seen)
}
