// Copyright 2026 The duostream authors. Licensed under the MIT licence.

// Package duosim is a simulator of the Duo Admin API log endpoints, for tests
// and for the no-credentials demo.
//
// A Sim is an http.Handler that behaves like Duo: it serves the
// authentication, telephony and activity v2 endpoints (millisecond
// mintime/maxtime, limit, sort, next_offset cursors that resume strictly
// after an event), the Trust Monitor endpoint (a millisecond window on
// surfaced_timestamp, inclusive at both ends; limit up to 200; an optional
// type filter; an opaque offset, a JSON number or with
// Config.TrustMonitorStringOffsets a string, accepted back only with the
// query it was issued for; no next_offset at the end), the administrator,
// telephony and offline enrollment v1 endpoints (mintime in seconds, the
// earliest 1000 events, possibly splitting a second), and the unsigned
// /auth/v2/ping. It checks request signatures (v2 HMAC-SHA1, v2
// HMAC-SHA512, v5) against its own API hostname, the Date within 60 seconds,
// the parameters (a mintime older than 180 days is refused), and answers
// with Duo's error codes and envelopes. Events newer than two minutes are
// hidden, as Duo hides them.
//
// Events are stored encoded and sorted, events of one millisecond by their
// ID (txid, telephony_id, activity_id, sekey); they come from AddEvents (raw
// Duo records), Generate (realistic events, reproducible from Config.Seed;
// from == to makes a burst of events in one millisecond) and RunLive (a
// steady stream with times of "now"). Config also sets a clock (Now), a rate
// limit, a missing log permission, log types whose endpoint the account's
// edition lacks (Unavailable: 403 or 404 for that type only), and random
// faults (429, 500, 503, slow, truncated and dropped responses) that never
// change which events exist. Requests, RequestCounts, Events and CountEvents
// let tests check what a client asked for and what it should have received.
//
// With Config.AccountsAPI the integration is the Accounts API application of
// a Duo MSP parent: POST /accounts/v1/account/list (signed v2 with a form
// body or v5 with the JSON body {}) lists its child accounts, which
// Config.Children, AddChild and GenerateChildren add and RemoveChild takes
// away, also while the simulator runs. A log request for a child is signed
// with the parent's credentials, carries the child's ID in the signed
// account_id parameter and is signed for the child's api_hostname (taken
// verbatim, duofederal.com included), as Duo wants; the simulator checks it
// against the hostname of the child named, whatever address it is reached
// at. Each child has its own events (Child.Generate, Child.AddEvents,
// Child.Events), its own rate limit and its own missing log types; faults
// apply to all accounts; RequestRecord.AccountID and AccountRequestCounts
// tell the accounts' requests apart. A cross-deployment child is listed but
// refuses log requests with 403 / 40301, and so does an account_id that
// names no child (the simulator's choice: Duo's answer is not documented).
//
// Typical use in a test:
//
//	clock := duosim.NewManualClock(time.Now())
//	srv, err := duosim.Start(duosim.Config{Now: clock.Now, Seed: 1})
//	if err != nil { ... }
//	defer srv.Close()
//	start := clock.Now().Add(-time.Hour)
//	srv.Generate(duoapi.Authentication, 5000, start, clock.Now().Add(-10*time.Minute))
//	// Point the client at srv.URL, signing for srv.APIHost() with
//	// srv.IntegrationKey() and srv.SecretKey(), then compare what it
//	// delivered with srv.Events(duoapi.Authentication, start, clock.Now()).
//
// And with child accounts (Example_childAccounts signs the requests):
//
//	srv, err := duosim.Start(duosim.Config{Now: clock.Now, Seed: 1, AccountsAPI: true})
//	if err != nil { ... }
//	children, err := srv.GenerateChildren(3)
//	if err != nil { ... }
//	children[0].Generate(duoapi.Authentication, 500, start, clock.Now().Add(-10*time.Minute))
//	// The client lists the children with the parent's credentials, then
//	// asks for children[0]'s logs with account_id=children[0].ID(),
//	// signing for children[0].APIHost(); compare what it delivered with
//	// children[0].Events(duoapi.Authentication, start, clock.Now()).
package duosim
