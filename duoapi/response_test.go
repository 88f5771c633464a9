// Copyright 2026 The duostream authors. Licensed under the MIT licence.

package duoapi

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// pageCase is a response body and what parsing it must give.
type pageCase struct {
	name       string
	body       string
	itemsKey   string
	wantEvents int
	wantOffset string
	wantTotal  int64
	wantErr    string
}

func checkPages(t *testing.T, tests []pageCase, parse func(body []byte, itemsKey string) (V2Page, error)) {
	t.Helper()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			page, err := parse([]byte(tt.body), tt.itemsKey)
			if tt.wantErr != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tt.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Len(t, page.Events, tt.wantEvents)
			assert.Equal(t, tt.wantOffset, page.NextOffset)
			assert.Equal(t, tt.wantTotal, page.TotalObjects)
		})
	}
}

func TestParseV2Page(t *testing.T) {
	checkPages(t, []pageCase{
		{"auth array offset", `{"stat":"OK","response":{"authlogs":[{"a":1}],"metadata":{"next_offset":["1532951895000","af0b"],"total_objects":1}}}`, "authlogs", 1, "1532951895000,af0b", 1, ""},
		{"null offset", `{"stat":"OK","response":{"authlogs":[],"metadata":{"next_offset":null,"total_objects":0}}}`, "authlogs", 0, "", 0, ""},
		{"absent metadata", `{"stat":"OK","response":{"authlogs":[{"a":1},{"b":2}]}}`, "authlogs", 2, "", 0, ""},
		{"telephony string offset", `{"stat":"OK","response":{"items":[{"a":1}],"metadata":{"next_offset":"1666714065304,5bf1","total_objects":3}}}`, "items", 1, "1666714065304,5bf1", 3, ""},
		{"total as object", `{"stat":"OK","response":{"items":[],"metadata":{"total_objects":{"relation":"eq","value":3}}}}`, "items", 0, "", 0, ""},
		{"empty offset array", `{"stat":"OK","response":{"items":[],"metadata":{"next_offset":[]}}}`, "items", 0, "", 0, ""},
		{"missing items", `{"stat":"OK","response":{"metadata":{}}}`, "authlogs", 0, "", 0, `"response.authlogs" is missing`},
		{"items not array", `{"stat":"OK","response":{"authlogs":{}}}`, "authlogs", 0, "", 0, "is not an array"},
		{"item not object", `{"stat":"OK","response":{"authlogs":[1]}}`, "authlogs", 0, "", 0, `"response.authlogs[0]" is not an object`},
		{"activity string offset", `{"stat":"OK","response":{"items":[{"a":1}],"metadata":{"next_offset":"1664576469635,1c40324f-eb60","total_objects":4000}}}`, "items", 1, "1664576469635,1c40324f-eb60", 4000, ""},
		{"offset number", `{"stat":"OK","response":{"authlogs":[],"metadata":{"next_offset":5}}}`, "authlogs", 0, "", 0, "neither a string nor an array"},
		{"offset with comma element", `{"stat":"OK","response":{"authlogs":[],"metadata":{"next_offset":["1,2","x"]}}}`, "authlogs", 0, "", 0, "holds a comma"},
		{"stat fail", `{"stat":"FAIL","code":40002}`, "authlogs", 0, "", 0, `"stat" is "FAIL"`},
		{"response array", `{"stat":"OK","response":[]}`, "authlogs", 0, "", 0, "decode response"},
		{"truncated", `{"stat":"OK","response":{"authlogs":[{"a":`, "authlogs", 0, "", 0, "decode response"},
		{"not json", `<html>`, "authlogs", 0, "", 0, "decode response"},
	}, ParseV2Page)
}

