// Copyright 2026 The duostream authors. Licensed under the MIT licence.

package duoapi

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"math"
	"net"
	"net/url"
	"slices"
	"strconv"
	"sync"
	"time"
)

// Severity is how bad what a check found is.
type Severity int

// The severities, from best to worst. Only SeverityOK and SeverityWarn mean
// that what was checked works.
const (
	// SeverityOK: it works.
	SeverityOK Severity = iota
	// SeverityWarn: it works, but needs attention before it stops working.
	SeverityWarn
	// SeveritySkipped: it was not checked, because something it depends on
	// failed (and is reported as such).
	SeveritySkipped
	// SeverityFail: it does not work.
	SeverityFail
)

// String returns the severity as a check report shows it: OK, WARN, SKIP
// or FAIL.
func (s Severity) String() string {
	switch s {
	case SeverityOK:
		return "OK"
	case SeverityWarn:
		return "WARN"
	case SeveritySkipped:
		return "SKIP"
	}
	return "FAIL"
}

// Works reports whether what was checked works: OK or WARN.
func (s Severity) Works() bool { return s <= SeverityWarn }

// Clock skews a check reports: from ClockSkewWarning on it is worth fixing,
// from ClockSkewLimit on it is a failure, as Duo refuses requests dated
// about 60 seconds off and clocks that far apart keep drifting.
const (
	ClockSkewWarning = 10 * time.Second
	ClockSkewLimit   = 30 * time.Second
)

// checkLimit is the page size a check asks the v2 and Trust Monitor
// endpoints for: small, and one Duo's own client tests send.
const checkLimit = 10

// checkWindow is how much of each log a check asks for.
const checkWindow = time.Minute

// CheckConfig says what Client.CheckLogTypes asks Duo for: an input's log
// types, and how the input reads them.
type CheckConfig struct {
	// LogTypes are checked in this order.
	LogTypes []LogType
	// TelephonyV1 checks telephony on the legacy v1 endpoint, as
	// PullerConfig.TelephonyV1 pulls it.
	TelephonyV1 bool
	// TrustMonitorTypes are sent as the Trust Monitor type filter, as
	// PullerConfig.TrustMonitorTypes are, so that a filter Duo refuses
	// fails the check.
	TrustMonitorTypes []string
	// AvailabilityLag is how long Duo takes to show an event (default 2m);
	// the window checked ends before it.
	AvailabilityLag time.Duration
}

// CheckResult is what the check request of one log type found.
type CheckResult struct {
	LogType LogType
	// Endpoint is the path that was (or would have been) requested.
	Endpoint string
	// URL is where the client sends requests, with any password in it
	// redacted.
	URL string
	// Err is nil when Duo served the request. Otherwise it is an
	// *APIError, an *UnavailableError when the account's edition or the
	// application's permissions lack the endpoint, or the context's error.
	Err error
	// NotRequested is set when no request was made, because the request of
	// an earlier log type of the same account (After) failed in a way every
	// request of the account would; Err is that failure.
	NotRequested bool
	After        LogType
}

// Severity returns SeverityOK when Duo served the request, SeveritySkipped
// when none was made, and SeverityFail otherwise.
func (r CheckResult) Severity() Severity {
	switch {
	case r.Err == nil:
		return SeverityOK
	case r.NotRequested:
		return SeveritySkipped
	}
	return SeverityFail
}

// Describe says what went wrong and what to do; it is empty when Duo served
// the request.
func (r CheckResult) Describe() Diagnosis {
	switch {
	case r.Err == nil:
		return Diagnosis{}
	case r.NotRequested:
		return Diagnosis{Problem: fmt.Sprintf("not requested: the %s request failed (%s), and every request of this account would", r.After, Diagnose(r.Err, r.URL).Problem)}
	}
	return Diagnose(r.Err, r.URL)
}

// Diagnosis is what a failed request means and what to do about it.
type Diagnosis struct {
	// Problem says what Duo answered, such as `40301 "Access forbidden"`,
	// or why nothing was answered.
	Problem string
	// Fix says what to change or do; empty when nothing useful can be said.
	Fix string
}

