// Copyright 2026 The duostream authors. Licensed under the MIT licence.

package duosim

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/duostream/duostream/duoapi"
)

// LiveTick is how often RunLive adds events.
const LiveTick = 100 * time.Millisecond

// RunLive keeps adding generated events to the account until ctx is done,
// at perSecond events a second for each log type in the map, with times of
// "now" by the server clock (spread over each tick). Events become readable
// once they are older than the availability lag. RunLive returns nil when
// ctx is done, or an error straight away for a bad rate.
func (a *accountStore) RunLive(ctx context.Context, perSecond map[duoapi.LogType]float64) error {
	for t, rate := range perSecond {
		if _, err := duoapi.ParseLogType(string(t)); err != nil {
			return fmt.Errorf("live: %w", err)
		}
		if !(rate >= 0) || math.IsInf(rate, 1) {
			return fmt.Errorf("live %s: rate %v is not a non-negative number", t, rate)
		}
	}
	carry := make(map[duoapi.LogType]float64, len(perSecond))
	last := a.now()
	ticker := time.NewTicker(LiveTick)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-ticker.C:
		}
		now := a.now()
		elapsed := now.Sub(last)
		if elapsed <= 0 {
			continue
		}
		from := last.Add(time.Microsecond) // (last, now]
		if from.After(now) {
			from = now
		}
		for _, t := range duoapi.AllLogTypes { // a fixed order keeps the data reproducible
			rate, ok := perSecond[t]
			if !ok {
				continue
			}
			want := rate*elapsed.Seconds() + carry[t]
			n := int(want)
			carry[t] = want - float64(n)
			if err := a.Generate(t, n, from, now); err != nil {
				return fmt.Errorf("live: %w", err)
			}
		}
		last = now
	}
}
