// Copyright 2026 The duostream authors. Licensed under the MIT licence.

package duoapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// stat is the part of every Duo response body that says how it went.
type stat struct {
	Stat    string          `json:"stat"`
	Code    json.RawMessage `json:"code"`
	Message string          `json:"message"`
	Detail  string          `json:"message_detail"`
}

// code reads the error code, which Duo sends as a number and some proxies
// or old endpoints as a string (or an empty string).
func (s stat) code() int {
	raw := bytes.Trim(bytes.TrimSpace(s.Code), `"`)
	n, err := strconv.Atoi(string(raw))
	if err != nil {
		return 0
	}
	return n
}

func parseStat(body []byte) (stat, error) {
	var s stat
	if err := json.Unmarshal(body, &s); err != nil {
		return s, err
	}
	if s.Stat == "" {
		return s, errors.New(`no "stat" field`)
	}
	return s, nil
}

// V2Page is one page of a v2 log endpoint.
type V2Page struct {
	// Events are the records as Duo sent them.
	Events []json.RawMessage
	// NextOffset is the paging offset to send for the next page, in the
	// comma form ("1547486297000,<id>"); empty when this was the last page.
	NextOffset string
	// TotalObjects is Duo's count of records in the window, when it sent one
	// as a number.
	TotalObjects int64
}

// ParseV2Page decodes the body of a v2 log endpoint whose records are under
// response.<itemsKey>: "authlogs" for authentication, "items" for telephony
// and activity. next_offset may be an array of strings (authentication), a
// string (telephony, activity), null or absent.
func ParseV2Page(body []byte, itemsKey string) (V2Page, error) {
	return parsePage(body, itemsKey, false)
}

// ParseTrustMonitorPage decodes the body of the Trust Monitor endpoint,
// whose events are under response.events and whose next_offset is opaque: a
// number or a string, null or absent at the end.
func ParseTrustMonitorPage(body []byte) (V2Page, error) {
	return parsePage(body, "events", true)
}

// parsePage decodes a paged response; numberOffsets accepts a next_offset
// that is a JSON number.
func parsePage(body []byte, itemsKey string, numberOffsets bool) (V2Page, error) {
	var env struct {
		Stat     string                     `json:"stat"`
		Response map[string]json.RawMessage `json:"response"`
	}
	if err := json.Unmarshal(body, &env); err != nil {
		return V2Page{}, fmt.Errorf("decode response: %w", err)
	}
	if env.Stat != "OK" {
		return V2Page{}, fmt.Errorf(`"stat" is %q, not "OK"`, env.Stat)
	}
	if env.Response == nil {
		return V2Page{}, errors.New(`"response" is missing or not an object`)
	}
	var page V2Page
	if raw, ok := env.Response[itemsKey]; ok && !isNull(raw) {
		if err := json.Unmarshal(raw, &page.Events); err != nil {
			return V2Page{}, fmt.Errorf(`"response.%s" is not an array: %w`, itemsKey, err)
		}
	} else {
		return V2Page{}, fmt.Errorf(`"response.%s" is missing`, itemsKey)
	}
	for i, ev := range page.Events {
		if len(ev) == 0 || ev[0] != '{' {
			return V2Page{}, fmt.Errorf(`"response.%s[%d]" is not an object`, itemsKey, i)
		}
	}
	if raw, ok := env.Response["metadata"]; ok && !isNull(raw) {
		var meta struct {
			NextOffset   json.RawMessage `json:"next_offset"`
			TotalObjects json.RawMessage `json:"total_objects"`
		}
		if err := json.Unmarshal(raw, &meta); err != nil {
			return V2Page{}, fmt.Errorf(`"response.metadata" is not an object: %w`, err)
		}
		off, err := parseNextOffset(meta.NextOffset, numberOffsets)
		if err != nil {
			return V2Page{}, err
		}
		page.NextOffset = off
		var total int64
		if json.Unmarshal(meta.TotalObjects, &total) == nil {
			page.TotalObjects = total
		}
	}
	return page, nil
}

