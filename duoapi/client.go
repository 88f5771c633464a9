// Copyright 2026 The duostream authors. Licensed under the MIT licence.

package duoapi

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Observer receives what the client and the puller do, for metrics and logs.
// Its methods are called synchronously and must be cheap and safe for
// concurrent use.
type Observer interface {
	// Request is called after every HTTP attempt with the endpoint path,
	// the outcome ("200", "429", "500", "network_error", "timeout",
	// "bad_body", ...) and how long the attempt took.
	Request(endpoint, outcome string, elapsed time.Duration)
	// Retry is called when a page of s could not be fetched and will be
	// tried again after wait. err is an *APIError.
	Retry(s Stream, err error, wait time.Duration)
	// BoundaryDuplicates is called when n events of s were dropped because
	// they had already been delivered from the boundary second of a v1
	// endpoint.
	BoundaryDuplicates(s Stream, n int)
	// SecondOverflow is called when a v1 page of s held 1000 or more events
	// all in one second, so events of that second beyond the page cannot be
	// fetched: Duo's v1 endpoints page by whole seconds.
	SecondOverflow(s Stream, second time.Time)
	// WindowClamped is called when s's position (stored, or where its
	// paging stands) is older than the 180 days Duo still serves and the
	// puller had to skip to from.
	WindowClamped(s Stream, stored, from time.Time)
	// CursorReset is called when Duo rejected s's paging offset and the
	// puller reads on from resume without it; skipped as for OffsetStalled.
	CursorReset(s Stream, err error, resume time.Time, skipped bool)
	// OffsetStalled is called when a page of s came back with a next_offset
	// that does not move forward (sent, then got), and the puller reads on
	// from resume instead of following it. skipped is true when the
	// millisecond before resume could not be read to its end.
	OffsetStalled(s Stream, sent, got string, resume time.Time, skipped bool)
	// StreamGivenUp is called when a pull bounded by PullerConfig.EndTime
	// gives up s, which cannot be read (err says why), so that the pull
	// can end.
	StreamGivenUp(s Stream, err error)
	// AccountsRefreshed is called after every read of the child account
	// list by a Puller made by NewAccountsPuller.
	AccountsRefreshed(r AccountsRefresh)
	// AccountsListFailed is called when the child account list could not
	// be read; it is read again after wait, while the children already
	// listed go on.
	AccountsListFailed(err error, wait time.Duration)
	// AccountUnreachable is called when child account a refused a request
	// with 403, as Duo's cross-deployment sub-accounts do; no request is
	// made for a until the list is read again, so this comes at most once
	// per refresh interval. err is an *APIError.
	AccountUnreachable(a Account, err error)
	// AccountReachable is called when a request of a child account that
	// was reported unreachable succeeded.
	AccountReachable(a Account)
	// ClockSkew is called after every response that carried a Date header,
	// with how far Duo's clock is ahead of this machine's (negative when it
	// is behind), to the second.
	ClockSkew(skew time.Duration)
}

// NopObserver is an Observer that ignores everything.
type NopObserver struct{}

// Request implements Observer.
func (NopObserver) Request(string, string, time.Duration) {}

// Retry implements Observer.
func (NopObserver) Retry(Stream, error, time.Duration) {}

// BoundaryDuplicates implements Observer.
func (NopObserver) BoundaryDuplicates(Stream, int) {}

// SecondOverflow implements Observer.
func (NopObserver) SecondOverflow(Stream, time.Time) {}

// WindowClamped implements Observer.
func (NopObserver) WindowClamped(Stream, time.Time, time.Time) {}

// CursorReset implements Observer.
func (NopObserver) CursorReset(Stream, error, time.Time, bool) {}

// OffsetStalled implements Observer.
func (NopObserver) OffsetStalled(Stream, string, string, time.Time, bool) {}

// StreamGivenUp implements Observer.
func (NopObserver) StreamGivenUp(Stream, error) {}

// AccountsRefreshed implements Observer.
func (NopObserver) AccountsRefreshed(AccountsRefresh) {}

// AccountsListFailed implements Observer.
func (NopObserver) AccountsListFailed(error, time.Duration) {}

// AccountUnreachable implements Observer.
func (NopObserver) AccountUnreachable(Account, error) {}

// AccountReachable implements Observer.
func (NopObserver) AccountReachable(Account) {}

// ClockSkew implements Observer.
func (NopObserver) ClockSkew(time.Duration) {}

