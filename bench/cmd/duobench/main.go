// Copyright 2026 The duostream authors. Licensed under the MIT licence.

// Command duobench prints, in one run, events per second on one core for
// each Duo log type through duo_normalize, an equivalent Bloblang mapping,
// and the floor of decoding and encoding the same events with the same JSON
// library. Variants are measured in short interleaved windows, round after
// round, so that they share the machine's conditions; medians and the
// median of the per-round ratios are reported. Run it with bench/run.sh.
//
// With -suite ocsf it compares instead, on the log types that have a
// Bloblang OCSF mapping, the duo_ocsf processor against the same mapping
// written in Bloblang (bench/mappings/ocsf_*.blobl); bench/ocsf.sh runs
// that.
package main

import (
	"flag"
	"fmt"
	"os"
	"runtime"
	"runtime/metrics"
	"slices"
	"strings"
	"time"

	"github.com/duostream/duostream/bench"
)

type result struct {
	evps   []float64 // events per second, one per round
	allocs []float64 // heap allocations per event, one per round
}

func main() {
	rounds := flag.Int("rounds", 11, "measurement rounds")
	window := flag.Duration("window", 150*time.Millisecond, "time each variant runs per round")
	batch := flag.Int("batch", 100, "events per batch")
	nEvents := flag.Int("events", 500, "distinct generated events per log type")
	suite := flag.String("suite", "normalize", "what to compare: normalize (duo_normalize against Bloblang) or ocsf (duo_ocsf against Bloblang)")
	flag.Parse()

	logTypes, variants := bench.LogTypes, bench.Variants
	switch *suite {
	case "normalize":
	case "ocsf":
		logTypes, variants = bench.OCSFLogTypes, bench.OCSFVariants
	default:
		fmt.Fprintf(os.Stderr, "unknown -suite %q: want normalize or ocsf\n", *suite)
		os.Exit(2)
	}

	fmt.Printf("duobench -suite %s: GOMAXPROCS=%d, %s/%s, %s, %d rounds of %s per variant, batches of %d\n\n",
		*suite, runtime.GOMAXPROCS(0), runtime.GOOS, runtime.GOARCH, runtime.Version(), *rounds, *window, *batch)

	type job struct {
		logType string
		variant bench.Variant
		f       bench.Func
		events  [][]byte
	}
	var jobs []*job
	res := map[string]*result{}
	for _, lt := range logTypes {
		events := bench.Events(lt, *nEvents)
		for _, v := range variants {
			f, err := v.Build(lt)
			if err != nil {
				fmt.Fprintf(os.Stderr, "build %s for %s: %v\n", v.Name, lt, err)
				os.Exit(1)
			}
			jobs = append(jobs, &job{lt, v, f, events})
			res[lt+"|"+v.Name] = &result{}
		}
	}
	// Warm up every variant once.
	for _, j := range jobs {
		measure(j.f, j.events, *batch, 20*time.Millisecond)
	}
	for r := range *rounds {
		// Rotate the order so no variant always runs first.
		for k := range jobs {
			j := jobs[(k+r)%len(jobs)]
			evps, allocs := measure(j.f, j.events, *batch, *window)
			rs := res[j.logType+"|"+j.variant.Name]
			rs.evps = append(rs.evps, evps)
			rs.allocs = append(rs.allocs, allocs)
		}
		fmt.Fprintf(os.Stderr, "round %d/%d done\n", r+1, *rounds)
	}

	for _, lt := range logTypes {
		fmt.Printf("%s\n", lt)
		fmt.Printf("  %-22s %14s %24s %14s\n", "variant", "median ev/s", "range ev/s", "allocs/event")
		for _, v := range variants {
			rs := res[lt+"|"+v.Name]
			fmt.Printf("  %-22s %14.0f %11.0f..%-12.0f %14.1f\n", v.Name, median(rs.evps), slices.Min(rs.evps), slices.Max(rs.evps), median(rs.allocs))
		}
		r := func(a, b string) float64 { return ratio(res[lt+"|"+a], res[lt+"|"+b]) }
		switch *suite {
		case "normalize":
			fmt.Printf("  duo_normalize / bloblang: %5.1fx   duo_normalize / floor: %4.2f   (medians of per-round ratios)\n",
				r("duo_normalize", "bloblang"), r("duo_normalize", "floor"))
			fmt.Printf("  through Benthos's processor wrapper: duo_normalize / bloblang: %5.1fx   duo_normalize / floor: %4.2f\n\n",
				r("duo_normalize+benthos", "bloblang+benthos"), r("duo_normalize+benthos", "floor"))
		case "ocsf":
			fmt.Printf("  duo_ocsf / bloblang_ocsf: %5.1fx   duo_ocsf / encoding/json: %4.2f   (medians of per-round ratios)\n",
				r("duo_ocsf", "bloblang_ocsf"), r("duo_ocsf", "encoding/json"))
			fmt.Printf("  through Benthos's processor wrapper: duo_ocsf / bloblang_ocsf: %5.1fx\n\n",
				r("duo_ocsf+benthos", "bloblang_ocsf+benthos"))
		}
	}
	switch *suite {
	case "normalize":
		fmt.Println(strings.TrimSpace(`
floor: schema.Doc decode + encode, the JSON reader/writer duo_normalize uses.
encoding/json: json.Unmarshal into any + json.Marshal, for context.
+benthos: built from YAML and run through Benthos's processor wrapper, as in a pipeline.`))
	case "ocsf":
		fmt.Println(strings.TrimSpace(`
bloblang_ocsf: bench/mappings/ocsf_*.blobl, the same OCSF mapping in Bloblang, via Message.BloblangQuery.
encoding/json: json.Unmarshal into any + json.Marshal, the decode and encode duo_ocsf itself does.
+benthos: built from YAML and run through Benthos's processor wrapper, as in a pipeline.`))
	}
}

var allocSample = []metrics.Sample{{Name: "/gc/heap/allocs:objects"}}

func allocCount() uint64 {
	metrics.Read(allocSample)
	return allocSample[0].Value.Uint64()
}

// measure runs f over events, batch by batch, for about d of timed work and
// returns events per second and heap allocations per event. Preparing each
// batch is not timed.
func measure(f bench.Func, events [][]byte, batch int, d time.Duration) (float64, float64) {
	var timed time.Duration
	var n int
	var allocs uint64
	for off := 0; timed < d; off = (off + batch) % (len(events) - batch) {
		in := f.Prepare(events[off : off+batch])
		a0 := allocCount()
		t0 := time.Now()
		if err := f.Run(in, nil); err != nil {
			fmt.Fprintf(os.Stderr, "run: %v\n", err)
			os.Exit(1)
		}
		timed += time.Since(t0)
		allocs += allocCount() - a0
		n += batch
	}
	return float64(n) / timed.Seconds(), float64(allocs) / float64(n)
}

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// ratio is the median over rounds of a's rate divided by b's.
func ratio(a, b *result) float64 {
	rs := make([]float64, len(a.evps))
	for i := range rs {
		rs[i] = a.evps[i] / b.evps[i]
	}
	return median(rs)
}
