#!/usr/bin/env bash
# Copyright 2026 The duostream authors. Licensed under the MIT licence.
# Runs BenchmarkMSP500Children (package reliability, build tag
# "reliability"): the real binary pulling 500 child accounts with four log
# types each from the simulator at an unthrottled budget. Each run takes
# about a minute and a half and is checked (every event once, peak RSS,
# catch-up spread); the script prints the runs, then the median of each
# figure. BENCH_COUNT sets the number of runs (3).
set -euo pipefail
cd "$(dirname "$0")/.."
# The Go release go.mod's toolchain line names, from the module proxy.
export GOTOOLCHAIN=go1.27.3
out="$(mktemp)"
trap 'rm -f "$out"' EXIT
go test -tags reliability ./reliability/ -run '^$' -bench '^BenchmarkMSP500Children$' \
	-benchtime 1x -count "${BENCH_COUNT:-3}" -timeout 60m | tee "$out"
# A benchmark line is: name, iterations, then value-unit pairs.
grep '^BenchmarkMSP500Children' "$out" |
	awk '{ for (i = 3; i < NF; i += 2) print $(i + 1), $i }' |
	sort -k1,1 -k2,2g |
	awk '{ v[$1] = v[$1] " " $2; n[$1]++ }
	END {
		for (u in v) {
			split(substr(v[u], 2), a, " ")
			m = (n[u] % 2) ? a[(n[u] + 1) / 2] : (a[n[u] / 2] + a[n[u] / 2 + 1]) / 2
			printf "median %-20s %s   (runs: %s)\n", u, m, substr(v[u], 2)
		}
	}' | sort
