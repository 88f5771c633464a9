// Copyright 2026 The duostream authors. Licensed under the MIT licence.

package input

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/redpanda-data/benthos/v4/public/service"

	"github.com/duostream/duostream/cache"
	"github.com/duostream/duostream/duoapi"
)

// CheckRow is one line of the report of `duostream check`: one thing
// checked of one account of one duo_admin_logs input.
type CheckRow struct {
	// File is the config file the input is in.
	File string
	// Input names the input: its label, or without one its place in the
	// file, such as "input", "input.broker.inputs.1" or "input_resources.0".
	Input string
	// Account is the account checked: the api_hostname of the credentials'
	// own account, or a child account's name and ID.
	Account string
	// Check is what was checked: a log type, or CheckedConfig,
	// CheckedClock, CheckedAccountList or CheckedCheckpoint.
	Check  string
	Status duoapi.Severity
	// Detail is what was found and, for a problem, what to do about it.
	Detail string
}

// The checks of a report that are not log types.
const (
	// CheckedConfig is the input's config, parsed and validated as
	// duostream run does.
	CheckedConfig = "config"
	// CheckedClock is this machine's clock against Duo's.
	CheckedClock = "clock"
	// CheckedAccountList is the child account list of accounts.discover.
	CheckedAccountList = "account list"
	// CheckedCheckpoint is the read of the positions in checkpoint_cache.
	CheckedCheckpoint = "checkpoint"
)

// CheckOptions configure a check.
type CheckOptions struct {
	// Parallel is how many child accounts of an MSP parent are checked at
	// once, each within its own request budget; 0 means
	// duoapi.DefaultAccountsInFlight, as the input pulls them.
	Parallel int
	// Now is the clock positions are judged by; nil means time.Now.
	Now func() time.Time
}

// checkInput checks one duo_admin_logs input, whose config is conf and
// whose stream's resources, the checkpoint cache among them, are res: the
// config as the input validates it, one request per log type (of each
// selected child with accounts.discover), the clock skew, and the stored
// positions, read without writing anything.
func checkInput(ctx context.Context, conf *service.ParsedConfig, res *service.Resources, opts CheckOptions) []CheckRow {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	host, _ := conf.FieldString(dalFieldAPIHostname)
	if host = strings.TrimSpace(host); host == "" {
		host = "-"
	}
	// The input's own parser validates the config exactly as duostream
	// run does, and writes nothing; the positions are read from res, the
	// config's own cache.
	in, err := parseDuoAdminLogs(conf, res)
	if err != nil {
		return []CheckRow{{Account: host, Check: CheckedConfig, Status: duoapi.SeverityFail, Detail: err.Error()}}
	}
	defer func() { _ = in.Close(context.WithoutCancel(ctx)) }()

	// The input's positions, read from the config's own cache.
	store := *in.positions
	store.res = res
	c := &inputCheck{in: in, now: opts.Now(), store: &store}
	cfg := duoapi.CheckConfig{
		LogTypes:          in.pullerCfg.LogTypes,
		TelephonyV1:       in.pullerCfg.TelephonyV1,
		TrustMonitorTypes: in.pullerCfg.TrustMonitorTypes,
		AvailabilityLag:   in.pullerCfg.AvailabilityLag,
	}
	if in.accounts == nil {
		results := in.client.CheckLogTypes(ctx, cfg)
		clock := in.client.CheckClock()
		c.add(host, CheckedClock, clock.Severity(), clock.Describe().String())
		for _, r := range results {
			c.logType(ctx, host, duoapi.Account{}, r)
		}
	} else {
		ac := duoapi.CheckChildAccounts(ctx, in.client, *in.accounts, cfg, opts.Parallel)
		c.children(ctx, host, ac, in.client.CheckClock())
	}
	c.checkpoint(host)
	return c.rows
}

// inputCheck gathers the rows of one input's check.
type inputCheck struct {
	in    *duoAdminLogsInput
	now   time.Time
	store *positionStore
	rows  []CheckRow

	// positions counts the positions read, and stored those found;
	// cacheErr is the first failure to read the cache at all.
	positions, stored int
	cacheErr          error
	// listFailed is set when the child account list could not be read.
	listFailed bool
}

func (c *inputCheck) add(account, check string, status duoapi.Severity, detail string) {
	c.rows = append(c.rows, CheckRow{Account: account, Check: check, Status: status, Detail: detail})
}