// String joins the problem and its fix.
func (d Diagnosis) String() string {
	if d.Fix == "" {
		return d.Problem
	}
	return d.Problem + ": " + d.Fix
}

// Diagnose tells what err, the failure of a request sent to target (a base
// URL, for the fixes of a request that got no answer), means and what to do
// about it. It never includes a secret: an *APIError holds none.
func Diagnose(err error, target string) Diagnosis {
	var unavailable *UnavailableError
	if errors.As(err, &unavailable) {
		return Diagnosis{
			Problem: fmt.Sprintf("%s: the %s log is not available to this account or application", problemOf(unavailable.Err), unavailable.LogType),
			Fix:     unavailable.LogType.UnavailableHint(),
		}
	}
	var e *APIError
	if !errors.As(err, &e) {
		if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
			return Diagnosis{Problem: "the check was stopped before Duo answered (" + err.Error() + ")"}
		}
		return Diagnosis{Problem: err.Error()}
	}
	d := Diagnosis{Problem: problemOf(e), Fix: e.Hint()}
	if d.Fix != "" {
		return d
	}
	switch {
	case e.HTTPStatus == 0:
		d.Fix = unreachableFix(e.Err, target)
	case e.RateLimited():
		d.Fix = "Duo rate-limited the check: run it again in a minute (a running duostream with the same application shares its limit)"
	case e.HTTPStatus >= 500:
		d.Fix = "Duo failed to answer: run the check again in a few minutes, and if it goes on, see https://status.duo.com"
	case e.HTTPStatus == 200:
		d.Fix = "the answer is not a Duo Admin API response: check base_url, and that no proxy between here and Duo rewrites responses"
	case e.HTTPStatus == 400 && e.Endpoint == PathTrustMonitorV1:
		d.Fix = "check trust_monitor_types: Duo refused the request's parameters"
	case e.HTTPStatus == 400:
		d.Fix = "Duo refused the request's parameters, which duostream sets: report this as a duostream bug"
	}
	return d
}

// problemOf is the short form of Duo's answer: the error code and message,
// the HTTP status, or the reason nothing was answered.
func problemOf(e *APIError) string {
	var p string
	switch {
	case e.Code != 0 && e.Message != "":
		p = fmt.Sprintf("%d %q", e.Code, e.Message)
	case e.Code != 0:
		p = fmt.Sprintf("Duo error %d", e.Code)
	case e.HTTPStatus != 0 && e.Err != nil:
		p = fmt.Sprintf("HTTP %d: %v", e.HTTPStatus, e.Err)
	case e.HTTPStatus != 0:
		p = fmt.Sprintf("HTTP %d", e.HTTPStatus)
	case e.Err != nil:
		p = "no answer: " + e.Err.Error()
	default:
		p = "no answer"
	}
	if e.Detail != "" {
		p += " (" + e.Detail + ")"
	}
	return p
}

// unreachableFix says what to check when a request to target got no answer
// at all, by what went wrong.
func unreachableFix(err error, target string) string {
	var dnsErr *net.DNSError
	var certErr *tls.CertificateVerificationError
	var unknownAuthority x509.UnknownAuthorityError
	var hostnameErr x509.HostnameError
	switch {
	case errors.As(err, &dnsErr):
		return fmt.Sprintf("%s does not resolve: check api_hostname (the application's API hostname, api-XXXXXXXX.duosecurity.com, as the Duo Admin Panel shows it), base_url, and this machine's DNS", dnsErr.Name)
	case errors.As(err, &certErr), errors.As(err, &unknownAuthority), errors.As(err, &hostnameErr):
		return fmt.Sprintf("the TLS certificate of %s is not trusted: for a TLS-inspecting proxy, add its CA to tls.root_cas; otherwise check base_url", target)
	case isTimeout(err):
		return fmt.Sprintf("%s did not answer in time: check that a firewall or proxy lets this machine reach it (duostream honours HTTPS_PROXY), or raise timeout", target)
	}
	return fmt.Sprintf("cannot reach %s: check api_hostname and base_url, and that a firewall or proxy lets this machine reach Duo (duostream honours HTTPS_PROXY)", target)
}

