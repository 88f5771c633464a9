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
			events := Events(lt, 200)
			as, err := norm.Do(events...)
			require.NoError(t, err)
			bs, err := blobl.Do(events...)
			require.NoError(t, err)
			require.Len(t, as, len(events))
			require.Len(t, bs, len(events))
			for i := range events {
				assert.Equal(t, withoutVolatile(t, as[i]), withoutVolatile(t, bs[i]), "event %d: %s", i, events[i])
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
		events := Events("Duo.Authentication", 50)
		outs, err := f.Do(events...)
		require.NoError(t, err)
		require.Len(t, outs, len(events))
		for i, ev := range events {
			assert.JSONEq(t, string(ev), string(outs[i]), v.Name)
		}
	}
}

// batchSize is the number of events per batch: duo_admin_logs emits one
// batch per page of Duo records.
const batchSize = 100

func benchmarkVariant(b *testing.B, v Variant, logType string) {
	f, err := v.Build(logType)
	require.NoError(b, err)
	events := Events(logType, 500)
	var size int
	for _, e := range events {
		size += len(e)
	}
	b.SetBytes(int64(size / len(events)))
	b.ReportAllocs()
	b.ResetTimer()
	// b.N counts events; they are processed in batches.
	for done := 0; done < b.N; {
		n := min(batchSize, b.N-done)
		off := done % (len(events) - batchSize)
		// Preparing inputs (creating messages) is not part of the measure.
		b.StopTimer()
		in := f.Prepare(events[off : off+n])
		b.StartTimer()
		if err := f.Run(in, nil); err != nil {
			b.Fatal(err)
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
