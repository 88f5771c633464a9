// Copyright 2026 The duostream authors. Licensed under the MIT licence.

package duoapi

import (
	"errors"
	"fmt"
	"math"
	"time"
)

// Duo error codes the client gives a meaning to. The HTTP status is the first
// three digits of the code.
const (
	CodeMissingParams      = 40001
	CodeInvalidParams      = 40002
	CodeMissingCredentials = 40101
	CodeInvalidIKey        = 40102
	CodeInvalidSignature   = 40103
	CodeMissingTimestamp   = 40104
	CodeBadTimestamp       = 40105
	CodeAccessForbidden    = 40301
	CodeNotFound           = 40401
	CodeTooManyRequests    = 42901
	CodeInternalError      = 50001
)

// APIError is a request that Duo answered with an error, or that got no
// usable answer at all. Every error the client returns for a request is an
// *APIError, so callers can ask whether to retry and what to tell the user.
type APIError struct {
	// Method is the request's HTTP method; empty means GET.
	Method string
	// Endpoint is the path that was requested.
	Endpoint string
	// Account and AccountName are the ID and name of the child account a
	// client made by ForAccount asked for; empty for a client of its
	// credentials' own account.
	Account     string
	AccountName string
	// HTTPStatus is the response status, 0 when no response arrived.
	HTTPStatus int
	// Code, Message and Detail are Duo's error body fields, when present.
	Code    int
	Message string
	Detail  string
	// ClockSkew is how far Duo's clock (from its Date header) was ahead of
	// ours when it answered; set for timestamp errors when known.
	ClockSkew time.Duration
	// Err is the transport or decoding error, when there was one.
	Err error
}

// Error describes the failure and, for configuration problems, what to fix.
func (e *APIError) Error() string {
	var what string
	switch {
	case e.Code != 0 && e.Detail != "":
		what = fmt.Sprintf("HTTP %d, Duo error %d %q (%s)", e.HTTPStatus, e.Code, e.Message, e.Detail)
	case e.Code != 0:
		what = fmt.Sprintf("HTTP %d, Duo error %d %q", e.HTTPStatus, e.Code, e.Message)
	case e.HTTPStatus != 0 && e.Err != nil:
		what = fmt.Sprintf("HTTP %d: %v", e.HTTPStatus, e.Err)
	case e.HTTPStatus != 0:
		what = fmt.Sprintf("HTTP %d", e.HTTPStatus)
	case e.Err != nil:
		what = e.Err.Error()
	default:
		what = "unknown failure"
	}
	method := e.Method
	if method == "" {
		method = "GET"
	}
	msg := fmt.Sprintf("%s %s: %s", method, e.Endpoint, what)
	if e.Account != "" {
		account := "account " + e.Account
		if e.AccountName != "" {
			account += " (" + e.AccountName + ")"
		}
		msg = account + ": " + msg
	}
	if hint := e.Hint(); hint != "" {
		msg += ": " + hint
	}
	return msg
}

// Unwrap returns the transport or decoding error, if any.
func (e *APIError) Unwrap() error { return e.Err }

// RateLimited reports whether Duo refused the request for exceeding its rate
// limit.
func (e *APIError) RateLimited() bool {
	return e.HTTPStatus == 429 || e.Code == CodeTooManyRequests
}

// Retryable reports whether the same request may succeed later without the
// user changing anything: rate limits, server errors, network failures,
// timeouts and truncated or invalid bodies.
func (e *APIError) Retryable() bool {
	switch {
	case e.RateLimited():
		return true
	case e.HTTPStatus == 0:
		return true // no response: network error or timeout
	case e.HTTPStatus >= 500:
		return true
	case e.HTTPStatus == 200:
		return true // a 200 whose body could not be read or parsed
	case e.HTTPStatus == 408:
		return true
	}
	return false
}