// URL returns where the client sends its requests, with any password in
// it redacted.
func (c *Client) URL() string {
	return c.base.Redacted()
}

// CheckLogTypes makes one small signed request per log type of cfg, as the
// puller asks for that log type but for the last minute before the
// availability lag only, with few events: one request per log type, within
// the client's request budget. It stops requesting once a request fails in
// a way every other would (no answer, rejected credentials or date, 403 on
// an endpoint every account has), and reports the rest as NotRequested.
// It changes nothing, at Duo or here.
func (c *Client) CheckLogTypes(ctx context.Context, cfg CheckConfig) []CheckResult {
	if cfg.AvailabilityLag == 0 {
		cfg.AvailabilityLag = 2 * time.Minute
	}
	results := make([]CheckResult, 0, len(cfg.LogTypes))
	var stop *CheckResult
	for _, t := range cfg.LogTypes {
		info := infoOf(t, cfg.TelephonyV1)
		r := CheckResult{LogType: t, Endpoint: info.path, URL: c.URL()}
		if stop != nil {
			r.Err, r.NotRequested, r.After = stop.Err, true, stop.LogType
			results = append(results, r)
			continue
		}
		r.Err = c.checkLogType(ctx, t, info, cfg)
		results = append(results, r)
		if failsEveryRequest(r.Err) {
			stop = &results[len(results)-1]
		}
	}
	return results
}

// checkLogType makes the check request of t at info's endpoint.
func (c *Client) checkLogType(ctx context.Context, t LogType, info logTypeInfo, cfg CheckConfig) error {
	// Before the first answer Duo's clock is unknown: it may be up to a
	// minute behind this machine's, which UnknownClockMargin covers, so
	// the window never reaches past what Duo shows.
	end := c.now().Add(-cfg.AvailabilityLag - UnknownClockMargin)
	start := end.Add(-checkWindow)
	params := url.Values{}
	switch info.paging {
	case pagingV1:
		params.Set("mintime", strconv.FormatInt(start.Unix(), 10))
	case pagingV2, pagingTrustMonitor:
		params.Set("mintime", strconv.FormatInt(start.UnixMilli(), 10))
		params.Set("maxtime", strconv.FormatInt(end.UnixMilli(), 10))
		params.Set("limit", strconv.Itoa(checkLimit))
		if info.paging == pagingV2 {
			params.Set("sort", "ts:asc")
		} else if len(cfg.TrustMonitorTypes) > 0 {
			params["type"] = slices.Clone(cfg.TrustMonitorTypes)
		}
	}
	body, err := c.Get(ctx, info.path, params)
	if err != nil {
		if u := unavailableError(t, info, err); u != nil {
			return u
		}
		return err
	}
	switch info.paging {
	case pagingV1:
		_, err = ParseV1Page(body)
	case pagingV2:
		_, err = ParseV2Page(body, info.itemsKey)
	default:
		_, err = ParseTrustMonitorPage(body)
	}
	if err != nil {
		e := c.apiError("GET", info.path)
		e.HTTPStatus, e.Err = 200, err
		return e
	}
	return nil
}

// failsEveryRequest reports whether a check request's failure would be
// every request's of the same account: no answer, credentials or a date
// Duo refuses, or access refused to an endpoint every account has.
func failsEveryRequest(err error) bool {
	var unavailable *UnavailableError
	var e *APIError
	switch {
	case err == nil, errors.As(err, &unavailable):
		return false
	case !errors.As(err, &e):
		return true // the context ended
	}
	return e.HTTPStatus == 0 || e.HTTPStatus == 401 || e.HTTPStatus == 403
}

// ClockCheck is the clock skew a client measured from Duo's Date headers.
type ClockCheck struct {
	// Skew is how far Duo's clock is ahead of this machine's (negative
	// when behind), to the second.
	Skew time.Duration
	// Known is false when no answer carried a Date header.
	Known bool
}

// CheckClock returns the clock skew measured at the client's last answer.
func (c *Client) CheckClock() ClockCheck {
	skew, ok := c.ClockSkew()
	return ClockCheck{Skew: skew.Round(time.Second), Known: ok}
}

