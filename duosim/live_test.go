// Copyright 2026 The duostream authors. Licensed under the MIT licence.

package duosim

import (
	"context"
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/duostream/duostream/duoapi"
)

func TestRunLive(t *testing.T) {
	s, err := New(Config{Seed: 4})
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(t.Context(), 500*time.Millisecond)
	defer cancel()
	began := time.Now()
	require.NoError(t, s.RunLive(ctx, map[duoapi.LogType]float64{duoapi.Authentication: 400, duoapi.Telephony: 40}))
	ended := time.Now()

	// About 0.5 s of events at 400/s and 40/s, with times of "now".
	auth := s.Events(duoapi.Authentication, began.Add(-time.Millisecond), ended.Add(time.Millisecond))
	assert.InDelta(t, 200, len(auth), 120)
	assert.Equal(t, len(auth), s.CountEvents(duoapi.Authentication, began.Add(-time.Hour), ended.Add(time.Hour)), "no event outside the run")
	assert.InDelta(t, 20, s.CountEvents(duoapi.Telephony, began.Add(-time.Hour), ended.Add(time.Hour)), 15)
	assert.Zero(t, s.CountEvents(duoapi.Administrator, began.Add(-time.Hour), ended.Add(time.Hour)))
}

func TestRunLiveFollowsTheClock(t *testing.T) {
	clock := NewManualClock(epoch)
	s, err := New(Config{Now: clock.Now})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error)
	go func() {
		done <- s.RunLive(ctx, map[duoapi.LogType]float64{
			duoapi.Administrator: 2, duoapi.OfflineEnrollment: 0.5, duoapi.Activity: 1, duoapi.TrustMonitor: 0.3,
		})
	}()

	time.Sleep(3 * LiveTick)
	assert.Zero(t, s.CountEvents(duoapi.Administrator, epoch.Add(-time.Hour), epoch.Add(time.Hour)), "a stopped clock makes no events")
	clock.Advance(10 * time.Second)
	// A tick adds the types in the order of duoapi.AllLogTypes, Trust
	// Monitor last.
	require.Eventually(t, func() bool {
		return s.CountEvents(duoapi.TrustMonitor, epoch, epoch.Add(10*time.Second+time.Millisecond)) == 3
	}, 5*time.Second, LiveTick/2)
	assert.Equal(t, 20, s.CountEvents(duoapi.Administrator, epoch, epoch.Add(10*time.Second+time.Millisecond)))
	assert.Equal(t, 5, s.CountEvents(duoapi.OfflineEnrollment, epoch, epoch.Add(10*time.Second+time.Millisecond)))
	assert.Equal(t, 10, s.CountEvents(duoapi.Activity, epoch, epoch.Add(10*time.Second+time.Millisecond)))
	cancel()
	assert.NoError(t, <-done)
}

func TestRunLiveRejectsBadRates(t *testing.T) {
	s, err := New(Config{})
	require.NoError(t, err)
	tests := []struct {
		name    string
		rates   map[duoapi.LogType]float64
		wantErr string
	}{
		{"negative", map[duoapi.LogType]float64{duoapi.Authentication: -1}, "live authentication: rate -1 is not a non-negative number"},
		{"NaN", map[duoapi.LogType]float64{duoapi.Telephony: math.NaN()}, "live telephony: rate NaN is not a non-negative number"},
		{"infinite", map[duoapi.LogType]float64{duoapi.Telephony: math.Inf(1)}, "live telephony: rate +Inf is not a non-negative number"},
		{"unknown type", map[duoapi.LogType]float64{"endpoint": 1}, `live: unknown log type "endpoint": use one of authentication, administrator, telephony, offline_enrollment, activity, trust_monitor`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.EqualError(t, s.RunLive(t.Context(), tt.rates), tt.wantErr)
		})
	}
}