// ClientConfig configures a Client.
type ClientConfig struct {
	// APIHostname is the account's API hostname, api-XXXXXXXX.duosecurity.com.
	// Signatures always cover it, wherever requests are sent.
	APIHostname string
	// IntegrationKey and SecretKey are the Admin API application's
	// credentials. The secret key is only ever used to sign.
	IntegrationKey string
	SecretKey      string
	// BaseURL is where requests go; empty means https://<APIHostname>.
	BaseURL string
	// SignatureVersion defaults to SignatureV2 (HMAC-SHA512).
	SignatureVersion SignatureVersion
	// HTTPClient sends the requests; nil means a client with a 30s timeout.
	HTTPClient *http.Client
	// RequestsPerMinute is the client-side request budget shared by every
	// request of this client; 0 means 30. A client made by ForAccount has a
	// budget of its own of the same size.
	RequestsPerMinute int
	// SharedLimit, when not nil, caps the requests of every client that
	// holds it, on top of each one's own budget. The clients ForAccount
	// makes share their parent's, so one limiter caps all the accounts
	// reached with one set of credentials.
	SharedLimit *RequestLimiter
	// MaxBodyBytes bounds a response body; 0 means 64 MiB.
	MaxBodyBytes int64
	// Now is the clock used to date requests; nil means time.Now.
	Now func() time.Time
	// Observer is told about every request; nil means NopObserver.
	Observer Observer
	// UserAgent is sent with every request; empty means "duostream".
	// Replicas sharing streams send their instance in it, so that Duo's
	// side can tell them apart.
	UserAgent string
}

// Client signs and sends Duo Admin API requests, one attempt per call, within
// a request budget. It is safe for concurrent use. Retrying is the caller's
// decision: every error is an *APIError that says whether it is retryable.
type Client struct {
	cfg     ClientConfig
	base    *url.URL
	budget  *budget
	obs     Observer
	http    *http.Client
	now     func() time.Time
	maxBody int64
	// account is the child account that ForAccount made this client for;
	// its ID is empty for a client of its credentials' own account.
	account Account

	// skewNanos is the last clock skew measured from a Date header
	// (Duo's clock minus ours), valid once skewKnown is set.
	skewNanos atomic.Int64
	skewKnown atomic.Bool
}

// NewClient checks cfg and returns a Client.
func NewClient(cfg ClientConfig) (*Client, error) {
	if cfg.APIHostname == "" {
		return nil, errors.New("api_hostname is empty")
	}
	if cfg.IntegrationKey == "" {
		return nil, errors.New("integration_key is empty")
	}
	if cfg.SecretKey == "" {
		return nil, errors.New("secret_key is empty")
	}
	if cfg.SignatureVersion == 0 {
		cfg.SignatureVersion = SignatureV2
	}
	if cfg.UserAgent == "" {
		cfg.UserAgent = "duostream"
	}
	switch cfg.SignatureVersion {
	case SignatureV2, SignatureV2SHA1, SignatureV5:
	default:
		return nil, fmt.Errorf("signature version %d is not supported: use 2 or 5", cfg.SignatureVersion)
	}
	base := cfg.BaseURL
	if base == "" {
		base = "https://" + cfg.APIHostname
	}
	u, err := url.Parse(base)
	if err != nil {
		return nil, fmt.Errorf("parse base_url: %w", err)
	}
	if u.Scheme != "https" && u.Scheme != "http" || u.Host == "" {
		return nil, fmt.Errorf("base_url %q must be an absolute http or https URL", base)
	}
	if cfg.RequestsPerMinute < 0 {
		return nil, fmt.Errorf("requests per minute must be positive, got %d", cfg.RequestsPerMinute)
	}
	if cfg.RequestsPerMinute == 0 {
		cfg.RequestsPerMinute = 30
	}
	c := &Client{
		cfg:     cfg,
		base:    u,
		budget:  newBudget(time.Minute / time.Duration(cfg.RequestsPerMinute)),
		obs:     cfg.Observer,
		http:    cfg.HTTPClient,
		now:     cfg.Now,
		maxBody: cfg.MaxBodyBytes,
	}
	if c.obs == nil {
		c.obs = NopObserver{}
	}
	if c.http == nil {
		c.http = &http.Client{Timeout: 30 * time.Second}
	}
	if c.now == nil {
		c.now = time.Now
	}
	if c.maxBody <= 0 {
		c.maxBody = 64 << 20
	}
	return c, nil
}

// Get sends one signed GET of path with params, waiting first for the
// request budget, and returns the body of a successful ("stat": "OK")
// response. A client made by ForAccount adds its account's account_id to
// the parameters it signs and sends; params itself is left as it is.
func (c *Client) Get(ctx context.Context, path string, params url.Values) ([]byte, error) {
	if c.account.ID != "" {
		params = maps.Clone(params)
		if params == nil {
			params = url.Values{}
		}
		params.Set("account_id", c.account.ID)
	}
	return c.do(ctx, http.MethodGet, path, params)
}

// sendCheckKey is the context key of withSendCheck.
type sendCheckKey struct{}

