// Copyright 2026 The duostream authors. Licensed under the MIT licence.

package duosim

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestParseNextOffset(t *testing.T) {
	tests := []struct {
		name   string
		vals   []string
		want   cursor
		wantOK bool
	}{
		{"comma form", []string{"1532951895000,af0ba235-0b33-23c8-bc23-a31aa0231de8"}, cursor{1532951895000, "af0ba235-0b33-23c8-bc23-a31aa0231de8"}, true},
		{"repeated key", []string{"1532951895000", "af0ba235"}, cursor{1532951895000, "af0ba235"}, true},
		{"repeated key, ID first", []string{"0af0ba23", "1532951895000"}, cursor{1532951895000, "0af0ba23"}, true},
		{"repeated key, both times", []string{"1532951895000", "1532951895001"}, cursor{1532951895000, "1532951895001"}, true},
		{"no comma", []string{"1532951895000"}, cursor{}, false},
		{"empty", []string{""}, cursor{}, false},
		{"empty ID", []string{"1532951895000,"}, cursor{}, false},
		{"empty time", []string{",abc"}, cursor{}, false},
		{"three parts", []string{"1532951895000,a,b"}, cursor{}, false},
		{"repeated key with a comma", []string{"1532951895000", "a,b"}, cursor{}, false},
		{"seconds", []string{"1532951895,a"}, cursor{}, false},
		{"three values", []string{"1532951895000", "a", "b"}, cursor{}, false},
		{"no values", nil, cursor{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := parseNextOffset(tt.vals)
			assert.Equal(t, tt.wantOK, ok)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestDescribeRetention(t *testing.T) {
	assert.Equal(t, "180 days", describeRetention(DefaultRetention))
	assert.Equal(t, "36h0m0s", describeRetention(36*60*60*1e9))
}

// FuzzParseQuery feeds arbitrary query strings to the parameter parsers of
// both API versions and Trust Monitor and checks that every accepted query is
// consistent and every rejected one gets a Duo 400 error.
func FuzzParseQuery(f *testing.F) {
	const nowMs = 1780315200000 // epoch
	f.Add("mintime=1780311600000&maxtime=1780314600000")
	f.Add("mintime=1780311600000&maxtime=1780314600000&limit=1000&sort=ts%3Aasc&next_offset=1780311600000%2Cabc")
	f.Add("mintime=1780311600000&maxtime=1780314600000&next_offset=abc&next_offset=1780311600000")
	f.Add("mintime=1780311600000&maxtime=1780314600000&limit=200&type=auth&type=bypass_status_enabled&offset=200")
	f.Add("mintime=1780311600000&maxtime=1780314600000&limit=201&type=login&offset=")
	f.Add("mintime=1346172815")
	f.Add("mintime=-1&mintime=2")
	f.Add("limit=0&sort=asc&mintime=%zz")
	f.Add("")
	f.Fuzz(func(t *testing.T, raw string) {
		q, _ := url.ParseQuery(raw) // a bad pair is dropped, as the server drops it
		checkErr := func(e *apiError) {
			if e.status != http.StatusBadRequest || (e.code != 40001 && e.code != 40002) || e.detail == "" {
				t.Fatalf("query %q: error %+v is not a Duo 400", raw, e)
			}
		}
		v, err := parseV2Query(q, nowMs, DefaultRetention)
		if err != nil {
			checkErr(err)
		} else {
			switch {
			case v.minMs >= v.maxMs:
				t.Fatalf("query %q: accepted mintime %d >= maxtime %d", raw, v.minMs, v.maxMs)
			case v.minMs < nowMs-DefaultRetention.Milliseconds():
				t.Fatalf("query %q: accepted mintime %d older than the retention", raw, v.minMs)
			case v.maxMs > maxEventMillis:
				t.Fatalf("query %q: accepted maxtime %d of more than 13 digits", raw, v.maxMs)
			case v.limit < 1 || v.limit > maxV2Limit:
				t.Fatalf("query %q: accepted limit %d", raw, v.limit)
			case v.desc != (q.Get("sort") != "ts:asc"):
				t.Fatalf("query %q: sort read as desc=%v", raw, v.desc)
			}
			if v.offset != nil {
				if v.offset.id == "" || strings.Contains(v.offset.id, ",") {
					t.Fatalf("query %q: accepted cursor ID %q", raw, v.offset.id)
				}
				// What the server sends back as next_offset reads the same.
				again, ok := parseNextOffset([]string{fmt.Sprintf("%013d,%s", v.offset.ms, v.offset.id)})
				if !ok || again != *v.offset {
					t.Fatalf("query %q: cursor %+v does not survive a round trip (%+v, %v)", raw, *v.offset, again, ok)
				}
			}
		}
		tm, err := parseTrustMonitorQuery(q, nowMs, DefaultRetention)
		if err != nil {
			checkErr(err)
		} else {
			switch {
			case tm.minMs >= tm.maxMs:
				t.Fatalf("query %q: Trust Monitor accepted mintime %d >= maxtime %d", raw, tm.minMs, tm.maxMs)
			case tm.minMs < nowMs-DefaultRetention.Milliseconds():
				t.Fatalf("query %q: Trust Monitor accepted mintime %d older than the retention", raw, tm.minMs)
			case tm.limit < 1 || tm.limit > maxTrustMonitorLimit:
				t.Fatalf("query %q: Trust Monitor accepted limit %d", raw, tm.limit)
			case tm.offset != q.Get("offset"):
				t.Fatalf("query %q: offset read as %q", raw, tm.offset)
			case !slices.IsSorted(tm.types) || len(slices.Compact(slices.Clone(tm.types))) != len(tm.types):
				t.Fatalf("query %q: types %q are not sorted and unique", raw, tm.types)
			}
			for _, typ := range tm.types {
				if typ != "auth" && typ != "bypass_status" && typ != "device_registration" {
					t.Fatalf("query %q: type filter read as %q", raw, typ)
				}
			}
		}
		minMs, err := parseV1Query(q)
		if err != nil {
			checkErr(err)
		} else if minMs < 0 || minMs > maxMillis || minMs%1000 != 0 && minMs != maxMillis {
			t.Fatalf("query %q: v1 mintime read as %d ms", raw, minMs)
		}
	})
}
