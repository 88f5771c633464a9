#!/usr/bin/env bash
# Copyright 2026 The duostream authors. Licensed under the MIT licence.
#
# redis.sh starts a throwaway redis-server on a free loopback port for the
# redis cache integration tests in ./cache.
#
# redis-server comes from Debian's package (installed once, idempotently).
# The server keeps nothing on disk (no RDB snapshots, no AOF) and runs in the
# background; its pid is written to "$DUOSTREAM_CI_TMP/redis.pid" and its log
# to "$DUOSTREAM_CI_TMP/redis/redis.log".
#
# Stdout carries only the export line the tests read:
#   DUOSTREAM_TEST_REDIS_URL
# Usage: eval "$(bash .ci/services/redis.sh)"
set -euo pipefail

: "${DUOSTREAM_CI_TMP:?DUOSTREAM_CI_TMP must name a scratch directory}"
mkdir -p "$DUOSTREAM_CI_TMP"

if ! command -v redis-server >/dev/null 2>&1 || ! command -v redis-cli >/dev/null 2>&1; then
	echo "redis.sh: installing redis-server" >&2
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq >&2
	apt-get install -y -qq --no-install-recommends redis-server >&2
fi

state_dir="$DUOSTREAM_CI_TMP/redis"
rm -rf "$state_dir"
mkdir -p "$state_dir"
log="$state_dir/redis.log"
pidfile="$DUOSTREAM_CI_TMP/redis.pid"

# shellcheck source=../lib.sh
. "$(dirname "$0")/../lib.sh"

start_redis() {
	nohup redis-server --bind 127.0.0.1 --port "$1" --protected-mode yes \
		--save "" --appendonly no --dir "$state_dir" --daemonize no \
		--logfile "$log" </dev/null >/dev/null 2>&1 &
	pid=$!
}
redis_ready() { [ "$(redis-cli -h 127.0.0.1 -p "$1" ping 2>/dev/null)" = "PONG" ]; }

if ! start_on_free_port start_redis redis_ready; then
	echo "redis.sh: redis-server did not start; last log lines:" >&2
	tail -n 20 "$log" >&2 || true
	exit 1
fi

echo "$pid" >"$pidfile"
echo "redis.sh: redis-server $(redis-server --version | awk '{print $3}') pid $pid on 127.0.0.1:$port" >&2
echo "export DUOSTREAM_TEST_REDIS_URL=redis://127.0.0.1:$port/0"
