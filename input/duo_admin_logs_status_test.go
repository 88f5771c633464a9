// Copyright 2026 The duostream authors. Licensed under the MIT licence.

package input

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/redpanda-data/benthos/v4/public/service"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/duostream/duostream/duoapi"
	"github.com/duostream/duostream/duosim"
)

// TestStatusEndpoints checks that the input adds GET /duo/status and
// GET /duo/ to the Benthos HTTP server of its stream, and that they tell
// each stream's stored position, last event and state, and the budget.
func TestStatusEndpoints(t *testing.T) {
	sim, err := duosim.Start(duosim.Config{Seed: 51})
	require.NoError(t, err)
	defer sim.Close()
	now := time.Now()
	require.NoError(t, sim.Generate(duoapi.Authentication, 1500, now.Add(-3*time.Hour), now.Add(-10*time.Minute)))

	mux := http.NewServeMux()
	srv := httptest.NewServer(mux)
	defer srv.Close()
	b := service.NewStreamBuilder()
	b.SetHTTPMux(mux)
	require.NoError(t, b.SetLoggerYAML(`level: none`))
	require.NoError(t, b.AddCacheYAML(fmt.Sprintf("label: state\nbbolt:\n  path: %s\n", filepath.Join(t.TempDir(), "state.db"))))
	require.NoError(t, b.AddInputYAML(simInputYAML(sim, "  log_types: [authentication, administrator]\n")))
	c := newCollector()
	require.NoError(t, b.AddBatchConsumerFunc(c.consume))
	strm, err := b.Build()
	require.NoError(t, err)
	go func() { _ = strm.Run(context.Background()) }()
	defer func() { _ = strm.StopWithin(10 * time.Second) }()

	var got struct {
		Inputs []InputStatus `json:"inputs"`
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Get(srv.URL + StatusJSONPath)
		if err == nil {
			ok := resp.StatusCode == 200 && json.NewDecoder(resp.Body).Decode(&got) == nil
			resp.Body.Close()
			if ok && len(got.Inputs) == 1 && len(got.Inputs[0].Streams) == 2 && got.Inputs[0].Streams[0].Position != nil {
				break
			}
		}
		require.True(t, time.Now().Before(deadline), "no stored position on %s: %+v", StatusJSONPath, got)
		time.Sleep(50 * time.Millisecond)
	}
	in := got.Inputs[0]
	assert.Equal(t, sim.APIHost(), in.APIHostname)
	assert.Equal(t, 60000, in.RequestsPerMinute)
	assert.False(t, in.Discover)
	auth := in.Streams[0]
	assert.Equal(t, "authentication", auth.LogType, "streams in the order of log_types")
	assert.Equal(t, "administrator", in.Streams[1].LogType)
	assert.True(t, auth.OK)
	assert.Empty(t, auth.LastError)
	assert.NotNil(t, auth.LastEvent)
	assert.Less(t, auth.LagSeconds, float64(4*3600))

	resp, err := http.Get(srv.URL + StatusPagePath)
	require.NoError(t, err)
	defer resp.Body.Close()
	page, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	assert.Equal(t, "text/html; charset=utf-8", resp.Header.Get("Content-Type"))
	assert.Contains(t, string(page), `data-log-type="authentication"`)
	assert.Contains(t, string(page), "this account")
}