func TestParseTrustMonitorPage(t *testing.T) {
	checkPages(t, []pageCase{
		{"number offset", `{"stat":"OK","response":{"events":[{"sekey":"SE1"}],"metadata":{"next_offset":2}}}`, "events", 1, "2", 0, ""},
		{"string offset", `{"stat":"OK","response":{"events":[{"sekey":"SE1"}],"metadata":{"next_offset":"eyJvIjoyMDB9"}}}`, "events", 1, "eyJvIjoyMDB9", 0, ""},
		{"no offset at the end", `{"stat":"OK","response":{"events":[{"sekey":"SE1"}],"metadata":{}}}`, "events", 1, "", 0, ""},
		{"null offset", `{"stat":"OK","response":{"events":[],"metadata":{"next_offset":null}}}`, "events", 0, "", 0, ""},
		{"offset object", `{"stat":"OK","response":{"events":[],"metadata":{"next_offset":{"o":1}}}}`, "events", 0, "", 0, "neither a string nor a number"},
		{"offset boolean", `{"stat":"OK","response":{"events":[],"metadata":{"next_offset":true}}}`, "events", 0, "", 0, "neither a string nor a number"},
		{"events missing", `{"stat":"OK","response":{"metadata":{}}}`, "events", 0, "", 0, `"response.events" is missing`},
		{"event not an object", `{"stat":"OK","response":{"events":["SE1"]}}`, "events", 0, "", 0, `"response.events[0]" is not an object`},
	}, func(body []byte, _ string) (V2Page, error) { return ParseTrustMonitorPage(body) })
}

func TestParseV1Page(t *testing.T) {
	tests := []struct {
		name       string
		body       string
		wantEvents int
		wantErr    string
	}{
		{"two events", `{"stat":"OK","response":[{"timestamp":1},{"timestamp":2}]}`, 2, ""},
		{"empty", `{"stat":"OK","response":[]}`, 0, ""},
		{"null", `{"stat":"OK","response":null}`, 0, ""},
		{"object", `{"stat":"OK","response":{"authlogs":[]}}`, 0, `"response" is not an array`},
		{"scalar item", `{"stat":"OK","response":["x"]}`, 0, `"response[0]" is not an object`},
		{"truncated", `{"stat":"OK","response":[{"timestamp":1}`, 0, "decode response"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			events, err := ParseV1Page([]byte(tt.body))
			if tt.wantErr != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tt.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Len(t, events, tt.wantEvents)
		})
	}
}

// TestDocumentationEnvelopes parses the response examples of Duo's
// documentation (see testdata/SOURCES.md).
func TestDocumentationEnvelopes(t *testing.T) {
	read := func(name string) []byte {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		require.NoError(t, err)
		return b
	}
	page, err := ParseV2Page(read("duo_api_golang.admin_v2_logs_authentication.json"), "authlogs")
	require.NoError(t, err)
	assert.Len(t, page.Events, 1)
	assert.Equal(t, "1532951895000,af0ba235-0b33-23c8-bc23-a31aa0231de8", page.NextOffset)

	for _, name := range []string{"duo_api_golang.admin_v1_logs_administrator.json", "duo_api_golang.admin_v1_logs_telephony.json"} {
		events, err := ParseV1Page(read(name))
		require.NoError(t, err, name)
		require.NotEmpty(t, events, name)
		for _, ev := range events {
			_, ok := eventSecond(ev)
			assert.True(t, ok, "%s: event has a timestamp: %s", name, ev)
		}
	}
}

func TestEventSecond(t *testing.T) {
	tests := []struct {
		event string
		want  int64
		ok    bool
	}{
		{`{"timestamp":1346172820}`, 1346172820, true},
		{`{"timestamp":1346172820.75}`, 1346172820, true},
		{`{"timestamp":"1346172820"}`, 1346172820, true},
		{`{"timestamp":null}`, 0, false},
		{`{}`, 0, false},
		{`{"timestamp":1e400}`, 0, false},
	}
	for _, tt := range tests {
		got, ok := eventSecond(json.RawMessage(tt.event))
		assert.Equal(t, tt.ok, ok, "eventSecond(%s) ok", tt.event)
		assert.Equal(t, tt.want, got, "eventSecond(%s)", tt.event)
	}
}