// withSendCheck returns a context whose requests call check after waiting
// for the request budget, just before they are sent: a request whose check
// fails is not sent, and returns the check's error. The Puller checks this
// way that it still owns a stream shared with other processes, which the
// wait may have outlasted.
func withSendCheck(ctx context.Context, check func() error) context.Context {
	return context.WithValue(ctx, sendCheckKey{}, check)
}

// do makes one attempt at a request within the budget and tells the
// Observer about it. A POST carries no parameters (see send).
func (c *Client) do(ctx context.Context, method, path string, params url.Values) ([]byte, error) {
	if err := c.budget.wait(ctx, c.cfg.SharedLimit); err != nil {
		return nil, err
	}
	if check, ok := ctx.Value(sendCheckKey{}).(func() error); ok {
		if err := check(); err != nil {
			return nil, err
		}
	}
	start := time.Now()
	body, err := c.send(ctx, method, path, params)
	outcome := "200"
	var apiErr *APIError
	if errors.As(err, &apiErr) {
		outcome = outcomeOf(apiErr)
		if apiErr.RateLimited() {
			// Duo's limits are per integration: hold back every request of
			// this client, not only the one that was refused.
			c.budget.holdFor(c.budget.interval * 2)
		}
	}
	c.obs.Request(path, outcome, time.Since(start))
	return body, err
}

func outcomeOf(e *APIError) string {
	switch {
	case e.HTTPStatus == 200:
		return "bad_body"
	case e.HTTPStatus != 0:
		return strconv.Itoa(e.HTTPStatus)
	case isTimeout(e.Err):
		return "timeout"
	default:
		return "network_error"
	}
}

func isTimeout(err error) bool {
	if errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	var t interface{ Timeout() bool }
	return errors.As(err, &t) && t.Timeout()
}

// apiError starts the error of a request of this client.
func (c *Client) apiError(method, path string) *APIError {
	return &APIError{Method: method, Endpoint: path, Account: c.account.ID, AccountName: c.account.Name}
}

// send signs and sends one request. A GET sends params as its query; a POST
// sends no parameters, in the empty body its signature version signs (see
// emptyPostBody).
func (c *Client) send(ctx context.Context, method, path string, params url.Values) ([]byte, error) {
	apiErr := func(status int, err error) *APIError {
		e := c.apiError(method, path)
		e.HTTPStatus, e.Err = status, err
		return e
	}
	date := FormatDate(c.now())
	signed := Request{Date: date, Method: method, Host: c.cfg.APIHostname, Path: path, Params: params}
	u := *c.base
	u.Path = strings.TrimSuffix(u.Path, "/") + path
	var body io.Reader
	var contentType string
	if method == http.MethodGet {
		u.RawQuery = CanonicalParams(params)
	} else {
		signed.Body, contentType = emptyPostBody(c.cfg.SignatureVersion)
		body = bytes.NewReader(signed.Body)
	}
	auth, err := Authorization(c.cfg.SignatureVersion, c.cfg.IntegrationKey, c.cfg.SecretKey, signed)
	if err != nil {
		return nil, apiErr(0, err)
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), body)
	if err != nil {
		return nil, apiErr(0, err)
	}
	req.Header.Set("Date", date)
	req.Header.Set("Authorization", auth)
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", c.cfg.UserAgent)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	// One call, one request: net/http silently sends a GET again when a
	// reused keep-alive connection closes without a response, which would
	// escape the request budget, the metrics and the backoff. A fresh
	// connection per request is cheap at the rates Duo allows.
	req.Close = true
	resp, err := c.http.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, apiErr(0, scrubURLError(err))
	}
	defer resp.Body.Close()
	skew, skewOK := c.measureSkew(resp.Header.Get("Date"))
	respBody, err := io.ReadAll(io.LimitReader(resp.Body, c.maxBody+1))
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, apiErr(resp.StatusCode, fmt.Errorf("read response body: %w", err))
	}
	if int64(len(respBody)) > c.maxBody {
		return nil, apiErr(resp.StatusCode, fmt.Errorf("response body larger than %d bytes", c.maxBody))
	}
	stat, err := parseStat(respBody)
	if err != nil {
		if resp.StatusCode == http.StatusOK {
			return nil, apiErr(resp.StatusCode, fmt.Errorf("decode response body: %w", err))
		}
		return nil, apiErr(resp.StatusCode, fmt.Errorf("response is not a Duo JSON body: %w", err))
	}
	if resp.StatusCode == http.StatusOK && stat.Stat == "OK" {
		return respBody, nil
	}
	e := apiErr(resp.StatusCode, nil)
	e.Code, e.Message, e.Detail = stat.code(), stat.Message, stat.Detail
	if resp.StatusCode == http.StatusOK && e.Code >= 10000 {
		// "stat": "FAIL" under a 200: the code carries the real status.
		e.HTTPStatus = e.Code / 100
	}
	if e.Code == CodeBadTimestamp && skewOK {
		e.ClockSkew = skew.Round(time.Second)
	}
	return nil, e
}