// Severity returns SeverityFail from ClockSkewLimit on, SeverityWarn from
// ClockSkewWarning on, and SeveritySkipped when the skew is not known.
func (k ClockCheck) Severity() Severity {
	abs := k.Skew.Abs()
	switch {
	case !k.Known:
		return SeveritySkipped
	case abs >= ClockSkewLimit:
		return SeverityFail
	case abs >= ClockSkewWarning:
		return SeverityWarn
	}
	return SeverityOK
}

// Describe says how far the clocks are apart and, past ClockSkewWarning,
// what to do.
func (k ClockCheck) Describe() Diagnosis {
	if !k.Known {
		return Diagnosis{Problem: "not measured: no answer from Duo carried a Date header"}
	}
	secs := int64(math.Round(k.Skew.Abs().Seconds()))
	if secs <= 1 {
		// A Date header has whole seconds: a second is as close as it
		// tells.
		return Diagnosis{Problem: "this machine's clock and Duo's agree, within the second Duo's Date header shows"}
	}
	dir := "behind"
	if k.Skew < 0 {
		dir = "ahead of"
	}
	d := Diagnosis{Problem: fmt.Sprintf("this machine's clock is %d seconds %s Duo's", secs, dir)}
	if k.Severity() != SeverityOK {
		d.Fix = "Duo refuses requests dated more than about 60 seconds off: synchronise this machine's clock with NTP"
	}
	return d
}

// AccountsCheck is what CheckChildAccounts found.
type AccountsCheck struct {
	// URL is where the parent's client sends its requests, redacted.
	URL string
	// ListErr is the failure of the child account list; nothing else is
	// set with it.
	ListErr error
	// Listed is how many child accounts the list holds.
	Listed int
	// Unmatched are the Include and Exclude entries that name no listed
	// child.
	Unmatched []string
	// Children are the children Include and Exclude select, in list order.
	Children []ChildCheck
}

// ChildCheck is what the check requests of one child account found.
type ChildCheck struct {
	Account Account
	Results []CheckResult
	Clock   ClockCheck
}

// CheckChildAccounts lists the child accounts of the parent whose Accounts
// API credentials parent holds (one POST), selects them as accounts'
// Include and Exclude do, and checks the log types of cfg on every one
// selected with CheckLogTypes, up to parallel children at once (0 means
// DefaultAccountsInFlight), each within its own request budget and all
// within parent's shared limit.
func CheckChildAccounts(ctx context.Context, parent *Client, accounts AccountsConfig, cfg CheckConfig, parallel int) AccountsCheck {
	ac := AccountsCheck{URL: parent.URL()}
	listed, err := parent.ListChildAccounts(ctx)
	if err != nil {
		ac.ListErr = err
		return ac
	}
	ac.Listed = len(listed)
	selected, unmatched := accounts.selectAccounts(listed)
	ac.Unmatched = unmatched
	ac.Children = make([]ChildCheck, len(selected))
	if parallel <= 0 {
		parallel = DefaultAccountsInFlight
	}
	next := make(chan int)
	var wg sync.WaitGroup
	for range min(parallel, len(selected)) {
		wg.Go(func() {
			for i := range next {
				ac.Children[i] = checkChild(ctx, parent, selected[i], cfg)
			}
		})
	}
	for i := range selected {
		next <- i
	}
	close(next)
	wg.Wait()
	return ac
}

// checkChild checks the log types of child account a.
func checkChild(ctx context.Context, parent *Client, a Account, cfg CheckConfig) ChildCheck {
	cc := ChildCheck{Account: a}
	client, err := parent.ForAccount(a)
	if err != nil {
		// The list was checked, so this does not happen; report it anyway.
		for _, t := range cfg.LogTypes {
			cc.Results = append(cc.Results, CheckResult{LogType: t, Endpoint: infoOf(t, cfg.TelephonyV1).path, URL: parent.URL(), Err: err})
		}
		return cc
	}
	cc.Results = client.CheckLogTypes(ctx, cfg)
	cc.Clock = client.CheckClock()
	return cc
}