// Hints of the errors that mean the credentials are not those of an
// Accounts API application (on the account list), or cannot reach a child
// account (on a client made by ForAccount).
const (
	accountListHint  = "accounts.discover needs the integration key of an Accounts API application in the parent account"
	childAccountHint = "give this child account its own Admin API application and run it as its own stream (cross-deployment sub-accounts cannot be reached with the parent's Accounts API credentials)"
	grantReadLogHint = `the Admin API application lacks the "Grant read log" permission, or this host's IP address is not in the application's "Networks for API Access": fix it in the Duo Admin Panel`
)

// Hint tells the user what to fix for errors that need a configuration or
// environment change, and is empty otherwise.
func (e *APIError) Hint() string {
	switch e.Code {
	case CodeMissingCredentials, CodeInvalidIKey:
		switch {
		case e.Endpoint == PathAccountList:
			return "check integration_key: " + accountListHint
		case e.Account != "":
			// The parent's key listed this child, yet the child's host
			// does not take it.
			return childAccountHint
		}
		return "check integration_key: it must be the integration key of an Admin API application in the Duo account of api_hostname"
	case CodeInvalidSignature:
		return "check secret_key (it must belong to integration_key) and api_hostname (it must be the application's API hostname, as the signature covers it)"
	case CodeMissingTimestamp:
		return "the request reached Duo without its Date header: check that no proxy between here and Duo strips it"
	case CodeBadTimestamp:
		if e.ClockSkew >= 30*time.Second || e.ClockSkew <= -30*time.Second {
			secs := int64(math.Round(math.Abs(e.ClockSkew.Seconds())))
			dir := "behind"
			if e.ClockSkew < 0 {
				dir = "ahead of"
			}
			return fmt.Sprintf("this machine's clock is %d seconds %s Duo's; Duo allows about 60 seconds: synchronise it with NTP", secs, dir)
		}
		return "this machine's clock is too far from Duo's (Duo allows about 60 seconds): synchronise it with NTP, and check that no proxy rewrites the Date header"
	case CodeAccessForbidden:
		return e.forbiddenHint()
	}
	if e.HTTPStatus == 403 {
		return e.forbiddenHint()
	}
	if e.HTTPStatus == 404 {
		return "the endpoint does not exist on this host: check api_hostname and base_url"
	}
	return ""
}

// forbiddenHint is the hint of a 403, which depends on what was asked.
func (e *APIError) forbiddenHint() string {
	switch {
	case e.Endpoint == PathAccountList:
		return accountListHint + ": these credentials are not one, or the application lacks access to the Accounts API"
	case e.Account != "":
		return childAccountHint
	}
	return grantReadLogHint
}

// UnavailableError is a request for a log type's endpoint that Duo refused
// (403) or did not find (404) where accounts of some editions lack the
// endpoint: it says which log type and what to do.
type UnavailableError struct {
	LogType LogType
	Err     *APIError
}

// Error names the log type, Duo's answer and the fix.
func (e *UnavailableError) Error() string {
	return fmt.Sprintf("the Duo %s log is not available to this account or application (%v): %s", e.LogType, e.Err, e.LogType.UnavailableHint())
}

// Unwrap returns Duo's answer.
func (e *UnavailableError) Unwrap() error { return e.Err }

// Failure is the class of a failed request, which decides how long to wait
// before trying again.
type Failure string

// The classes of failure.
const (
	// FailureTransient may pass by itself soon: a 5xx, a timeout, a
	// dropped connection, a truncated body.
	FailureTransient Failure = "transient"
	// FailureRateLimited is Duo's 429.
	FailureRateLimited Failure = "rate_limited"
	// FailureNeedsAction needs the user to change something: credentials,
	// permissions, the clock.
	FailureNeedsAction Failure = "needs_action"
)

// Failures lists every class of failure, as metrics label their values.
var Failures = []Failure{FailureTransient, FailureRateLimited, FailureNeedsAction}

// Classify returns the class of a failed request's error. An error that is
// not an *APIError is transient.
func Classify(err error) Failure {
	var apiErr *APIError
	switch {
	case !errors.As(err, &apiErr):
		return FailureTransient
	case apiErr.RateLimited():
		return FailureRateLimited
	case !apiErr.Retryable():
		return FailureNeedsAction
	}
	return FailureTransient
}