func TestCursorRoundTrip(t *testing.T) {
	cursors := []Cursor{
		{WindowMin: 1, WindowMax: 2, NextOffset: "2,abc"},
		{WindowMin: 1700000000000},
		{MinTime: 1700000000, Seen: []string{"a", "b"}},
	}
	for _, c := range cursors {
		got, err := DecodeCursor(c.Encode())
		require.NoError(t, err)
		c.Version = cursorVersion
		assert.Equal(t, c, got)
	}
}

func TestDecodeCursorRejects(t *testing.T) {
	tests := []struct {
		stored string
		want   string
	}{
		{"", "empty"},
		{`{"v":1,"window_min_ms":17`, "not valid JSON"},
		{`{"v":2,"mintime":5}`, "version 2"},
		{`{"v":1}`, "holds no position"},
		{`{"v":1,"mintime":-5}`, "negative"},
		{`{"v":1,"window_min_ms":10,"window_max_ms":5}`, "ends (5) before it starts (10)"},
		{`{"v":1,"window_min_ms":10,"next_offset":"1,a"}`, "next_offset but no window"},
		{"\x00\x00\x00", "not valid JSON"},
	}
	for _, tt := range tests {
		_, err := DecodeCursor([]byte(tt.stored))
		require.Error(t, err, "DecodeCursor(%q)", tt.stored)
		assert.Contains(t, err.Error(), tt.want, "DecodeCursor(%q)", tt.stored)
	}
}

func TestCursorPosition(t *testing.T) {
	assert.Equal(t, time.UnixMilli(1700000000123), Cursor{WindowMin: 1, WindowMax: 2, NextOffset: "1700000000123,x"}.Position())
	assert.Equal(t, time.UnixMilli(5), Cursor{WindowMin: 5}.Position())
	assert.Equal(t, time.Unix(7, 0), Cursor{MinTime: 7}.Position())
	assert.True(t, Cursor{}.Position().IsZero())
	// A Trust Monitor offset is opaque: the position is the last event read.
	assert.Equal(t, time.UnixMilli(1700000000456), Cursor{WindowMin: 1, WindowMax: 1700000009999, NextOffset: "2", Surfaced: 1700000000456}.Position())
}

func FuzzParseV2Page(f *testing.F) {
	f.Add([]byte(`{"stat":"OK","response":{"authlogs":[{"a":1}],"metadata":{"next_offset":["1","x"],"total_objects":1}}}`), "authlogs")
	f.Add([]byte(`{"stat":"OK","response":{"items":[],"metadata":{"next_offset":"1,x"}}}`), "items")
	f.Add([]byte(`{"stat":"OK","response":{"items":[{}],"metadata":null}}`), "items")
	f.Fuzz(func(t *testing.T, body []byte, key string) {
		page, err := ParseV2Page(body, key)
		if err != nil {
			return
		}
		for _, ev := range page.Events {
			if !json.Valid(ev) || ev[0] != '{' {
				t.Fatalf("accepted an event that is not a JSON object: %q", ev)
			}
		}
	})
}

func TestParseTrustMonitorKey(t *testing.T) {
	tests := []struct {
		event string
		want  TrustMonitorKey
		ok    bool
	}{
		{`{"sekey":"SEISSBQR6V0LSGE0MU56","surfaced_timestamp":1598034349059}`, TrustMonitorKey{1598034349059, "SEISSBQR6V0LSGE0MU56"}, true},
		{`{"sekey":"SE1","surfaced_timestamp":"1598034349059"}`, TrustMonitorKey{1598034349059, "SE1"}, true},
		{`{"sekey":"SE1","surfaced_timestamp":1.598034349059e12}`, TrustMonitorKey{1598034349059, "SE1"}, true},
		{`{"sekey":"SE1"}`, TrustMonitorKey{}, false},
		{`{"surfaced_timestamp":1598034349059}`, TrustMonitorKey{}, false},
		{`{"sekey":"SE1","surfaced_timestamp":"soon"}`, TrustMonitorKey{}, false},
		{`{"sekey":"SE1","surfaced_timestamp":1e300}`, TrustMonitorKey{}, false},
		{`{"sekey":"SE1","surfaced_timestamp":-5}`, TrustMonitorKey{}, false},
		{`{"sekey":7,"surfaced_timestamp":1}`, TrustMonitorKey{}, false},
	}
	for _, tt := range tests {
		got, ok := ParseTrustMonitorKey(json.RawMessage(tt.event))
		assert.Equal(t, tt.ok, ok, tt.event)
		assert.Equal(t, tt.want, got, tt.event)
	}
}

