#!/usr/bin/env bash
# Copyright 2026 The duostream authors. Licensed under the MIT licence.
#
# promtool.sh installs promtool, with which .ci/run checks and unit-tests the
# alerting rules in deploy/prometheus. It comes from Debian's prometheus
# package, but only the promtool binary is taken out of it: installing the
# package would also start a Prometheus server as a service. The binary is
# kept in a cache directory that survives between runs, so only the first
# run downloads the package (about 19 MB).
#
# Stdout carries only the export line .ci/run reads:
#   DUOSTREAM_PROMTOOL  the promtool binary
# Usage: eval "$(bash .ci/services/promtool.sh)"
set -euo pipefail

: "${DUOSTREAM_CI_TMP:?DUOSTREAM_CI_TMP must name a scratch directory}"
mkdir -p "$DUOSTREAM_CI_TMP"

# shellcheck source=../lib.sh
. "$(dirname "$0")/../lib.sh"

bin=$(debian_binary promtool prometheus ./usr/bin/promtool)
echo "promtool.sh: $("$bin" --version 2>&1 | head -n 1)" >&2
echo "export DUOSTREAM_PROMTOOL=$bin"
