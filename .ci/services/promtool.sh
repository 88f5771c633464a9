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

tools_dir="${DUOSTREAM_TOOLS_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/duostream/tools}/promtool"
bin="$tools_dir/promtool"
if [ ! -x "$bin" ] || ! "$bin" --version >/dev/null 2>&1; then
	echo "promtool.sh: installing promtool from Debian's prometheus package into $tools_dir" >&2
	mkdir -p "$tools_dir"
	export DEBIAN_FRONTEND=noninteractive
	dl="$DUOSTREAM_CI_TMP/promtool-deb"
	rm -rf "$dl"
	mkdir -p "$dl"
	apt-get update -qq >&2
	# apt-get download fetches the package alone, without installing it or
	# its dependencies; promtool needs only libc. The scratch directory is
	# root's alone, so apt's _apt user could not write there.
	(cd "$dl" && apt-get download -qq -o APT::Sandbox::User=root prometheus) >&2
	dpkg-deb --fsys-tarfile "$dl"/prometheus_*.deb | tar -x -O ./usr/bin/promtool >"$bin.new"
	chmod +x "$bin.new"
	mv "$bin.new" "$bin"
	rm -rf "$dl"
fi
echo "promtool.sh: $("$bin" --version 2>&1 | head -n 1)" >&2
echo "export DUOSTREAM_PROMTOOL=$bin"