// FuzzParseTrustMonitorPage feeds Trust Monitor bodies through the parser and
// the pager: whatever a parsed page holds, every event is delivered or
// counted as a duplicate, and the position stays inside the window.
func FuzzParseTrustMonitorPage(f *testing.F) {
	f.Add([]byte(`{"stat":"OK","response":{"events":[{"sekey":"SE1","surfaced_timestamp":1500},{"sekey":"SE2","surfaced_timestamp":1500}],"metadata":{"next_offset":2}}}`), int64(1500), "SE1")
	f.Add([]byte(`{"stat":"OK","response":{"events":[{"sekey":"SE1","surfaced_timestamp":"x"}],"metadata":{"next_offset":"tok"}}}`), int64(0), "")
	f.Add([]byte(`{"stat":"OK","response":{"events":[],"metadata":{}}}`), int64(1000), "SE9")
	f.Fuzz(func(t *testing.T, body []byte, surfaced int64, seen string) {
		page, err := ParseTrustMonitorPage(body)
		if err != nil {
			return
		}
		cur := Cursor{WindowMin: 1000, WindowMax: 2000}
		if surfaced >= cur.WindowMin && surfaced <= cur.WindowMax {
			cur.Surfaced, cur.Seen = surfaced, []string{seen}
		}
		out, read, dups := pageTrustMonitor(cur, page.Events)
		if len(out)+dups != len(page.Events) {
			t.Fatalf("%d delivered + %d duplicates from %d events", len(out), dups, len(page.Events))
		}
		if read.Surfaced < cur.WindowMin || read.Surfaced > cur.WindowMax {
			t.Fatalf("position %d left the window [%d, %d]", read.Surfaced, cur.WindowMin, cur.WindowMax)
		}
		if read.Surfaced < cur.Surfaced {
			t.Fatalf("position went back from %d to %d", cur.Surfaced, read.Surfaced)
		}
	})
}

func FuzzParseV1Page(f *testing.F) {
	f.Add([]byte(`{"stat":"OK","response":[{"timestamp":1}]}`))
	f.Add([]byte(`{"stat":"OK","response":null}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		events, err := ParseV1Page(body)
		if err != nil {
			return
		}
		for _, ev := range events {
			if !json.Valid(ev) || ev[0] != '{' {
				t.Fatalf("accepted an event that is not a JSON object: %q", ev)
			}
			_, _ = eventSecond(ev)
		}
		// The v1 pager must cope with whatever a parsed page holds.
		next, out, dups, _ := pageV1(Cursor{MinTime: 1}, events, 1<<40)
		if len(out)+dups > len(events) || next.MinTime < 1 {
			t.Fatalf("pageV1: %d out + %d dups from %d events, next %+v", len(out), dups, len(events), next)
		}
	})
}

func FuzzDecodeCursor(f *testing.F) {
	f.Add(Cursor{WindowMin: 1, WindowMax: 2, NextOffset: "2,a"}.Encode())
	f.Add(Cursor{MinTime: 5, Seen: []string{"x"}}.Encode())
	f.Add(Cursor{WindowMin: 1, WindowMax: 9, NextOffset: "2", Surfaced: 3, Seen: []string{"SE1"}}.Encode())
	f.Add([]byte(""))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := DecodeCursor(b)
		if err != nil {
			return
		}
		if c.IsZero() {
			t.Fatalf("accepted a cursor with no position: %q", b)
		}
		again, err := DecodeCursor(c.Encode())
		if err != nil {
			t.Fatalf("re-encoded cursor does not decode: %v", err)
		}
		if !cursorEqual(c, again) {
			t.Fatalf("round trip changed the cursor: %+v then %+v", c, again)
		}
	})
}
