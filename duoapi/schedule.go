// Copyright 2026 The duostream authors. Licensed under the MIT licence.

package duoapi

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"
)

// DefaultAccountsInFlight is how many requests a Puller made by
// NewAccountsPuller keeps in flight at most, each for a different child
// account, unless PullerConfig.MaxInFlight says otherwise.
const DefaultAccountsInFlight = 8

// MinRefreshInterval is the shortest AccountsConfig.RefreshInterval.
const MinRefreshInterval = time.Second

// errNotOwned stops a request of a stream this process no longer owns
// (PullerConfig.Ownership) before it is sent.
var errNotOwned = errors.New("the stream is owned by another process now")

// ErrWindowRead is returned by Next once a pull bounded by
// PullerConfig.EndTime has read every stream to its end.
var ErrWindowRead = errors.New("every stream has been read to the end time")

// Stream names what one cursor reads: a log type of one account.
type Stream struct {
	// Account is the child account; its ID is empty for the account whose
	// credentials the client holds (a Puller made by NewPuller).
	Account Account
	LogType LogType
}

// StreamKey identifies a stream whatever its account's name.
type StreamKey struct {
	AccountID string
	LogType   LogType
}

// Key returns s's identity.
func (s Stream) Key() StreamKey { return StreamKey{AccountID: s.Account.ID, LogType: s.LogType} }

// String names s for log lines: "authentication", or, for a child account,
// `authentication of account DA9VZOC5X63I2W72NRP9 ("Acme")`.
func (s Stream) String() string {
	if s.Account.ID == "" {
		return string(s.LogType)
	}
	if s.Account.Name == "" {
		return fmt.Sprintf("%s of account %s", s.LogType, s.Account.ID)
	}
	return fmt.Sprintf("%s of account %s (%q)", s.LogType, s.Account.ID, s.Account.Name)
}

// AccountsConfig configures the child accounts a Puller made by
// NewAccountsPuller pulls.
type AccountsConfig struct {
	// Include, when not empty, pulls only the children whose ID or exact
	// name it lists.
	Include []string
	// Exclude skips the children whose ID or exact name it lists, also
	// when Include lists them.
	Exclude []string
	// RefreshInterval is how often the child list is read again (default
	// 1h, at least MinRefreshInterval). Children that appear start at
	// their stored cursor, or InitialLookback ago; children that
	// disappear stop, and so do their streams' requests.
	RefreshInterval time.Duration
	// Start returns where a stream of a newly listed child starts: its
	// stored cursor, or the zero Cursor when none is stored. An error
	// leaves the child out until the list is read again, soon.
	Start func(ctx context.Context, s Stream) (Cursor, error)
}

// AccountsRefresh is what one read of the child list found.
type AccountsRefresh struct {
	// Listed is how many children the parent has.
	Listed int
	// Pulled are the children pulled from now on: those listed, included
	// and not excluded, whose streams could start.
	Pulled []Account
	// Added and Removed are the children pulled since, and no longer
	// pulled since, this refresh.
	Added, Removed []Account
	// Unmatched are the Include and Exclude entries that name no listed
	// child.
	Unmatched []string
	// Failed are the children whose streams could not start (Start
	// failed); they are tried again at the next refresh, which comes soon.
	Failed map[string]error
}

// account is one account a Puller pulls, with its streams in turn order.
type account struct {
	info    Account
	client  *Client
	streams []*stream
	turn    int
	// busy is set while a request of the account is in flight: Duo limits
	// each account, so its requests go one at a time.
	busy bool
	// pulled is false once the child left the list (or was filtered out).
	pulled bool
	// unreachable is set when the child refused a request with 403 (a
	// cross-deployment sub-account); no request is made for it until the
	// list is read again.
	unreachable bool
	// reported is set once the account was reported unreachable, until a
	// request of it succeeds (which is reported too).
	reported bool
	// answered is set once a request of the account succeeded, and
	// cleared when it is found unreachable: until then a 403 for a log
	// type some editions lack says nothing, as the account itself may be
	// unreachable, so its log types every account has go first.
	answered bool
}

// discovery is the child-list state of a Puller made by NewAccountsPuller.
type discovery struct {
	parent   *Client
	cfg      AccountsConfig
	next     time.Time
	failures int
	listed   bool // the list has been read once
	// unstarted counts the refreshes in a row that left a selected child
	// out because its streams could not start; while it is not 0 a
	// bounded pull has not read everything.
	unstarted int
}

// fetchResult is what a fetch running in its own goroutine returns.
type fetchResult struct {
	s      *stream
	batch  Batch
	more   bool
	err    error
	ctxErr error
}

