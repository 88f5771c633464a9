// Copyright 2026 The duostream authors. Licensed under the MIT licence.

package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"text/tabwriter"

	"github.com/urfave/cli/v2"

	"github.com/duostream/duostream/duoapi"
	"github.com/duostream/duostream/input"
)

func checkCommand() *cli.Command {
	return &cli.Command{
		Name:      "check",
		Usage:     "Check that the duo_admin_logs inputs of a config can pull: credentials, permissions, every log type, the clock and the stored positions",
		ArgsUsage: "CONFIG...",
		Description: `For every duo_admin_logs input of the config (and every child account it
selects with accounts.discover), makes one small signed request per log type,
measures this machine's clock against Duo's Date header, and reads each
stream's stored position from the checkpoint cache. Prints a table of what
was checked, with the fix of every problem, and exits with 0 only when
everything works (OK or WARN). Environment variables are resolved as
duostream run resolves them.

It never prints the secret key, writes nothing to the checkpoint cache (a
bbolt file is opened read-only, and not created when it does not exist), and
builds no other component of the config: no output is contacted.

In streams mode, give the resource files with -r, as to duostream streams:

  duostream check -r ./resources.yaml ./streams/acme.yaml ./streams/globex.yaml`,
		Flags: []cli.Flag{
			&cli.StringSliceFlag{
				Name:    "resources",
				Aliases: []string{"r"},
				Usage:   "a resource file whose cache resources the configs use, as streams mode takes them; supports glob patterns (quote them)",
			},
			&cli.IntFlag{
				Name:  "parallel",
				Value: duoapi.DefaultAccountsInFlight,
				Usage: "with accounts.discover, how many child accounts are checked at once (each within its own requests_per_minute)",
			},
			&cli.BoolFlag{
				Name:  "problems-only",
				Usage: "print only the rows that are not OK",
			},
		},
		Action: func(c *cli.Context) error {
			ctx, stop := signal.NotifyContext(c.Context, os.Interrupt, syscall.SIGTERM)
			defer stop()
			if c.NArg() == 0 {
				return errors.New("duostream check: give the config to check, such as: duostream check ./config/duo-to-kafka.yaml")
			}
			if p := c.Int("parallel"); p < 1 || p > 64 {
				return fmt.Errorf("duostream check: --parallel must be between 1 and 64, got %d", p)
			}
			configs, err := readCheckFiles(c.Args().Slice(), false)
			if err != nil {
				return err
			}
			resources, err := readCheckFiles(c.StringSlice("resources"), true)
			if err != nil {
				return err
			}
			report, err := input.CheckConfigs(ctx, environment(), configs, resources, nil, input.CheckOptions{Parallel: c.Int("parallel")})
			if err != nil {
				return fmt.Errorf("duostream check: %w", err)
			}
			return printCheckReport(c.App.Writer, c.App.ErrWriter, report, c.Bool("problems-only"))
		},
	}
}

// readCheckFiles reads the files at paths; with globs, each path may be a
// glob pattern.
func readCheckFiles(paths []string, globs bool) ([]input.CheckFile, error) {
	var files []input.CheckFile
	for _, p := range paths {
		matches := []string{p}
		if globs {
			m, err := filepath.Glob(p)
			if err != nil {
				return nil, fmt.Errorf("duostream check: resource pattern %q: %w", p, err)
			}
			if len(m) > 0 {
				matches = m
			}
		}
		for _, path := range matches {
			b, err := os.ReadFile(path)
			if err != nil {
				return nil, fmt.Errorf("duostream check: %w", err)
			}
			files = append(files, input.CheckFile{Name: path, YAML: b})
		}
	}
	return files, nil
}

// printCheckReport writes the report as a table to stdout, with a summary
// line, and returns an error, for a non-zero exit status, unless every
// check works.
func printCheckReport(stdout, stderr io.Writer, report input.CheckReport, problemsOnly bool) error {
	if len(report.Lints) > 0 {
		fmt.Fprintln(stderr, "duostream check: the config does not lint:")
		for _, l := range report.Lints {
			fmt.Fprintln(stderr, "  "+l)
		}
		return errors.New("duostream check: fix the lint errors first (duostream lint shows them too)")
	}
	if report.Inputs == 0 {
		return errors.New("duostream check: the config has no duo_admin_logs input")
	}
	inputs := map[string]bool{}
	for _, r := range report.Rows {
		inputs[r.File+"\x00"+r.Input] = true
	}
	files := map[string]bool{}
	for _, r := range report.Rows {
		files[r.File] = true
	}
	showInput := len(inputs) > 1
	w := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	header := "ACCOUNT\tCHECK\tSTATUS\tDETAIL"
	if showInput {
		header = "INPUT\t" + header
	}
	fmt.Fprintln(w, header)
	counts := map[duoapi.Severity]int{}
	for _, r := range report.Rows {
		counts[r.Status]++
		if problemsOnly && r.Status == duoapi.SeverityOK {
			continue
		}
		line := strings.Join([]string{r.Account, r.Check, r.Status.String(), r.Detail}, "\t")
		if showInput {
			name := r.Input
			if len(files) > 1 {
				name = r.File + ": " + name
			}
			line = name + "\t" + line
		}
		fmt.Fprintln(w, line)
	}
	if err := w.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "\n%d %s of %d duo_admin_logs %s: %d OK, %d WARN, %d SKIP, %d FAIL\n",
		len(report.Rows), pluralWord(len(report.Rows), "check"), report.Inputs, pluralWord(report.Inputs, "input"),
		counts[duoapi.SeverityOK], counts[duoapi.SeverityWarn], counts[duoapi.SeveritySkipped], counts[duoapi.SeverityFail])
	switch fails, skips := counts[duoapi.SeverityFail], counts[duoapi.SeveritySkipped]; {
	case fails > 0:
		return fmt.Errorf("duostream check: %d %s to fix: see the FAIL %s above (a SKIP was not checked because of one)", fails, pluralWord(fails, "problem"), pluralWord(fails, "row"))
	case skips > 0:
		return fmt.Errorf("duostream check: %d %s could not be made", skips, pluralWord(skips, "check"))
	}
	return nil
}

// pluralWord returns word, with an s unless n is 1.
func pluralWord(n int, word string) string {
	if n == 1 {
		return word
	}
	return word + "s"
}