// emptyPostBody returns the body, and its content type, of a POST without
// parameters as signature version v signs it: v5 hashes a JSON body, so it
// is an empty JSON object, as Duo's Python client sends; v2 signs form
// parameters, so it is an empty form.
func emptyPostBody(v SignatureVersion) ([]byte, string) {
	if v == SignatureV5 {
		return []byte("{}"), "application/json"
	}
	return nil, "application/x-www-form-urlencoded"
}

// measureSkew reads Duo's clock from a response's Date header and keeps how
// far it is ahead of this machine's. Date has whole seconds and is stamped
// before the response arrives, so the measure errs on the side of Duo's clock
// being behind: windows reckoned from it never reach past what Duo serves.
func (c *Client) measureSkew(date string) (time.Duration, bool) {
	if date == "" {
		return 0, false
	}
	d, err := http.ParseTime(date)
	if err != nil {
		return 0, false
	}
	skew := d.Sub(c.now())
	c.skewNanos.Store(int64(skew))
	c.skewKnown.Store(true)
	c.obs.ClockSkew(skew.Round(time.Second))
	return skew, true
}

// ClockSkew returns how far Duo's clock was ahead of this machine's (negative
// when behind) at the last response that carried a Date header, and false
// before any did.
func (c *Client) ClockSkew() (time.Duration, bool) {
	if !c.skewKnown.Load() {
		return 0, false
	}
	return time.Duration(c.skewNanos.Load()), true
}

// scrubURLError keeps the cause of a transport error but drops the URL it
// carries, whose query adds nothing to the message.
func scrubURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return fmt.Errorf("%s: %w", ue.Op, ue.Err)
	}
	return err
}

// budget spaces the requests of one client at least interval apart. Duo
// publishes no precise limits and sends no rate-limit headers, so the client
// keeps well under what Duo is known to enforce.
type budget struct {
	// turn is held by the one request of the client that waits for its
	// slot, so the interval holds between the moments requests are sent
	// even when a shared limit keeps one waiting after its slot.
	turn     chan struct{}
	mu       sync.Mutex
	interval time.Duration
	next     time.Time
}

func newBudget(interval time.Duration) *budget {
	return &budget{turn: make(chan struct{}, 1), interval: interval}
}

// wait blocks until the client may send its next request: interval after
// the last one and after any hold, then a slot of shared (none when nil).
func (b *budget) wait(ctx context.Context, shared *RequestLimiter) error {
	select {
	case b.turn <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-b.turn }()
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		b.mu.Lock()
		d := time.Until(b.next)
		b.mu.Unlock()
		if d <= 0 {
			break
		}
		// Read next again after the sleep: a rate-limited request may
		// have held the budget back meanwhile.
		if err := sleep(ctx, d); err != nil {
			return err
		}
	}
	if err := shared.wait(ctx); err != nil {
		return err
	}
	b.holdFor(b.interval)
	return nil
}

// readyIn returns how long until the client may send its next request, as
// far as its own budget goes (a shared limit may add to it).
func (b *budget) readyIn() time.Duration {
	b.mu.Lock()
	defer b.mu.Unlock()
	return time.Until(b.next)
}

// holdFor keeps the client's next request from being sent before d from now.
func (b *budget) holdFor(d time.Duration) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if until := time.Now().Add(d); until.After(b.next) {
		b.next = until
	}
}

// RequestLimiter caps the requests of every Client that holds it (see
// ClientConfig.SharedLimit), spacing them evenly, in the order they become
// due under their own budgets. A 429 holds back only the client that got
// it, never the limiter. A nil *RequestLimiter sets no cap. It is safe for
// concurrent use.
type RequestLimiter struct {
	mu       sync.Mutex
	interval time.Duration
	next     time.Time
}

// NewRequestLimiter returns a limiter of perMinute requests a minute, or nil
// (no cap) for 0.
func NewRequestLimiter(perMinute int) (*RequestLimiter, error) {
	switch {
	case perMinute < 0:
		return nil, fmt.Errorf("requests per minute must be positive, or 0 for no cap, got %d", perMinute)
	case perMinute == 0:
		return nil, nil
	}
	return &RequestLimiter{interval: time.Minute / time.Duration(perMinute)}, nil
}

// wait takes the next slot and blocks until it comes. A wait that ctx ends
// leaves its slot unused.
func (l *RequestLimiter) wait(ctx context.Context) error {
	if l == nil {
		return ctx.Err()
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	l.mu.Lock()
	at := time.Now()
	if l.next.After(at) {
		at = l.next
	}
	l.next = at.Add(l.interval)
	l.mu.Unlock()
	return sleep(ctx, time.Until(at))
}

// sleep waits for d, or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