// Puller pulls pages of several streams in turns, so a long backfill of one
// does not starve the others: accounts take turns, and the log types of an
// account take turns within its turns. It keeps each stream's read position
// in memory; storing positions durably is the caller's job. It is not safe
// for concurrent use.
type Puller struct {
	cfg       PullerConfig
	accounts  []*account // in the order they were first listed
	byID      map[string]*account
	pulled    []*account // the accounts taking turns now
	turn      int
	discovery *discovery // nil for a Puller made by NewPuller

	inFlight int
	done     chan fetchResult
}

func newPuller(cfg PullerConfig, defaultInFlight int) (*Puller, error) {
	cfg.setDefaults()
	if cfg.MaxInFlight == 0 {
		cfg.MaxInFlight = defaultInFlight
	}
	switch {
	case cfg.InitialLookback > MaxLookback:
		return nil, fmt.Errorf("initial lookback %s is longer than the %s Duo serves", cfg.InitialLookback, MaxLookback)
	case cfg.PollInterval < minWindow:
		return nil, fmt.Errorf("poll interval %s is shorter than %s", cfg.PollInterval, minWindow)
	case cfg.MaxInFlight < 0:
		return nil, fmt.Errorf("requests in flight must be positive, got %d", cfg.MaxInFlight)
	case !cfg.EndTime.IsZero() && cfg.Ownership != nil:
		return nil, errors.New("a pull bounded by an end time reads every stream itself: it cannot share them with other processes")
	case !cfg.EndTime.IsZero() && !cfg.StartTime.IsZero() && cfg.EndTime.Sub(cfg.StartTime) < minWindow:
		return nil, fmt.Errorf("end time %s is less than %s after start time %s", cfg.EndTime.Format(time.RFC3339Nano), minWindow, cfg.StartTime.Format(time.RFC3339Nano))
	}
	seen := map[LogType]bool{}
	for _, t := range cfg.LogTypes {
		if seen[t] {
			return nil, fmt.Errorf("log type %q is listed twice", t)
		}
		seen[t] = true
		if _, ok := logTypes[t]; !ok {
			return nil, fmt.Errorf("unknown log type %q", t)
		}
	}
	return &Puller{cfg: cfg, byID: map[string]*account{}, done: make(chan fetchResult, cfg.MaxInFlight)}, nil
}

// NewPuller returns a Puller of the account whose credentials client holds,
// which starts each log type at its cursor in start (a missing or zero
// cursor starts InitialLookback ago).
func NewPuller(client *Client, cfg PullerConfig, start map[LogType]Cursor) (*Puller, error) {
	p, err := newPuller(cfg, 1)
	if err != nil {
		return nil, err
	}
	a := p.newAccount(Account{}, client, start)
	p.accounts, p.pulled = []*account{a}, []*account{a}
	return p, nil
}

// NewAccountsPuller returns a Puller of every child account of the parent
// whose Accounts API credentials parent holds, as ListChildAccounts lists
// them and cfg selects. The list is read at the first Next and again every
// RefreshInterval; each child's requests go through its own client
// (ForAccount), with its own budget, one at a time, and up to
// cfg.MaxInFlight children's at once. A child that refuses a request of a
// log type every account has with 403 (Duo's cross-deployment sub-accounts
// do) is reported once to the Observer and left alone until the list is
// read again; every other failure backs off only the stream that met it.
func NewAccountsPuller(parent *Client, cfg PullerConfig, accounts AccountsConfig) (*Puller, error) {
	if accounts.RefreshInterval == 0 {
		accounts.RefreshInterval = time.Hour
	}
	if accounts.RefreshInterval < MinRefreshInterval {
		return nil, fmt.Errorf("account refresh interval %s is shorter than %s", accounts.RefreshInterval, MinRefreshInterval)
	}
	if accounts.Start == nil {
		return nil, errors.New("accounts: Start is nil")
	}
	if parent.account.ID != "" {
		return nil, fmt.Errorf("account %s: list child accounts with the parent's client", parent.account.ID)
	}
	p, err := newPuller(cfg, DefaultAccountsInFlight)
	if err != nil {
		return nil, err
	}
	p.discovery = &discovery{parent: parent, cfg: accounts}
	return p, nil
}

func (p *Puller) newAccount(info Account, client *Client, start map[LogType]Cursor) *account {
	a := &account{info: info, client: client, pulled: true}
	for _, t := range p.cfg.LogTypes {
		ti := infoOf(t, p.cfg.TelephonyV1)
		a.streams = append(a.streams, &stream{id: Stream{Account: info, LogType: t}, account: a, info: ti, cursor: start[t]})
	}
	return a
}

