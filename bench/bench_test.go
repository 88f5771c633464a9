// Copyright 2026 The duostream authors. Licensed under the MIT licence.

package bench

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestBloblangEquivalent checks that the Bloblang mapping is a fair
// comparison: on the benchmark events it gives the same output as
// duo_normalize, apart from p_row_id and p_parse_time, which both make
// fresh per event.
func TestBloblangEquivalent(t *testing.T) {
	for _, lt := range LogTypes {
		t.Run(lt, func(t *testing.T) {
			norm, err := DuoNormalize(lt)
			require.NoError(t, err)
			blobl, err := Bloblang(lt)
			require.NoError(t, err)
			for i, ev := range Events(lt, 200) {
				a, err := norm.Do(ev)
				require.NoError(t, err, "duo_normalize, event %d: %s", i, ev)
				b, err := blobl.Do(ev)
				require.NoError(t, err, "bloblang, event %d: %s", i, ev)
				assert.Equal(t, withoutVolatile(t, a), withoutVolatile(t, b), "event %d: %s", i, ev)
			}
		})
	}
}

// withoutVolatile decodes an output and checks, then removes, the two
// fields that differ on every call.
func withoutVolatile(t *testing.T, out []byte) map[string]any {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal(out, &m))
	require.NotEmpty(t, m["p_row_id"])
	require.NotEmpty(t, m["p_parse_time"])
	delete(m, "p_row_id")
	delete(m, "p_parse_time")
	return m
}

// TestFloorRoundTrips checks that the floor variants reproduce each event.
func TestFloorRoundTrips(t *testing.T) {
	for _, v := range []Variant{{"floor", Floor}, {"encoding/json", StdlibFloor}} {
		f, err := v.Build("")
		require.NoError(t, err)
		for _, ev := range Events("Duo.Authentication", 50) {
			out, err := f.Do(ev)
			require.NoError(t, err)
			assert.JSONEq(t, string(ev), string(out), v.Name)
		}
	}
}

func benchmarkVariant(b *testing.B, v Variant, logType string) {
	f, err := v.Build(logType)
	require.NoError(b, err)
	events := Events(logType, 512)
	var size int
	for _, e := range events {
		size += len(e)
	}
	b.SetBytes(int64(size / len(events)))
	b.ReportAllocs()
	ins := make([]any, len(events))
	b.ResetTimer()
	for done := 0; done < b.N; {
		// Preparing inputs (creating messages) is not part of the measure.
		b.StopTimer()
		n := min(len(events), b.N-done)
		for i := range n {
			ins[i] = f.Prepare(events[i])
		}
		b.StartTimer()
		for i := range n {
			if _, err := f.Run(ins[i]); err != nil {
				b.Fatal(err)
			}
		}
		done += n
	}
}

// BenchmarkVariants reports ns, bytes and allocations per event for every
// variant and log type.
func BenchmarkVariants(b *testing.B) {
	for _, lt := range LogTypes {
		for _, v := range Variants {
			b.Run(lt+"/"+v.Name, func(b *testing.B) { benchmarkVariant(b, v, lt) })
		}
	}
}
