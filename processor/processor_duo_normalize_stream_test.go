// Copyright 2026 The duostream authors. Licensed under the MIT licence.

package processor

import (
	"bufio"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/redpanda-data/benthos/v4/public/service"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	_ "github.com/redpanda-data/benthos/v4/public/components/io"
	_ "github.com/redpanda-data/benthos/v4/public/components/pure"
)

// TestDeadLetterExample runs the spec's own example in a stream: events
// that break their schema must reach the dead-letter output unchanged, the
// others the main output normalized, and none may be lost.
func TestDeadLetterExample(t *testing.T) {
	var example string
	service.GlobalEnvironment().WalkProcessors(func(name string, v *service.ConfigView) {
		if name != "duo_normalize" {
			return
		}
		data, err := v.TemplateData()
		require.NoError(t, err)
		require.Len(t, data.Examples, 1)
		example = data.Examples[0].Config
	})
	require.Contains(t, example, "check: errored()")

	dir := t.TempDir()
	events := []string{
		`{"action":"admin_self_activate","isotimestamp":"2021-07-20T11:44:37+00:00","object":"jsmith","timestamp":1626781477,"username":"narroway"}`,
		`{"action":"activation_begin","description":"Starting activation process","isotimestamp":"2021-07-20T11: 41: 31+00: 00","object":null,"timestamp":1626781291,"username":"narroway"}`,
		`{"action":"user_update","isotimestamp":"2020-01-24T15:09:42+00:00","username":"admin"}`,
		`not json at all`,
	}
	in := filepath.Join(dir, "in.jsonl")
	require.NoError(t, os.WriteFile(in, []byte(strings.Join(events, "\n")+"\n"), 0o644))
	dlq, main := filepath.Join(dir, "dlq.jsonl"), filepath.Join(dir, "main.jsonl")

	conf := strings.NewReplacer(
		"./duo-dead-letter.jsonl", dlq,
		"stdout: {}", "file: {path: "+main+", codec: lines}",
	).Replace(example)
	conf = `
input:
  file:
    paths: [` + in + `]
    scanner:
      lines: {}
  processors:
    - mapping: 'meta duo_log_type = "Duo.Administrator"'
` + conf
	b := service.NewStreamBuilder()
	require.NoError(t, b.SetYAML(conf))
	require.NoError(t, b.SetLoggerYAML("level: off"))
	strm, err := b.Build()
	require.NoError(t, err)
	require.NoError(t, strm.Run(t.Context()))
	require.NoError(t, strm.StopWithin(5*time.Second))

	dead := readLines(t, dlq)
	assert.Equal(t, []string{events[1], events[3]}, dead)
	good := readLines(t, main)
	require.Len(t, good, 2)
	for _, l := range good {
		assert.Contains(t, l, `"p_log_type":"Duo.Administrator"`)
	}
}

func readLines(t *testing.T, path string) []string {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	require.NoError(t, sc.Err())
	return lines
}