// Next fetches the next page of the next stream that is due, waiting when
// every stream has caught up or is backing off. Failed requests are retried
// with backoff and reported to the Observer; Next returns an error only
// when ctx ends. A batch may hold no events when only the position moved.
// Pages of one stream come in the order they were read.
func (p *Puller) Next(ctx context.Context) (Batch, error) {
	for {
		if err := ctx.Err(); err != nil {
			return Batch{}, err
		}
		if p.inFlight == 0 && p.allDone() {
			return Batch{}, ErrWindowRead
		}
		select {
		case r := <-p.done:
			if b, ok := p.finish(r); ok {
				return b, nil
			}
			continue
		default:
		}
		now := p.cfg.Now()
		if p.discovery != nil && !p.discovery.next.After(now) {
			p.refresh(ctx)
			continue
		}
		for p.inFlight < p.cfg.MaxInFlight {
			s := p.nextDue(now)
			if s == nil {
				break
			}
			p.launch(ctx, s)
		}
		wait := p.untilDue(now)
		t := time.NewTimer(wait)
		select {
		case r := <-p.done:
			t.Stop()
			if b, ok := p.finish(r); ok {
				return b, nil
			}
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return Batch{}, ctx.Err()
		}
	}
}

// launch fetches the next page of s in a goroutine of its own, which hands
// its result to Next through p.done; until then only it touches s. At the
// start of a tenure of s (Ownership), the goroutine first resumes s from
// where its last owner stored it.
func (p *Puller) launch(ctx context.Context, s *stream) {
	s.inFlight, s.account.busy = true, true
	p.inFlight++
	tenure, _ := p.owned(s)
	go func() {
		fetchCtx := ctx
		if p.cfg.Ownership != nil {
			// The budget may hold the request back past the lease: check
			// again right before each request goes out.
			fetchCtx = withSendCheck(ctx, func() error {
				if now, ok := p.cfg.Ownership.Owns(s.id); !ok || now != tenure {
					return errNotOwned
				}
				return nil
			})
		}
		if tenure != s.tenure {
			c, err := p.cfg.Ownership.Resume(ctx, s.id)
			if err != nil {
				p.done <- fetchResult{s: s, err: fmt.Errorf("resume %s logs: %w", s.id, err), ctxErr: ctx.Err()}
				return
			}
			s.resume(c, tenure)
		}
		b, more, err := p.fetch(fetchCtx, s)
		p.done <- fetchResult{s: s, batch: b, more: more, err: err, ctxErr: ctx.Err()}
	}()
}

// finish takes the result of a fetch into its stream and returns the batch
// to deliver, if there is one.
func (p *Puller) finish(r fetchResult) (Batch, bool) {
	s := r.s
	s.inFlight, s.account.busy = false, false
	p.inFlight--
	if errors.Is(r.err, errNotOwned) {
		// Lost while waiting to send: nothing was asked of Duo.
		return Batch{}, false
	}
	if tenure, owned := p.owned(s); r.err == nil && (!owned || tenure != s.tenure) {
		// Lost while the page was read: the next owner reads it again,
		// from the cursor stored before.
		return Batch{}, false
	}
	if r.err != nil {
		if r.ctxErr != nil {
			// Cut short by the end of Next's context: try again at once
			// when asked again.
			return Batch{}, false
		}
		if s.unreachable(r.err) {
			// Left alone until the list is read again, so this is
			// reported once per refresh interval.
			a := s.account
			a.unreachable, a.reported, a.answered = true, true, false
			p.cfg.Observer.AccountUnreachable(a.info, r.err)
			if p.bounded() {
				for _, s := range a.streams {
					p.giveUp(s, r.err)
				}
			}
			return Batch{}, false
		}
		var unavailable *UnavailableError
		isUnavailable := errors.As(r.err, &unavailable)
		if a := s.account; isUnavailable && s.id.Account.ID != "" && a.hasCoreStream() && (!a.answered || !s.forbidden) {
			// Not known whether the child lacks the log type or cannot
			// be reached at all (not answered yet, or removed since):
			// try again, quietly, once a log type every account has has
			// answered; a second 403 in a row is taken at its word.
			s.forbidden, a.answered = true, false
			s.due = p.cfg.Now().Add(p.cfg.ErrorBackoff.Delay(1, p.cfg.Rand()))
			return Batch{}, false
		}
		if p.bounded() && isUnavailable {
			p.giveUp(s, r.err)
			return Batch{}, false
		}
		s.failures++
		wait := p.backoffFor(r.err).Delay(s.failures, p.cfg.Rand())
		s.due = p.cfg.Now().Add(wait)
		p.cfg.Observer.Retry(s.id, r.err, wait)
		return Batch{}, false
	}
	s.account.answered, s.forbidden = true, false
	if a := s.account; a.reported {
		a.reported = false
		p.cfg.Observer.AccountReachable(a.info)
	}
	before := s.cursor
	s.failures = 0
	s.cursor = r.batch.Cursor
	switch {
	case r.more, p.bounded() && !s.v2() && len(r.batch.Events) > 0:
		// More pages, or, in a bounded pull, a v1 page that may be
		// short of what Duo holds (only an answer with nothing new
		// ends a v1 log): ask again at once.
		s.due = time.Time{}
	case p.reachedEnd(s, len(r.batch.Events)):
		s.done = true
	default:
		s.due = p.caughtUpUntil(s)
	}
	if len(r.batch.Events) == 0 && cursorEqual(before, s.cursor) {
		return Batch{}, false
	}
	b := r.batch
	b.Account = s.account.info
	b.Tenure = s.tenure
	return b, true
}

