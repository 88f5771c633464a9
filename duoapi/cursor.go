// Copyright 2026 The duostream authors. Licensed under the MIT licence.

package duoapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// cursorVersion is written into every stored cursor so a later release can
// tell old formats apart.
const cursorVersion = 1

// Cursor is where one log type's pull stands: everything before it has been
// fetched. It is small, JSON-encoded, and stored only once every event
// before it has been delivered.
//
// v2 endpoints page through fixed windows [WindowMin, WindowMax] with Duo's
// next_offset; v1 endpoints page by a whole-second MinTime and remember the
// content hashes of the events already delivered from that second. Trust
// Monitor pages through fixed windows too, with an opaque offset, and
// remembers the last surfaced_timestamp delivered and the sekeys delivered
// in that millisecond.
type Cursor struct {
	Version int `json:"v"`
	// WindowMin is the first millisecond of the current (or next) v2 window.
	WindowMin int64 `json:"window_min_ms,omitempty"`
	// WindowMax is the last millisecond of the current v2 window; 0 when no
	// window is in progress.
	WindowMax int64 `json:"window_max_ms,omitempty"`
	// NextOffset is Duo's offset of the next page inside the window.
	NextOffset string `json:"next_offset,omitempty"`
	// MinTime is the v1 mintime, in seconds, of the next request.
	MinTime int64 `json:"mintime,omitempty"`
	// Surfaced is the latest Trust Monitor surfaced_timestamp, in
	// milliseconds, delivered from the current window.
	Surfaced int64 `json:"surfaced_ms,omitempty"`
	// Seen holds the content hashes of the v1 events of second MinTime
	// that were already delivered, or the sekeys of the Trust Monitor
	// events of millisecond Surfaced that were.
	Seen []string `json:"seen,omitempty"`
}

// IsZero reports whether c holds no position (nothing was ever stored).
func (c Cursor) IsZero() bool {
	return c.WindowMin == 0 && c.WindowMax == 0 && c.NextOffset == "" && c.MinTime == 0 && c.Surfaced == 0 && len(c.Seen) == 0
}

// Position returns the time up to which the log has been read.
func (c Cursor) Position() time.Time {
	switch {
	case c.Surfaced != 0:
		// A Trust Monitor offset is opaque: the position is the last
		// event delivered.
		return time.UnixMilli(c.Surfaced)
	case c.NextOffset != "":
		if ms, ok := offsetMillis(c.NextOffset); ok {
			return time.UnixMilli(ms)
		}
		return time.UnixMilli(c.WindowMin)
	case c.WindowMin != 0:
		return time.UnixMilli(c.WindowMin)
	case c.MinTime != 0:
		return time.Unix(c.MinTime, 0)
	}
	return time.Time{}
}

func offsetMillis(offset string) (int64, bool) {
	head, _, _ := strings.Cut(offset, ",")
	ms, err := strconv.ParseInt(head, 10, 64)
	return ms, err == nil
}

// Encode returns the stored form of c.
func (c Cursor) Encode() []byte {
	c.Version = cursorVersion
	b, _ := json.Marshal(c) // a struct of ints and strings always marshals
	return b
}

// DecodeCursor reads a stored cursor. An empty, truncated or otherwise
// unreadable value is an error: the caller must not guess a position.
func DecodeCursor(b []byte) (Cursor, error) {
	var c Cursor
	if len(b) == 0 {
		return c, errors.New("stored cursor is empty")
	}
	if err := json.Unmarshal(b, &c); err != nil {
		return Cursor{}, fmt.Errorf("stored cursor is not valid JSON: %w", err)
	}
	if c.Version != cursorVersion {
		return Cursor{}, fmt.Errorf("stored cursor has version %d, this release reads version %d", c.Version, cursorVersion)
	}
	switch {
	case c.WindowMin < 0 || c.WindowMax < 0 || c.MinTime < 0 || c.Surfaced < 0:
		return Cursor{}, errors.New("stored cursor holds a negative time")
	case c.WindowMax != 0 && c.WindowMax < c.WindowMin:
		return Cursor{}, fmt.Errorf("stored cursor window ends (%d) before it starts (%d)", c.WindowMax, c.WindowMin)
	case c.NextOffset != "" && c.WindowMax == 0:
		return Cursor{}, errors.New("stored cursor has a next_offset but no window")
	case c.Surfaced != 0 && (c.Surfaced < c.WindowMin || c.WindowMax != 0 && c.Surfaced > c.WindowMax):
		return Cursor{}, fmt.Errorf("stored cursor's surfaced time (%d) is outside its window", c.Surfaced)
	case c.Surfaced != 0 && c.WindowMax == 0 && c.Surfaced != c.WindowMin:
		return Cursor{}, fmt.Errorf("stored cursor's surfaced time (%d) is not the start of its next window (%d)", c.Surfaced, c.WindowMin)
	case len(c.Seen) > 0 && c.Surfaced == 0 && c.MinTime == 0:
		return Cursor{}, errors.New("stored cursor holds delivered events but no time they belong to")
	case c.IsZero():
		return Cursor{}, errors.New("stored cursor holds no position")
	}
	return c, nil
}
