// Copyright 2026 The duostream authors. Licensed under the MIT licence.

// Package reliability holds duostream's reliability and security suite. It
// has no code of its own: its tests drive the real duostream binary as a
// subprocess against the Duo API simulator (package duosim) and check, with
// figures, the promises the README makes: no event lost and none duplicated
// beyond the pages in flight after a crash, no stop on transient API
// faults, back-pressure while the output is down, clear errors for wrong
// credentials and bad configs, no panic on bad input, and no secret in any
// log, metric or CLI output.
//
// The heavy tests are behind the build tag "reliability", so that
// `go test ./...` stays quick. Run them with
//
//	go test -tags reliability -v -count=1 ./reliability/...
//
// (.ci/reliability does, and prints the figures). They use the binary named
// by DUOSTREAM_BINARY, or build one when it is unset. RELIABILITY.md at the
// repository root lists each guarantee with the test that proves it.
//
// The untagged test of bad events through duo_normalize runs with every
// `go test ./...`, and so do the checks of the alerting rules and the
// dashboard in deploy/ (deploy_test.go); the drift check that every metric
// they name is one duostream serves (TestDeployMetricsExported) runs the
// binary, in the suite.
package reliability
