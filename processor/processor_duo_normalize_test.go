// Copyright 2026 The duostream authors. Licensed under the MIT licence.

package processor

import (
	"bufio"
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/redpanda-data/benthos/v4/public/service"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/duostream/duostream/schema"
)

var update = flag.Bool("update", false, "rewrite testdata/golden outputs from the current processor")

// Pinned values of the non-deterministic fields.
var (
	pinnedNow   = time.Date(2026, 1, 2, 3, 4, 5, 678900000, time.UTC)
	pinnedRowID = "0123456789abcdef0000000000000001"
)

func pinnedOptions() schema.Options {
	return schema.Options{
		Now:   func() time.Time { return pinnedNow },
		RowID: func(dst []byte) []byte { return append(dst, pinnedRowID...) },
	}
}

func newTestProc(t testing.TB, yaml string) *duoNormalize {
	t.Helper()
	conf, err := duoNormalizeSpec().ParseYAML(yaml, nil)
	require.NoError(t, err)
	p, err := newDuoNormalize(conf, service.MockResources(), pinnedOptions())
	require.NoError(t, err)
	return p
}

// normalize runs one event through p with duo_log_type set to logType, as
// the duo_admin_logs input sets it. It returns the output, or the error the
// message was flagged with.
func normalize(t testing.TB, p *duoNormalize, logType string, event []byte) ([]byte, error) {
	t.Helper()
	m := service.NewMessage(event)
	m.MetaSetMut("duo_log_type", logType)
	batches, err := p.ProcessBatch(t.Context(), service.MessageBatch{m})
	require.NoError(t, err)
	require.Len(t, batches, 1)
	require.Len(t, batches[0], 1)
	out := batches[0][0]
	b, err := out.AsBytes()
	require.NoError(t, err)
	if err := out.GetError(); err != nil {
		// The original message is untouched.
		require.Equal(t, string(event), string(b), "an errored message must keep its original content")
		return nil, err
	}
	require.True(t, json.Valid(b), "output is not valid JSON: %s", b)
	return b, nil
}

// TestPantherGolden checks the processor against Panther's own parser test
// cases: each input must give Panther's result, plus the pinned p_row_id
// and p_parse_time that Panther's cases leave out.
func TestPantherGolden(t *testing.T) {
	p := newTestProc(t, `{}`)
	f, err := os.Open("testdata/panther/duo-golden.jsonl")
	require.NoError(t, err)
	defer f.Close()
	sc := bufio.NewScanner(f)
	n := 0
	for sc.Scan() {
		var c struct {
			Name    string          `json:"name"`
			LogType string          `json:"logType"`
			Input   json.RawMessage `json:"input"`
			Result  map[string]any  `json:"result"`
		}
		require.NoError(t, json.Unmarshal(sc.Bytes(), &c))
		n++
		t.Run(c.Name, func(t *testing.T) {
			out, err := normalize(t, p, c.LogType, c.Input)
			require.NoError(t, err)
			c.Result["p_row_id"] = pinnedRowID
			c.Result["p_parse_time"] = pinnedNow.Format(time.RFC3339Nano)
			want, err := json.Marshal(c.Result)
			require.NoError(t, err)
			assert.JSONEq(t, string(want), string(out))
		})
	}
	require.NoError(t, sc.Err())
	assert.Equal(t, 3, n)
}

// TestGoldenFiles runs every testdata/golden/<log type>/<case>.input.json
// and compares with <case>.golden.json, or, for an event that breaks its
// schema, with the error in <case>.error.txt. Run with -update to rewrite
// them.
func TestGoldenFiles(t *testing.T) {
	p := newTestProc(t, `{}`)
	inputs, err := filepath.Glob("testdata/golden/*/*.input.json")
	require.NoError(t, err)
	require.NotEmpty(t, inputs)
	perType := map[string]int{}
	for _, in := range inputs {
		logType := filepath.Base(filepath.Dir(in))
		perType[logType]++
		base := strings.TrimSuffix(in, ".input.json")
		t.Run(logType+"/"+filepath.Base(base), func(t *testing.T) {
			event, err := os.ReadFile(in)
			require.NoError(t, err)
			out, perr := normalize(t, p, logType, event)
			goldenPath, errPath := base+".golden.json", base+".error.txt"
			if *update {
				writeGolden(t, goldenPath, errPath, out, perr)
			}
			if perr != nil {
				var fe *schema.FieldError
				require.ErrorAs(t, perr, &fe)
				assert.Equal(t, logType, fe.LogType)
				want, err := os.ReadFile(errPath)
				require.NoError(t, err, "event failed with %q but has no .error.txt", perr)
				assert.Equal(t, strings.TrimSpace(string(want)), perr.Error())
				assert.NoFileExists(t, goldenPath)
				return
			}
			want, err := os.ReadFile(goldenPath)
			require.NoError(t, err, "event passed but has no .golden.json")
			assert.JSONEq(t, string(want), string(out))
			assert.NoFileExists(t, errPath)
		})
	}
	for _, lt := range []string{"Duo.Authentication", "Duo.Administrator", "Duo.Telephony", "Duo.OfflineEnrollment"} {
		assert.GreaterOrEqual(t, perType[lt], 3, "too few golden cases for %s", lt)
	}
}

func writeGolden(t *testing.T, goldenPath, errPath string, out []byte, perr error) {
	t.Helper()
	_ = os.Remove(goldenPath)
	_ = os.Remove(errPath)
	if perr != nil {
		require.NoError(t, os.WriteFile(errPath, []byte(perr.Error()+"\n"), 0o644))
		return
	}
	var buf bytes.Buffer
	require.NoError(t, json.Indent(&buf, out, "", "  "))
	buf.WriteByte('\n')
	require.NoError(t, os.WriteFile(goldenPath, buf.Bytes(), 0o644))
}