func parseNextOffset(raw json.RawMessage, numbers bool) (string, error) {
	if len(raw) == 0 || isNull(raw) {
		return "", nil
	}
	var parts []string
	if err := json.Unmarshal(raw, &parts); err == nil {
		if len(parts) == 0 {
			return "", nil
		}
		for _, p := range parts {
			if p == "" || strings.Contains(p, ",") {
				return "", fmt.Errorf(`"next_offset" element %q is empty or holds a comma`, p)
			}
		}
		return strings.Join(parts, ","), nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		return s, nil
	}
	var n json.Number
	if numbers && json.Unmarshal(raw, &n) == nil {
		// Trust Monitor's opaque offset, sent back exactly as written.
		return n.String(), nil
	}
	if numbers {
		return "", fmt.Errorf(`"next_offset" is neither a string nor a number: %s`, truncate(raw, 64))
	}
	return "", fmt.Errorf(`"next_offset" is neither a string nor an array of strings: %s`, truncate(raw, 64))
}

// ParseV1Page decodes the body of a v1 log endpoint, whose response is a bare
// array of records.
func ParseV1Page(body []byte) ([]json.RawMessage, error) {
	response, err := okResponse(body)
	if err != nil {
		return nil, err
	}
	var events []json.RawMessage
	if err := json.Unmarshal(response, &events); err != nil || events == nil && !isNull(response) {
		return nil, fmt.Errorf(`"response" is not an array: %s`, truncate(response, 64))
	}
	for i, ev := range events {
		if len(ev) == 0 || ev[0] != '{' {
			return nil, fmt.Errorf(`"response[%d]" is not an object`, i)
		}
	}
	return events, nil
}

// v1Event is what the v1 pager needs of an event.
type v1Event struct {
	Timestamp json.Number `json:"timestamp"`
}

// eventSecond returns the whole Unix second of a v1 event's "timestamp".
func eventSecond(ev json.RawMessage) (int64, bool) {
	var e v1Event
	if err := json.Unmarshal(ev, &e); err != nil || e.Timestamp == "" {
		return 0, false
	}
	if n, err := e.Timestamp.Int64(); err == nil {
		return n, true
	}
	f, err := e.Timestamp.Float64()
	if err != nil {
		return 0, false
	}
	return int64(f), true
}

// TrustMonitorKey is what the Trust Monitor pager needs of an event: when it
// surfaced and its ID.
type TrustMonitorKey struct {
	// Surfaced is surfaced_timestamp, in milliseconds.
	Surfaced int64
	// SEKey is the event's sekey, unique across Trust Monitor events.
	SEKey string
}

// ParseTrustMonitorKey reads the surfaced_timestamp and sekey of a Trust
// Monitor event; ok is false when either is missing or malformed.
func ParseTrustMonitorKey(ev json.RawMessage) (key TrustMonitorKey, ok bool) {
	var e struct {
		Surfaced json.Number `json:"surfaced_timestamp"`
		SEKey    string      `json:"sekey"`
	}
	if err := json.Unmarshal(ev, &e); err != nil || e.SEKey == "" || e.Surfaced == "" {
		return TrustMonitorKey{}, false
	}
	ms, err := e.Surfaced.Int64()
	if err != nil {
		f, ferr := e.Surfaced.Float64()
		if ferr != nil || f >= 1<<53 {
			return TrustMonitorKey{}, false
		}
		ms = int64(f)
	}
	if ms <= 0 {
		return TrustMonitorKey{}, false
	}
	return TrustMonitorKey{Surfaced: ms, SEKey: e.SEKey}, true
}

// okResponse returns the "response" of a body whose "stat" is "OK".
func okResponse(body []byte) (json.RawMessage, error) {
	var env struct {
		Stat     string          `json:"stat"`
		Response json.RawMessage `json:"response"`
	}
	if err := json.Unmarshal(body, &env); err != nil {
		return nil, fmt.Errorf("decode response: %w", err)
	}
	if env.Stat != "OK" {
		return nil, fmt.Errorf(`"stat" is %q, not "OK"`, env.Stat)
	}
	return env.Response, nil
}

func isNull(raw json.RawMessage) bool {
	return string(bytes.TrimSpace(raw)) == "null"
}

func truncate(b []byte, n int) string {
	if len(b) <= n {
		return string(b)
	}
	return string(b[:n]) + "..."
}
