#!/usr/bin/env bash
# Copyright 2026 The duostream authors. Licensed under the MIT licence.
# duo_ocsf against the same OCSF mapping written in Bloblang, in one
# process on one core: bench/run.sh with -suite ocsf. Extra arguments go to
# duobench (-rounds, -window, -batch, -events).
set -euo pipefail
exec "$(dirname "$0")/run.sh" -suite ocsf "$@"