// children adds the rows of an MSP parent's check: the account list, the
// parent's clock, and every selected child's log types, with a child's
// clock when it is off.
func (c *inputCheck) children(ctx context.Context, host string, ac duoapi.AccountsCheck, parentClock duoapi.ClockCheck) {
	if ac.ListErr != nil {
		c.listFailed = true
		c.add(host, CheckedAccountList, duoapi.SeverityFail, duoapi.Diagnose(ac.ListErr, ac.URL).String())
		c.add(host, CheckedClock, parentClock.Severity(), parentClock.Describe().String())
		return
	}
	switch {
	case ac.Listed == 0:
		c.add(host, CheckedAccountList, duoapi.SeverityWarn, "the parent has no child accounts: there is nothing to pull")
	case len(ac.Children) == 0:
		c.add(host, CheckedAccountList, duoapi.SeverityWarn, fmt.Sprintf("%s listed, none selected: accounts.include and accounts.exclude leave nothing to pull", plural(ac.Listed, "child account")))
	case len(ac.Children) == ac.Listed:
		c.add(host, CheckedAccountList, duoapi.SeverityOK, fmt.Sprintf("%s listed, every one checked", plural(ac.Listed, "child account")))
	default:
		c.add(host, CheckedAccountList, duoapi.SeverityOK, fmt.Sprintf("%s listed, %d selected by accounts.include and accounts.exclude and checked", plural(ac.Listed, "child account"), len(ac.Children)))
	}
	for _, name := range ac.Unmatched {
		c.add(host, CheckedAccountList, duoapi.SeverityWarn, fmt.Sprintf("accounts.include or accounts.exclude names %q, which is no listed child account's ID or exact name: check its spelling", name))
	}
	// The list's answer measured the parent's clock; a child's is shown
	// only when it is off.
	c.add(host, CheckedClock, parentClock.Severity(), parentClock.Describe().String())
	for _, child := range ac.Children {
		account := child.Account.ID
		if child.Account.Name != "" {
			account = child.Account.Name + " (" + child.Account.ID + ")"
		}
		if s := child.Clock.Severity(); s == duoapi.SeverityWarn || s == duoapi.SeverityFail {
			c.add(account, CheckedClock, s, child.Clock.Describe().String())
		}
		for _, r := range child.Results {
			c.logType(ctx, account, child.Account, r)
		}
	}
}

// logType adds the row of log type r.LogType of account a (the
// credentials' own when its ID is empty), shown as account: Duo's answer,
// and when Duo served the request, where the stream stands.
func (c *inputCheck) logType(ctx context.Context, account string, a duoapi.Account, r duoapi.CheckResult) {
	// The position is read either way, so that the checkpoint row says
	// whether the cache can be read.
	status, detail := c.position(ctx, duoapi.StreamKey{AccountID: a.ID, LogType: r.LogType})
	if r.Err != nil {
		status, detail = r.Severity(), r.Describe().String()
	}
	c.add(account, string(r.LogType), status, detail)
}

// position reads the stored position of k and says where the stream
// starts when duostream run next starts.
func (c *inputCheck) position(ctx context.Context, k duoapi.StreamKey) (duoapi.Severity, string) {
	c.positions++
	p, found, legacy, err := c.store.load(ctx, k)
	var accessErr *cacheAccessError
	if errors.As(err, &accessErr) {
		if c.cacheErr == nil {
			c.cacheErr = err
		}
		return duoapi.SeverityOK, "Duo answered; the stored position could not be read (see checkpoint)"
	}
	if found {
		c.stored++
	}
	starts := c.in.startDescription()
	switch {
	case !found && err != nil:
		return duoapi.SeverityWarn, fmt.Sprintf("the stored position cannot be read (%v): the next run starts again %s, so events since then may be delivered twice", err, starts)
	case !found:
		return duoapi.SeverityOK, "no position stored: the next run starts " + starts
	}
	pos := p.Cursor.Position().UTC()
	detail := "resumes from " + pos.Format(time.RFC3339)
	status := duoapi.SeverityOK
	if legacy {
		detail += " (stored by a release before 0.2, moved to the current keys at the next run)"
	}
	if err != nil {
		status = duoapi.SeverityWarn
		detail += fmt.Sprintf("; the other stored copy cannot be read (%v), as after a crash during a write: the events of one page may be delivered again", err)
	}
	if oldest := c.now.Add(-duoapi.Retention); pos.Before(oldest) {
		status = duoapi.SeverityWarn
		detail += fmt.Sprintf(", which is older than the %d days Duo serves: the events up to %s are gone, and the next run starts there", int(duoapi.Retention.Hours()/24), oldest.UTC().Format(time.RFC3339))
	}
	return status, detail
}

// checkpoint adds the row of the checkpoint cache: whether the positions
// could be read, and how many are stored.
func (c *inputCheck) checkpoint(host string) {
	label := c.store.cache
	switch {
	case c.cacheErr != nil && errors.Is(c.cacheErr, cache.ErrLocked):
		c.add(host, CheckedCheckpoint, duoapi.SeverityWarn, fmt.Sprintf("%v: the positions were not read; stop that process to read them, or ignore this if it is this pipeline running", c.cacheErr))
	case c.cacheErr != nil:
		c.add(host, CheckedCheckpoint, duoapi.SeverityFail, fmt.Sprintf("%v: fix cache resource %q (a file must be readable and writable, a server reachable): duostream run cannot start without it", c.cacheErr, label))
	case c.positions == 0 && c.listFailed:
		c.add(host, CheckedCheckpoint, duoapi.SeveritySkipped, fmt.Sprintf("cache %q not read: without the child account list, there are no positions to read", label))
	case c.positions == 0:
		c.add(host, CheckedCheckpoint, duoapi.SeverityOK, fmt.Sprintf("cache %q not read: there is no stream whose position to read", label))
	default:
		c.add(host, CheckedCheckpoint, duoapi.SeverityOK, fmt.Sprintf("cache %q read, nothing written: %d of %s stored", label, c.stored, plural(c.positions, "position")))
	}
}

// plural writes n and noun, with an s unless n is 1.
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// shortDuration writes d without its zero trailing units: 24h, 90m, 1h30m.
func shortDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}
