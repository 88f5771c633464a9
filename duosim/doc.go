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
package duosim
