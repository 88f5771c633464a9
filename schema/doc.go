// Copyright 2026 The duostream authors. Licensed under the MIT licence.

// Package schema interprets Panther-format log schemas: it validates and
// normalizes events and extracts Panther's p_* indicator fields.
//
// A schema is data, not code: [Parse] reads Panther's YAML (types string,
// int, bigint, float, boolean, timestamp, object, array and json;
// required; timeFormat or timeFormats; isEventTime; indicators; and
// copy.from to fill a missing field from another one), and [NewRegistry]
// starts with six Duo schemas embedded from schemas/*.yml: the four
// Panther publishes, and Duo.Activity and Duo.TrustMonitor, which
// duostream writes from Duo's documentation in the same format, as
// Panther's Duo source reads neither log.
//
// One thing goes beyond Panther's format: indicators on a json field,
// which read every string inside its value, at any depth. A field whose
// shape differs between Duo versions, such as an IP address sent as
// {"address": "..."} or as a plain string, can so keep its value as it
// came and still fill p_any_ip_addresses.
//
// A [Normalizer] checks one JSON event against a schema and writes it in
// Panther's form in a single pass over the event: strings keep their
// bytes, booleans and numbers become strings where the schema says string,
// RFC 3339 timestamps are rewritten as Go writes them, unix timestamps stay
// numbers, nulls and empty arrays are left out, and p_log_type, p_row_id,
// p_event_time, p_parse_time and the sorted, de-duplicated p_any_* fields
// are added. An event that breaks its schema gives a [*FieldError] naming
// the log type, the field path and the problem.
//
// [Doc] is the JSON reader underneath: it indexes a document without
// copying it and accepts exactly what encoding/json accepts.
package schema