// owned reports whether this process may pull s now (always, without
// Ownership), and the tenure it would pull it under.
func (p *Puller) owned(s *stream) (tenure string, ok bool) {
	if p.cfg.Ownership == nil {
		return s.tenure, true
	}
	return p.cfg.Ownership.Owns(s.id)
}

// unreachable reports whether err, met by s, says that s's child account
// cannot be reached at all: a 403 for a log type every account has.
// (A 403 for activity or Trust Monitor may only mean the edition lacks it.)
func (s *stream) unreachable(err error) bool {
	var apiErr *APIError
	return s.id.Account.ID != "" && s.info.unavailable == "" &&
		errors.As(err, &apiErr) && apiErr.HTTPStatus == 403
}

// bounded reports whether the pull ends at PullerConfig.EndTime.
func (p *Puller) bounded() bool { return !p.cfg.EndTime.IsZero() }

// giveUp ends a bounded pull's stream s, which cannot be read.
func (p *Puller) giveUp(s *stream, err error) {
	if !s.done {
		s.done = true
		p.cfg.Observer.StreamGivenUp(s.id, err)
	}
}

// allDone reports whether a bounded pull has read every stream to its end:
// those of every account pulled, once the child list has been read.
func (p *Puller) allDone() bool {
	if !p.bounded() || p.discovery != nil && (!p.discovery.listed || p.discovery.unstarted > 0) {
		return false
	}
	for _, a := range p.pulled {
		for _, s := range a.streams {
			if !s.done {
				return false
			}
		}
	}
	return true
}

func (p *Puller) backoffFor(err error) Backoff {
	switch Classify(err) {
	case FailureRateLimited:
		return p.cfg.RateLimitBackoff
	case FailureNeedsAction:
		return p.cfg.ConfigErrorBackoff
	}
	return p.cfg.ErrorBackoff
}

// nextDue returns the next stream due at now of the first account, from the
// one after the last served, that may send a request now, or nil.
func (p *Puller) nextDue(now time.Time) *stream {
	n := len(p.pulled)
	for i := range n {
		a := p.pulled[(p.turn+i)%n]
		if !a.ready() {
			continue
		}
		if s := a.nextDue(now, p.owned); s != nil {
			p.turn = (p.turn + i + 1) % n
			return s
		}
	}
	return nil
}

// ready reports whether a may send a request now: none of its is in
// flight, it is not left alone as unreachable, and its budget allows one.
func (a *account) ready() bool {
	return !a.busy && !a.unreachable && a.client.budget.readyIn() <= 0
}

// hasCoreStream reports whether a still pulls a log type every account
// has, whose answer tells whether a can be reached.
func (a *account) hasCoreStream() bool {
	return slices.ContainsFunc(a.streams, func(s *stream) bool { return s.info.unavailable == "" && !s.done })
}

// nextDue returns the first of a's streams, from the one after the last
// served, that is due at now and owned, or nil. Until a child account has
// answered, its log types every account has come first.
func (a *account) nextDue(now time.Time, owned func(*stream) (string, bool)) *stream {
	n := len(a.streams)
	for _, coreFirst := range []bool{a.info.ID != "" && !a.answered, false} {
		for i := range n {
			s := a.streams[(a.turn+i)%n]
			if s.done || s.due.After(now) || coreFirst && s.info.unavailable != "" {
				continue
			}
			if _, ok := owned(s); ok {
				a.turn = (a.turn + i + 1) % n
				return s
			}
		}
	}
	return nil
}

