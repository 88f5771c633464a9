#!/usr/bin/env bash
# Copyright 2026 The duostream authors. Licensed under the MIT licence.
#
# chromium.sh installs Debian's chromium (once, idempotently) for the status
# page's browser test in ./reliability, which loads the page in headless
# Chromium and checks what it shows.
#
# Stdout carries only the export line the test reads:
#   DUOSTREAM_TEST_CHROMIUM
# Usage: eval "$(bash .ci/services/chromium.sh)"
set -euo pipefail

if ! command -v chromium >/dev/null 2>&1; then
	echo "chromium.sh: installing chromium" >&2
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq >&2
	apt-get install -y -qq --no-install-recommends chromium >&2
fi
echo "chromium.sh: $(chromium --version 2>/dev/null)" >&2
echo "export DUOSTREAM_TEST_CHROMIUM=$(command -v chromium)"
