// Copyright 2026 The duostream authors. Licensed under the MIT licence.

package duoapi

import (
	"context"
	"errors"
	"fmt"
	"io"
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
	// Retry is called when a page of t could not be fetched and will be
	// tried again after wait. err is an *APIError.
	Retry(t LogType, err error, wait time.Duration)
	// BoundaryDuplicates is called when n events of t were dropped because
	// they had already been delivered from the boundary second of a v1
	// endpoint.
	BoundaryDuplicates(t LogType, n int)
	// SecondOverflow is called when a v1 page of t held 1000 or more events
	// all in one second, so events of that second beyond the page cannot be
	// fetched: Duo's v1 endpoints page by whole seconds.
	SecondOverflow(t LogType, second time.Time)
	// WindowClamped is called when t's position (stored, or where its
	// paging stands) is older than the 180 days Duo still serves and the
	// puller had to skip to from.
	WindowClamped(t LogType, stored, from time.Time)
	// CursorReset is called when Duo rejected t's paging offset and the
	// puller reads on from resume without it; skipped as for OffsetStalled.
	CursorReset(t LogType, err error, resume time.Time, skipped bool)
	// OffsetStalled is called when a page of t came back with a next_offset
	// that does not move forward (sent, then got), and the puller reads on
	// from resume instead of following it. skipped is true when the
	// millisecond before resume could not be read to its end.
	OffsetStalled(t LogType, sent, got string, resume time.Time, skipped bool)
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
func (NopObserver) Retry(LogType, error, time.Duration) {}

// BoundaryDuplicates implements Observer.
func (NopObserver) BoundaryDuplicates(LogType, int) {}

// SecondOverflow implements Observer.
func (NopObserver) SecondOverflow(LogType, time.Time) {}

// WindowClamped implements Observer.
func (NopObserver) WindowClamped(LogType, time.Time, time.Time) {}

// CursorReset implements Observer.
func (NopObserver) CursorReset(LogType, error, time.Time, bool) {}

// OffsetStalled implements Observer.
func (NopObserver) OffsetStalled(LogType, string, string, time.Time, bool) {}

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
	// request of this client; 0 means 30.
	RequestsPerMinute int
	// MaxBodyBytes bounds a response body; 0 means 64 MiB.
	MaxBodyBytes int64
	// Now is the clock used to date requests; nil means time.Now.
	Now func() time.Time
	// Observer is told about every request; nil means NopObserver.
	Observer Observer
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
// response.
func (c *Client) Get(ctx context.Context, path string, params url.Values) ([]byte, error) {
	if err := c.budget.wait(ctx); err != nil {
		return nil, err
	}
	start := time.Now()
	body, err := c.get(ctx, path, params)
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

func (c *Client) get(ctx context.Context, path string, params url.Values) ([]byte, error) {
	apiErr := func(status int, err error) *APIError {
		return &APIError{Endpoint: path, HTTPStatus: status, Err: err}
	}
	date := FormatDate(c.now())
	query := CanonicalParams(params)
	auth, err := Authorization(c.cfg.SignatureVersion, c.cfg.IntegrationKey, c.cfg.SecretKey, Request{
		Date: date, Method: http.MethodGet, Host: c.cfg.APIHostname, Path: path, Params: params,
	})
	if err != nil {
		return nil, apiErr(0, err)
	}
	u := *c.base
	u.Path = strings.TrimSuffix(u.Path, "/") + path
	u.RawQuery = query
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, apiErr(0, err)
	}
	req.Header.Set("Date", date)
	req.Header.Set("Authorization", auth)
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "duostream")
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
	body, err := io.ReadAll(io.LimitReader(resp.Body, c.maxBody+1))
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, apiErr(resp.StatusCode, fmt.Errorf("read response body: %w", err))
	}
	if int64(len(body)) > c.maxBody {
		return nil, apiErr(resp.StatusCode, fmt.Errorf("response body larger than %d bytes", c.maxBody))
	}
	stat, err := parseStat(body)
	if err != nil {
		if resp.StatusCode == http.StatusOK {
			return nil, apiErr(resp.StatusCode, fmt.Errorf("decode response body: %w", err))
		}
		return nil, apiErr(resp.StatusCode, fmt.Errorf("response is not a Duo JSON body: %w", err))
	}
	if resp.StatusCode == http.StatusOK && stat.Stat == "OK" {
		return body, nil
	}
	e := &APIError{Endpoint: path, HTTPStatus: resp.StatusCode, Code: stat.code(), Message: stat.Message, Detail: stat.Detail}
	if resp.StatusCode == http.StatusOK && e.Code >= 10000 {
		// "stat": "FAIL" under a 200: the code carries the real status.
		e.HTTPStatus = e.Code / 100
	}
	if e.Code == CodeBadTimestamp && skewOK {
		e.ClockSkew = skew.Round(time.Second)
	}
	return nil, e
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

// budget spaces requests at least interval apart. Duo publishes no precise
// limits and sends no rate-limit headers, so the client keeps well under
// what Duo is known to enforce.
type budget struct {
	mu       sync.Mutex
	interval time.Duration
	next     time.Time
}

func newBudget(interval time.Duration) *budget {
	return &budget{interval: interval}
}

func (b *budget) wait(ctx context.Context) error {
	b.mu.Lock()
	now := time.Now()
	at := b.next
	if at.Before(now) {
		at = now
	}
	b.next = at.Add(b.interval)
	b.mu.Unlock()
	if d := time.Until(at); d > 0 {
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-t.C:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return ctx.Err()
}

func (b *budget) holdFor(d time.Duration) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if until := time.Now().Add(d); until.After(b.next) {
		b.next = until
	}
}