// untilDue returns how long Next may wait before something can be done
// that a finished fetch would not announce: a stream falling due, an
// account's budget allowing a request, the child list to read again. It is
// at most a second, so that a clock that is not the wall clock (in tests)
// is followed.
func (p *Puller) untilDue(now time.Time) time.Duration {
	d := time.Second
	if p.discovery != nil {
		d = min(d, p.discovery.next.Sub(now))
	}
	if p.inFlight >= p.cfg.MaxInFlight {
		return max(d, 0)
	}
	for _, a := range p.pulled {
		if a.busy || a.unreachable {
			continue
		}
		ready := a.client.budget.readyIn()
		for _, s := range a.streams {
			if _, owned := p.owned(s); !s.done && owned {
				d = min(d, max(s.due.Sub(now), ready))
			}
		}
	}
	return max(d, 0)
}

// refresh reads the child list and updates the accounts taking turns.
func (p *Puller) refresh(ctx context.Context) {
	d := p.discovery
	listed, err := d.parent.ListChildAccounts(ctx)
	now := p.cfg.Now()
	if err != nil {
		if ctx.Err() != nil {
			return
		}
		d.failures++
		wait := p.backoffFor(err).Delay(d.failures, p.cfg.Rand())
		d.next = now.Add(wait)
		p.cfg.Observer.AccountsListFailed(err, wait)
		return
	}
	d.failures = 0
	d.next = now.Add(d.cfg.RefreshInterval)
	d.listed = true
	r := AccountsRefresh{Listed: len(listed)}
	selected, unmatched := d.cfg.selectAccounts(listed)
	r.Unmatched = unmatched
	keep := make(map[string]bool, len(selected))
	for _, info := range selected {
		a, known := p.byID[info.ID]
		if !known {
			var err error
			if a, err = p.startAccount(ctx, info); err != nil {
				if ctx.Err() != nil {
					return
				}
				if r.Failed == nil {
					r.Failed = map[string]error{}
				}
				r.Failed[info.ID] = err
				continue
			}
			p.accounts = append(p.accounts, a)
			p.byID[info.ID] = a
			a.pulled = false
		}
		keep[info.ID] = true
		// Names may change; a child's hostname never does, Duo says.
		a.info.Name = info.Name
		a.unreachable = false
		if !a.pulled {
			a.pulled = true
			r.Added = append(r.Added, a.info)
		}
	}
	if len(r.Failed) > 0 {
		// Try those children again soon, backing off while it lasts.
		d.unstarted++
		d.next = now.Add(p.cfg.ErrorBackoff.Delay(d.unstarted, p.cfg.Rand()))
	} else {
		d.unstarted = 0
	}
	p.pulled = p.pulled[:0]
	for _, a := range p.accounts {
		if a.pulled && !keep[a.info.ID] {
			a.pulled = false
			r.Removed = append(r.Removed, a.info)
		}
		if a.pulled {
			p.pulled = append(p.pulled, a)
			r.Pulled = append(r.Pulled, a.info)
		}
	}
	if n := len(p.pulled); n > 0 {
		p.turn %= n
	}
	p.cfg.Observer.AccountsRefreshed(r)
}

// startAccount makes the account of a newly listed child, its streams
// starting where cfg.Start says.
func (p *Puller) startAccount(ctx context.Context, info Account) (*account, error) {
	d := p.discovery
	client, err := d.parent.ForAccount(info)
	if err != nil {
		return nil, err
	}
	start := make(map[LogType]Cursor, len(p.cfg.LogTypes))
	for _, t := range p.cfg.LogTypes {
		c, err := d.cfg.Start(ctx, Stream{Account: info, LogType: t})
		if err != nil {
			return nil, fmt.Errorf("start %s logs: %w", t, err)
		}
		start[t] = c
	}
	return p.newAccount(info, client, start), nil
}

// selectAccounts returns the listed children that Include and Exclude
// select, in list order, and the entries of either that name none.
func (c AccountsConfig) selectAccounts(listed []Account) (selected []Account, unmatched []string) {
	matches := func(names []string, a Account) bool {
		return slices.Contains(names, a.ID) || slices.Contains(names, a.Name)
	}
	for _, a := range listed {
		if (len(c.Include) == 0 || matches(c.Include, a)) && !matches(c.Exclude, a) {
			selected = append(selected, a)
		}
	}
	for _, name := range slices.Concat(c.Include, c.Exclude) {
		if !slices.ContainsFunc(listed, func(a Account) bool { return a.ID == name || a.Name == name }) && !slices.Contains(unmatched, name) {
			unmatched = append(unmatched, name)
		}
	}
	return selected, unmatched
}
