#!/usr/bin/env bash
# Copyright 2026 The duostream authors. Licensed under the MIT licence.
# Builds duobench once and runs every variant in one process, pinned to one
# core: events per second per log type for duo_normalize, the equivalent
# Bloblang mapping and the decode+encode floor, with medians and ratios.
# Extra arguments go to duobench (-rounds, -window, -batch, -events).
set -euo pipefail
cd "$(dirname "$0")/.."
# The Go release go.mod's toolchain line names, from the module proxy.
export GOTOOLCHAIN=go1.27.3
bin="$(mktemp -d)/duobench"
trap 'rm -rf "$(dirname "$bin")"' EXIT
go build -o "$bin" ./bench/cmd/duobench
pin=()
if command -v taskset >/dev/null 2>&1; then
	pin=(taskset -c "${BENCH_CPU:-0}")
fi
GOMAXPROCS=1 "${pin[@]}" "$bin" "$@"
