// Copyright 2026 The duostream authors. Licensed under the MIT licence.

package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/duostream/duostream/config"
	"github.com/duostream/duostream/duoapi"
	"github.com/duostream/duostream/duosim"
)

// demoBackfill is how many events of each log type the simulator holds
// before the demo starts, spread over the backfill window.
var demoBackfill = map[duoapi.LogType]int{
	duoapi.Authentication:    400,
	duoapi.Administrator:     60,
	duoapi.Telephony:         40,
	duoapi.OfflineEnrollment: 12,
	duoapi.Activity:          80,
	duoapi.TrustMonitor:      20,
}

// demoLiveRates are the events per second the simulator keeps adding.
var demoLiveRates = map[duoapi.LogType]float64{
	duoapi.Authentication:    2,
	duoapi.Administrator:     0.2,
	duoapi.Telephony:         0.1,
	duoapi.OfflineEnrollment: 0.05,
	duoapi.Activity:          0.3,
	duoapi.TrustMonitor:      0.05,
}

func demoCommand() *cli.Command {
	return &cli.Command{
		Name:  "demo",
		Usage: "Run the duo-to-stdout pipeline against a built-in Duo Admin API simulator, no credentials needed",
		Description: `Starts a Duo Admin API simulator on a random loopback port, fills it with
realistic events of all six log types (authentication, administrator,
telephony, offline enrollment, activity and Trust Monitor: a backfill, then
a live trickle), and
runs config/duo-to-stdout.yaml against it: the duo_admin_logs input signs
and pages exactly as it would against Duo, and duo_normalize turns each
event into its Panther schema. Normalized events go to stdout, one JSON
object per line; logs and dead letters go to stderr. Stop with Ctrl-C.

With --accounts N the simulator is a Duo MSP parent with N child accounts,
each with its own backfill and live trickle, and the pipeline discovers
them through the Accounts API and pulls every one (accounts.discover):
each event names its child in p_source_id and p_source_label.`,
		Flags: []cli.Flag{
			&cli.DurationFlag{Name: "backfill", Value: 6 * time.Hour, Usage: "how much history the simulator holds at start"},
			&cli.Uint64Flag{Name: "seed", Value: 1, Usage: "seed of the generated events"},
			&cli.StringFlag{Name: "log-level", Value: "warn", Usage: "log level of the pipeline"},
			&cli.IntFlag{Name: "accounts", Value: 0, Usage: fmt.Sprintf("simulate a Duo MSP parent with this many child accounts (at most %d) and pull every one; 0 simulates a single account", maxDemoAccounts)},
		},
		Action: func(c *cli.Context) error {
			ctx, stop := signal.NotifyContext(c.Context, os.Interrupt, syscall.SIGTERM)
			defer stop()
			return runDemo(ctx, c.Duration("backfill"), c.Uint64("seed"), c.String("log-level"), c.Int("accounts"))
		},
	}
}

// maxDemoAccounts is the most child accounts `demo --accounts` simulates.
const maxDemoAccounts = 1000

// demoAccount is a simulated Duo account the demo fills with events: the
// single account, or a child of the MSP parent.
type demoAccount interface {
	Generate(t duoapi.LogType, n int, from, to time.Time) error
	RunLive(ctx context.Context, perSecond map[duoapi.LogType]float64) error
}

// runDemo runs the demo pipeline against a simulator holding backfill of
// history, a single account when accounts is 0, else an MSP parent with
// that many children.
func runDemo(ctx context.Context, backfill time.Duration, seed uint64, logLevel string, accounts int) error {
	if backfill <= 3*time.Minute || backfill > duoapi.MaxLookback {
		return fmt.Errorf("--backfill must be between 3m and %s, got %s", duoapi.MaxLookback, backfill)
	}
	if accounts < 0 || accounts > maxDemoAccounts {
		return fmt.Errorf("--accounts must be between 0 and %d, got %d", maxDemoAccounts, accounts)
	}
	sim, err := duosim.Start(duosim.Config{Seed: seed, AccountsAPI: accounts > 0})
	if err != nil {
		return fmt.Errorf("start Duo API simulator: %w", err)
	}
	defer sim.Close()
	// An MSP parent's own logs are not pulled, so only its children hold
	// events.
	filled := []demoAccount{sim}
	children, err := sim.GenerateChildren(accounts)
	if err != nil {
		return err
	}
	if accounts > 0 {
		filled = filled[:0]
		for _, c := range children {
			filled = append(filled, c)
		}
	}

	now := time.Now()
	// Everything in the backfill is older than Duo's two-minute lag.
	from, to := now.Add(-backfill), now.Add(-3*time.Minute)
	liveCtx, stopLive := context.WithCancel(ctx)
	defer stopLive()
	for _, a := range filled {
		for _, t := range duoapi.AllLogTypes {
			if err := a.Generate(t, demoBackfill[t], from, to); err != nil {
				return err
			}
		}
		go func() { _ = a.RunLive(liveCtx, demoLiveRates) }()
	}

	stateDir, err := os.MkdirTemp("", "duostream-demo-")
	if err != nil {
		return fmt.Errorf("create demo state directory: %w", err)
	}
	defer os.RemoveAll(stateDir)

	env := map[string]string{
		"DUO_API_HOSTNAME":     sim.APIHost(),
		"DUO_INTEGRATION_KEY":  sim.IntegrationKey(),
		"DUO_SECRET_KEY":       sim.SecretKey(),
		"DUO_BASE_URL":         sim.URL,
		"DUO_INITIAL_LOOKBACK": backfill.String(),
		"DUO_POLL_INTERVAL":    "5s",
		"DUOSTREAM_STATE_DIR":  stateDir,
		"DUOSTREAM_LOG_LEVEL":  logLevel,
		// Set either way, so that the environment cannot turn it on.
		"DUO_ACCOUNTS_DISCOVER": strconv.FormatBool(accounts > 0),
		// The demo is a live stream, whatever the shell exports.
		"DUO_START_TIME": "",
		"DUO_END_TIME":   "",
	}
	b := environment().NewStreamBuilder()
	b.SetEnvVarLookupFunc(func(name string) (string, bool) {
		if v, ok := env[name]; ok {
			return v, true
		}
		return os.LookupEnv(name)
	})
	if err := b.SetYAML(string(config.DuoToStdout)); err != nil {
		return fmt.Errorf("load config/duo-to-stdout.yaml: %w", err)
	}
	stream, err := b.Build()
	if err != nil {
		return fmt.Errorf("build demo pipeline: %w", err)
	}
	if accounts == 0 {
		fmt.Fprintf(os.Stderr, "duostream demo: Duo API simulator on %s (API hostname %s); pulling %s of history, then live events. Ctrl-C stops.\n",
			sim.URL, sim.APIHost(), backfill)
	} else {
		var list strings.Builder
		for _, c := range children {
			fmt.Fprintf(&list, "  %s  %-28s  %s\n", c.ID(), c.Name(), c.APIHost())
		}
		fmt.Fprintf(os.Stderr, "duostream demo: Duo API simulator on %s, an MSP parent (API hostname %s) with %d child accounts:\n%spulling %s of history of every child, then live events. Ctrl-C stops.\n",
			sim.URL, sim.APIHost(), accounts, list.String(), backfill)
	}

	runErr := make(chan error, 1)
	go func() { runErr <- stream.Run(context.Background()) }()
	select {
	case err := <-runErr:
		return err
	case <-ctx.Done():
	}
	if err := stream.StopWithin(10 * time.Second); err != nil && !errors.Is(err, context.Canceled) {
		return fmt.Errorf("stop demo pipeline: %w", err)
	}
	return nil
}
