// Copyright 2026 The duostream authors. Licensed under the MIT licence.

package main

import (
	"bufio"
	"encoding/json"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/duostream/duostream/duosim"
)

// TestMain lets tests run the real duostream CLI: the test binary re-executes
// itself with DUOSTREAM_TEST_MAIN=1 and the CLI arguments.
func TestMain(m *testing.M) {
	if os.Getenv("DUOSTREAM_TEST_MAIN") == "1" {
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func duostreamCmd(t *testing.T, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(t.Context(), os.Args[0], args...)
	cmd.Env = append(os.Environ(), "DUOSTREAM_TEST_MAIN=1")
	return cmd
}

// TestDemoPrintsNormalizedEvents runs `duostream demo` and reads normalized
// events of every log type from its stdout within 20 seconds.
func TestDemoPrintsNormalizedEvents(t *testing.T) {
	cmd := duostreamCmd(t, "demo")
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	start := time.Now()
	require.NoError(t, cmd.Start())

	seen := map[string]int{}
	lines := make(chan string)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	deadline := time.After(20 * time.Second)
read:
	for len(seen) < 4 {
		select {
		case line, ok := <-lines:
			if !ok {
				break read
			}
			var ev map[string]any
			require.NoError(t, json.Unmarshal([]byte(line), &ev), "stdout line %q", line)
			logType, _ := ev["p_log_type"].(string)
			require.NotEmpty(t, logType, "event without p_log_type: %s", line)
			assert.NotEmpty(t, ev["p_row_id"])
			assert.NotEmpty(t, ev["p_event_time"])
			seen[logType]++
		case <-deadline:
			break read
		}
	}
	elapsed := time.Since(start)
	require.NoError(t, cmd.Process.Signal(syscall.SIGTERM))
	err = cmd.Wait()
	assert.NoError(t, err, "demo exits cleanly on SIGTERM; stderr:\n%s", stderr.String())
	assert.Len(t, seen, 4, "events of every log type within 20s (took %s): %v; stderr:\n%s", elapsed, seen, stderr.String())
	assert.NotContains(t, stderr.String(), duosim.DefaultSecretKey)
	assert.NotContains(t, stderr.String(), "dead_letter_reason", "no generated event breaks its schema")
}

func TestDemoRejectsBadBackfill(t *testing.T) {
	out, err := duostreamCmd(t, "demo", "--backfill", "1m").CombinedOutput()
	require.Error(t, err)
	assert.Contains(t, string(out), "--backfill must be between 3m")
}
